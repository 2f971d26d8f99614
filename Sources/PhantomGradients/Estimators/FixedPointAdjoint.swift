import PhantomLinearAlgebra
import PhantomModel

/// The truncated "exact" adjoint TorchDEQ runs when its implicit backward is on (`ift=True`): an undamped
/// fixed-point iteration on the adjoint equation w = Jᵀw + g, with its stopping rule, k iterations at most.
///
///     w_0 = 0,   f_t = Jᵀ w_t + g = Σ_{s≤t} (Jᵀ)^s g,   r_t = ‖f_t − w_t‖₂ = ‖(Jᵀ)^t g‖₂,   w_{t+1} = f_t
///
/// The batch stops after iteration t when its largest r_t is below τ (absolute, ``tolerance`` = 10⁻⁶), or after
/// k iterations (the budget); each sample then returns the f_t of its lowest residual (TorchDEQ's
/// `fixed_point_iter` with `b_max_iter = k`, `b_tol = 1e-6`, `b_stop_mode = 'abs'`, returning the lowest-residual
/// iterate), and ĝ_i = M_iᵀ f_{t_i}. A sample's result is therefore RBP(t_i + 1) (``NeumannRBP``) with t_i ≤ k − 1
/// chosen by the rule: budget 1 is JFB, and with a budget large enough ĝ is the exact gradient to within the
/// tolerance whenever ρ(J) < 1. Because the stop is taken on the batch (as TorchDEQ does), a sample's iteration
/// count depends on the batch it is in. The iteration count differs per sample, so no single residual operator
/// describes a cell: its certificates are not computed.
///
/// Complexity: at most k − 1 batched state VJPs and one parameter VJP.
public struct FixedPointAdjoint: GridEstimator {
    public static let id = EstimatorID("fp-adjoint")
    public static let summary = "truncated adjoint: fixed-point iteration w = Jᵀw + g, budget k, stop at 1e-6 absolute"
    public static let axes = EstimatorAxes.k
    /// τ: the batch stops when its largest ‖f_t − w_t‖₂ is below this (TorchDEQ's `b_tol`, `b_stop_mode = 'abs'`).
    public static let tolerance = 1e-6

    /// The budget k (TorchDEQ's `b_max_iter`; its default is 40).
    public let budget: Int

    /// λ is ignored: cell (k, λ) is the iteration with budget k.
    public init(steps k: Int, damping lambda: Double, training: Bool = false) throws(ConfigurationError) {
        try checkSteps(k, lambda)
        budget = k
    }

    public var label: String { "FP-ADJOINT(\(budget))" }

    public func estimate(_ problem: GradientProblem, perSample: Bool) -> GradientEstimate {
        var run = Iteration(problem)
        for _ in 0..<budget where !run.stopped { run.step() }
        return GradientEstimate(stateCotangents: run.best, problem: problem, perSample: perSample)
    }

    /// Per sample, RBP(t_i + 1) read off the undamped Neumann grid at each budget; the batch mean from the
    /// samples' chosen iterates (one parameter VJP per budget).
    public static func measure(_ m: GridMeasurement) throws -> MeasuredGrid {
        let rbp = try m.neumannGrid(lambdas: [1])
        let exact = m.exact.batchMean
        var run = Iteration(m.problem)
        var terms: [[Int]] = []  // [k index][sample]
        var batch: [GradientMetrics] = []
        for k in m.ks {
            while run.iterations < k && !run.stopped { run.step() }
            terms.append(run.bestTerms)
            let estimate = GradientEstimate(stateCotangents: run.best, problem: m.problem, perSample: false)
            batch.append(GradientMetrics.compare(estimate.batchMean, exact))
        }
        let perSample = (0..<m.batchSize).map { i in
            m.lambdas.map { _ in m.ks.indices.map { kk in rbp.perSample[i][0][terms[kk][i] - 1] } }
        }
        return MeasuredGrid(perSample: perSample, batch: m.lambdas.map { _ in batch })
    }

    /// Its iteration count differs per sample: no residual operator describes a cell.
    public static func residual(k: Int, lambda: Double) -> ResidualOperator? { nil }

    /// The iteration's state: the current power v = (Jᵀ)^t g, partial sum f_t, and per sample the lowest residual
    /// seen, its f and its number of terms.
    struct Iteration {
        let linearization: any CellLinearization
        var power: Matrix
        var sum: Matrix
        var best: Matrix
        var bestResidual: [Double]
        var bestTerms: [Int]
        var iterations = 0
        var stopped = false

        init(_ problem: GradientProblem) {
            linearization = problem.linearization
            power = problem.cotangents
            sum = problem.cotangents
            best = problem.cotangents
            bestResidual = [Double](repeating: .infinity, count: problem.batchSize)
            bestTerms = [Int](repeating: 1, count: problem.batchSize)
        }

        /// Iteration t = `iterations`: f_t is `sum`, its residual ‖(Jᵀ)^t g_i‖ per row of `power`.
        mutating func step() {
            if iterations > 0 {
                power = linearization.stateVJP(power)
                BLAS.axpy(1, power.elements, &sum.elements)
            }
            var largest = 0.0
            for i in 0..<power.rows {
                let r = BLAS.nrm2(power.row(i))
                largest = max(largest, r.isNaN ? .infinity : r)
                if r < bestResidual[i] {
                    (bestResidual[i], bestTerms[i]) = (r, iterations + 1)
                    best.setRow(i, sum.row(i))
                }
            }
            iterations += 1
            if largest < FixedPointAdjoint.tolerance { stopped = true }
        }
    }
}
