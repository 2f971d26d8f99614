import CHDF5
import Foundation
import PhantomFileSystem

/// An open HDF5 file. It owns its file id and closes it in ``close()`` (reporting failures) or, quietly,
/// when released — like GRDB's `Database`.
///
/// Files are opened read-only with ``open(_:)`` / ``withFile(at:_:)`` and written atomically with
/// ``write(to:overwrite:_:)``: a temporary file in the same folder is filled, closed and renamed, so an
/// interrupted write (an error, a crash, `kill -9`) never leaves a partial file at the target path.
public final class HDF5File {
    /// The path as the caller gave it (used in every error message).
    public let path: String
    private var id: hid_t
    private var isOpen = true

    private init(path: String, id: hid_t) {
        self.path = path
        self.id = id
    }

    /// The root group "/".
    public var root: HDF5Group { HDF5Group(file: self, id: nil, path: "/") }

    var rawID: hid_t { id }
    var location: Location { Location(file: path, object: nil) }

    deinit {
        if isOpen { _ = probe { H5Fclose(id) } }
    }

    // MARK: - Opening

    /// Opens an existing file read-only.
    ///
    /// - Throws: ``HDF5Error`` naming the path when it does not exist, is not a file, is not HDF5, or is
    ///   damaged (truncated files are detected by the library when it reads the superblock).
    ///   The corresponding C function is `H5Fopen`.
    public static func open(_ path: String) throws(HDF5Error) -> HDF5File {
        try open(path, isolated: true)
    }

    /// `isolated`: when ``isolation`` is set, the file is first traversed in a child process.
    static func open(_ path: String, isolated: Bool) throws(HDF5Error) -> HDF5File {
        let here = Location(file: path, object: nil)
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw here.error("no such file")
        }
        guard !isDirectory.boolValue else { throw here.error("is a folder, not an HDF5 file") }
        guard FileManager.default.isReadableFile(atPath: path) else { throw here.error("is not readable (permission denied)") }
        let snapshot: FileSnapshot
        do { snapshot = try FileSnapshot(path) } catch { throw here.error("\((error as? InputError)?.message ?? "\(error)")") }
        return try open(snapshot, isolated: isolated)
    }

    /// Opens an in-memory snapshot of a file read-only: the bytes parsed are the bytes the snapshot hashed.
    /// When ``isolation`` is set, the same bytes are first traversed by a child process.
    public static func open(_ snapshot: FileSnapshot) throws(HDF5Error) -> HDF5File {
        try open(snapshot, isolated: true)
    }

    static func open(_ snapshot: FileSnapshot, isolated: Bool) throws(HDF5Error) -> HDF5File {
        let path = snapshot.path
        let here = Location(file: path, object: nil)
        guard hasSignature(snapshot.bytes) else { throw here.error("is not an HDF5 file (no HDF5 signature)") }
        if isolated, let isolation { try checkInChild(snapshot, isolation) }
        // A unique name per opening: HDF5 treats two in-memory files of one name as the same file.
        let label = "phantom-image-\(UInt64.random(in: 0...UInt64.max))"
        let access = try Handle(.propertyList, "H5Pset_file_image", here, "cannot prepare the in-memory file") {
            snapshot.bytes.withUnsafeBytes { phantom_image_access($0.baseAddress, $0.count) }
        }
        let id = try call("H5Fopen", here, "cannot open (damaged or truncated HDF5 file?)") {
            H5Fopen(label, phantom_H5F_ACC_RDONLY(), access.id)
        }
        return HDF5File(path: path, id: id)
    }

    /// The HDF5 signature at offset 0, 512, 1024, 2048, … (where the format allows a user block before it).
    static func hasSignature(_ bytes: [UInt8]) -> Bool {
        let signature: [UInt8] = [0x89, 0x48, 0x44, 0x46, 0x0D, 0x0A, 0x1A, 0x0A]
        var offset = 0
        while offset + 8 <= bytes.count {
            if Array(bytes[offset..<(offset + 8)]) == signature { return true }
            offset = offset == 0 ? 512 : offset * 2
        }
        return false
    }

    /// Opens the snapshot read-only, runs `body`, and closes the file even when `body` throws.
    public static func withFile<R>(_ snapshot: FileSnapshot, _ body: (HDF5File) throws -> R) throws -> R {
        try using(open(snapshot), body)
    }

    /// Opens `path` read-only, runs `body`, and closes the file even when `body` throws.
    /// The body's error wins over a close error.
    public static func withFile<R>(at path: String, _ body: (HDF5File) throws -> R) throws -> R {
        try using(open(path), body)
    }

    /// Runs `body` on an open file and closes it, quietly when `body` throws (its error wins).
    private static func using<R>(_ file: HDF5File, _ body: (HDF5File) throws -> R) throws -> R {
        let result: R
        do {
            result = try body(file)
        } catch {
            file.closeQuietly()
            throw error
        }
        try file.close()
        return result
    }

    // MARK: - Atomic writing

    /// Writes a new HDF5 file atomically.
    ///
    /// The body fills a file in memory; after it returns, the file is closed and its image written with
    /// ``AtomicOutput/write(_:to:overwrite:)`` (a temporary file in the target's folder, moved into place). If
    /// the body throws, or anything fails, the target is left exactly as it was.
    ///
    /// - Throws: `OutputError` when the target exists and `overwrite` is false, or the folder does not
    ///   exist or is not writable; ``HDF5Error`` when a write fails; or whatever the body throws.
    public static func write<R>(
        to path: String, overwrite: Bool = false,
        _ body: (HDF5File) throws -> R
    ) throws -> R {
        try AtomicOutput.checkTarget(path, overwrite: overwrite)
        let here = Location(file: path, object: nil)
        // The file is built in memory (the core driver, no backing store) and written out by this module: a
        // full disk or any other write failure is then an ordinary error here, and libhdf5 never holds a file
        // it could not flush (Debian's 1.10 crashes at exit after a failed close on a full disk).
        let fapl = try fileAccess(here)
        try call("H5Pset_fapl_core", here, "cannot set up the in-memory file") { H5Pset_fapl_core(fapl.id, 1 << 20, false) }
        let label = "phantom-image-\(UInt64.random(in: 0...UInt64.max))"
        let id = try call("H5Fcreate", here, "cannot create the file in memory") {
            H5Fcreate(label, phantom_H5F_ACC_TRUNC(), phantom_H5P_DEFAULT(), fapl.id)
        }
        // Error messages name the target path: the in-memory name means nothing to the user.
        let file = HDF5File(path: path, id: id)
        do {
            let result = try body(file)
            try call("H5Fflush", here, "cannot finish the file") { H5Fflush(id, H5F_SCOPE_GLOBAL) }
            let size = try call("H5Fget_file_image", here, "cannot read the finished file") { H5Fget_file_image(id, nil, 0) }
            var image = [UInt8](repeating: 0, count: Int(size))
            _ = try call("H5Fget_file_image", here, "cannot read the finished file") {
                image.withUnsafeMutableBytes { H5Fget_file_image(id, $0.baseAddress, $0.count) }
            }
            try file.close()
            try AtomicOutput.write(image, to: path, overwrite: overwrite)
            return result
        } catch {
            file.closeQuietly()
            throw error
        }
    }

    /// File access: a strong close degree (closing the file closes every object in it), and no `flock`.
    ///
    /// HDF5 locks files with flock(2) on open; a child process started while a file is open (gnuplot, or a
    /// test's subprocess) inherits the descriptor and keeps the lock alive, and a later open of the same
    /// file then fails with EAGAIN. Atomic writes to private temporary files make the lock unnecessary.
    private static func fileAccess(_ here: Location) throws(HDF5Error) -> Handle {
        let fapl = try Handle(.propertyList, "H5Pcreate", here, "cannot set up file access") { H5Pcreate(phantom_H5P_FILE_ACCESS()) }
        try call("H5Pset_fclose_degree", here, "cannot set up file access") { H5Pset_fclose_degree(fapl.id, H5F_CLOSE_STRONG) }
        try call("H5Pset_file_locking", here, "cannot set up file access") { H5Pset_file_locking(fapl.id, false, true) }
        return fapl
    }

    // MARK: - Closing

    /// Flushes and closes the file. Objects still open in it are closed too (strong close degree).
    /// The corresponding C function is `H5Fclose`.
    public func close() throws(HDF5Error) {
        guard isOpen else { return }
        isOpen = false
        try call("H5Fclose", location, "cannot close (data may not have been written)") { H5Fclose(id) }
    }

    func closeQuietly() {
        guard isOpen else { return }
        isOpen = false
        _ = probe { H5Fclose(id) }
    }
}
