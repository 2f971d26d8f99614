import PhantomLinearAlgebra
import PhantomModel

/// The batched state VJP of the mdeq cell (two 3×3 convolutions as im2col + per-sample GEMMs, three GroupNorms,
/// two ReLUs) in GFLOP/s, against dgemm in the same run, at C channels, expansion E, H×W, batch B.
///
/// FLOPs counted: the two transposed convolutions' GEMMs, 2·(9·E·C)·C·H·W each per sample (4·9·E·C²·H·W in all);
/// im2col/col2im, the norms and the ReLUs are not counted (they are the overhead the ratio exposes). dgemm is timed
/// on a square n×n·n×n product with n = 512 (2n³ FLOPs).
public struct CellBenchmark: Sendable {
    public var channels = 32
    public var expansion = 2
    /// GroupNorm groups G (dividing C and E·C).
    public var groups = 2
    /// H = W for each entry.
    public var sizes = [8, 16]
    public var batch = 128
    public var repeats = 5
    public var seed: UInt64 = 0

    public init() {}

    public func validate() throws(ConfigurationError) {
        guard (1...512).contains(channels), (1...8).contains(expansion) else {
            throw ConfigurationError("channels must lie in 1…512 and expansion in 1…8")
        }
        guard (1...16).contains(sizes.count), sizes.allSatisfy({ (1...64).contains($0) }) else {
            throw ConfigurationError("sizes: 1…16 values, each in 1…64")
        }
        guard (1...1024).contains(batch), (1...1000).contains(repeats) else {
            throw ConfigurationError("batch must lie in 1…1024 and repeats in 1…1000")
        }
        for side in sizes {
            if let problem = geometry(side).problem(inputDimension: side * side, stateDimension: channels * side * side) {
                throw ConfigurationError("bench cell at \(side)×\(side): \(problem)")
            }
            let bytes = Self.bytes(batch: batch, channels: channels, expansion: expansion, side: side)
            guard bytes <= Double(Self.memoryBudget) else {
                throw ConfigurationError(
                    "bench cell at C = \(channels), E = \(expansion), \(side)×\(side), B = \(batch) needs about "
                        + "\(String(format: "%.1f", bytes / Double(1 << 30))) GiB, more than \(Self.memoryBudget >> 30) GiB; lower a size")
            }
        }
    }

    /// The most memory one size may use: 4 GiB.
    public static let memoryBudget = 4 << 30

    /// The memory of one size, in bytes: per sample and position, the linearization's im2col patches (9·E·C rows for
    /// conv2, 9·C for conv1), the transposed convolutions' column buffers and the activations, fitted to the peaks
    /// measured here (34 values per E·C and 14 per C; C = 512, E = 8, 64×64, B = 1: 4.5 GB measured, 4.8 GB modelled;
    /// C = 2, E = 1, 64×64, B = 1024: 3.0 GB measured, 3.2 GB modelled).
    static func bytes(batch: Int, channels c: Int, expansion e: Int, side: Int) -> Double {
        8 * Double(batch) * Double(side * side) * (34 * Double(e * c) + 14 * Double(c))
    }

    func geometry(_ side: Int) -> MDEQCell.Geometry {
        MDEQCell.Geometry(channels: channels, inChannels: 1, height: side, width: side, expansion: expansion, groups: groups)
    }

    public struct Row: Sendable {
        public let size: Int
        public let stateDimension: Int
        public let seconds: Double
        public let gflops: Double
    }

    public struct Report: Sendable {
        public let rows: [Row]
        public let gemmGFLOPS: Double
    }

    public func run() throws -> Report {
        try validate()
        var rng = SplitMix64(seed: seed)
        let n = 512
        let a = Matrix(rows: n, columns: n, elements: (0..<(n * n)).map { _ in rng.nextGaussian() })
        let gemm = Stopwatch.median(repeats: repeats) { _ = BLAS.gemm(a, a) }
        let rows = sizes.map { side -> Row in
            let g = geometry(side)
            var cell = MDEQCell(g)
            cell.parameters = (0..<cell.layout.count).map { _ in 0.1 * rng.nextGaussian() }
            let d = g.stateDimension
            let h = Matrix(rows: batch, columns: d, elements: (0..<(batch * d)).map { _ in rng.nextGaussian() })
            let x = Matrix(
                rows: batch, columns: g.inputDimension, elements: (0..<(batch * g.inputDimension)).map { _ in rng.nextGaussian() })
            let u = Matrix(rows: batch, columns: d, elements: (0..<(batch * d)).map { _ in rng.nextGaussian() })
            let lin = cell.linearize(state: h, input: x)
            let seconds = Stopwatch.median(repeats: repeats) { _ = lin.stateVJP(u) }
            let flops = 4.0 * 9 * Double(expansion) * Double(channels * channels) * Double(side * side) * Double(batch)
            return Row(size: side, stateDimension: d, seconds: seconds, gflops: flops / seconds / 1e9)
        }
        return Report(rows: rows, gemmGFLOPS: 2 * Double(n * n * n) / gemm / 1e9)
    }
}
