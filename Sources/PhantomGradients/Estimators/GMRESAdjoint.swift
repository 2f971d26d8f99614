import PhantomLinearAlgebra
import PhantomModel

/// The truncated "exact" adjoint of libraries that solve (I − Jᵀ) w = g by Krylov iteration with a fixed budget:
/// restarted GMRES from w = 0, restart length min(20, k) (SciPy's default restart), at most k Arnoldi iterations in
/// all (one VJP each), stopping early when the residual ‖g − (I − Jᵀ)w‖ meets the truncated adjoints' criterion
/// (``EstimatorSettings/truncatedStop``: absolute τ = 10⁻⁶ by default, or relative to ‖g‖); ĝ_i = M_iᵀ w_i.
///
/// Budget 1 is a scaled JFB, ĝ_i = α_i M_iᵀ g_i with α_i = ⟨(I − Jᵀ)g_i, g_i⟩/‖(I − Jᵀ)g_i‖²; with a budget
/// large enough it is the exact gradient to within the tolerance. GMRES is not linear in g (its polynomial depends
/// on g), so no residual operator describes a cell: its certificates are not computed. Per sample the Arnoldi
/// iterations used (+ 1 for the parameter VJP: its cost in VJPs) and the residual reached are recorded.
///
/// Complexity: at most k VJPs per sample (each sample is its own system, solved on the cores in parallel); the
/// measurement solves each budget of the grid afresh, Σ_k k VJPs per sample, and compares per sample through the
/// parameter factors (``GridMeasurement/compare(stateCotangents:)``), never forming the B × p gradients.
public struct GMRESAdjoint: GridEstimator {
    public static let id = EstimatorID("gmres-adjoint")
    public static let summary = "truncated adjoint: restarted GMRES on (I − Jᵀ)w = g, budget k, stop as --truncated-stop"
    public static let axes = EstimatorAxes.k
    public static var stepsAreBudget: Bool { true }
    /// The restart length (at most the budget).
    public static let restart = 20

    /// The budget k: Arnoldi iterations in all.
    public let budget: Int
    public let stop: StoppingCriterion

    /// λ is ignored: cell (k, λ) is the solve with budget k.
    public init(steps k: Int, damping lambda: Double, training: Bool = false) throws(ConfigurationError) {
        try self.init(steps: k, damping: lambda, training: training, settings: .standard)
    }

    public init(steps k: Int, damping lambda: Double, training: Bool, settings: EstimatorSettings) throws(ConfigurationError) {
        try checkSteps(k, lambda)
        (budget, stop) = (k, settings.truncatedStop)
    }

    public var label: String { "GMRES-ADJOINT(\(budget))" }

    public func estimate(_ problem: GradientProblem, perSample: Bool) -> GradientEstimate {
        GradientEstimate(stateCotangents: Self.solve(problem, budget: budget, stop: stop).w, problem: problem, perSample: perSample)
    }

    /// The adjoint iterates w_i of every sample at budget k (rows), with each sample's record.
    static func solve(_ problem: GradientProblem, budget k: Int, stop: StoppingCriterion) -> (w: Matrix, records: [BackwardRecord]) {
        let g = problem.cotangents, lin = problem.linearization
        let solutions = Parallel.map(problem.batchSize) { i in
            let b = g.row(i), norm = BLAS.nrm2(b)
            // GMRES stops on ‖r‖/‖g‖; an absolute τ is τ/‖g‖ of it (at most 1: w = 0 already meets it).
            let relative: Double =
                switch stop {
                case .relative(let t): t
                case .absolute(let t): norm > 0 ? min(t / norm, 1) : 1
                }
            // The settings are in range by construction (k ≥ 1, τ > 0), so GMRES accepts them.
            let gmres = try! GMRES(tolerance: relative > 0 ? relative : .leastNonzeroMagnitude, restart: min(restart, k), maxIterations: k)
            let s = gmres.solve(IdentityMinus(lin.stateJacobian(sample: i)).transposed, b)
            let residual: Double =
                switch stop {
                case .relative: s.relativeResidual
                case .absolute: s.relativeResidual * norm
                }
            return (
                s.solution,
                BackwardRecord(vjps: Double(s.iterations + 1), residual: residual, status: s.status.isConverged ? .converged : .budget)
            )
        }
        return (Matrix(rowArrays: solutions.map(\.0)), solutions.map(\.1))
    }

    /// Every budget of the grid solved afresh and compared per sample through the parameter factors.
    public static func measure(_ m: GridMeasurement) throws -> MeasuredGrid {
        var perK: [[GradientMetrics]] = [], records: [[BackwardRecord]] = []  // [k index][sample]
        var batch: [GradientMetrics] = [], means: [[Double]] = []
        for k in m.ks {
            let (w, record) = solve(m.problem, budget: k, stop: m.settings.truncatedStop)
            let metrics = m.compare(stateCotangents: w)
            perK.append(metrics.perSample)
            records.append(record)
            batch.append(metrics.batch)
            if m.keepsBatchMeans { means.append(metrics.batchMean) }
        }
        let perSample = (0..<m.batchSize).map { i in m.lambdas.map { _ in m.ks.indices.map { perK[$0][i] } } }
        let backward = (0..<m.batchSize).map { i in m.lambdas.map { _ in m.ks.indices.map { records[$0][i] } } }
        return MeasuredGrid(
            perSample: perSample, batch: m.lambdas.map { _ in batch }, backward: backward,
            batchMeans: m.keepsBatchMeans ? m.lambdas.map { _ in means } : nil)
    }

    /// Not linear in g: no residual operator describes a cell.
    public static func residual(k: Int, lambda: Double) -> ResidualOperator? { nil }
}
