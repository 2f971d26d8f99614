import PhantomGradients
import PhantomLinearAlgebra
import PhantomModel

/// Stage 1 — the forward fixed points h* = f(h*, x; θ) of a batch, each with its pedigree (method, iterations,
/// residuals, status), and the problem every later stage shares: J and M at h* and the loss cotangents g
/// (docs/Theory.md §1). A sample that does not converge is kept and flagged, never dropped.
public struct ForwardSolveStage: Sendable {
    public let solver: FixedPointConfiguration
    public init(solver: FixedPointConfiguration) { self.solver = solver }

    public func run(model: ImplicitModel, inputs: Matrix, targets: Targets) -> GradientProblem {
        GradientProblem(model: model, inputs: inputs, targets: targets, solver: solver)
    }
}
