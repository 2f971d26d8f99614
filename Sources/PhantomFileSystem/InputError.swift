/// An input that cannot be used — a file that is not what it claims (a checkpoint, data set or results file
/// with a missing, malformed or inconsistent part), a missing file or folder, a count out of range — as one
/// line naming the file (when there is one) and what is wrong.
public struct InputError: Error, CustomStringConvertible, Sendable {
    /// The file or folder at fault, when the problem is one.
    public let path: String?
    public let message: String

    public init(path: String, message: String) {
        self.path = path
        self.message = message
    }

    public init(_ message: String) {
        path = nil
        self.message = message
    }

    public var description: String { path.map { "\($0): \(message)" } ?? message }
}
