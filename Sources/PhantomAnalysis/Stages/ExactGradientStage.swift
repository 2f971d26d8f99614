import PhantomGradients
import PhantomLinearAlgebra
import PhantomModel

/// Stage 2 — the exact gradient every estimator is measured against: ∇ = Mᵀw with (I − Jᵀ)w = g per sample
/// (docs/Theory.md §1), the batch mean, and each adjoint solve's relative residual and converged flag.
public struct ExactGradientStage: Sendable {
    public let adjoint: AdjointSolver
    public init(adjoint: AdjointSolver) { self.adjoint = adjoint }

    /// The batch mean and the adjoint solutions w_i (as the estimate's state cotangents; the per-sample gradients
    /// M_iᵀw_i are read in factored form later, so no B × p array is formed).
    public func run(_ problem: GradientProblem) -> ExactGradientResult {
        let estimate = ExactGradient(solver: adjoint).estimate(problem, perSample: false)
        return ExactGradientResult(estimate: estimate, adjoint: estimate.adjoint!)
    }
}

/// The exact gradient and its adjoint solves' pedigree.
public struct ExactGradientResult: Sendable {
    public let estimate: GradientEstimate
    public let adjoint: AdjointSolution
}
