import PhantomLinearAlgebra
import PhantomModel

/// Everything the gradient estimators share for one batch: the fixed points h*, the linearization of f
/// at h* (J, M), and the per-sample loss cotangents g_i = ∂ℓ_i/∂h*_i.
///
/// Notation (docs/Theory.md §1): the batch loss is the mean of the per-sample losses ℓ_i, so the batch
/// gradient is the mean of the per-sample gradients, ∇_θ L = (1/B) Σ_i M_iᵀ w_i with (I − J_iᵀ) w_i = g_i.
/// Every estimator is applied to the same g (analysis mode), so they can be compared cell by cell.
public struct GradientProblem: Sendable {
    public let model: ImplicitModel
    /// X, B×n_in.
    public let inputs: Matrix
    public let targets: Targets
    /// The forward solve, with each sample's residual and status (h* = `forward.states`).
    public let forward: FixedPointSolution
    /// f, J and M at h*.
    public let linearization: any CellLinearization
    /// G, B×d: row i is g_i = ∂ℓ_i/∂h*_i.
    public let cotangents: Matrix
    /// ℓ_i at h*.
    public let losses: [Double]
    /// ∂L/∂(head.weight, head.bias) for the batch-mean loss; no estimator changes it.
    public let headGradient: [Double]
    /// Every sample's Broyden inverse estimate at h*, for families that need one (SHINE); nil until attached
    /// (``attachBroydenHistories(solver:)``).
    public var broydenHistories: BroydenHistories?

    /// h*, B×d.
    public var states: Matrix { forward.states }
    public var batchSize: Int { inputs.rows }
    public var stateDimension: Int { model.stateDimension }
    /// p, the implicit layer's parameter count (injection + cell).
    public var parameterCount: Int { model.cell.layout.count }

    /// Solves the fixed points of `inputs` and sets up the problem at them.
    public init(model: ImplicitModel, inputs: Matrix, targets: Targets, solver: FixedPointConfiguration) {
        self.init(model: model, inputs: inputs, targets: targets, forward: model.solve(inputs, solver))
    }

    /// Sets up the problem at given fixed points.
    public init(model: ImplicitModel, inputs: Matrix, targets: Targets, forward: FixedPointSolution) {
        precondition(targets.count == inputs.rows, "one target per input")
        self.model = model
        self.inputs = inputs
        self.targets = targets
        self.forward = forward
        let states = forward.states
        self.linearization = model.cell.linearize(state: states, input: inputs)
        let (cotangents, losses, head) = Self.lossCotangents(model: model, states: states, targets: targets)
        self.cotangents = cotangents
        self.losses = losses
        self.headGradient = head
    }

    /// Attaches every sample's Broyden history (``ImplicitModel/broydenHistories(inputs:forward:solver:)``: the forward
    /// solve's own, or a Broyden re-solve's with `solver`'s settings).
    public mutating func attachBroydenHistories(solver: FixedPointConfiguration) {
        broydenHistories = model.broydenHistories(inputs: inputs, forward: forward, solver: solver)
    }

    /// Per-sample cotangents g_i = ∂ℓ_i/∂h_i, per-sample losses and the batch-mean head gradient at `states`.
    public static func lossCotangents(model: ImplicitModel, states: Matrix, targets: Targets)
        -> (cotangents: Matrix, losses: [Double], headGradient: [Double])
    {
        let b = states.rows
        let logits = model.head.logits(states)
        let (_, logitGradient) = Loss.evaluate(logits: logits, targets: targets)  // ∂(mean ℓ)/∂logits
        let (stateGradient, headGradient) = model.head.backward(state: states, logitGradient: logitGradient)
        let losses = (0..<b).map { i in
            Loss.evaluate(logits: logits.selectingRows([i]), targets: targets.selecting([i])).value
        }
        return (Double(b) * stateGradient, losses, headGradient)
    }

    /// The batch-mean gradient (1/B) Σ_i M_iᵀ a_i for state-space vectors A (B×d).
    public func batchMeanGradient(_ a: Matrix) -> [Double] {
        var g = linearization.parameterVJP(a)
        BLAS.scal(1 / Double(batchSize), &g)
        return g
    }

    /// Per-sample gradients M_iᵀ a_i as the rows of a B×p matrix.
    public func perSampleGradients(_ a: Matrix) -> Matrix {
        linearization.parameterVJPRows(a)
    }
}
