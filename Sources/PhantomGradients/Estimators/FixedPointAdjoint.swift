import PhantomLinearAlgebra
import PhantomModel

/// The truncated "exact" adjoint TorchDEQ runs when its implicit backward is on (`ift=True`): an undamped
/// fixed-point iteration on the adjoint equation w = Jᵀw + g, with its stopping rule, k iterations at most.
///
///     w_0 = 0,   f_t = Jᵀ w_t + g = Σ_{s≤t} (Jᵀ)^s g,   r_t = ‖f_t − w_t‖₂ = ‖(Jᵀ)^t g‖₂,   w_{t+1} = f_t
///
/// The batch stops after iteration t when its largest r_t is below τ, or after k iterations (the budget); each sample
/// then returns the f_t of its lowest residual, and ĝ_i = M_iᵀ f_{t_i}. The criterion is the truncated adjoints'
/// (``EstimatorSettings/truncatedStop``): by default absolute with τ = 10⁻⁶ — TorchDEQ's `fixed_point_iter` with
/// `b_max_iter = k`, `b_tol = 1e-6`, `b_stop_mode = 'abs'`, returning the lowest-residual iterate — or relative,
/// r_t/(‖f_t‖₂ + 10⁻¹²). A sample's result is therefore RBP(t_i + 1) (``NeumannRBP``) with t_i ≤ k − 1
/// chosen by the rule: budget 1 is JFB, and with a budget large enough ĝ is the exact gradient to within the
/// tolerance whenever ρ(J) < 1. Because the stop is taken on the batch (as TorchDEQ does), a sample's iteration
/// count depends on the batch it is in. The iteration count differs per sample, so no single residual operator
/// describes a cell: its certificates are not computed.
///
/// Per sample the record (``BackwardRecord``) holds the VJPs the batch ran (t state VJPs for t + 1 iterations, plus the
/// parameter VJP: what each sample paid), the residual of the returned iterate and whether it met τ.
///
/// Complexity: at most k − 1 batched state VJPs and one parameter VJP.
public struct FixedPointAdjoint: GridEstimator {
    public static let id = EstimatorID("fp-adjoint")
    public static let summary = "truncated adjoint: fixed-point iteration w = Jᵀw + g, budget k, stop as --truncated-stop"
    public static let axes = EstimatorAxes.k
    public static var stepsAreBudget: Bool { true }

    /// The budget k (TorchDEQ's `b_max_iter`; its default is 40).
    public let budget: Int
    /// When the batch stops (TorchDEQ's `b_tol` and `b_stop_mode`).
    public let stop: StoppingCriterion

    /// λ is ignored: cell (k, λ) is the iteration with budget k.
    public init(steps k: Int, damping lambda: Double, training: Bool = false) throws(ConfigurationError) {
        try self.init(steps: k, damping: lambda, training: training, settings: .standard)
    }

    public init(steps k: Int, damping lambda: Double, training: Bool, settings: EstimatorSettings) throws(ConfigurationError) {
        try checkSteps(k, lambda)
        (budget, stop) = (k, settings.truncatedStop)
    }

    public var label: String { "FP-ADJOINT(\(budget))" }

    public func estimate(_ problem: GradientProblem, perSample: Bool) -> GradientEstimate {
        var run = Iteration(problem, stop: stop)
        for _ in 0..<budget where !run.stopped { run.step() }
        return GradientEstimate(stateCotangents: run.best, problem: problem, perSample: perSample)
    }

    /// Per sample, RBP(t_i + 1) read off the undamped Neumann grid at each budget; the batch mean from the
    /// samples' chosen iterates (one parameter VJP per budget).
    public static func measure(_ m: GridMeasurement) throws -> MeasuredGrid {
        let rbp = try m.neumannGrid(lambdas: [1])
        let exact = m.exact.batchMean, tau = m.settings.truncatedStop.tolerance
        var run = Iteration(m.problem, stop: m.settings.truncatedStop)
        var terms: [[Int]] = [], records: [[BackwardRecord]] = []  // [k index][sample]
        var batch: [GradientMetrics] = [], means: [[Double]] = []
        for k in m.ks {
            while run.iterations < k && !run.stopped { run.step() }
            terms.append(run.bestTerms)
            records.append(
                run.bestResidual.map { r in
                    BackwardRecord(vjps: Double(run.iterations), residual: r, status: r < tau ? .converged : .budget)
                })
            let estimate = GradientEstimate(stateCotangents: run.best, problem: m.problem, perSample: false)
            batch.append(GradientMetrics.compare(estimate.batchMean, exact))
            if m.keepsBatchMeans { means.append(estimate.batchMean) }
        }
        let perSample = (0..<m.batchSize).map { i in
            m.lambdas.map { _ in m.ks.indices.map { kk in rbp.perSample[i][0][terms[kk][i] - 1] } }
        }
        let backward = (0..<m.batchSize).map { i in m.lambdas.map { _ in m.ks.indices.map { records[$0][i] } } }
        return MeasuredGrid(
            perSample: perSample, batch: m.lambdas.map { _ in batch }, backward: backward,
            batchMeans: m.keepsBatchMeans ? m.lambdas.map { _ in means } : nil)
    }

    /// Its iteration count differs per sample: no residual operator describes a cell.
    public static func residual(k: Int, lambda: Double) -> ResidualOperator? { nil }

    /// The iteration's state: the current power v = (Jᵀ)^t g, partial sum f_t, and per sample the lowest residual
    /// seen (in the stopping criterion), its f and its number of terms.
    struct Iteration {
        let linearization: any CellLinearization
        let stop: StoppingCriterion
        var power: Matrix
        var sum: Matrix
        var best: Matrix
        var bestResidual: [Double]
        var bestTerms: [Int]
        var iterations = 0
        var stopped = false

        init(_ problem: GradientProblem, stop: StoppingCriterion) {
            linearization = problem.linearization
            self.stop = stop
            power = problem.cotangents
            sum = problem.cotangents
            best = problem.cotangents
            bestResidual = [Double](repeating: .infinity, count: problem.batchSize)
            bestTerms = [Int](repeating: 1, count: problem.batchSize)
        }

        /// Iteration t = `iterations`: f_t is `sum`, its residual ‖(Jᵀ)^t g_i‖ per row of `power` (relative:
        /// divided by ‖f_t‖ + 10⁻¹²).
        mutating func step() {
            if iterations > 0 {
                power = linearization.stateVJP(power)
                BLAS.axpy(1, power.elements, &sum.elements)
            }
            var largest = 0.0
            for i in 0..<power.rows {
                let r = stop.residual(absolute: BLAS.nrm2(power.row(i)), valueNorm: stop.isRelative ? BLAS.nrm2(sum.row(i)) : 0)
                largest = max(largest, r.isNaN ? .infinity : r)
                if r < bestResidual[i] {
                    (bestResidual[i], bestTerms[i]) = (r, iterations + 1)
                    best.setRow(i, sum.row(i))
                }
            }
            iterations += 1
            if largest < stop.tolerance { stopped = true }
        }
    }
}
