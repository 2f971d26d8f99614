import PhantomGradients
import PhantomLinearAlgebra
import PhantomModel

/// One block of a job's samples, the unit that passes through the six stages (``Analyzer``): consecutive positions
/// `samples` of the job's `total`, the route every block of the job takes, and how many of the block's first samples
/// are certified.
///
/// The split (``split(_:stateDimension:samples:)``) depends only on the job — d, the grid and the settings
/// (``AnalysisConfiguration/sampleBlockSize(stateDimension:)``) — so every run of a job, sharded or not, puts each
/// sample in the same block with the same companions, and batched BLAS calls give it the same last bits.
public struct SampleBlock: Sendable, Equatable {
    /// Positions in the job's samples.
    public let samples: Range<Int>
    /// Samples in the whole batch.
    public let total: Int
    public let route: SpectraRoute
    /// The block's share of the batch's certified samples (the batch's first ones).
    public let certified: Int

    /// The block is the whole batch.
    public var isWhole: Bool { samples.count == total }

    /// The blocks of a batch of `samples`, in order.
    ///
    /// The route is the one a block of the block size takes (``AnalysisConfiguration/spectraRoute(stateDimension:samples:)``:
    /// the dense route's memory is per block), and the batch's certified count
    /// (``AnalysisConfiguration/certifiedCount(batch:stateDimension:route:)``) is shared out from the first block on.
    /// A batch of several blocks holds every family's cell means in R^p twice (the sums and the block being added:
    /// 16·E·L·K·p bytes); where that exceeds ``batchMeansBudget`` the automatic split keeps the batch one block (memory
    /// then grows with the samples, as before streaming), and an explicit `--sample-block` is refused.
    /// - Throws: ``ConfigurationError`` for a forced dense route that does not fit, or such a `--sample-block`.
    public static func split(_ c: AnalysisConfiguration, stateDimension d: Int, parameters p: Int, samples b: Int)
        throws(ConfigurationError)
        -> [SampleBlock]
    {
        var size = c.sampleBlockSize(stateDimension: d)
        let means = 16 * Double(c.estimators.count * c.lambdas.count * c.ks.count) * Double(p)
        if b > size, means > Double(batchMeansBudget) {
            guard c.sampleBlock == nil else {
                throw ConfigurationError(
                    "--sample-block \(size) splits \(b) samples into blocks whose batch means in R^p need "
                        + "\(String(format: "%.1f", means / Double(1 << 30))) GiB (16·E·L·K·p bytes, p = \(p)), more than "
                        + "\(batchMeansBudget >> 30) GiB; use --sample-block \(b), or fewer estimators or grid cells")
            }
            size = b
        }
        let route = try c.spectraRoute(stateDimension: d, samples: min(max(b, 1), size))
        let certified = c.certifiedCount(batch: b, stateDimension: d, route: route)
        return stride(from: 0, to: max(b, 1), by: size).map { start in
            let range = start..<min(b, start + size)
            return SampleBlock(samples: range, total: b, route: route, certified: max(0, min(range.count, certified - start)))
        }
    }
}

extension SampleBlock {
    /// The most memory a batch of several blocks may spend on its cell means in R^p: 4 GiB.
    public static let batchMeansBudget = 4 << 30
    /// Samples in the block (the first block's is the split's block size; the last may hold fewer).
    public var size: Int { samples.count }
}

/// A block's batch means (1/B_b) Σ_{i ∈ block}: of the exact gradient, of the head gradient, and of every family's
/// estimate in each cell ([family][λ][k], nil for a family that does not return them).
public struct BatchMeans: Sendable, Equatable {
    public let count: Int
    public let exact: [Double]
    public let head: [Double]
    public let families: [[[[Double]]]?]

    public init(count: Int, exact: [Double], head: [Double], families: [[[[Double]]]?]) {
        (self.count, self.exact, self.head, self.families) = (count, exact, head, families)
    }

    /// A family whose mean is not finite somewhere (SHINE with a sample lacking its history) has none: its batch-mean
    /// metrics are not computed.
    init(problem: GradientProblem, exact: ExactGradientResult, families: [[[[Double]]]?]) {
        let defined = families.map { f in f.flatMap { $0.allSatisfy { $0.allSatisfy { $0.allSatisfy(\.isFinite) } } ? $0 : nil } }
        self.init(count: problem.batchSize, exact: exact.estimate.batchMean, head: problem.headGradient, families: defined)
    }
}

/// The blocks of a checkpoint's batch that one shard analysed (``Analyzer/analyze(model:inputs:targets:solver:blocks:progress:timing:)``
/// with some blocks only): their indices and batch means, from which a merge forms the batch-mean metrics.
public struct PartialBatch: Sendable, Equatable {
    /// Samples per block (the job's ``AnalysisConfiguration/sampleBlockSize(stateDimension:)``).
    public let blockSize: Int
    /// The analysed blocks, ascending, and their means.
    public let blocks: [Int]
    public let means: [BatchMeans]

    public init(blockSize: Int, blocks: [Int], means: [BatchMeans]) {
        (self.blockSize, self.blocks, self.means) = (blockSize, blocks, means)
    }
}

/// The batch's sums Σ_i over the blocks added so far, each block's mean weighted by its size and added in block order
/// (so that every run that adds the same blocks in the same order gets the same bits), and from them the batch-mean
/// metrics of a batch of several blocks.
public struct BatchMeanSums: Sendable {
    public private(set) var count = 0
    private var exact: [Double] = []
    private var head: [Double] = []
    private var families: [[[[Double]]]?] = []

    public init() {}

    /// Adds a block's means: sum += B_b · mean_b.
    public mutating func add(_ block: BatchMeans) {
        let weight = Double(block.count)
        func scaled(_ mean: [Double]) -> [Double] {
            var x = mean
            BLAS.scal(weight, &x)
            return x
        }
        func accumulate(_ sum: inout [Double], _ mean: [Double]) { BLAS.axpy(weight, mean, &sum) }
        if count == 0 {
            exact = scaled(block.exact)
            head = scaled(block.head)
            families = block.families.map { $0.map { $0.map { $0.map(scaled) } } }
        } else {
            accumulate(&exact, block.exact)
            accumulate(&head, block.head)
            for f in families.indices {
                guard let means = block.families[f], families[f] != nil else {
                    families[f] = nil
                    continue
                }
                for l in means.indices { for k in means[l].indices { accumulate(&families[f]![l][k], means[l][k]) } }
            }
        }
        count += block.count
    }

    private func mean(_ sum: [Double]) -> [Double] {
        var x = sum
        BLAS.scal(1 / Double(max(count, 1)), &x)
        return x
    }

    /// ‖(1/B) Σ ∇_i‖ and ‖∂L/∂head‖ of the batch-mean loss.
    public var exactGradientNorm: Double { BLAS.nrm2(mean(exact)) }
    public var headGradientNorm: Double { BLAS.nrm2(mean(head)) }

    /// The batch-mean metrics, estimator × λ × k (NaN for a family without means).
    public func metrics(estimators e: Int, lambdas l: Int, ks k: Int) -> MetricGrids {
        var grids = MetricGrids(estimators: e, lambdas: l, ks: k, samples: 1)
        let exactMean = mean(exact)
        for (index, family) in families.enumerated() {
            guard let family else { continue }
            let table = family.map { row in row.map { GradientMetrics.compare(mean($0), exactMean) } }
            grids.store(table, estimator: index, sample: 0)
        }
        return grids
    }
}

extension CellGrid {
    /// Grids of consecutive blocks of samples as one, along the sample axis.
    init(joiningSamples parts: [CellGrid]) {
        let first = parts[0]
        self.init(estimators: first.estimators, lambdas: first.lambdas, ks: first.ks, samples: parts.reduce(0) { $0 + $1.samples })
        var offset = 0
        for part in parts {
            for e in 0..<estimators {
                for l in 0..<lambdas {
                    for k in 0..<ks { for s in 0..<part.samples { self[e, l, k, offset + s] = part[e, l, k, s] } }
                }
            }
            offset += part.samples
        }
    }
}

extension AssemblyStage {
    /// A block that was not analysed here (another shard's): every value NaN or not computed; it counts the samples the
    /// batch certifies in it, so that the batch's first certified samples keep their positions.
    func placeholder(samples n: Int, certified: Int) -> AnalysisResult {
        let c = configuration
        let metrics = MetricGrids(estimators: c.estimators.count, lambdas: c.lambdas.count, ks: c.ks.count, samples: n)
        let certificates = CertificateGrids(estimators: c.estimators.count, lambdas: c.lambdas.count, ks: c.ks.count, samples: n)
        let backward = BackwardGrids(estimators: c.estimators.count, lambdas: c.lambdas.count, ks: c.ks.count, samples: n)
        let nan = [Double](repeating: .nan, count: n)
        var result = AnalysisResult(
            ks: c.ks, lambdas: c.lambdas, estimators: c.estimators.map(\.id), estimatorAxes: c.estimators.map(\.axes), sampleCount: n,
            certifiedSamples: certified, forwardResidual: nan, forwardIterations: [Int](repeating: 0, count: n),
            forwardConverged: [Bool](repeating: false, count: n),
            forwardMethod: [FixedPointStage](repeating: FixedPointStage.allCases[0], count: n),
            forwardLastResidual: nan, adjointResidual: nan, adjointConverged: [Bool](repeating: false, count: n), adjointMethod: "",
            loss: nan, spectra: (0..<n).map { _ in SampleSpectra(missingWithLambdas: c.lambdas.count, ks: c.ks.count) }, metrics: metrics,
            certificates: certificates,
            batch: MetricGrids(estimators: c.estimators.count, lambdas: c.lambdas.count, ks: c.ks.count, samples: 1),
            backward: backward, stacked: nil, headGradientNorm: .nan, exactGradientNorm: .nan, adjointTolerance: c.adjoint.tolerance)
        result.isPlaceholder = true
        result.forwardStatus = [SolverStatus](repeating: .maximumIterationsReached, count: n)
        return result
    }

    /// The results of a batch's blocks, in order, as one: per-sample values joined along the sample axis, the batch-mean
    /// metrics and norms from the blocks' sums (NaN without them: a shard's part of a checkpoint); no stacked system (a
    /// batch of several blocks has none).
    public func join(_ parts: [AnalysisResult], sums: BatchMeanSums?) -> AnalysisResult {
        let first = parts.first { !$0.isPlaceholder } ?? parts[0]
        func cells(_ path: KeyPath<AnalysisResult, CellGrid>) -> CellGrid { CellGrid(joiningSamples: parts.map { $0[keyPath: path] }) }
        var metrics = parts[0].metrics, certificates = parts[0].certificates, backward = parts[0].backward
        metrics.cosine = cells(\.metrics.cosine)
        metrics.angleDegrees = cells(\.metrics.angleDegrees)
        metrics.relativeError = cells(\.metrics.relativeError)
        metrics.normRatio = cells(\.metrics.normRatio)
        metrics.inner = cells(\.metrics.inner)
        certificates.errorNorm = cells(\.certificates.errorNorm)
        certificates.theorem1 = cells(\.certificates.theorem1)
        certificates.weakCondition = cells(\.certificates.weakCondition)
        certificates.rho = cells(\.certificates.rho)
        certificates.cosineBound = cells(\.certificates.cosineBound)
        certificates.rhoStar = cells(\.certificates.rhoStar)
        certificates.ascentMargin = cells(\.certificates.ascentMargin)
        certificates.errorNormStatus = cells(\.certificates.errorNormStatus)
        certificates.rhoStarStatus = cells(\.certificates.rhoStarStatus)
        certificates.ascentMarginStatus = cells(\.certificates.ascentMarginStatus)
        backward.vjps = cells(\.backward.vjps)
        backward.residual = cells(\.backward.residual)
        backward.status = cells(\.backward.status)
        func joined<T>(_ path: KeyPath<AnalysisResult, [T]>) -> [T] { parts.flatMap { $0[keyPath: path] } }
        var result = AnalysisResult(
            ks: first.ks, lambdas: first.lambdas, estimators: first.estimators, estimatorAxes: first.estimatorAxes,
            sampleCount: parts.reduce(0) { $0 + $1.sampleCount }, certifiedSamples: parts.reduce(0) { $0 + $1.certifiedSamples },
            forwardResidual: joined(\.forwardResidual), forwardIterations: joined(\.forwardIterations),
            forwardConverged: joined(\.forwardConverged), forwardMethod: joined(\.forwardMethod),
            forwardLastResidual: joined(\.forwardLastResidual), adjointResidual: joined(\.adjointResidual),
            adjointConverged: joined(\.adjointConverged), adjointMethod: first.adjointMethod, loss: joined(\.loss),
            spectra: joined(\.spectra), metrics: metrics, certificates: certificates,
            batch: sums?.metrics(estimators: first.estimators.count, lambdas: first.lambdas.count, ks: first.ks.count)
                ?? MetricGrids(estimators: first.estimators.count, lambdas: first.lambdas.count, ks: first.ks.count, samples: 1),
            backward: backward, stacked: nil, headGradientNorm: sums?.headGradientNorm ?? .nan,
            exactGradientNorm: sums?.exactGradientNorm ?? .nan, adjointTolerance: first.adjointTolerance)
        for part in parts { result.failures.absorb(part.failures) }
        result.forwardStatus = joined(\.forwardStatus)
        return result
    }
}
