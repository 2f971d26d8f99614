import Foundation

/// Progress on stderr: a bar on a terminal, a line per quarter otherwise.
final class ProgressReporter: @unchecked Sendable {
    private let lock = NSLock()
    private let terminal = isatty(STDERR_FILENO) == 1
    private var lastQuarter = -1
    private var lastLabel = ""

    func update(_ label: String, _ done: Int, _ total: Int) {
        lock.lock(); defer { lock.unlock() }
        if terminal {
            let width = 30, filled = done * width / max(total, 1)
            let bar = String(repeating: "#", count: filled) + String(repeating: " ", count: width - filled)
            FileHandle.standardError.write(Data("\r\u{1B}[2K\(label) [\(bar)] \(done)/\(total)".utf8))
        } else {
            let quarter = done * 4 / max(total, 1)
            if label != lastLabel || quarter != lastQuarter {
                lastQuarter = quarter
                lastLabel = label
                FileHandle.standardError.write(Data("\(label): \(done)/\(total)\n".utf8))
            }
        }
    }

    func finish(_ label: String) {
        lock.lock(); defer { lock.unlock() }
        if terminal { FileHandle.standardError.write(Data("\n".utf8)) }
        lastQuarter = -1
    }
}
