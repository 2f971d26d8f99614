import Foundation

/// The folder that holds every temporary folder of this test process; removed when the process exits normally.
private let temporaryRoot: String = {
    let root = NSTemporaryDirectory() + "/phantom-tests-\(getpid())"
    try? FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
    atexit {
        try? FileManager.default.removeItem(atPath: NSTemporaryDirectory() + "/phantom-tests-\(getpid())")
    }
    return root
}()

/// A unique temporary folder for one test (STACK.md pitfall 7: tests run in parallel), inside this process's root,
/// so a run leaves nothing behind.
public func makeTemporaryFolder(_ label: String = "phantom") -> String {
    let path = temporaryRoot + "/\(label)-\(UUID().uuidString)"
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

/// Runs `executable` like ``runProgram(_:_:in:)`` and also reports its peak resident memory (wait4's ru_maxrss,
/// in bytes): for tests that state a memory bound. Output goes through files, so no pipe can block.
public func runProgramMeasured(_ executable: String, _ arguments: [String]) throws -> (result: ProcessResult, peakBytes: Int) {
    let folder = makeTemporaryFolder("phantom-measured")
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let (outPath, errPath) = (folder + "/out", folder + "/err")
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, outPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    posix_spawn_file_actions_addopen(&actions, 2, errPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    let argv = ([executable] + arguments).map { strdup($0) } + [nil]
    defer { for pointer in argv { free(pointer) } }
    var pid: pid_t = 0
    let spawned = posix_spawn(&pid, executable, &actions, nil, argv, environ)
    guard spawned == 0 else { throw CocoaError(.fileReadUnknown) }
    var status: Int32 = 0
    var usage = rusage()
    while wait4(pid, &status, 0, &usage) < 0 && errno == EINTR {}
    let signaled = (status & 0x7f) != 0 && (status & 0x7f) != 0x7f
    let code = signaled ? status & 0x7f : (status >> 8) & 0xff
    let out = (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? ""
    let err = (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? ""
    return (ProcessResult(status: code, stdout: out, stderr: err, crashed: signaled), Int(usage.ru_maxrss) * 1024)
}

/// The peak resident memory of `executable` alone, in bytes, measured by GNU time (`/usr/bin/time -f %M`, Debian's
/// `time`, which `make deps` installs), with the program's result. Unlike wait4's ru_maxrss of a child spawned from
/// this (large) test process, it does not include the spawning process's memory: Linux records the parent's
/// high-water mark in a vfork child at its exec, and GNU time is a small parent.
public func runProgramPeakMemory(_ executable: String, _ arguments: [String]) throws -> (result: ProcessResult, peakBytes: Int) {
    let report = makeTemporaryFolder("phantom-peak") + "/peak"
    defer { try? FileManager.default.removeItem(atPath: report) }
    let result = try runProgram("/usr/bin/time", ["-f", "%M", "-o", report, executable] + arguments)
    let text = (try? String(contentsOfFile: report, encoding: .utf8)) ?? ""
    guard let kilobytes = text.split(separator: "\n").last.flatMap({ Int($0.trimmingCharacters(in: .whitespaces)) }) else {
        throw CocoaError(.fileReadCorruptFile)
    }
    return (result, kilobytes * 1024)
}
