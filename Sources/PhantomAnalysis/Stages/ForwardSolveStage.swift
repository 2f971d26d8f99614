import PhantomGradients
import PhantomLinearAlgebra
import PhantomModel

/// Stage 1 — the forward fixed points h* = f(h*, x; θ) of a batch, each with its pedigree (method, iterations,
/// residuals, status), and the problem every later stage shares: J and M at h* and the loss cotangents g
/// (docs/Theory.md §1). A sample that does not converge is kept and flagged, never dropped. With
/// `broydenHistories`, every sample's Broyden history is attached for SHINE (``GradientProblem/attachBroydenHistories(solver:)``).
public struct ForwardSolveStage: Sendable {
    public let solver: FixedPointConfiguration
    public let broydenHistories: Bool
    public init(solver: FixedPointConfiguration, broydenHistories: Bool = false) {
        (self.solver, self.broydenHistories) = (solver, broydenHistories)
    }

    public func run(model: ImplicitModel, inputs: Matrix, targets: Targets) -> GradientProblem {
        var problem = GradientProblem(model: model, inputs: inputs, targets: targets, solver: solver)
        if broydenHistories { problem.attachBroydenHistories(solver: solver) }
        return problem
    }
}
