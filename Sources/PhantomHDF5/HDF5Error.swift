/// A failure reading or writing an HDF5 file: the file, the object inside it, what went wrong, and — when
/// the HDF5 library itself failed — the C function and the library's own error stack.
///
/// Modelled on GRDB's `DatabaseError`: enough context to act on without a debugger. Its `description` is
/// one line, suitable for the CLI's stderr:
///
///     results.h5: /params/cell.weight: has rank 1, expected 2
///     ckpt.h5: cannot open (HDF5 H5Fopen: H5Fopen: unable to open file — truncated file: eof = 800 …)
public struct HDF5Error: Error, CustomStringConvertible, Sendable {
    /// The file's path as the caller gave it.
    public let file: String
    /// The object's path inside the file ("/params/cell.weight"), or nil for the file itself.
    public let object: String?
    /// What went wrong, in words.
    public let message: String
    /// The failing C function ("H5Dcreate2"), when the library reported the failure.
    public let operation: String?
    /// HDF5's error stack, innermost first, joined by "; " (empty when not a library failure).
    public let stack: String

    public init(file: String, object: String?, message: String, operation: String? = nil, stack: String = "") {
        self.file = file
        self.object = object
        self.message = message
        self.operation = operation
        self.stack = stack
    }

    public var description: String {
        var line = file
        if let object { line += ": \(object)" }
        line += ": \(message)"
        if let operation {
            line += " (HDF5 \(operation)" + (stack.isEmpty ? ")" : ": \(stack))")
        }
        return line.escapingControlCharacters
    }
}
