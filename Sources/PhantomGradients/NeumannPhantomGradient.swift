import PhantomLinearAlgebra
import PhantomModel

/// NPG(k, λ), the Neumann phantom gradient (Geng et al. 2021), evaluated at h*:
///
///     ĝ_i = λ M_iᵀ Σ_{t=0}^{k−1} (B_iᵀ)^t g_i,   B_i = λ J_i + (1 − λ) I
///
/// Mathematical Properties: k = 1 gives λ·JFB; as k → ∞ it tends to the exact gradient whenever
/// ρ(B) < 1; its residual operator is E = −Mᵀ(Bᵀ)^k (THEORY.md §2, identity 3).
///
/// Complexity: k − 1 batched state VJPs and one parameter VJP; O(1) extra memory (two B×d buffers),
/// whatever k — k is not capped by the forward solver's iteration count.
///
/// References: Geng, Zhang, Bai, Wang, Lin, "On Training Implicit Models", NeurIPS 2021.
public struct NeumannPhantomGradient: GradientEstimator {
    public let steps: Int
    public let damping: Double

    /// - Throws: ``ConfigurationError`` unless k ≥ 1 and λ ∈ (0, 1].
    public init(steps k: Int, damping lambda: Double) throws(ConfigurationError) {
        try checkSteps(k, lambda)
        steps = k
        damping = lambda
    }

    public var label: String { "NPG(\(steps), \(damping))" }

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

/// JFB, the Jacobian-free (one-step) gradient: ĝ_i = M_iᵀ g_i = NPG(1, 1).
///
/// References: Fung et al., "JFB: Jacobian-Free Backpropagation for Implicit Networks", AAAI 2022.
public struct JacobianFreeGradient: GradientEstimator {
    public init() {}
    public var label: String { "JFB" }
    public func estimate(_ problem: GradientProblem, perSample: Bool) -> GradientEstimate {
        GradientEstimate(stateCotangents: problem.cotangents, problem: problem, perSample: perSample)
    }
}

/// Neumann-RBP(K): the undamped Neumann series truncated after K + 1 terms,
/// ĝ_i = M_iᵀ Σ_{t=0}^{K} (J_iᵀ)^t g_i = NPG(K + 1, 1).
///
/// References: Liao et al., "Reviving and Improving Recurrent Back-Propagation", ICML 2018.
public struct NeumannRBP: GradientEstimator {
    public let terms: Int
    /// - Throws: ``ConfigurationError`` unless K ≥ 0.
    public init(terms K: Int) throws(ConfigurationError) {
        guard K >= 0 else { throw ConfigurationError("Neumann-RBP needs K ≥ 0, got \(K)") }
        terms = K
    }
    public var label: String { "RBP(\(terms))" }
    public func estimate(_ problem: GradientProblem, perSample: Bool) -> GradientEstimate {
        let a = NeumannPhantomGradient.dampedNeumann(problem.linearization, problem.cotangents, steps: terms + 1, damping: 1)
        return GradientEstimate(stateCotangents: a, problem: problem, perSample: perSample)
    }
}
