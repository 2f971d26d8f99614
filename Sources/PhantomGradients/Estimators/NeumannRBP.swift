import PhantomLinearAlgebra
import PhantomModel

/// Neumann-RBP with k terms: the undamped Neumann series,
///
///     ĝ_i = M_iᵀ Σ_{t=0}^{k−1} (J_iᵀ)^t g_i = NPG(k, 1)
///
/// named by its number of terms everywhere (docs/Theory.md §2): RBP(1) = JFB.
///
/// References: Liao et al., "Reviving and Improving Recurrent Back-Propagation", ICML 2018.
public struct NeumannRBP: GridEstimator {
    public static let id = EstimatorID("rbp")
    public static let summary = "undamped Neumann series, k terms"
    public static let axes = EstimatorAxes.k

    public let terms: Int
    /// - Throws: ``ConfigurationError`` unless k ≥ 1.
    public init(terms k: Int) throws(ConfigurationError) {
        guard k >= 1 else { throw ConfigurationError("Neumann-RBP needs at least one term, got \(k)") }
        terms = k
    }
    /// RBP ignores λ: the cell (k, λ) is RBP with k terms.
    public init(steps k: Int, damping lambda: Double, training: Bool = false) throws(ConfigurationError) {
        try checkSteps(k, lambda)
        try self.init(terms: k)
    }
    public var label: String { "RBP(\(terms))" }
    public func estimate(_ problem: GradientProblem, perSample: Bool) -> GradientEstimate {
        let a = NeumannPhantomGradient.dampedNeumann(problem.linearization, problem.cotangents, steps: terms, damping: 1)
        return GradientEstimate(stateCotangents: a, problem: problem, perSample: perSample)
    }

    /// NPG(k, 1) from the undamped Neumann grid, the same for every λ.
    public static func measure(_ m: GridMeasurement) throws -> MeasuredGrid {
        m.reading(try m.neumannGrid(lambdas: [1]), lambda: { _ in 0 }, k: { m.ks[$0] })
    }

    /// E = −Mᵀ(Jᵀ)^k, the same for every λ.
    public static func residual(k: Int, lambda: Double) -> ResidualOperator? { .neumann(.jacobian, power: k) }
}
