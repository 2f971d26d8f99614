import ArgumentParser
import Foundation
import PhantomGradients
import PhantomInterop
import PhantomModel
import PhantomModelIO
import PhantomTraining

extension CellKind: ExpressibleByArgument {  // the built-in kinds only: a graph cell comes with --from
    public init?(argument: String) { guard let kind = CellKind.builtin(named: argument) else { return nil }; self = kind }
    public static var allValueStrings: [String] { builtins.map(\.rawValue) }
}
extension OptimizerKind: ExpressibleByArgument {}
extension EstimatorID: ExpressibleByArgument {
    public init?(argument: String) { self.init(rawValue: argument.lowercased()) }
    public static var allValueStrings: [String] { TrainingConfiguration.estimatorNames }
}

/// `phantom train`: minibatch training with a selectable gradient estimator, checkpointing a series. The
/// pipeline is ``TrainingRun``; this command parses, prints the log and reports errors.
struct Train: ParsableCommand {
    typealias Defaults = TrainingConfiguration
    static let configuration = CommandConfiguration(
        abstract: "Train an implicit model with the exact gradient or a phantom estimator; save a checkpoint series.",
        discussion: """
            Writes OUTPUT/epoch-0000.h5 (the initial model) and a checkpoint every --save-every epochs plus the last one; every \
            checkpoint holds the run's settings, its history and the optimiser's state. --resume continues from the folder's last \
            checkpoint with the settings stored there (only --epochs may be raised). Deterministic for a seed and a thread count.
            """
    )

    @Option(help: "Cell. (default: \(Defaults.defaultCell.rawValue))") var cell: CellKind?
    @Option(help: "Start from this model (a checkpoint, .safetensors or .onnx; any cell, a graph cell too) instead of a fresh one.")
    var from: String?
    @Option(help: ArgumentHelp(CellSetting.hidden.help)) var hidden: Int?
    @Option(help: ArgumentHelp(CellSetting.mlpWidth.help)) var mlpWidth: Int?
    @Option(help: ArgumentHelp(CellSetting.channels.help)) var channels: Int?
    @Option(help: ArgumentHelp(CellSetting.expansion.help)) var expansion: Int?
    @Option(help: ArgumentHelp(CellSetting.groups.help)) var groups: Int?
    @Option(help: ArgumentHelp(CellSetting.maxNorm.help)) var maxNorm: Double?
    @Option(help: "Data: a bundled name (digits → notebooks-data/digits.h5) or an HDF5 file with x, y and optionally split.")
    var data: String = Defaults.defaultData
    @Option(help: "Gradient.") var estimator: EstimatorID = Defaults.defaultEstimator
    @Option(name: .customLong("k"), help: "Steps k of the phantom estimators.") var steps: Int = Defaults.defaultSteps
    @Option(name: .customLong("lambda"), help: "Damping λ of the phantom estimators, in (0, 1].") var damping = Defaults.defaultDamping
    @Option(help: "Iteration budget of fp-adjoint and gmres-adjoint (TorchDEQ's b_max_iter). (default: 40)") var adjointBudget: Int?
    @OptionGroup var estimatorOptions: EstimatorOptions
    @Option(help: "Adjoint solver of the exact gradient.") var adjoint: AdjointMethod = Defaults.defaultAdjoint
    @Option(help: "Adjoint relative tolerance.") var adjointTolerance: Double = Defaults.defaultAdjointTolerance
    @Option(help: "Forward solver: auto is Anderson → Broyden → damped iteration → Newton.") var solver = Defaults.defaultSolver
    @Option(help: "Forward relative tolerance.") var tolerance: Double = FixedPointConfiguration.trainingTolerance
    @Option(help: "Forward iteration limit.") var maxIterations: Int = FixedPointConfiguration.trainingMaxIterations
    @Option(help: "Epochs to train (with --resume: the new total; default there: the run's own). (default: \(Defaults.defaultEpochs))")
    var epochs: Int?
    @Option(help: "Minibatch size.") var batch: Int = Defaults.defaultBatchSize
    @Option(help: "Optimiser (sgd: momentum 0.9).") var optimizer: OptimizerKind = Defaults.defaultOptimizer
    @Option(help: "Learning rate, > 0.") var lr: Double = Defaults.defaultLearningRate
    @Option(help: "L2 weight decay, ≥ 0.") var weightDecay: Double = Defaults.defaultWeightDecay
    @Option(help: "Random seed.") var seed: UInt64 = Defaults.defaultSeed
    @Option(help: "Save a checkpoint every N epochs.") var saveEvery: Int = Defaults.defaultSaveEvery
    @Option(name: .shortAndLong, help: "The run folder.") var output: String
    @Flag(help: "Continue the run in OUTPUT from its last checkpoint.") var resume = false
    @Flag(help: "Start over in an OUTPUT folder that holds another run's checkpoints (they are removed).") var force = false
    var cellSettings: CellSettings {
        CellSettings(hidden: hidden, mlpWidth: mlpWidth, channels: channels, expansion: expansion, groups: groups, maxNorm: maxNorm)
    }

    /// The library's checks: a resumed run takes no setting but --epochs; a new one only settings its cell takes, in range.
    func validate() throws {
        if from != nil {
            if let problem = cellSettings.startingFromConflict(cell: cell, resume: resume) { throw ValidationError(problem) }
            return
        }
        guard resume else { _ = try newConfiguration(); return }
        let given = try newConfiguration(CellSettings()).resumeConflicts(cellSettings, data: data, force: force)
        if let first = given.first {
            throw ValidationError("--resume continues with the run's own settings; drop \(first) (only --epochs may change)")
        }
    }

    /// The configuration of a new run: the options over the library's defaults.
    func newConfiguration(_ settings: CellSettings? = nil, from model: ImplicitModel? = nil) throws -> TrainingConfiguration {
        var c =
            try model.map(TrainingConfiguration.init(startingFrom:))
            ?? TrainingConfiguration(cell: cell ?? Defaults.defaultCell, settings: settings ?? cellSettings)
        (c.estimator, c.steps, c.damping, c.adjoint, c.adjointTolerance) = (estimator, steps, damping, adjoint, adjointTolerance)
        c.solver = try FixedPointConfiguration(method: solver, stopping: .relative(tolerance), maxIterations: maxIterations)
        (c.batchSize, c.optimizer, c.learningRate) = (batch, optimizer, lr)
        (c.weightDecay, c.seed, c.saveEvery) = (weightDecay, seed, saveEvery)
        if let epochs { c.epochs = epochs }
        c.estimatorSettings = try estimatorOptions.settings(for: [estimator])
        try c.setAdjointBudget(adjointBudget)
        return try c.validated()
    }

    func run() throws {
        let initial = try from.map { try ModelFile.load($0).model }
        var run =
            resume
            ? try TrainingRun.resume(folder: output, epochs: epochs)
            : try TrainingRun.start(
                try newConfiguration(from: initial), data: data, folder: output, force: force, from: initial, initialPath: from)
        print(run.headline)
        print(EpochRecord.logHeader)
        try run.train { print($0.logLine) }
        print("checkpoints in \(output)/")
    }
}
