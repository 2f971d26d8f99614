import PhantomFileSystem
import PhantomGradients

/// What makes two runs parts of one analysis job, in parts a merge can check each shard against.
///
/// Each part is a SHA-256 of one aspect of the job: the grid (k and the bit patterns of λ), the estimators, the
/// sample rows, the checkpoints' hashes in series order, and everything else (tool version, data hash, adjoint,
/// certificate, spectra, solver and import settings). Results files of a job store the parts as the attribute
/// `job_parts` (``text``) and their hash as `job_fingerprint` (``fingerprint``). `phantom merge` recomputes the
/// grid, estimator and row parts from each shard's own axes, the checkpoint part from the shards' series (when every
/// shard is there), and the fingerprint from the stored parts: a shard whose axes were altered, or whose parts do not
/// hash to its fingerprint, is refused before its arrays are combined.
public struct JobFingerprint: Sendable, Equatable {
    public var grid: String
    public var estimators: String
    public var rows: String
    public var checkpoints: String
    public var settings: String

    static let header = "phantom-analysis-job 2"
    static let names = ["grid", "estimators", "rows", "checkpoints", "settings"]

    public init(grid: String, estimators: String, rows: String, checkpoints: String, settings: String) {
        (self.grid, self.estimators, self.rows, self.checkpoints, self.settings) = (grid, estimators, rows, checkpoints, settings)
    }

    /// The parts as one line each (the attribute `job_parts`).
    public var text: String {
        ([Self.header] + zip(Self.names, [grid, estimators, rows, checkpoints, settings]).map { "\($0) \($1)" })
            .joined(separator: "\n")
    }

    /// SHA-256 of ``text`` (the attribute `job_fingerprint`).
    public var fingerprint: String { Self.hash(text) }

    /// Parses ``text``; nil unless it is exactly the header and the five named 64-digit hashes.
    public init?(parsing text: String) {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        guard lines.count == Self.names.count + 1, lines[0] == Self.header else { return nil }
        var values: [String] = []
        for (line, name) in zip(lines.dropFirst(), Self.names) {
            let value = line.dropFirst(name.count + 1)
            guard line.hasPrefix(name + " "), value.count == 64, value.allSatisfy({ $0.isHexDigit && !$0.isUppercase }) else {
                return nil
            }
            values.append(String(value))
        }
        self.init(grid: values[0], estimators: values[1], rows: values[2], checkpoints: values[3], settings: values[4])
    }

    static func hash(_ text: String) -> String { SHA256.hex(Array(text.utf8)) }

    /// The grid part: k, and λ by bit pattern (so that no rounding of a printed λ can match another).
    public static func grid(ks: [Int], lambdas: [Double]) -> String {
        hash(
            "k \(ks.map(String.init).joined(separator: ",")) "
                + "lambda \(lambdas.map { String($0.bitPattern, radix: 16) }.joined(separator: ","))"
        )
    }

    public static func estimators(_ ids: [EstimatorID]) -> String { hash("estimators \(ids.map(\.rawValue).joined(separator: ","))") }

    public static func rows(_ rows: [Int]) -> String { hash("rows \(rows.map(String.init).joined(separator: ","))") }

    /// The checkpoint part: every checkpoint's SHA-256, in the job's series order.
    public static func checkpoints(_ sha256s: [String]) -> String { hash(sha256s.map { "checkpoint \($0)" }.joined(separator: "\n")) }

    public static func settings(_ lines: [String]) -> String { hash(lines.joined(separator: "\n")) }
}
