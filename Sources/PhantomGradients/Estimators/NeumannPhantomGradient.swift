import PhantomLinearAlgebra
import PhantomModel

/// NPG(k, λ), the Neumann phantom gradient (Geng et al. 2021), evaluated at h*:
///
///     ĝ_i = λ M_iᵀ Σ_{t=0}^{k−1} (B_iᵀ)^t g_i,   B_i = λ J_i + (1 − λ) I
///
/// Mathematical Properties: k = 1 gives λ·JFB; as k → ∞ it tends to the exact gradient whenever
/// ρ(B) < 1; its residual operator is E = −Mᵀ(Bᵀ)^k (docs/Theory.md §2, identity 3).
///
/// Complexity: k − 1 batched state VJPs and one parameter VJP; O(1) extra memory (two B×d buffers),
/// whatever k — k is not capped by the forward solver's iteration count.
///
/// References: Geng, Zhang, Bai, Wang, Lin, "On Training Implicit Models", NeurIPS 2021.
public struct NeumannPhantomGradient: GridEstimator {
    public static let id = EstimatorID("npg")
    public static let summary = "Neumann phantom gradient: damped Neumann series, k terms"
    public static let axes = EstimatorAxes.kAndLambda

    public let steps: Int
    public let damping: Double

    /// - Throws: ``ConfigurationError`` unless k ≥ 1 and λ ∈ (0, 1].
    public init(steps k: Int, damping lambda: Double, training: Bool = false) throws(ConfigurationError) {
        try checkSteps(k, lambda)
        steps = k
        damping = lambda
    }

    public var label: String { "NPG(\(steps), \(damping))" }

    /// Every cell from the Neumann grid engine (``NPGGrid``).
    public static func measure(_ m: GridMeasurement) throws -> MeasuredGrid {
        m.reading(try m.neumannGrid(lambdas: m.lambdas), lambda: { $0 }, k: { m.ks[$0] })
    }

    /// E = −Mᵀ(Bᵀ)^k (docs/Theory.md §2, identity 3).
    public static func residual(k: Int, lambda: Double) -> ResidualOperator? { .neumann(.damped(lambda), power: k) }

    public func estimate(_ problem: GradientProblem, perSample: Bool) -> GradientEstimate {
        let a = Self.dampedNeumann(problem.linearization, problem.cotangents, steps: steps, damping: damping)
        return GradientEstimate(stateCotangents: a, problem: problem, perSample: perSample)
    }

    /// λ Σ_{t<k} (Bᵀ)^t G for a batch of cotangents G (rows), with Bᵀ v = (1 − λ) v + λ Jᵀ v.
    static func dampedNeumann(_ lin: any CellLinearization, _ g: Matrix, steps: Int, damping: Double) -> Matrix {
        var v = g
        var sum = g
        for _ in 1..<max(steps, 1) {
            v = dampedStep(lin.stateVJP(v), v, damping)  // Bᵀv
            BLAS.axpy(1, v.elements, &sum.elements)
        }
        BLAS.scal(damping, &sum.elements)
        return sum
    }
}
