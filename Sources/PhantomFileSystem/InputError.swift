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

    /// One line: control characters in the path or the message (which may quote a file's strings) are escaped.
    public var description: String { (path.map { "\($0): \(message)" } ?? message).escapingControlCharacters }
}

extension String {
    /// The text with line breaks and other control characters written as escapes (`\n`, `\u{1B}`), so that a string
    /// read from a file and quoted in an error message keeps the message on one line and cannot drive a terminal.
    public var escapingControlCharacters: String {
        var out = ""
        for scalar in unicodeScalars {
            switch scalar {
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.properties.generalCategory == .control || scalar.properties.generalCategory == .format && scalar.value < 0x2000 {
                    out += "\\u{\(String(scalar.value, radix: 16))}"
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out
    }
}
