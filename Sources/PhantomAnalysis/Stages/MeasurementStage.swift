import PhantomGradients
import PhantomLinearAlgebra
import PhantomModel

/// Stage 3 — every family's measured metrics against the exact gradient on the (λ, k) grid: per sample and for the
/// batch mean, the cosine, angle, relative error, norm ratio and ⟨ĝ, ∇⟩ (``GridEstimator/measure(_:)``).
///
/// On the dense route the per-sample Grams G = M Mᵀ are formed here (the Neumann grid reads its inner products from
/// them, docs/Theory.md §4) and handed on to the spectra stage; the matrix-free route forms none (the grid reads
/// factored parameter VJPs).
public struct MeasurementStage: Sendable {
    public let ks: [Int]
    public let lambdas: [Double]
    public let estimators: [EstimatorFamily]
    /// The resolved spectra route (``SpectraRoute/resolved(stateDimension:)``).
    public let route: SpectraRoute
    public let settings: EstimatorSettings
    /// Called with (done, in all) by families whose measurement is long.
    public let progress: (@Sendable (Int, Int) -> Void)?
    /// Keep every cell's batch-mean estimate in R^p (``Measurements/batchMeans``): the batch spans several blocks.
    public let keepsBatchMeans: Bool

    public init(
        ks: [Int], lambdas: [Double], estimators: [EstimatorFamily], route: SpectraRoute,
        settings: EstimatorSettings = .standard, progress: (@Sendable (Int, Int) -> Void)? = nil, keepsBatchMeans: Bool = false
    ) {
        (self.ks, self.lambdas, self.estimators, self.route, self.progress) = (ks, lambdas, estimators, route, progress)
        self.settings = settings
        self.keepsBatchMeans = keepsBatchMeans
    }

    /// - Throws: an error of a family's measurement (none is expected for a valid configuration).
    public func run(_ problem: GradientProblem, exact: ExactGradientResult) throws -> Measurements {
        let b = problem.batchSize
        let grams = route == .dense ? (0..<b).map { ParameterGram.compute(problem.linearization, sample: $0) } : []
        let (e, l, k) = (estimators.count, lambdas.count, ks.count)
        var metrics = MetricGrids(estimators: e, lambdas: l, ks: k, samples: b)
        var batch = MetricGrids(estimators: e, lambdas: l, ks: k, samples: 1)
        var backward = BackwardGrids(estimators: e, lambdas: l, ks: k, samples: b)
        let measurement = GridMeasurement(
            problem: problem, exact: exact.estimate, grams: grams, ks: ks, lambdas: lambdas,
            progress: progress, settings: settings, keepsBatchMeans: keepsBatchMeans)
        var means: [[[[Double]]]?] = []
        for (index, family) in estimators.enumerated() {
            let grid = try family.type.measure(measurement)
            means.append(grid.batchMeans)
            for s in 0..<b { metrics.store(grid.perSample[s], estimator: index, sample: s) }
            if let table = grid.batch { batch.store(table, estimator: index, sample: 0) }
            let fixed = lambdas.map { _ in ks.map { BackwardRecord.fixed(axes: family.axes, k: $0) } }
            for s in 0..<b { backward.store(grid.backward?[s] ?? fixed, estimator: index, sample: s) }
        }
        return Measurements(
            metrics: metrics, batch: batch, grams: grams, backward: backward, batchMeans: keepsBatchMeans ? means : nil)
    }
}

/// The measured metrics, per sample and for the batch mean, and the dense route's Grams.
public struct Measurements: Sendable {
    public let metrics: MetricGrids
    public let batch: MetricGrids
    /// G_i = M_i M_iᵀ per sample (dense route; empty on the matrix-free route).
    public let grams: [ParameterGram]
    /// What each sample's backward pass used and reached, per cell.
    public let backward: BackwardGrids
    /// Per family, [λ][k]: the cell's batch-mean estimate in R^p (nil for a family that did not return it), when kept.
    public var batchMeans: [[[[Double]]]?]? = nil
}
