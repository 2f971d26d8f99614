import Foundation

/// An output path that cannot be written: it exists (and overwriting was not asked for), its folder is
/// missing or read-only, or the final move failed.
public struct OutputError: Error, CustomStringConvertible, Sendable {
    public let path: String
    public let message: String
    /// The target exists and overwriting was not asked for (a front end says how to ask for it).
    public let targetExists: Bool
    public init(path: String, message: String, targetExists: Bool = false) {
        self.path = path
        self.message = message
        self.targetExists = targetExists
    }
    public var description: String { "\(path): \(message)".escapingControlCharacters }

    static func exists(_ path: String) -> OutputError {
        OutputError(path: path, message: "already exists; refusing to overwrite it", targetExists: true)
    }
}

/// Writing a file so that the target path only ever holds a complete file.
///
/// The writer fills a temporary file `.<name>.tmp-<pid>-<random><.ext>` in the target's own folder (same
/// file system, so the final move is atomic), then ``publish(_:to:overwrite:)`` moves it into place:
/// `rename(2)` when overwriting is allowed, `link(2)` otherwise, which refuses an existing target even if
/// one appeared meanwhile. On failure the caller calls ``discard(_:)``. A crash or `kill -9` leaves at most
/// a hidden temporary file, never a partial file at the target.
public enum AtomicOutput {
    /// Checks that `path` may be written: before a long computation, so that it fails early.
    /// - Throws: ``OutputError`` when the target exists and `overwrite` is false, is not a regular file, or its
    ///   folder does not exist or is not writable.
    public static func checkTarget(_ path: String, overwrite: Bool) throws(OutputError) {
        let folder = URL(fileURLWithPath: path).deletingLastPathComponent().path
        var isDirectory: ObjCBool = false
        var info = stat()
        if lstat(path, &info) == 0 {
            // Only a regular file is ever replaced: never a folder, a device, a pipe, a socket or a link.
            switch info.st_mode & S_IFMT {
            case S_IFREG: break
            case S_IFDIR: throw OutputError(path: path, message: "is a folder; cannot write a file there")
            case S_IFLNK:
                throw OutputError(
                    path: path, message: "is a symbolic link; refusing to replace it (name the file it points to, or another path)")
            default: throw OutputError(path: path, message: "is not a regular file (a device, pipe or socket); refusing to replace it")
            }
            if !overwrite { throw .exists(path) }
        }
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw OutputError(path: path, message: "the folder \(folder) does not exist")
        }
        guard FileManager.default.isWritableFile(atPath: folder) else {
            throw OutputError(path: path, message: "the folder \(folder) is not writable")
        }
    }

    /// Checks that `path` may be written (``checkTarget(_:overwrite:)``) and returns the temporary path to
    /// write instead, registered for removal on a signal.
    public static func temporaryPath(for path: String, overwrite: Bool) throws(OutputError) -> String {
        try checkTarget(path, overwrite: overwrite)
        let url = URL(fileURLWithPath: path)
        let folder = url.deletingLastPathComponent().path
        let ext = url.pathExtension.isEmpty ? "" : "." + url.pathExtension
        let temporary =
            folder + "/." + url.deletingPathExtension().lastPathComponent
            + ".tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))" + ext
        Pending.shared.add(temporary)
        return temporary
    }

    /// Writes `bytes` to `path` atomically: temporary file, then ``publish(_:to:overwrite:)``.
    /// - Throws: ``OutputError`` when the target may not be written, the bytes cannot be (a full disk), or the
    ///   move fails; nothing is left behind.
    public static func write(_ bytes: some DataProtocol, to path: String, overwrite: Bool) throws(OutputError) {
        let temporary = try temporaryPath(for: path, overwrite: overwrite)
        do {
            try Data(bytes).write(to: URL(fileURLWithPath: temporary))
        } catch {
            discard(temporary)
            throw OutputError(path: path, message: "cannot be written: \(error.localizedDescription)")
        }
        try publish(temporary, to: path, overwrite: overwrite)
    }

    /// Moves the finished temporary file to `path`.
    /// - Throws: ``OutputError`` when the target appeared meanwhile (and `overwrite` is false) or the move
    ///   fails; the temporary file is then removed.
    public static func publish(_ temporary: String, to path: String, overwrite: Bool) throws(OutputError) {
        defer {
            unlink(temporary)  // after link(2), or after a failure; harmless after rename(2)
            Pending.shared.remove(temporary)
        }
        if overwrite {
            guard rename(temporary, path) == 0 else {
                throw OutputError(path: path, message: "cannot move the finished file into place: \(String(cString: strerror(errno)))")
            }
        } else {
            guard link(temporary, path) == 0 else {
                if errno == EEXIST { throw .exists(path) }
                throw OutputError(path: path, message: "cannot move the finished file into place: \(String(cString: strerror(errno)))")
            }
        }
    }

    /// Refuses an output that is one of the inputs (the same file, by device and inode, whatever the path
    /// says), even with overwriting allowed.
    /// - Throws: ``OutputError`` naming the output and the input it would replace.
    public static func refuseReplacing(_ inputs: [String], with path: String) throws(OutputError) {
        var target = stat()
        guard stat(path, &target) == 0 else { return }  // a new path replaces nothing
        for input in inputs {
            var source = stat()
            if stat(input, &source) == 0, source.st_dev == target.st_dev, source.st_ino == target.st_ino {
                throw OutputError(
                    path: path, message: "is an input of this command (\(input)); refusing to replace it, even where overwriting is allowed"
                )
            }
        }
    }

    /// Creates `path` and the folders above it that are missing, or checks the existing one.
    /// - Throws: ``OutputError`` naming the path when a part of it is not a folder (a file, a pipe), cannot be
    ///   created (a read-only parent: the system's reason), or the folder is not writable.
    public static func createFolder(_ path: String) throws(OutputError) {
        var prefix = path.hasPrefix("/") ? "/" : ""
        for component in path.split(separator: "/") {
            prefix += (prefix.isEmpty || prefix.hasSuffix("/") ? "" : "/") + component
            var info = stat()
            if stat(prefix, &info) == 0 {
                guard info.st_mode & S_IFMT == S_IFDIR else {
                    throw OutputError(path: path, message: "cannot create the folder: \(prefix) exists and is not a folder")
                }
                continue
            }
            guard mkdir(prefix, 0o777) == 0 || errno == EEXIST else {
                throw OutputError(path: path, message: "cannot create the folder \(prefix): \(String(cString: strerror(errno)))")
            }
        }
        guard access(path, W_OK | X_OK) == 0 else { throw OutputError(path: path, message: "the folder is not writable") }
    }

    /// Creates a hidden staging folder `.<prefix>-<pid>-<random>` in `folder`, registered for removal (with what
    /// it holds) on a signal; ``discardFolder(_:)`` removes it.
    public static func temporaryFolder(in folder: String, prefix: String) throws(OutputError) -> String {
        let path = folder + "/.\(prefix)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        Pending.shared.addFolder(path)
        guard mkdir(path, 0o700) == 0 else {
            Pending.shared.removeFolder(path)
            throw OutputError(path: folder, message: "cannot create a staging folder in it: \(String(cString: strerror(errno)))")
        }
        return path
    }

    /// Removes a staging folder and what it holds.
    public static func discardFolder(_ path: String) {
        try? FileManager.default.removeItem(atPath: path)
        Pending.shared.removeFolder(path)
    }

    /// A child process to kill (SIGKILL) if a signal ends this one before the child is done; ``childFinished(_:)``
    /// forgets it.
    public static func childStarted(_ pid: Int32) { Pending.shared.addChild(pid) }
    public static func childFinished(_ pid: Int32) { Pending.shared.removeChild(pid) }

    /// Removes an unfinished temporary file.
    public static func discard(_ temporary: String) {
        unlink(temporary)
        Pending.shared.remove(temporary)
    }

    /// On SIGINT, SIGTERM and SIGHUP: kill the registered child processes, remove every unfinished temporary file
    /// and staging folder, then exit with 128 + the signal's number, as a shell reports a process killed by it.
    /// Call once, early, from a program's entry point.
    public static func removeTemporariesOnSignals() {
        for sig in [SIGINT, SIGTERM, SIGHUP] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler {
                Pending.shared.removeAll()
                // _exit, not exit: worker threads are still running, and exit's atexit handlers (OpenBLAS's
                // teardown among them) can crash under them — a SIGTERM must end in 143, never in a SIGSEGV.
                _exit(128 + sig)
            }
            source.resume()
            Pending.shared.keep(source)
        }
    }
}

/// The temporary files and staging folders being written and the child processes running, so that a signal can
/// remove and end them.
private final class Pending: @unchecked Sendable {
    static let shared = Pending()
    private let lock = NSLock()
    private var paths: Set<String> = []
    private var folders: Set<String> = []
    private var children: Set<Int32> = []
    private var sources: [any DispatchSourceSignal] = []

    func add(_ path: String) { lock.lock(); paths.insert(path); lock.unlock() }
    func remove(_ path: String) { lock.lock(); paths.remove(path); lock.unlock() }
    func addFolder(_ path: String) { lock.lock(); folders.insert(path); lock.unlock() }
    func removeFolder(_ path: String) { lock.lock(); folders.remove(path); lock.unlock() }
    func addChild(_ pid: Int32) { lock.lock(); children.insert(pid); lock.unlock() }
    func removeChild(_ pid: Int32) { lock.lock(); children.remove(pid); lock.unlock() }
    func keep(_ source: any DispatchSourceSignal) { lock.lock(); sources.append(source); lock.unlock() }
    func removeAll() {
        lock.lock()
        for pid in children where pid > 0 { kill(pid, SIGKILL) }
        for path in paths { unlink(path) }
        for folder in folders { try? FileManager.default.removeItem(atPath: folder) }
        (paths, folders, children) = ([], [], [])
        lock.unlock()
    }
}
