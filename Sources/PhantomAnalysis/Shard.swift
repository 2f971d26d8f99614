import PhantomLinearAlgebra

/// One of N disjoint parts of an analysis job, `I/N` with 1 ≤ I ≤ N.
///
/// The split is by checkpoint: shard I of N analyses the checkpoints at positions t = I − 1, I − 1 + N,
/// I − 1 + 2N, … of the job's series (round robin, so early and late checkpoints mix). Samples are not split:
/// the batch-mean gradient and the stacked system couple a checkpoint's samples, and its batched BLAS calls
/// make a sample's last bits depend on the batch it is in, so splitting samples could not reproduce the
/// unsharded file exactly. A job can therefore have at most as many shards as checkpoints.
public struct Shard: Sendable, Equatable, CustomStringConvertible {
    public let index: Int
    public let count: Int
    public static let maximumCount = 10_000

    /// - Throws: ``ConfigurationError`` unless 1 ≤ index ≤ count ≤ ``maximumCount``.
    public init(index: Int, count: Int) throws(ConfigurationError) {
        guard (1...Self.maximumCount).contains(count), (1...count).contains(index) else {
            throw ConfigurationError("a shard is I/N with 1 ≤ I ≤ N ≤ \(Self.maximumCount), got \(index)/\(count)")
        }
        self.index = index
        self.count = count
    }

    /// Parses `I/N`.
    public init(parsing text: String) throws(ConfigurationError) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let index = Int(parts[0]), let count = Int(parts[1]) else {
            throw ConfigurationError("a shard is written I/N (e.g. 2/8), got '\(text)'")
        }
        try self.init(index: index, count: count)
    }

    public var description: String { "\(index)/\(count)" }

    /// The positions of this shard's checkpoints in a series of `total`.
    public func positions(inSeriesOf total: Int) -> [Int] {
        Array(stride(from: index - 1, to: total, by: count))
    }
}
