import Foundation
import PhantomFileSystem

/// Runs gnuplot through a pipe: the script goes to its stdin; figures read their data from the `.dat` file
/// written beside them (``FigureWriter``).
///
/// gnuplot exits 1 at the first script error with "line N: …" on stderr; that text becomes the thrown
/// ``GnuplotError/failed(status:message:)``. Outputs are written atomically (temporary file + rename).
/// Each render starts one gnuplot process (~0.1 s).
public struct Gnuplot: Sendable {
    /// The program name (looked up on PATH) or an absolute path.
    public let executable: String

    public init(executable: String = "gnuplot") {
        self.executable = executable
    }

    /// A label for a double-quoted gnuplot string: letters, digits, spaces and `_ - . , ( ) / + :` are kept,
    /// anything else becomes `_`, and it is cut at 80 characters. Labels from files or folder names pass through
    /// this, so nothing read from an input can end a string and reach gnuplot as a command.
    public static func safeLabel(_ text: String) -> String {
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 _-.,()/+:")
        return String(String(text.map { allowed.contains($0) ? $0 : "_" }).prefix(80))
    }

    /// Escapes a string for a single-quoted gnuplot string (quotes are doubled).
    public static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "'", with: "''")
    }

    /// Runs the script `makeScript(output)` (in `directory`) so that gnuplot writes a temporary file beside
    /// `path`, checks that it is not empty, and moves it into place; on any failure the target is untouched.
    func renderAtomically(
        to path: String, overwrite: Bool, in directory: String? = nil,
        _ makeScript: (_ output: String) -> String
    ) throws {
        let temporary = try AtomicOutput.temporaryPath(for: path, overwrite: overwrite)
        do {
            // Inside `directory`, the script names its output relative to it.
            let output = directory == nil ? temporary : URL(fileURLWithPath: temporary).lastPathComponent
            _ = try run(makeScript(output), in: directory)
            let size = (try? FileManager.default.attributesOfItem(atPath: temporary)[.size] as? Int) ?? nil
            guard let size, size > 0 else { throw GnuplotError.noOutput(path: path) }
            try AtomicOutput.publish(temporary, to: path, overwrite: overwrite)
        } catch {
            AtomicOutput.discard(temporary)
            throw error
        }
    }

    /// Runs a complete gnuplot script (in `directory`, so that relative data paths resolve there) and returns
    /// what gnuplot printed on stdout.
    /// - Throws: ``GnuplotError``.
    public func run(_ script: String, in directory: String? = nil) throws(GnuplotError) -> String {
        guard let url = resolve() else { throw .notInstalled(executable: executable) }
        let process = Process()
        process.executableURL = url
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        let stdin = Pipe(), stdout = Pipe(), stderr = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = stderr
        do { try process.run() } catch { throw .launch(String(describing: error)) }

        // Write stdin and drain both output pipes concurrently: a full pipe would deadlock gnuplot.
        let collected = Collected()
        let group = DispatchGroup()
        let scriptData = Data(script.utf8)
        DispatchQueue.global().async(group: group) {
            stdin.fileHandleForWriting.write(scriptData)
            try? stdin.fileHandleForWriting.close()
        }
        DispatchQueue.global().async(group: group) {
            collected.set(out: stdout.fileHandleForReading.readDataToEndOfFile())
        }
        DispatchQueue.global().async(group: group) {
            collected.set(err: stderr.fileHandleForReading.readDataToEndOfFile())
        }
        group.wait()
        process.waitUntilExit()
        let (out, err) = collected.value
        guard process.terminationStatus == 0 else {
            throw .failed(status: process.terminationStatus, message: String(decoding: err, as: UTF8.self))
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The executable's URL: an explicit path, or the first match on PATH.
    func resolve() -> URL? {
        let fm = FileManager.default
        if executable.contains("/") {
            return fm.isExecutableFile(atPath: executable) ? URL(fileURLWithPath: executable) : nil
        }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for folder in path.split(separator: ":") {
            let candidate = String(folder) + "/" + executable
            if fm.isExecutableFile(atPath: candidate) { return URL(fileURLWithPath: candidate) }
        }
        return nil
    }
}

/// Output of the reader threads, behind a lock.
private final class Collected: @unchecked Sendable {
    private let lock = NSLock()
    private var out = Data()
    private var err = Data()
    func set(out data: Data) { lock.lock(); out = data; lock.unlock() }
    func set(err data: Data) { lock.lock(); err = data; lock.unlock() }
    var value: (Data, Data) { lock.lock(); defer { lock.unlock() }; return (out, err) }
}
