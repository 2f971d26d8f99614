import PhantomLinearAlgebra
import PhantomModel

/// A training setting that only some cell kinds take — the library's one table of which setting fits which cell.
/// The raw value is the setting's name on the command line (`--mlp-width`, …).
public enum CellSetting: String, CaseIterable, Sendable {
    /// d, the state dimension (mdeq derives d = C·H·W from its channels and the data instead).
    case hidden
    /// m, the hidden width of resmlp's MLP.
    case mlpWidth = "mlp-width"
    /// mdeq's channels C, expansion E (conv1 has E·C channels) and GroupNorm groups G (dividing C).
    case channels, expansion, groups
    /// tanh's bound γ on ‖cell.weight‖₂, kept after every step (0 disables).
    case maxNorm = "max-norm"

    /// The cells that take it.
    public var cells: [CellKind] {
        switch self {
        case .hidden: return [.tanh, .resmlp]
        case .mlpWidth: return [.resmlp]
        case .channels, .expansion, .groups: return [.mdeq]
        case .maxNorm: return [.tanh]
        }
    }

    /// The option that sets it.
    public var optionName: String { "--" + rawValue }

    /// One line for a help text: which cells, what it sets, and the default (from the same constants as
    /// ``TrainingConfiguration/init(cell:settings:)`` applies).
    public var help: String {
        let cells = self.cells.map(\.rawValue).joined(separator: " and ") + (self.cells.count == 1 ? " only" : "")
        typealias D = TrainingConfiguration
        switch self {
        case .hidden: return "\(cells): state dimension d. (default: \(D.defaultHidden))"
        case .mlpWidth: return "\(cells): hidden width m of the MLP. (default: 2·d)"
        case .channels:
            return "\(cells): channels C of the state (d = C·H·W; C_in, H and W come from the data, flat x of s² features "
                + "is 1×s×s). (default: \(D.defaultChannels))"
        case .expansion: return "\(cells): expansion E (conv1 has E·C channels). (default: \(D.defaultExpansion))"
        case .groups: return "\(cells): GroupNorm groups G, dividing C. (default: \(D.defaultGroups))"
        case .maxNorm: return "\(cells): keep ‖cell.weight‖₂ ≤ γ after every step (0 disables). (default: \(D.defaultMaxNorm))"
        }
    }
}

extension CellKind {
    /// The cell-specific settings this kind takes (``CellSetting``).
    public var settings: [CellSetting] { CellSetting.allCases.filter { $0.cells.contains(self) } }
}

/// The cell-specific settings of a new run as given; nil leaves the library's default.
public struct CellSettings: Sendable, Equatable {
    public var hidden: Int?
    public var mlpWidth: Int?
    public var channels: Int?
    public var expansion: Int?
    public var groups: Int?
    public var maxNorm: Double?

    public init(
        hidden: Int? = nil, mlpWidth: Int? = nil, channels: Int? = nil, expansion: Int? = nil, groups: Int? = nil,
        maxNorm: Double? = nil
    ) {
        (self.hidden, self.mlpWidth, self.channels, self.expansion, self.groups, self.maxNorm) = (
            hidden, mlpWidth, channels, expansion, groups, maxNorm
        )
    }

    /// The settings given, in ``CellSetting`` order.
    public var given: [CellSetting] {
        CellSetting.allCases.filter { setting in
            switch setting {
            case .hidden: return hidden != nil
            case .mlpWidth: return mlpWidth != nil
            case .channels: return channels != nil
            case .expansion: return expansion != nil
            case .groups: return groups != nil
            case .maxNorm: return maxNorm != nil
            }
        }
    }

    /// What a run started from a checkpoint's model (`--from`) cannot also be given (nil: nothing): `--resume`, a cell kind,
    /// or a cell setting — the model brings its own.
    public func startingFromConflict(cell: CellKind?, resume: Bool) -> String? {
        if resume { return "--from starts a new run; --resume continues one: give one of them" }
        guard let first = (cell.map { _ in "--cell" }) ?? given.first?.optionName else { return nil }
        return "--from takes the cell and its settings from the checkpoint; drop \(first)"
    }

    /// - Throws: ``ConfigurationError`` naming the first given setting that `cell` does not take.
    public func check(for cell: CellKind) throws(ConfigurationError) {
        if let wrong = given.first(where: { !$0.cells.contains(cell) }) {
            throw ConfigurationError("\(wrong.optionName) does not apply to the \(cell.rawValue) cell")
        }
    }
}

extension TrainingConfiguration {
    /// A new run's configuration: every shared setting at its default, the cell's settings as given over theirs
    /// (m = 2·d for resmlp unless given). Set the other fields, then ``validated()``.
    /// - Throws: ``ConfigurationError`` for a setting `cell` does not take, or one out of range.
    public init(cell: CellKind = defaultCell, settings: CellSettings = CellSettings()) throws(ConfigurationError) {
        try settings.check(for: cell)
        let d = settings.hidden ?? Self.defaultHidden
        try self.init(
            cell: cell, hidden: d, mlpWidth: settings.mlpWidth ?? Self.defaultMLPWidth(hidden: d),
            estimator: Self.defaultEstimator, steps: Self.defaultSteps, damping: Self.defaultDamping,
            adjoint: Self.defaultAdjoint, adjointTolerance: Self.defaultAdjointTolerance,
            solver: try FixedPointConfiguration(
                method: Self.defaultSolver, stopping: .relative(FixedPointConfiguration.trainingTolerance),
                maxIterations: FixedPointConfiguration.trainingMaxIterations),
            epochs: Self.defaultEpochs, batchSize: Self.defaultBatchSize,
            optimizer: Self.defaultOptimizer, learningRate: Self.defaultLearningRate, weightDecay: Self.defaultWeightDecay,
            seed: Self.defaultSeed, saveEvery: Self.defaultSaveEvery, maxNorm: settings.maxNorm ?? Self.defaultMaxNorm,
            channels: settings.channels ?? Self.defaultChannels, expansion: settings.expansion ?? Self.defaultExpansion,
            groups: settings.groups ?? Self.defaultGroups)
    }

    /// A new run that starts from `model` (a checkpoint's): the cell kind and its settings are the model's, every shared
    /// setting at its default. Set the other fields, then ``validated()``.
    /// - Throws: ``ConfigurationError`` for a model whose dimensions are out of range.
    public init(startingFrom model: ImplicitModel) throws(ConfigurationError) {
        let mdeq = (model.cell as? MDEQCell)?.geometry
        try self.init(
            cell: model.cell.kind,
            settings: model.cell.kind.settings.contains(.hidden) ? CellSettings(hidden: model.stateDimension) : CellSettings())
        if model.cell.kind == .graph { hidden = model.stateDimension }
        if let m = (model.cell as? ResMLPCell)?.hiddenWidth { mlpWidth = m }
        if let mdeq { (channels, expansion, groups) = (mdeq.channels, mdeq.expansion, mdeq.groups) }
        self = try validated()
    }

    /// This configuration, checked as the memberwise initialiser checks it (after fields were set).
    /// - Throws: ``ConfigurationError`` naming the first setting out of range.
    public func validated() throws(ConfigurationError) -> TrainingConfiguration {
        try TrainingConfiguration(
            cell: cell, hidden: hidden, mlpWidth: mlpWidth, estimator: estimator, steps: steps, damping: damping,
            adjoint: adjoint, adjointTolerance: adjointTolerance, solver: solver, epochs: epochs,
            batchSize: batchSize, optimizer: optimizer, learningRate: learningRate, weightDecay: weightDecay,
            seed: seed, saveEvery: saveEvery, maxNorm: maxNorm, channels: channels, expansion: expansion,
            groups: groups, estimatorSettings: estimatorSettings, adjointBudget: adjointBudget)
    }

    /// The options given with `--resume` that it refuses (a resumed run keeps its own settings; only --epochs may change):
    /// cell settings, a data set other than the default, shared settings other than the defaults, and --force.
    public func resumeConflicts(_ cell: CellSettings, data: String, force: Bool) throws -> [String] {
        try cell.given.map(\.optionName) + (data != Self.defaultData ? ["--data"] : [])
            + sharedSettingsChanged(from: TrainingConfiguration())
            + (force ? ["--force"] : [])
    }

    /// The shared settings (not the cell's, not the epochs) in which this configuration differs from `other`,
    /// named by their options — what `--resume`, which continues with a run's own settings, refuses.
    public func sharedSettingsChanged(from other: TrainingConfiguration) -> [String] {
        let differs: [(String, Bool)] = [
            ("--cell", cell != other.cell), ("--estimator", estimator != other.estimator), ("--k", steps != other.steps),
            ("--lambda", damping != other.damping), ("--adjoint", adjoint != other.adjoint),
            ("--adjoint-tolerance", adjointTolerance != other.adjointTolerance), ("--solver", solver.method != other.solver.method),
            ("--tolerance", solver.stopping != other.solver.stopping),
            ("--max-iterations", solver.maxIterations != other.solver.maxIterations),
            ("--batch", batchSize != other.batchSize), ("--optimizer", optimizer != other.optimizer),
            ("--lr", learningRate != other.learningRate),
            ("--weight-decay", weightDecay != other.weightDecay), ("--seed", seed != other.seed),
            ("--save-every", saveEvery != other.saveEvery),
            ("--shine-fallback", estimatorSettings.shineFallback != other.estimatorSettings.shineFallback),
            ("--truncated-stop", estimatorSettings.truncatedStop != other.estimatorSettings.truncatedStop),
            ("--adjoint-budget", adjointBudget != other.adjointBudget)
        ]
        return differs.filter(\.1).map(\.0)
    }
}
