import PhantomLinearAlgebra

/// One of N disjoint parts of an analysis job, `I/N` with 1 ≤ I ≤ N.
///
/// The job's parts are its units: each checkpoint's blocks of samples (``SampleBlock``), numbered checkpoint by
/// checkpoint, u = t·n_B + b for checkpoint t and block b of n_B. Shard I of N analyses the units u = I − 1, I − 1 + N,
/// I − 1 + 2N, … (round robin, so early and late checkpoints, and first and last blocks, mix). With one block per
/// checkpoint a unit is a checkpoint. A sample's block and its companions are the same in every run of the job, so its
/// values are; the batch-mean values of a checkpoint split across shards are formed by the merge from the blocks' means
/// (``PartialBatch``), added in block order as the unsharded run adds them. A job has at most as many shards as units.
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

    /// The positions of this shard's units in a job of `total` units.
    public func units(inJobOf total: Int) -> [Int] {
        Array(stride(from: index - 1, to: total, by: count))
    }

    /// This shard's blocks of each checkpoint it touches, in a job of `checkpoints` × `blocks` units: checkpoint position
    /// → its block indices, ascending.
    public func blocks(checkpoints: Int, blocks: Int) -> [(checkpoint: Int, blocks: [Int])] {
        var out: [(checkpoint: Int, blocks: [Int])] = []
        for unit in units(inJobOf: checkpoints * blocks) {
            let (t, b) = unit.quotientAndRemainder(dividingBy: blocks)
            if out.last?.checkpoint == t { out[out.count - 1].blocks.append(b) } else { out.append((t, [b])) }
        }
        return out
    }
}
