import PhantomLinearAlgebra
import PhantomModel

/// UPG(k, λ) for k = 1 … K (or the chosen steps) and a list of λ, compared with the exact gradient.
///
/// UPG is not a polynomial in one J (its Jacobians sit at the iterates h_t), so the Gram trick of
/// ``NPGGrid`` does not apply (docs/Theory.md §4). What is shared: one forward unroll per λ — UPG(k, λ) uses the
/// linearizations at h_0 … h_{k−1} of the same unroll for every k — so the grid costs K batched f
/// evaluations per λ forward and k state + parameter VJPs backward for each k (K(K+1)/2 in all; only the chosen
/// steps' when ``steps`` is not all of 1 … K).
/// Per-sample metrics, when asked for, add one single-sample parameter VJP per sample and step.
public struct UPGGrid: Sendable {
    public let maxSteps: Int
    public let lambdas: [Double]
    /// The k measured, ascending in 1 … K (default: all of them); results are indexed by position here.
    public let steps: [Int]

    /// - Throws: ``ConfigurationError`` unless K ≥ 1, the λ list is non-empty, every λ ∈ (0, 1] and the steps
    ///   ascend strictly within 1 … K.
    public init(maxSteps K: Int, lambdas: [Double], steps: [Int]? = nil) throws(ConfigurationError) {
        let check = try NPGGrid(maxSteps: K, lambdas: lambdas)
        maxSteps = check.maxSteps
        self.lambdas = check.lambdas
        self.steps = steps ?? Array(1...K)
        guard !self.steps.isEmpty, zip(self.steps, self.steps.dropFirst()).allSatisfy({ $0 < $1 }),
            let first = self.steps.first, let last = self.steps.last, first >= 1, last <= K
        else {
            throw ConfigurationError("the steps must ascend within 1…\(K), got \(self.steps)")
        }
    }

    /// `exact` is the exact-gradient estimate (batch mean, and its adjoint's state cotangents w* or per-sample rows
    /// when `perSample`). With w* the per-sample metrics come from factored parameter VJPs (``FactoredComparison``:
    /// no B × p array for Linear layers); `materialized` forces the per-sample rows in R^p (the cross-check).
    /// `keepMeans`: also return each cell's batch-mean estimate in R^p.
    public func evaluate(
        _ problem: GradientProblem, exact: GradientEstimate, perSample: Bool, materialized: Bool = false, keepMeans: Bool = false
    ) -> UPGGridResult {
        let factored = perSample && !materialized && exact.stateCotangents != nil
        let comparison = factored ? FactoredComparison(exact: problem.linearization.parameterFactors(exact.stateCotangents!)) : nil
        let exactRows =
            perSample && !factored
            ? exact.perSample ?? problem.perSampleGradients(exact.stateCotangents ?? problem.cotangents) : nil
        var batch = [[GradientMetrics]](), means = [[[Double]]]()
        var samples = [[[GradientMetrics]]](repeating: [], count: perSample ? problem.batchSize : 0)
        for lambda in lambdas {
            let (linearizations, _) = UnrolledPhantomGradient.unroll(problem, steps: maxSteps, damping: lambda)
            var row = [GradientMetrics](), meanRow = [[Double]]()
            var sampleRows = [[GradientMetrics]](repeating: [], count: samples.count)
            let cache = comparison.map { FactoredComparison(sharing: $0) }
            for k in steps {
                let estimate = UnrolledPhantomGradient.backpropagate(
                    through: Array(linearizations[0..<k]),
                    cotangents: problem.cotangents, damping: lambda,
                    perSample: perSample && !factored, factored: factored)
                row.append(GradientMetrics.compare(estimate.batchMean, exact.batchMean))
                if keepMeans { meanRow.append(estimate.batchMean) }
                if let cache, let terms = estimate.factors {
                    let metrics = cache.compare(terms, steps: Array((0..<k).reversed()))
                    for i in 0..<metrics.count { sampleRows[i].append(metrics[i]) }
                } else if let rows = estimate.perSample, let exactRows {
                    for i in 0..<rows.rows { sampleRows[i].append(GradientMetrics.compare(rows.row(i), exactRows.row(i))) }
                }
            }
            batch.append(row)
            if keepMeans { means.append(meanRow) }
            for i in 0..<samples.count { samples[i].append(sampleRows[i]) }
        }
        return UPGGridResult(
            maxSteps: maxSteps, lambdas: lambdas, perSample: perSample ? samples : nil, batch: batch, batchMeans: keepMeans ? means : nil)
    }
}

/// `perSample[i][l][s]` and `batch[l][s]` for λ = `lambdas[l]` and k = `steps[s]` (k − 1 with all steps).
public struct UPGGridResult: Sendable {
    public let maxSteps: Int
    public let lambdas: [Double]
    public let perSample: [[[GradientMetrics]]]?
    public let batch: [[GradientMetrics]]
    /// `batchMeans[l][s]`: the cell's batch-mean estimate in R^p, when asked for.
    public var batchMeans: [[[Double]]]? = nil
}
