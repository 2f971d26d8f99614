import Foundation
import PhantomFileSystem

/// ONNX external data: tensor bytes kept in a file beside the model (PyTorch's exporter writes `model.onnx.data`).
///
/// Read only as ONNX's own checker allows: `location` is a relative path inside the model's folder — no absolute
/// path, no `..` or `.` component, no symbolic link anywhere on the way — naming a regular file, and
/// `offset + length` lies within it.
enum ExternalData {
    /// The file `location` names, relative to the folder of `model`.
    static func resolve(_ location: String, besideModel model: String) throws -> String {
        func refuse(_ why: String) -> InputError {
            InputError(path: model, message: "external data location \"\(location.prefix(200))\" \(why)")
        }
        guard !location.isEmpty, location.utf8.count <= 1_024 else { throw refuse("is empty or too long") }
        guard !location.hasPrefix("/"), !location.contains("\\"), !location.contains("\0") else {
            throw refuse("is not a relative path inside the model's folder")
        }
        let components = location.split(separator: "/", omittingEmptySubsequences: false)
        guard components.allSatisfy({ !$0.isEmpty && $0 != "." && $0 != ".." }) else {
            throw refuse("is not a plain relative path inside the model's folder (no .., no . and no empty component)")
        }
        var current = (model as NSString).deletingLastPathComponent
        if current.isEmpty { current = "." }
        for (k, component) in components.enumerated() {
            current += "/" + component
            var info = stat()
            guard lstat(current, &info) == 0 else { throw refuse("does not exist") }
            let type = info.st_mode & S_IFMT
            if type == S_IFLNK { throw refuse("goes through a symbolic link") }
            if k < components.count - 1 {
                guard type == S_IFDIR else { throw refuse("is not inside a folder") }
            } else {
                guard type == S_IFREG else { throw refuse("is not a regular file") }
            }
        }
        return current
    }

    /// `length` bytes at `offset` of `file` (opened without following a link, checked regular, bounded by its size).
    static func read(_ file: String, offset: Int, length: Int, tensor: String, model: String) throws -> [UInt8] {
        func refuse(_ why: String) -> InputError { InputError(path: model, message: "tensor \(tensor): external data \(file) \(why)") }
        let fd = open(file, O_RDONLY | O_NOFOLLOW)
        guard fd >= 0 else { throw refuse("cannot be opened: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFREG else { throw refuse("is not a regular file") }
        let size = Int(info.st_size)
        let (end, overflow) = offset.addingReportingOverflow(length)
        guard !overflow, end <= size else {
            throw refuse("is \(size) bytes; the tensor's \(length) bytes at offset \(offset) lie beyond its end")
        }
        var bytes = [UInt8](repeating: 0, count: length)
        var done = 0
        while done < length {
            let n = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + done, length - done, off_t(offset + done)) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw refuse("cannot be read (it ended or failed after \(done) of \(length) bytes)") }
            done += n
        }
        return bytes
    }
}
