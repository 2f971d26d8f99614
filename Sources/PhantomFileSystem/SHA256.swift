import Crypto
import Foundation

/// SHA-256 (FIPS 180-4) of a file or bytes, as lowercase hex — the fingerprint results files record for
/// every checkpoint they were computed from. The digest is swift-crypto's (`Crypto.SHA256`); this type only
/// fixes the toolkit's spelling of it: 64 lowercase hex digits.
public enum SHA256 {
    /// Bytes read per `update` when a file is hashed (the file is never held whole in memory).
    public static let chunkBytes = 1 << 20

    /// The digest of `bytes` as 64 hex digits.
    public static func hex(_ bytes: [UInt8]) -> String {
        hex(Crypto.SHA256.hash(data: bytes))
    }

    /// The digest of a file's contents, read in chunks of ``chunkBytes``.
    /// - Throws: the file system's error when the file cannot be opened or read.
    public static func hex(ofFile path: String) throws -> String {
        let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        var hasher = Crypto.SHA256()
        while let chunk = try handle.read(upToCount: chunkBytes), !chunk.isEmpty {
            hasher.update(data: chunk)
        }
        return hex(hasher.finalize())
    }

    private static func hex(_ digest: Crypto.SHA256.Digest) -> String {
        digest.map { String(format: "%02x", $0) }.joined()
    }
}
