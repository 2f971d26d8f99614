import PhantomLinearAlgebra
import PhantomModel

/// The exact implicit gradient (implicit function theorem), the reference every estimator is measured
/// against:
///
///     ∇_θ ℓ_i = M_iᵀ w_i,   (I − J_iᵀ) w_i = g_i
///
/// The adjoint solve's residual and status travel with the result (``GradientEstimate/adjoint``); an
/// unconverged sample makes ``GradientEstimate/isReliable`` false.
///
/// References: Bai, Kolter, Koltun, "Deep Equilibrium Models", NeurIPS 2019.
public struct ExactGradient: GradientEstimator {
    public let solver: AdjointSolver
    public init(solver: AdjointSolver) { self.solver = solver }
    public var label: String { "exact (\(solver.method.rawValue))" }

    public func estimate(_ problem: GradientProblem, perSample: Bool) -> GradientEstimate {
        let adjoint = solver.solve(problem)
        return GradientEstimate(stateCotangents: adjoint.w, problem: problem, perSample: perSample, adjoint: adjoint)
    }
}
