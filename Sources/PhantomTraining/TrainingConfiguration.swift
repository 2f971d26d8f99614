import PhantomGradients
import PhantomLinearAlgebra
import PhantomModel

/// The gradient a model is trained with.
public enum TrainingEstimator: String, Sendable, CaseIterable {
    /// The exact implicit gradient (adjoint by `adjoint`).
    case exact
    /// UPG(k, λ) in training mode (loss at h_k).
    case upg
    /// NPG(k, λ).
    case npg
    /// JFB.
    case jfb
}

/// Everything that defines a training run; stored in every checkpoint so `--resume` continues exactly.
public struct TrainingConfiguration: Sendable, Equatable {
    public var cell: CellKind
    /// d.
    public var hidden: Int
    /// m for resmlp.
    public var mlpWidth: Int
    public var estimator: TrainingEstimator
    public var steps: Int
    public var damping: Double
    public var adjoint: AdjointMethod
    public var adjointTolerance: Double
    public var solver: FixedPointConfiguration
    public var epochs: Int
    public var batchSize: Int
    public var optimizer: OptimizerKind
    public var learningRate: Double
    public var weightDecay: Double
    public var seed: UInt64
    public var saveEvery: Int
    /// tanh only: after each step, rescale cell.weight so that ‖W‖₂ ≤ γ (0 disables).
    public var maxNorm: Double

    /// - Throws: ``ConfigurationError`` naming the first setting out of range.
    public init(cell: CellKind, hidden: Int, mlpWidth: Int, estimator: TrainingEstimator, steps: Int, damping: Double,
                adjoint: AdjointMethod, adjointTolerance: Double, solver: FixedPointConfiguration, epochs: Int,
                batchSize: Int, optimizer: OptimizerKind, learningRate: Double, weightDecay: Double, seed: UInt64,
                saveEvery: Int, maxNorm: Double) throws(ConfigurationError) {
        guard hidden >= 1, hidden <= 4096 else { throw ConfigurationError("--hidden must lie in 1…4096, got \(hidden)") }
        guard mlpWidth >= 1, mlpWidth <= 16384 else { throw ConfigurationError("--mlp-width must lie in 1…16384, got \(mlpWidth)") }
        guard steps >= 1, steps <= 1000 else { throw ConfigurationError("--k must lie in 1…1000, got \(steps)") }
        guard damping > 0, damping <= 1 else { throw ConfigurationError("--lambda must lie in (0, 1], got \(damping)") }
        guard adjointTolerance > 0, adjointTolerance.isFinite else { throw ConfigurationError("--adjoint-tolerance must be positive, got \(adjointTolerance)") }
        guard epochs >= 0 else { throw ConfigurationError("--epochs must be ≥ 0, got \(epochs)") }
        guard batchSize >= 1 else { throw ConfigurationError("--batch must be at least 1, got \(batchSize)") }
        guard learningRate > 0, learningRate.isFinite else { throw ConfigurationError("--lr must be a positive number, got \(learningRate)") }
        guard weightDecay >= 0, weightDecay.isFinite else { throw ConfigurationError("--weight-decay must be ≥ 0, got \(weightDecay)") }
        guard saveEvery >= 1 else { throw ConfigurationError("--save-every must be at least 1, got \(saveEvery)") }
        guard maxNorm >= 0, maxNorm.isFinite else { throw ConfigurationError("--max-norm must be ≥ 0, got \(maxNorm)") }
        self.cell = cell
        self.hidden = hidden
        self.mlpWidth = mlpWidth
        self.estimator = estimator
        self.steps = steps
        self.damping = damping
        self.adjoint = adjoint
        self.adjointTolerance = adjointTolerance
        self.solver = solver
        self.epochs = epochs
        self.batchSize = batchSize
        self.optimizer = optimizer
        self.learningRate = learningRate
        self.weightDecay = weightDecay
        self.seed = seed
        self.saveEvery = saveEvery
        self.maxNorm = maxNorm
    }

    /// The estimator as a ``GradientEstimator``.
    public func gradientEstimator() throws -> any GradientEstimator {
        switch estimator {
        case .exact: return ExactGradient(solver: try AdjointSolver(method: adjoint, tolerance: adjointTolerance))
        case .upg: return try UnrolledPhantomGradient(steps: steps, damping: damping, mode: .training)
        case .npg: return try NeumannPhantomGradient(steps: steps, damping: damping)
        case .jfb: return JacobianFreeGradient()
        }
    }

    /// A label such as "UPG(5, 0.5)" for logs.
    public var estimatorLabel: String {
        switch estimator {
        case .exact: return "exact (\(adjoint.rawValue) adjoint to \(adjointTolerance))"
        case .upg: return "UPG(\(steps), \(damping))"
        case .npg: return "NPG(\(steps), \(damping))"
        case .jfb: return "JFB"
        }
    }
}
