import Foundation

/// A failure to render a figure.
public enum GnuplotError: Error, CustomStringConvertible, Sendable {
    /// No `gnuplot` executable on PATH (or at the given path).
    case notInstalled(executable: String)
    /// gnuplot ran and failed; `message` is its own stderr (e.g. `line 3: undefined variable: foo`).
    case failed(status: Int32, message: String)
    /// gnuplot exited 0 but wrote no output file.
    case noOutput(path: String)
    /// The process could not be started.
    case launch(String)

    public var description: String {
        switch self {
        case .notInstalled(let executable):
            return "gnuplot is not installed (no '\(executable)' on PATH): install it with `apt-get install gnuplot-nox`"
        case let .failed(status, message):
            let trimmed = message.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
                .filter { !$0.isEmpty && $0 != "^" }.joined(separator: " | ")
            return "gnuplot failed (exit \(status)): \(trimmed)"
        case .noOutput(let path):
            return "\(path): gnuplot wrote no output"
        case .launch(let reason):
            return "cannot start gnuplot: \(reason)"
        }
    }
}
