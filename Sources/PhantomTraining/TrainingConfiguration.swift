import PhantomFileSystem
import PhantomGradients
import PhantomLinearAlgebra
import PhantomModel
import PhantomModelIO

/// Everything that defines a training run; stored in every checkpoint so `--resume` continues exactly.
public struct TrainingConfiguration: Sendable, Equatable {
    public var cell: CellKind
    /// d.
    public var hidden: Int
    /// m for resmlp.
    public var mlpWidth: Int
    /// ``EstimatorID/exact`` or a family of ``Estimators/builtIn`` (UPG in training mode: loss at h_k).
    public var estimator: EstimatorID
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
    /// mdeq only: channels C, expansion E, GroupNorm groups G (C_in, H and W come from the data).
    public var channels: Int
    public var expansion: Int
    public var groups: Int
    /// SHINE's fallback and the truncated adjoints' stopping rule.
    public var estimatorSettings: EstimatorSettings
    /// The truncated adjoints' budget (their k; TorchDEQ's `b_max_iter`, 40).
    public var adjointBudget: Int

    // MARK: Defaults (the command line shows these)

    public static let defaultCell = CellKind.tanh
    public static let defaultHidden = 64
    /// resmlp's m: 2·d unless given.
    public static func defaultMLPWidth(hidden d: Int) -> Int { d.multipliedReportingOverflow(by: 2).overflow ? Int.max : 2 * d }
    public static let defaultData = "digits"
    public static let defaultEstimator = UnrolledPhantomGradient.id
    public static let defaultSteps = 5
    public static let defaultDamping = 0.5
    public static let defaultAdjoint = AdjointMethod.auto
    public static let defaultAdjointTolerance = 1e-8
    public static let defaultSolver = FixedPointMethod.auto
    public static let defaultEpochs = 30
    public static let defaultBatchSize = 128
    public static let defaultOptimizer = OptimizerKind.adam
    public static let defaultLearningRate = 0.003
    public static let defaultWeightDecay = 0.0
    public static let defaultSeed: UInt64 = 0
    public static let defaultSaveEvery = 5
    public static let defaultMaxNorm = 0.95
    public static let defaultChannels = 8
    public static let defaultExpansion = 2
    public static let defaultGroups = 2
    /// The estimators training accepts: the exact gradient and every built-in family.
    public static var estimatorNames: [String] { [EstimatorID.exact.rawValue] + Estimators.builtIn.map(\.id.rawValue) }

    /// - Throws: ``ConfigurationError`` naming the first setting out of range.
    public init(
        cell: CellKind, hidden: Int, mlpWidth: Int, estimator: EstimatorID, steps: Int, damping: Double,
        adjoint: AdjointMethod, adjointTolerance: Double, solver: FixedPointConfiguration, epochs: Int,
        batchSize: Int, optimizer: OptimizerKind, learningRate: Double, weightDecay: Double, seed: UInt64,
        saveEvery: Int, maxNorm: Double, channels: Int = defaultChannels, expansion: Int = defaultExpansion,
        groups: Int = defaultGroups, estimatorSettings: EstimatorSettings = .standard,
        adjointBudget: Int = EstimatorSettings.defaultAdjointBudget
    ) throws(ConfigurationError) {
        if cell.builtin == nil {
            // A graph cell's d is its model's (``TrainingRun/start(_:data:folder:force:from:)``); any d a checkpoint holds.
            guard hidden >= 1, hidden <= InputLimits.maximumDimension else {
                throw ConfigurationError("the state dimension d must lie in 1…\(InputLimits.maximumDimension), got \(hidden)")
            }
        } else if cell.settings.contains(.hidden) {
            guard hidden >= 1, hidden <= 4096 else {
                throw ConfigurationError("hidden (the state dimension d) must lie in 1…4096, got \(hidden)")
            }
        }
        if cell.settings.contains(.channels) {
            guard channels >= 1, channels <= 1024 else { throw ConfigurationError("the channels C must lie in 1…1024, got \(channels)") }
            guard expansion >= 1, expansion <= 16 else { throw ConfigurationError("the expansion E must lie in 1…16, got \(expansion)") }
            guard groups >= 1, channels % groups == 0 else {
                throw ConfigurationError("the groups G must divide the channels C = \(channels), got \(groups)")
            }
        }
        guard mlpWidth >= 1, mlpWidth <= 16384 else { throw ConfigurationError("the MLP width m must lie in 1…16384, got \(mlpWidth)") }
        guard steps >= 1, steps <= 1000 else { throw ConfigurationError("the steps k must lie in 1…1000, got \(steps)") }
        guard damping > 0, damping <= 1 else { throw ConfigurationError("the damping λ must lie in (0, 1], got \(damping)") }
        guard adjointTolerance > 0, adjointTolerance.isFinite else {
            throw ConfigurationError("the adjoint tolerance must be positive, got \(adjointTolerance)")
        }
        guard epochs >= 0 else { throw ConfigurationError("the number of epochs must be ≥ 0, got \(epochs)") }
        guard batchSize >= 1 else { throw ConfigurationError("the batch size must be at least 1, got \(batchSize)") }
        guard learningRate > 0, learningRate.isFinite else {
            throw ConfigurationError("the learning rate must be a positive number, got \(learningRate)")
        }
        guard weightDecay >= 0, weightDecay.isFinite else { throw ConfigurationError("the weight decay must be ≥ 0, got \(weightDecay)") }
        guard saveEvery >= 1 else { throw ConfigurationError("the save interval (epochs) must be at least 1, got \(saveEvery)") }
        guard maxNorm >= 0, maxNorm.isFinite else { throw ConfigurationError("the max norm γ must be ≥ 0, got \(maxNorm)") }
        guard (1...EstimatorSettings.maximumAdjointBudget).contains(adjointBudget) else {
            throw ConfigurationError("--adjoint-budget must lie in 1…\(EstimatorSettings.maximumAdjointBudget), got \(adjointBudget)")
        }
        if estimator != .exact { try Estimators.family(estimator).check(solver: solver.method) }
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
        self.channels = channels
        self.expansion = expansion
        self.groups = groups
        self.estimatorSettings = estimatorSettings
        self.adjointBudget = adjointBudget
    }

    /// The shape of a new run's model for `data` with `classes` outputs: d from `hidden` (with m for a cell that takes it),
    /// or, for a cell whose state is an image (it takes `--channels`), the geometry the data's images and the settings give.
    /// - Throws: ``ConfigurationError`` when the data does not fit the cell.
    public func modelShape(for data: DataSet, classes: Int) throws(ConfigurationError) -> ModelShape {
        if cell.settings.contains(.channels) {
            let g = try mdeqGeometry(for: data)
            return ModelShape(
                kind: cell, inputDimension: g.inputDimension, stateDimension: g.stateDimension, outputDimension: classes,
                extraDimensions: Dictionary(uniqueKeysWithValues: zip(MDEQCell.Geometry.names, g.values)))
        }
        return ModelShape(
            kind: cell, inputDimension: data.x.columns, stateDimension: hidden, outputDimension: classes,
            extraDimensions: cell.settings.contains(.mlpWidth) ? ["m": mlpWidth] : [:])
    }

    /// The mdeq geometry for inputs of `data`: its images [C_in, H, W], or 1×s×s for flat inputs of s² features
    /// (digits: 1×8×8). - Throws: ``ConfigurationError`` when the inputs are neither.
    public func mdeqGeometry(for data: DataSet) throws(ConfigurationError) -> MDEQCell.Geometry {
        var image = data.imageShape
        if image == nil {
            let n = data.x.columns, side = Int(Double(n).squareRoot().rounded())
            guard side * side == n else {
                throw ConfigurationError(
                    "the mdeq cell needs image inputs: store x as [N, C_in, H, W] (x has \(n) features per sample, not a square)")
            }
            image = [1, side, side]
        }
        let g = MDEQCell.Geometry(
            channels: channels, inChannels: image![0], height: image![1], width: image![2],
            expansion: expansion, groups: groups)
        if let problem = g.problem(inputDimension: g.inputDimension, stateDimension: g.stateDimension) { throw ConfigurationError(problem) }
        guard g.stateDimension <= InputLimits.maximumDimension else {
            throw ConfigurationError(
                "d = C·H·W = \(g.stateDimension) is above \(InputLimits.maximumDimension), the largest d a checkpoint may hold")
        }
        return g
    }

    /// The estimator as a ``GradientEstimator``.
    public func gradientEstimator() throws -> any GradientEstimator {
        if estimator == .exact { return ExactGradient(solver: try AdjointSolver(method: adjoint, tolerance: adjointTolerance)) }
        let family = try Estimators.family(estimator)
        return try family.estimator(
            steps: family.type.stepsAreBudget ? adjointBudget : steps, damping: damping, training: true, settings: estimatorSettings)
    }

    /// Sets the truncated adjoints' budget when given (nil: keep it).
    /// - Throws: ``ConfigurationError`` when the estimator has no budget.
    public mutating func setAdjointBudget(_ budget: Int?) throws(ConfigurationError) {
        guard let budget else { return }
        guard estimator != .exact, try Estimators.family(estimator).type.stepsAreBudget else {
            throw ConfigurationError("--adjoint-budget applies to fp-adjoint and gmres-adjoint only")
        }
        adjointBudget = budget
    }

    /// The estimator needs every sample's Broyden history (SHINE).
    public var needsBroydenHistory: Bool {
        // The estimator was checked when the configuration was built; an unknown one (unreachable) needs nothing.
        estimator != .exact && ((try? Estimators.family(estimator))?.type.needsBroydenHistory ?? false)
    }

    /// A label such as "UPG(5, 0.5)" for logs.
    public var estimatorLabel: String {
        if estimator == .exact { return "exact (\(adjoint.rawValue) adjoint to \(adjointTolerance))" }
        return (try? gradientEstimator().label) ?? estimator.displayName
    }

    /// A fresh optimiser for `model` with this run's settings.
    public func makeOptimizer(for model: ImplicitModel) -> Optimizer {
        Optimizer(
            kind: optimizer, learningRate: learningRate, weightDecay: weightDecay,
            parameterCount: model.cell.layout.count + model.head.layout.count)
    }
}
