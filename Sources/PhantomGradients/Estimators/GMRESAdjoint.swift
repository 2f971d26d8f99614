import PhantomLinearAlgebra
import PhantomModel

/// The truncated "exact" adjoint of libraries that solve (I − Jᵀ) w = g by Krylov iteration with a fixed budget:
/// restarted GMRES from w = 0, restart length min(20, k) (SciPy's default restart), at most k Arnoldi iterations in
/// all (one VJP each), stopping early at relative residual ‖g − (I − Jᵀ)w‖/‖g‖ ≤ ``tolerance``; ĝ_i = M_iᵀ w_i.
///
/// Budget 1 is a scaled JFB, ĝ_i = α_i M_iᵀ g_i with α_i = ⟨(I − Jᵀ)g_i, g_i⟩/‖(I − Jᵀ)g_i‖²; with a budget
/// large enough it is the exact gradient to within the tolerance. GMRES is not linear in g (its polynomial depends
/// on g), so no residual operator describes a cell: its certificates are not computed.
///
/// Complexity: at most k VJPs per sample (each sample is its own system, solved on the cores in parallel); the
/// measurement solves each budget of the grid afresh, Σ_k k VJPs per sample, and compares per sample through the
/// parameter factors (``ParameterFactors``), never forming the B × p gradients.
public struct GMRESAdjoint: GridEstimator {
    public static let id = EstimatorID("gmres-adjoint")
    public static let summary = "truncated adjoint: restarted GMRES on (I − Jᵀ)w = g, budget k, stop at 1e-6 relative"
    public static let axes = EstimatorAxes.k
    /// The relative residual at which a sample's solve stops before its budget.
    public static let tolerance = 1e-6
    /// The restart length (at most the budget).
    public static let restart = 20

    /// The budget k: Arnoldi iterations in all.
    public let budget: Int

    /// λ is ignored: cell (k, λ) is the solve with budget k.
    public init(steps k: Int, damping lambda: Double, training: Bool = false) throws(ConfigurationError) {
        try checkSteps(k, lambda)
        budget = k
    }

    public var label: String { "GMRES-ADJOINT(\(budget))" }

    public func estimate(_ problem: GradientProblem, perSample: Bool) -> GradientEstimate {
        GradientEstimate(stateCotangents: Self.solve(problem, budget: budget), problem: problem, perSample: perSample)
    }

    /// The adjoint iterates w_i of every sample at budget k (rows).
    static func solve(_ problem: GradientProblem, budget k: Int) -> Matrix {
        let g = problem.cotangents, lin = problem.linearization
        // The settings are in range by construction (k ≥ 1), so GMRES accepts them.
        let gmres = try! GMRES(tolerance: tolerance, restart: min(restart, k), maxIterations: k)
        let rows = Parallel.map(problem.batchSize) { i in
            gmres.solve(IdentityMinus(lin.stateJacobian(sample: i)).transposed, g.row(i)).solution
        }
        return Matrix(rowArrays: rows)
    }

    /// Every budget of the grid solved afresh; per sample ⟨ĝ, ∇⟩, ‖ĝ‖², ‖∇‖² and ‖ĝ − ∇‖² from the parameter factors
    /// of W, W* and W − W*; the batch mean by one parameter VJP per budget.
    public static func measure(_ m: GridMeasurement) throws -> MeasuredGrid {
        let lin = m.problem.linearization, exactW = m.exact.stateCotangents!
        let exactFactors = lin.parameterFactors(exactW)
        let exactSquared = exactFactors.rowInnerProducts(exactFactors)
        var perK: [[GradientMetrics]] = []  // [k index][sample]
        var batch: [GradientMetrics] = []
        for k in m.ks {
            let w = solve(m.problem, budget: k)
            var difference = w
            BLAS.axpy(-1, exactW.elements, &difference.elements)
            let f = lin.parameterFactors(w), e = lin.parameterFactors(difference)
            let inner = f.rowInnerProducts(exactFactors), squared = f.rowInnerProducts(f), differences = e.rowInnerProducts(e)
            perK.append(
                (0..<m.batchSize).map { i in
                    GradientMetrics.fromInnerProducts(
                        inner: inner[i], estimateSquared: squared[i], exactSquared: exactSquared[i], differenceSquared: differences[i])
                })
            let estimate = GradientEstimate(stateCotangents: w, problem: m.problem, perSample: false)
            batch.append(GradientMetrics.compare(estimate.batchMean, m.exact.batchMean))
        }
        let perSample = (0..<m.batchSize).map { i in m.lambdas.map { _ in m.ks.indices.map { perK[$0][i] } } }
        return MeasuredGrid(perSample: perSample, batch: m.lambdas.map { _ in batch })
    }

    /// Not linear in g: no residual operator describes a cell.
    public static func residual(k: Int, lambda: Double) -> ResidualOperator? { nil }
}
