import Foundation

/// A unique temporary folder for one test (STACK.md pitfall 7: tests run in parallel).
public func makeTemporaryFolder(_ label: String = "phantom") -> String {
    let path = NSTemporaryDirectory() + "/\(label)-\(getpid())-\(UUID().uuidString)"
    try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// max |a_i − b_i| / max(1, max |b_i|): a relative error that is meaningful for vectors near zero.
public func relativeError(_ a: [Double], _ b: [Double]) -> Double {
    precondition(a.count == b.count)
    var diff = 0.0, scale = 0.0
    for i in 0..<a.count {
        diff = max(diff, abs(a[i] - b[i]))
        scale = max(scale, abs(b[i]))
    }
    return diff / max(scale, 1e-300)
}

/// The result of running a program.
public struct ProcessResult: Sendable {
    public let status: Int32
    public let stdout: String
    public let stderr: String
    /// True when the program was killed by a signal (a crash), `status` then being the signal's number.
    public var crashed = false
}

/// Runs `executable` with `arguments` (no stdin) in `directory`, and collects its output.
public func runProgram(_ executable: String, _ arguments: [String], in directory: String? = nil) throws -> ProcessResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    process.standardInput = FileHandle.nullDevice
    try process.run()
    // Drain stderr on another thread so neither pipe can fill up and block the child.
    final class Box: @unchecked Sendable { var data = Data() }
    let errBox = Box()
    let done = DispatchSemaphore(value: 0)
    DispatchQueue.global().async {
        errBox.data = err.fileHandleForReading.readDataToEndOfFile(); done.signal()
    }
    let o = out.fileHandleForReading.readDataToEndOfFile()
    done.wait()
    process.waitUntilExit()
    return ProcessResult(
        status: process.terminationStatus, stdout: String(decoding: o, as: UTF8.self),
        stderr: String(decoding: errBox.data, as: UTF8.self), crashed: process.terminationReason == .uncaughtSignal)
}

/// The built `phantom` executable: beside the test bundle in SwiftPM's build folder.
public func phantomExecutable() -> String {
    let bundleFolder = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    return bundleFolder.appendingPathComponent("phantom").path
}
