import Foundation

/// A file read whole into memory, with the SHA-256 of exactly those bytes: what is hashed is what is parsed,
/// even if the file changes on disk afterwards.
public struct FileSnapshot: Sendable {
    /// The path as the caller gave it (used in messages).
    public let path: String
    public let bytes: [UInt8]
    public let sha256: String

    /// - Throws: ``InputError`` for a missing, unreadable or non-regular file, or one larger than
    ///   ``InputLimits/maximumFileBytes``.
    public init(_ path: String) throws {
        var info = stat()
        guard stat(path, &info) == 0 else { throw InputError(path: path, message: "no such file") }
        guard info.st_mode & S_IFMT == S_IFREG else { throw InputError(path: path, message: "is not a regular file") }
        guard Int(info.st_size) <= InputLimits.maximumFileBytes else {
            throw InputError(
                path: path, message: "is \(info.st_size) bytes, more than the \(InputLimits.maximumFileBytes) an input may have")
        }
        // POSIX reads, so that a failure names the system's reason; at most one byte past the ceiling is read (a
        // file whose size stat does not tell, such as /proc's, cannot grow memory without bound).
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw InputError(path: path, message: "cannot be opened: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var data = [UInt8]()
        data.reserveCapacity(Int(info.st_size))
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        while data.count <= InputLimits.maximumFileBytes {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else { throw InputError(path: path, message: "cannot be read: \(String(cString: strerror(errno)))") }
            if n == 0 { break }
            data += chunk[0..<n]
        }
        guard data.count <= InputLimits.maximumFileBytes else {
            throw InputError(path: path, message: "grew beyond \(InputLimits.maximumFileBytes) bytes while read")
        }
        self.init(path: path, bytes: data)
    }

    /// Bytes already in memory (e.g. received on stdin), labelled `path`.
    public init(path: String, bytes: [UInt8]) {
        self.path = path
        self.bytes = bytes
        self.sha256 = SHA256.hex(bytes)
    }
}
