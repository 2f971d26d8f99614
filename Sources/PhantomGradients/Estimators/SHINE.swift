import PhantomLinearAlgebra
import PhantomModel

/// SHINE, the shared inverse estimate (Ramzi et al., "SHINE: SHaring the INverse Estimate from the forward pass for
/// bi-level optimization and implicit models", ICLR 2022): the backward pass reuses the forward Broyden solve's
/// estimate H ≈ (∂g/∂h)⁻¹ = (J − I)⁻¹ of g(h) = f(h) − h (``BroydenInverse``) instead of solving with (I − Jᵀ):
///
///     ŵ_i = −H_iᵀ g_i = g_i − Σ_j w_j (u_jᵀ g_i),   ĝ_i = M_iᵀ ŵ_i,
///
/// since (I − Jᵀ)⁻¹ = −((J − I)⁻¹)ᵀ. H_i is the estimate that proposed the sample's best forward iterate (the authors'
/// pairs up to `lowest_step`). With the fallback on (``EstimatorSettings/shineFallback`` = c > 0), a sample whose
/// ‖ŵ_i‖ > c‖g_i‖ gets JFB's ŵ_i = g_i instead (the authors use c = 1.8; the rule is strict: ‖ŵ‖ = c‖g‖ keeps ŵ).
///
/// The history: from the forward solve's Broyden stage when it produced h*, else from a Broyden re-solve from the same
/// initial iterate (``ImplicitModel/broydenHistories(inputs:forward:solver:)``); a sample for which neither gives one
/// is flagged (``BackwardStatus/noHistory``: metrics NaN, counted in the summary). In training such a sample gets
/// the empty history's estimate H = −I, i.e. JFB.
///
/// An empty history is JFB; a history that has converged to the exact inverse gives the exact gradient. Per sample it
/// is a linear map g ↦ ĝ, 𝒜_i = M_iᵀ A_i with A_i = −H_iᵀ (or I after a fallback), so its residual operator has the
/// state-space form E = −MᵀPᵀ with P = I − (I − J)A_iᵀ (``SHINEResidual``), and every certificate applies.
///
/// Cost: one parameter VJP (1 VJP) plus 2·rank·d multiply-adds per sample for the low-rank product.
public struct SHINEGradient: GridEstimator {
    public static let id = EstimatorID("shine")
    public static let summary = "SHINE: the forward Broyden inverse estimate applied to g, −Hᵀg (fallback to JFB: --shine-fallback)"
    public static let axes = EstimatorAxes.none
    public static var needsBroydenHistory: Bool { true }

    /// c of the fallback ‖ŵ‖ > c‖g‖ → JFB (0: none).
    public let fallback: Double

    public init(steps k: Int, damping lambda: Double, training: Bool = false) throws(ConfigurationError) {
        try self.init(steps: k, damping: lambda, training: training, settings: .standard)
    }

    public init(steps k: Int, damping lambda: Double, training: Bool, settings: EstimatorSettings) throws(ConfigurationError) {
        try checkSteps(k, lambda)
        fallback = settings.shineFallback
    }

    public var label: String { fallback > 0 ? "SHINE(fallback \(fallback))" : "SHINE" }

    public func estimate(_ problem: GradientProblem, perSample: Bool) -> GradientEstimate {
        var (w, records) = Self.adjoints(problem, fallback: fallback)
        for i in records.indices where records[i].status == .noHistory { w.setRow(i, problem.cotangents.row(i)) }
        return GradientEstimate(stateCotangents: w, problem: problem, perSample: perSample)
    }

    /// Whether the fallback replaces ŵ: ‖ŵ‖ > c‖g‖ with c > 0.
    public static func fallbackApplies(estimateNorm: Double, cotangentNorm: Double, threshold c: Double) -> Bool {
        c > 0 && !(estimateNorm <= c * cotangentNorm)
    }

    /// Per sample ŵ_i (rows; NaN for samples without a history) and its record.
    public static func adjoints(_ problem: GradientProblem, fallback: Double) -> (w: Matrix, records: [BackwardRecord]) {
        let g = problem.cotangents
        var w = Matrix(zeros: g.rows, g.columns)
        var records: [BackwardRecord] = []
        for i in 0..<g.rows {
            guard let histories = problem.broydenHistories, let h = histories.inverses[i] else {
                w.setRow(i, [Double](repeating: .nan, count: g.columns))
                records.append(.missing)
                continue
            }
            let (estimate, fellBack) = adjoint(h, cotangent: g.row(i), fallback: fallback)
            w.setRow(i, estimate)
            let status: BackwardStatus = fellBack ? .fallback : histories.sources[i] == .forward ? .forwardHistory : .resolveHistory
            records.append(BackwardRecord(vjps: 1, status: status))
        }
        return (w, records)
    }

    /// One sample's ŵ = −Hᵀg, or g when the fallback applies (then `fellBack`).
    static func adjoint(_ h: BroydenInverse, cotangent g: [Double], fallback c: Double) -> (w: [Double], fellBack: Bool) {
        let estimate = h.apply(g, transposed: true).map { -$0 }
        return fallbackApplies(estimateNorm: BLAS.nrm2(estimate), cotangentNorm: BLAS.nrm2(g), threshold: c) ? (g, true) : (estimate, false)
    }

    /// Per sample through the parameter factors; samples without a history are NaN, and so is the batch mean then.
    public static func measure(_ m: GridMeasurement) throws -> MeasuredGrid {
        let (w, records) = adjoints(m.problem, fallback: m.settings.shineFallback)
        let missing = records.map { $0.status == .noHistory }
        var rows = w
        for i in missing.indices where missing[i] { rows.setRow(i, m.problem.cotangents.row(i)) }
        let metrics = m.compare(stateCotangents: rows)
        let none = GradientMetrics.fromInnerProducts(inner: .nan, estimateSquared: .nan, exactSquared: .nan, differenceSquared: .nan)
        let perSample = (0..<m.batchSize).map { i in
            m.lambdas.map { _ in m.ks.map { _ in missing[i] ? none : metrics.perSample[i] } }
        }
        let batch = missing.contains(true) ? none : metrics.batch
        // A sample without a history leaves the batch mean undefined: NaN, which any sum of blocks keeps.
        let mean = missing.contains(true) ? metrics.batchMean.map { _ in Double.nan } : metrics.batchMean
        return MeasuredGrid(
            perSample: perSample, batch: m.lambdas.map { _ in m.ks.map { _ in batch } },
            backward: records.map { r in m.lambdas.map { _ in m.ks.map { _ in r } } },
            batchMeans: m.keepsBatchMeans ? m.lambdas.map { _ in m.ks.map { _ in mean } } : nil)
    }

    /// No batch-free form: the residual depends on each sample's history (``residual(k:lambda:problem:settings:)``).
    public static func residual(k: Int, lambda: Double) -> ResidualOperator? { nil }

    /// E = −MᵀPᵀ with each sample's P = I − (I − J)A_iᵀ; nil when a sample of the batch has no history.
    public static func residual(k: Int, lambda: Double, problem: GradientProblem, settings: EstimatorSettings) -> ResidualOperator? {
        guard let histories = problem.broydenHistories else { return nil }
        var inverses: [BroydenInverse] = []
        for h in histories.inverses {
            guard let h else { return nil }
            inverses.append(h)
        }
        return .stateSpace(
            AnyStateSpaceOperator(SHINEResidual(inverses: inverses, cotangents: problem.cotangents, threshold: settings.shineFallback)))
    }
}

/// SHINE's P = I − (I − J)Aᵀ per sample, A = −Hᵀ (or I where the fallback applied): Aᵀv = −Hv, so
/// P v = v + (I − J)(H v) and Pᵀ v = v + Hᵀ(v − Jᵀv); after a fallback P = J. The fallback is decided for the samples
/// a route asks about, once per application (a route certifies a few samples of the batch; deciding for all of them
/// in every cell would cost the whole batch's low-rank products per sample).
struct SHINEResidual: StateSpaceOperator {
    /// Per sample of the analysed batch: H_i and g_i.
    let inverses: [BroydenInverse]
    let cotangents: Matrix
    let threshold: Double

    var chain: String? { nil }
    var identity: String { "shine \(threshold.bitPattern)" }

    func apply(_ v: Matrix, transposed: Bool, samples: [Int], products: any StateProducts) -> Matrix {
        // One sample for all rows (the dense routes apply P to the identity), or row r through samples[r].
        func sample(_ r: Int) -> Int { samples.count == 1 ? samples[0] : samples[r] }
        var fallback: [Int: Bool] = [:]
        if threshold > 0 {
            for s in Set(samples) {
                fallback[s] = SHINEGradient.adjoint(inverses[s], cotangent: cotangents.row(s), fallback: threshold).fellBack
            }
        }
        if transposed {
            // Pᵀv = v − A(v − Jᵀv), A u = −Hᵀu (or u).
            let u = v - products.vjp(v)
            var out = v
            for r in 0..<v.rows {
                let s = sample(r), ur = u.row(r)
                let au = fallback[s] == true ? ur : inverses[s].apply(ur, transposed: true).map { -$0 }
                out.setRow(r, zip(v.row(r), au).map { $0 - $1 })
            }
            return out
        }
        // P v = v − (a − J a) with a = Aᵀv = −Hv (or v).
        var a = v
        for r in 0..<v.rows {
            let s = sample(r)
            if fallback[s] != true { a.setRow(r, inverses[s].apply(v.row(r)).map { -$0 }) }
        }
        return v - (a - products.jvp(a))
    }
}
