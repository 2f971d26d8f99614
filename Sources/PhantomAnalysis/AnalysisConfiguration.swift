import PhantomGradients
import PhantomLinearAlgebra
import PhantomModel

/// What an analysis computes, checked when built. The defaults here are the command line's defaults.
public struct AnalysisConfiguration: Sendable {
    public static let defaultKs = Array(1...10)
    public static let defaultLambdas = [0.1, 0.3, 0.5, 0.7, 0.9, 1.0]
    public static let defaultEstimators = Estimators.analysisDefault
    public static let defaultAdjointTolerance = 1e-10
    /// Each stacked cell costs O((B·d)³) (docs/Theory.md §3.5): B·d ≤ 512 by default.
    public static let defaultStackedLimit = 512
    public static let maximumK = 1000
    /// At most this many λ values (the grid's other axis; results files are held to the same bound on read).
    public static let maximumLambdas = 1000
    /// Default number of certified samples: all when d ≤ this, else ``defaultCertifiedAboveLimit``.
    public static let certifyAllUpToDimension = 128
    public static let defaultCertifiedAboveLimit = 16

    /// Unrolling/series lengths k, ascending and distinct, each in 1…1000.
    public let ks: [Int]
    /// Damping factors λ ∈ (0, 1], in the given order.
    public let lambdas: [Double]
    /// The families compared with the exact gradient, distinct, in order.
    public let estimators: [EstimatorFamily]
    public let adjoint: AdjointSolver
    /// How many samples (the first ones) get the per-cell certificates and ‖B^k‖₂; nil: every sample when
    /// d ≤ 128, the first 16 above (each certificate costs a few d³ operations per cell), none on the matrix-free route. Measured metrics,
    /// σ(M), ‖J‖₂, ρ(J) and ρ(B) are computed for every sample.
    public let certificateSamples: Int?
    /// Largest d·p for which a family may form its residual rows in R^p (UPG's column route).
    public let columnBudget: Int
    /// Use the column route even when the cell allows the faster state-space route (cross-checks).
    public let preferColumnRoute: Bool
    /// The batch is also analysed as one stacked system when B·d ≤ this and p ≥ B·d (0 disables).
    public let stackedLimit: Int
    /// How σ(M), ‖J‖₂, ρ(J) and ρ(B) are computed (``SpectraRoute``).
    public let spectra: SpectraRoute
    /// The families' settings beyond (k, λ): SHINE's fallback, the truncated adjoints' stopping rule.
    public let estimatorSettings: EstimatorSettings
    /// Samples per block (``sampleBlockSize(stateDimension:)``); nil: chosen from d and the grid.
    public let sampleBlock: Int?

    /// - Throws: ``ConfigurationError`` for an empty or out-of-range grid, no or repeated estimators, or a
    ///   negative count.
    public init(
        ks: [Int] = defaultKs, lambdas: [Double] = defaultLambdas, estimators: [EstimatorFamily] = defaultEstimators,
        adjoint: AdjointSolver, certificateSamples: Int? = nil, columnBudget: Int = 4_000_000,
        preferColumnRoute: Bool = false, stackedLimit: Int = defaultStackedLimit,
        spectra: SpectraRoute = .auto, estimatorSettings: EstimatorSettings = .standard, sampleBlock: Int? = nil
    ) throws(ConfigurationError) {
        guard !ks.isEmpty else { throw ConfigurationError("the k grid is empty") }
        if let bad = ks.first(where: { $0 < 1 }) { throw ConfigurationError("every k must be at least 1, got \(bad)") }
        if let big = ks.first(where: { $0 > Self.maximumK }) { throw ConfigurationError("k is at most \(Self.maximumK), got \(big)") }
        guard !lambdas.isEmpty else { throw ConfigurationError("the λ grid is empty") }
        guard lambdas.count <= Self.maximumLambdas else {
            throw ConfigurationError("the λ grid has \(lambdas.count) values, at most \(Self.maximumLambdas) are allowed")
        }
        for lambda in lambdas where !(lambda > 0 && lambda <= 1) {
            throw ConfigurationError("every λ must lie in (0, 1], got \(lambda)")
        }
        guard !estimators.isEmpty else { throw ConfigurationError("no estimator to analyse") }
        guard Set(estimators).count == estimators.count else { throw ConfigurationError("an estimator is listed twice") }
        if let certificateSamples, certificateSamples < 0 {
            throw ConfigurationError("the number of certified samples must be ≥ 0, got \(certificateSamples)")
        }
        guard stackedLimit >= 0 else { throw ConfigurationError("the stacked-system limit must be ≥ 0, got \(stackedLimit)") }
        guard columnBudget >= 0 else { throw ConfigurationError("the column budget must be ≥ 0, got \(columnBudget)") }
        if let sampleBlock, !(1...Self.maximumSampleBlock).contains(sampleBlock) {
            throw ConfigurationError("a sample block holds 1…\(Self.maximumSampleBlock) samples, got \(sampleBlock)")
        }
        self.ks = Array(Set(ks)).sorted()
        self.lambdas = lambdas
        self.estimators = estimators
        self.adjoint = adjoint
        self.certificateSamples = certificateSamples
        self.columnBudget = columnBudget
        self.preferColumnRoute = preferColumnRoute
        self.stackedLimit = stackedLimit
        self.spectra = spectra
        self.estimatorSettings = estimatorSettings
        self.sampleBlock = sampleBlock
    }

    /// The most samples a block may hold.
    public static let maximumSampleBlock = 1 << 16
    /// The memory the automatic block size aims at (``sampleBlockSize(stateDimension:)``): 1 GiB.
    public static let blockMemoryBudget = 1 << 30

    /// How many samples pass through the stages together (docs/Theory.md §3.6): `sampleBlock` when set, else as
    /// many as fit ``blockMemoryBudget`` at a modelled 16 d² bytes (the dense route's J and G; 0 on the matrix-free
    /// route) plus 400 d K bytes (UPG's unroll, 50 doubles per state entry and step) per sample, in 32…4,096, and never
    /// fewer than a batch the stacked route could take (⌈`stackedLimit`/d⌉), so that such a batch is one block. The
    /// split depends on the job alone (d, the grid, the settings), never on the shard or the core count, so a sample's
    /// results are the same in every run of the job.
    public func sampleBlockSize(stateDimension d: Int) -> Int {
        if let sampleBlock { return sampleBlock }
        let dense = spectra.resolved(stateDimension: d) == .dense
        let perSample = (dense ? 16 * Double(d) * Double(d) : 0) + 400 * Double(max(d, 1)) * Double(maxK)
        let fitting = Int(min(Double(Self.blockMemoryBudget) / perSample, 4096))
        let stacked = stackedLimit == 0 ? 1 : (stackedLimit + max(d, 1) - 1) / max(d, 1)
        return min(max(fitting, 32, stacked), Self.maximumSampleBlock)
    }

    /// Some family needs every sample's Broyden history (SHINE).
    public var needsBroydenHistory: Bool { estimators.contains { $0.type.needsBroydenHistory } }

    /// The forward solver suits every family (``EstimatorFamily/check(solver:)``).
    public func check(solver: FixedPointConfiguration) throws(ConfigurationError) {
        for family in estimators { try family.check(solver: solver.method) }
    }

    public var maxK: Int { ks.last ?? 1 }

    /// The route of an analysis of `samples` samples at state dimension d: `auto` is dense for d ≤
    /// ``SpectraRoute/denseLimit`` when the dense route's memory
    /// (``SpectraRoute/denseBytes(stateDimension:samples:maxK:lambdas:workers:)``)
    /// fits ``SpectraRoute/denseMemoryBudget``, iterative otherwise; a forced `dense` that does not fit is refused.
    /// - Throws: ``ConfigurationError`` naming `--spectra dense`, d and the memory it would need.
    public func spectraRoute(stateDimension d: Int, samples: Int) throws(ConfigurationError) -> SpectraRoute {
        let bytes = SpectraRoute.denseBytes(
            stateDimension: d, samples: samples, maxK: maxK, lambdas: lambdas.count, workers: Parallel.workerCount)
        let resolved = spectra.resolved(stateDimension: d)
        guard resolved == .dense, bytes > Double(SpectraRoute.denseMemoryBudget) else { return resolved }
        guard spectra == .auto else {
            throw ConfigurationError(
                "--spectra dense at d = \(d) with \(samples) samples and k up to \(maxK) needs about "
                    + "\(String(format: "%.1f", bytes / Double(1 << 30))) GiB of d×d matrices, more than the dense route's "
                    + "\(SpectraRoute.denseMemoryBudget >> 30) GiB; use --spectra iterative (or auto)")
        }
        return .iterative
    }

    /// How many of `batch` samples of state dimension d are certified on `route` (``spectraRoute(stateDimension:samples:)``).
    /// On the matrix-free route none unless `certificateSamples` asks (its certificates cost minutes per block of samples
    /// at d ≥ 1,000).
    public func certifiedCount(batch: Int, stateDimension d: Int, route: SpectraRoute) -> Int {
        if certificateSamples == nil, route == .iterative { return 0 }
        return min(batch, certificateSamples ?? (d <= Self.certifyAllUpToDimension ? batch : Self.defaultCertifiedAboveLimit))
    }
}

/// How the per-sample spectra are computed.
///
/// - `dense`: J and G = M Mᵀ as d×d matrices, LAPACK eigen- and singular values (exact to rounding), and the
///   per-cell certificates on them; O(d³) per sample and d×d memory.
/// - `iterative`: matrix-free, from the cell's JVPs and VJPs at the sample alone: ρ(J) and ρ(B) by Arnoldi
///   (B = λJ + (1 − λ)I shares J's Krylov space), ‖J‖₂ by Lanczos on JᵀJ, σ_max(M) and σ_min(M) by Lanczos on
///   v ↦ M(Mᵀv); each value with its Ritz residual and a converged flag. The per-cell certificates are not computed
///   on this route (their matrix-free forms are not implemented): such samples are counted as uncertified.
/// - `auto`: dense up to d = ``denseLimit``, iterative above.
public enum SpectraRoute: String, Sendable, CaseIterable {
    case auto, dense, iterative

    /// The largest d for which `auto` takes the dense route.
    public static let denseLimit = 512

    /// The most memory the dense route may hold: 8 GiB (a third of this machine's; the rest is the analysis's).
    public static let denseMemoryBudget = 8 << 30

    /// `auto` resolved for state dimension d, memory aside (``AnalysisConfiguration/spectraRoute(stateDimension:samples:)``
    /// also checks that).
    public func resolved(stateDimension d: Int) -> SpectraRoute {
        self == .auto ? (d <= Self.denseLimit ? .dense : .iterative) : self
    }

    /// The dense route's d×d matrices at their peak, in bytes: every sample's Gram G = M Mᵀ (held from the
    /// measurements to the certificates), and per worker J and the powers S⁰…S^K of J and of each B_λ (kept along
    /// k by the dense certificates) plus a few work matrices. Computed in floating point, so no product overflows.
    public static func denseBytes(stateDimension d: Int, samples: Int, maxK: Int, lambdas: Int, workers: Int) -> Double {
        let square = 8 * Double(d) * Double(d)
        return square * (Double(samples) + Double(max(workers, 1)) * (Double(1 + lambdas) * Double(maxK + 1) + 8))
    }
}
