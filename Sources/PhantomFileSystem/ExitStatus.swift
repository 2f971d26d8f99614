import Foundation

/// One exit status per class of failure (BSD sysexits), documented in the README: what a front end exits with, and
/// what the isolated HDF5 reader (a child process) reports to its parent.
public enum ExitStatus {
    /// The command line was wrong: an unknown option or value, a setting out of range.
    public static let usage: Int32 = 64
    /// An input could not be used: a missing, malformed, hostile or inconsistent file; a diverged training.
    public static let dataError: Int32 = 65
    /// A program the command needs is missing (gnuplot).
    public static let unavailable: Int32 = 69
    /// A bug or an unexpected library failure.
    public static let software: Int32 = 70
    /// An output could not be written: it exists, its folder is missing or read-only, the disk is full.
    public static let ioError: Int32 = 74

    /// A Foundation file error as a sentence naming the path and the system's reason (its own text says "(null)").
    public static func fileErrorText(_ error: any Error) -> String? {
        guard let file = error as? CocoaError else { return nil }
        let reason = (file.underlying as? POSIXError).map { String(cString: strerror($0.code.rawValue)) } ?? "\(file.code)"
        let verb = file.code.rawValue >= CocoaError.fileWriteUnknown.rawValue ? "cannot be written" : "cannot be read"
        return "\(file.filePath ?? file.url?.path ?? "a file") \(verb): \(reason)"
    }
}
