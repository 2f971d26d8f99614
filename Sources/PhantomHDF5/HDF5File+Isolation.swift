import Foundation
import PhantomFileSystem

/// Opening untrusted files in a child process first.
///
/// Debian's libhdf5 1.10 can crash (SIGSEGV) on a corrupted file — byte mutations of a small checkpoint show it.
/// Validating every structure the library walks is not practical, so a program can ask for isolation: every
/// file opened for reading is first opened and traversed — every group, dataset (within the size ceilings) and
/// attribute — by a child process. A crash there is reported as an error naming the file; only a file the child
/// read cleanly is then opened in this process. The `phantom` command turns this on at start.
extension HDF5File {
    /// How a child process traverses a file: the executable and its arguments for a path.
    public struct Isolation: Sendable {
        public let executable: String
        /// The child's arguments for a file's name; the child reads the file's bytes from its stdin.
        public let arguments: @Sendable (String) -> [String]
        public init(executable: String, arguments: @escaping @Sendable (String) -> [String]) {
            self.executable = executable
            self.arguments = arguments
        }
    }

    /// Set once, at program start, before any file is opened; nil (the default): files are opened directly.
    nonisolated(unsafe) public static var isolation: Isolation?

    /// Exit status of a traversal that found an error it could report (sysexits' EX_DATAERR).
    public static let traversalRefused: Int32 = ExitStatus.dataError

    /// The most objects (groups, datasets and attributes) a traversal visits, and the most elements it reads in
    /// all: a file of this tool holds at most a few hundred objects, and never-written (lazily allocated) datasets
    /// cost nothing on disk but their fill values in memory. Both are counted over the structure first, before any
    /// dataset is read.
    public static let maximumObjects = 1 << 14
    /// At most 16 elements per byte of the file (gzip of constant arrays reaches that; stored float64 is 1/8),
    /// at least 2²⁴ and at most ``InputLimits/maximumArrayElements``: a few KB cannot make the reader fill gigabytes.
    public static func maximumTraversalElements(fileBytes: Int) -> Int {
        min(InputLimits.maximumArrayElements, max(1 << 24, 16 * fileBytes))
    }

    /// Opens a snapshot and reads everything in it (the child's side of ``isolation``): first the structure, within
    /// ``maximumObjects`` and ``maximumTraversalElements(fileBytes:)``, then every attribute and dataset.
    public static func traverse(_ snapshot: FileSnapshot) throws {
        let file = try open(snapshot, isolated: false)
        defer { file.closeQuietly() }
        var objects = 0, elements = 0
        let budget = maximumTraversalElements(fileBytes: snapshot.bytes.count)
        var groups: [(group: HDF5Group, attributes: [String])] = []
        var datasets: [(group: HDF5Group, name: String, info: DatasetInfo, attributes: [String])] = []
        func count(_ n: Int, _ object: String) throws(HDF5Error) {
            objects += n
            guard objects <= maximumObjects else {
                throw Location(file: snapshot.path, object: object).error("holds more than \(maximumObjects) objects")
            }
        }
        func walk(_ group: HDF5Group) throws {
            let attributes = try group.attributeNames()
            try count(1 + attributes.count, group.path)
            groups.append((group, attributes))
            for child in try group.children() {
                try count(1, child.name)
                switch child.kind {
                case .group: try walk(try group.group(child.name))
                case .dataset:
                    let attributes = try group.attributeNames(of: child.name)
                    try count(attributes.count, child.name)
                    let info = try group.datasetInfo(child.name)
                    elements += InputLimits.count(info.shape) ?? Int.max / 2
                    guard elements <= budget else {
                        throw Location(file: snapshot.path, object: child.name).error(
                            "its datasets declare more than \(budget) elements in all (\(snapshot.bytes.count) bytes of file)")
                    }
                    datasets.append((group, child.name, info, attributes))
                case .other: break
                }
            }
        }
        try walk(file.root)
        for (group, attributes) in groups { for name in attributes { _ = try group.attribute(name) } }
        for (group, name, info, attributes) in datasets {
            for attribute in attributes { _ = try group.attribute(attribute, of: name) }
            if info.elementType.isFloatingPoint {
                _ = try group.readDoubles(name)
            } else if info.elementType == .int64 || info.elementType == .int32 {
                _ = try group.readIntegers(name)
            }
        }
    }

    /// The child's side of ``isolation``: reads a file's bytes from stdin (at most ``InputLimits/maximumFileBytes``) and
    /// traverses them; returns 0, or ``traversalRefused`` after one line on stderr ("phantom: NAME: what is wrong").
    /// The child dies with its parent: it polls for a new parent (a child whose parent is gone is re-parented) and
    /// exits at once.
    public static func runIsolatedReader(name: String) -> Int32 {
        let parent = getppid()
        Thread.detachNewThread {
            while getppid() == parent { usleep(100_000) }
            _exit(ExitStatus.software)
        }
        do {
            let bytes = FileHandle.standardInput.readDataToEndOfFile()
            guard bytes.count <= InputLimits.maximumFileBytes else { throw InputError(path: name, message: "is too large") }
            try traverse(FileSnapshot(path: name, bytes: [UInt8](bytes)))
            return 0
        } catch {
            FileHandle.standardError.write(Data("phantom: \(error)\n".utf8))
            return traversalRefused
        }
    }

    /// Runs the traversal of the snapshot's bytes (sent on stdin) in a child process.
    static func checkInChild(_ snapshot: FileSnapshot, _ isolation: Isolation) throws(HDF5Error) {
        let path = snapshot.path
        let here = Location(file: path, object: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: isolation.executable)
        process.arguments = isolation.arguments(path)
        let err = Pipe(), input = Pipe()
        process.standardError = err
        process.standardOutput = FileHandle.nullDevice
        process.standardInput = input
        do { try process.run() } catch { throw here.error("cannot start the isolated reader (\(isolation.executable)): \(error)") }
        // A signal that ends this process kills the child too (and the child ends itself if this process dies).
        let pid = process.processIdentifier
        AtomicOutput.childStarted(pid)
        defer { AtomicOutput.childFinished(pid) }
        // Feed stdin and drain stderr concurrently, so that neither pipe can block the other side.
        let bytes = Data(snapshot.bytes)
        let writer = Thread {
            try? input.fileHandleForWriting.write(contentsOf: bytes)
            try? input.fileHandleForWriting.close()
        }
        writer.start()
        let message = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        switch (process.terminationReason, process.terminationStatus) {
        case (.exit, 0): return
        case (.exit, traversalRefused):
            // The child's one line: "phantom: FILE: what is wrong".
            let line = message.split(separator: "\n").first.map(String.init) ?? ""
            let text = line.hasPrefix("phantom: \(path): ") ? String(line.dropFirst("phantom: \(path): ".count)) : line
            throw here.error(text.isEmpty ? "cannot be read" : text)
        case (.uncaughtSignal, let signal):
            throw here.error("crashed the HDF5 library (signal \(signal)) when read in an isolated process: the file is corrupted")
        case (_, let status):
            throw here.error("the isolated reader failed (status \(status))")
        }
    }
}
