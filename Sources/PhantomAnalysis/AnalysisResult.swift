import Foundation
import PhantomGradients
import PhantomLinearAlgebra
import PhantomModel

/// Values on the grid estimator × λ × k × sample, row-major (the layout of the results file).
public struct CellGrid: Sendable, Equatable {
    public let estimators: Int
    public let lambdas: Int
    public let ks: Int
    public let samples: Int
    public var values: [Double]

    public init(estimators: Int, lambdas: Int, ks: Int, samples: Int, fill: Double = .nan) {
        self.estimators = estimators
        self.lambdas = lambdas
        self.ks = ks
        self.samples = samples
        values = [Double](repeating: fill, count: estimators * lambdas * ks * samples)
    }

    public var shape: [Int] { [estimators, lambdas, ks, samples] }

    public subscript(e: Int, l: Int, k: Int, s: Int) -> Double {
        get { values[((e * lambdas + l) * ks + k) * samples + s] }
        set { values[((e * lambdas + l) * ks + k) * samples + s] = newValue }
    }

    /// The values of one cell across samples.
    public func samplesOf(e: Int, l: Int, k: Int) -> [Double] {
        let start = ((e * lambdas + l) * ks + k) * samples
        return Array(values[start..<(start + samples)])
    }

    /// Stores a [λ][k] table of estimator `e` for sample `s`: the one conversion from a family's table to the
    /// results layout.
    public mutating func store<T>(_ table: [[T]], estimator e: Int, sample s: Int, _ value: (T) -> Double) {
        for (l, row) in table.enumerated() {
            for (k, cell) in row.enumerated() { self[e, l, k, s] = value(cell) }
        }
    }
}

extension ValueStatus {
    /// The index of the status's code in ``ValueStatus/Code/allCases`` (the results file's encoding), as a Double.
    public var codeIndex: Double { Double(Code.allCases.firstIndex(of: code)!) }
}

/// A flag stored as a Double in a grid: 1 true, 0 false, NaN not computed.
@inline(__always) func flag(_ holds: Bool, computed: Bool) -> Double { computed ? (holds ? 1 : 0) : .nan }

/// The measured metrics of every estimator and cell against the exact gradient.
public struct MetricGrids: Sendable {
    public var cosine: CellGrid
    /// The angle in degrees (``GradientMetrics/angleDegrees``).
    public var angleDegrees: CellGrid
    public var relativeError: CellGrid
    public var normRatio: CellGrid
    public var inner: CellGrid

    init(estimators: Int, lambdas: Int, ks: Int, samples: Int) {
        let grid = CellGrid(estimators: estimators, lambdas: lambdas, ks: ks, samples: samples)
        (cosine, angleDegrees, relativeError, normRatio, inner) = (grid, grid, grid, grid, grid)
    }

    mutating func store(_ table: [[GradientMetrics]], estimator e: Int, sample s: Int) {
        cosine.store(table, estimator: e, sample: s, \.cosine)
        angleDegrees.store(table, estimator: e, sample: s, \.angleDegrees)
        relativeError.store(table, estimator: e, sample: s, \.relativeError)
        normRatio.store(table, estimator: e, sample: s, \.normRatio)
        inner.store(table, estimator: e, sample: s, \.inner)
    }
}

/// Each sample's backward pass in every cell (``BackwardRecord``): VJPs used, the residual its own stopping rule
/// measured (NaN for families that do not iterate) and how it ended (a ``BackwardStatus`` index).
public struct BackwardGrids: Sendable {
    public var vjps: CellGrid
    public var residual: CellGrid
    public var status: CellGrid

    init(estimators: Int, lambdas: Int, ks: Int, samples: Int) {
        let grid = CellGrid(estimators: estimators, lambdas: lambdas, ks: ks, samples: samples)
        (vjps, residual, status) = (grid, grid, grid)
    }

    mutating func store(_ table: [[BackwardRecord]], estimator e: Int, sample s: Int) {
        vjps.store(table, estimator: e, sample: s, \.vjps)
        residual.store(table, estimator: e, sample: s, \.residual)
        status.store(table, estimator: e, sample: s) { Double(BackwardStatus.allCases.firstIndex(of: $0.status)!) }
    }

    /// How many samples of estimator `e` ended with `status` in its largest-k cell (the first λ): SHINE's histories,
    /// fallbacks and missing histories, or how many truncated adjoints met their tolerance within the largest budget.
    public func count(_ status: BackwardStatus, estimator e: Int) -> Int {
        let code = Double(BackwardStatus.allCases.firstIndex(of: status)!), k = self.status.ks - 1
        return (0..<self.status.samples).filter { self.status[e, 0, k, $0] == code }.count
    }
}

/// Theorem 1 and its certificates in every cell (flags as 1/0, NaN where not computed).
public struct CertificateGrids: Sendable {
    public var errorNorm: CellGrid
    public var theorem1: CellGrid
    public var weakCondition: CellGrid
    public var rho: CellGrid
    public var cosineBound: CellGrid
    public var rhoStar: CellGrid
    public var ascentMargin: CellGrid
    /// Each value's pedigree as a ``ValueStatus/Code`` index (NaN for samples that are not certified).
    public var errorNormStatus: CellGrid
    public var rhoStarStatus: CellGrid
    public var ascentMarginStatus: CellGrid

    init(estimators: Int, lambdas: Int, ks: Int, samples: Int) {
        let grid = CellGrid(estimators: estimators, lambdas: lambdas, ks: ks, samples: samples)
        (errorNorm, theorem1, weakCondition, rho, cosineBound, rhoStar, ascentMargin) = (grid, grid, grid, grid, grid, grid, grid)
        (errorNormStatus, rhoStarStatus, ascentMarginStatus) = (grid, grid, grid)
    }

    mutating func store(_ table: [[Certificate]], estimator e: Int, sample s: Int) {
        errorNorm.store(table, estimator: e, sample: s, \.errorNorm)
        theorem1.store(table, estimator: e, sample: s) { flag($0.theorem1, computed: !$0.errorNorm.isNaN) }
        weakCondition.store(table, estimator: e, sample: s) { flag($0.weakCondition, computed: !$0.errorNorm.isNaN) }
        rho.store(table, estimator: e, sample: s, \.rho)
        cosineBound.store(table, estimator: e, sample: s, \.cosineBound)
        rhoStar.store(table, estimator: e, sample: s, \.rhoStar)
        ascentMargin.store(table, estimator: e, sample: s, \.ascentMargin)
        errorNormStatus.store(table, estimator: e, sample: s) { $0.errorNormStatus.codeIndex }
        rhoStarStatus.store(table, estimator: e, sample: s) { $0.rhoStarStatus.codeIndex }
        ascentMarginStatus.store(table, estimator: e, sample: s) { $0.ascentMarginStatus.codeIndex }
    }
}

/// Everything one analysis of one checkpoint produced, with every solve's pedigree.
public struct AnalysisResult: Sendable {
    public let ks: [Int]
    public let lambdas: [Double]
    public let estimators: [EstimatorID]
    /// The grid axes each estimator depends on (parallel to `estimators`).
    public let estimatorAxes: [EstimatorAxes]
    public let sampleCount: Int
    /// The first `certifiedSamples` samples have certificates and ‖B^k‖₂ (NaN for the others).
    public let certifiedSamples: Int

    // Pedigree, per sample.
    public var forwardResidual: [Double]
    public var forwardIterations: [Int]
    public var forwardConverged: [Bool]
    /// The forward solver's method that produced each h* (``FixedPointStage``).
    public var forwardMethod: [FixedPointStage]
    /// Each forward solve's residual after its last evaluation of f.
    public var forwardLastResidual: [Double]
    /// How each forward solve ended (``PhantomLinearAlgebra/SolverStatus``): the reason an unconverged one stopped.
    public var forwardStatus: [SolverStatus] = []
    public var adjointResidual: [Double]
    public var adjointConverged: [Bool]
    public var adjointMethod: String
    public var loss: [Double]

    /// Spectra, per sample.
    public var spectra: [SampleSpectra]

    /// Measured against the exact gradient, estimator × λ × k × sample.
    public var metrics: MetricGrids
    /// Certificates, estimator × λ × k × sample.
    public var certificates: CertificateGrids
    /// The batch-mean gradient, estimator × λ × k (sample axis of length 1).
    public var batch: MetricGrids
    /// Each sample's backward pass (cost, residual, outcome), estimator × λ × k × sample.
    public var backward: BackwardGrids
    /// The batch as one stacked system (nil when B·d is above the limit or p < B·d).
    public var stacked: StackedCertificates?
    /// ‖∂L/∂head‖ of the batch-mean loss, which no estimator changes.
    public var headGradientNorm: Double
    /// ‖∇_θ L‖ of the batch-mean exact gradient over the implicit layer.
    public var exactGradientNorm: Double
    /// The adjoint solve's relative tolerance (what "exact" means here; the exact gradient's cost uses it).
    public var adjointTolerance: Double
    /// Every value that is not ``ValueStatus/ok`` — certificates, ‖B^k‖₂, spectra — counted per quantity and cause.
    public var failures = FailureReport()
    /// A shard's part of the checkpoint (``PartialBatch``): the blocks it analysed and their batch means; the other blocks'
    /// samples hold no values, and the batch-mean values are NaN until a merge forms them. Nil for a whole checkpoint.
    public var partial: PartialBatch? = nil
    /// A block analysed elsewhere (``AssemblyStage/join(_:sums:)``'s stand-in).
    var isPlaceholder = false

    /// The samples analysed here: all of them, or a shard's blocks' (``partial``).
    public var analysed: [Bool] {
        guard let partial else { return [Bool](repeating: true, count: sampleCount) }
        let held = Set(partial.blocks)
        return (0..<sampleCount).map { held.contains($0 / partial.blockSize) }
    }

    /// The exact gradient's cost in VJPs (``Frontier/exactCost(_:tolerance:)``).
    public var exactCost: Double { Frontier.exactCost(self, tolerance: adjointTolerance) }

    /// Per estimator, per threshold of ``Frontier/thresholds``: the cheapest cell reaching it.
    public var frontier: [[FrontierCell?]] {
        Frontier.cells(
            ks: ks, lambdas: lambdas, estimators: estimators.count, reliable: reliable, exactCost: exactCost,
            cosine: { metrics.cosine.samplesOf(e: $0, l: $1, k: $2) }, vjps: { backward.vjps.samplesOf(e: $0, l: $1, k: $2) })
    }

    /// ρ(J) < 1 at h*: an attractive fixed point. At a repelling one (ρ(J) ≥ 1) the Neumann series and the
    /// phantom gradients have nothing to converge to, so the sample is flagged like an unconverged solve.
    public var stable: [Bool] { spectra.map { $0.spectralRadius < 1 } }

    /// A sample is used for the bound checks only when its forward and adjoint solves converged and its fixed
    /// point is attractive.
    public var reliable: [Bool] {
        (0..<sampleCount).map {
            Self.isReliable(forwardConverged: forwardConverged[$0], adjointConverged: adjointConverged[$0], spectra: spectra[$0])
        }
    }

    /// The rule behind ``reliable``: both solves converged, ρ(J) reached its tolerance (iterative route) and ρ(J) < 1.
    static func isReliable(forwardConverged: Bool, adjointConverged: Bool, spectra: SampleSpectra) -> Bool {
        forwardConverged && adjointConverged && spectra.spectralRadiusConverged && spectra.spectralRadius < 1
    }

    /// The median measured cosine of a cell over the reliable samples.
    public func medianCosine(_ estimator: EstimatorID, lambda l: Int, k: Int) -> Double {
        guard let e = estimators.firstIndex(of: estimator) else { return .nan }
        return Self.median(metrics.cosine.samplesOf(e: e, l: l, k: k), over: reliable)
    }

    /// ``medianCosine(_:lambda:k:)`` of every cell of estimator `e`, λ × k.
    func medianCosines(estimator e: Int) -> [[Double]] {
        let reliable = reliable
        return lambdas.indices.map { l in ks.indices.map { k in Self.median(metrics.cosine.samplesOf(e: e, l: l, k: k), over: reliable) } }
    }

    private static func median(_ values: [Double], over reliable: [Bool]) -> Double {
        Quantile.median(zip(values, reliable).filter { $1 }.map(\.0))
    }
}

/// Theorem 1 and its certificates for the stacked batch system (sample axis of length 1; NaN for families
/// without a stacked form).
public struct StackedCertificates: Sendable {
    public var sigmaMin: Double
    public var sigmaMax: Double
    public var certificates: CertificateGrids
}

/// Order statistics for summaries and figures.
public enum Quantile {
    /// The q-quantile (linear interpolation) of the finite values, or NaN when there are none.
    public static func of(_ values: [Double], _ q: Double) -> Double {
        let sorted = values.filter(\.isFinite).sorted()
        guard !sorted.isEmpty else { return .nan }
        let position = q * Double(sorted.count - 1)
        let low = Int(position.rounded(.down)), high = min(low + 1, sorted.count - 1)
        return sorted[low] + (position - Double(low)) * (sorted[high] - sorted[low])
    }

    /// The median of the finite values (the mean of the middle two for an even count), NaN when none.
    public static func median(_ values: [Double]) -> Double {
        let sorted = values.filter(\.isFinite).sorted()
        guard !sorted.isEmpty else { return .nan }
        let n = sorted.count
        return n % 2 == 1 ? sorted[n / 2] : 0.5 * (sorted[n / 2 - 1] + sorted[n / 2])
    }
}

/// The share of cells where a condition holds, over the cells where it was computed: the one rule behind the
/// summary's and the figures' certified fractions. NaN values (not computed) and unreliable samples are left
/// out of both counts.
public enum CertifiedFraction {
    /// `holds` is asked only for non-NaN values. Nil when no value was computed.
    public static func of(_ values: some Sequence<Double>, holds: (Double) -> Bool) -> Double? {
        var yes = 0, all = 0
        for value in values where !value.isNaN {
            all += 1
            if holds(value) { yes += 1 }
        }
        return all == 0 ? nil : Double(yes) / Double(all)
    }

    /// A flag (1/0, NaN or −1 not computed) holds.
    public static func flagHolds(_ value: Double) -> Bool { value == 1 }
}
