import ArgumentParser
import Foundation
import PhantomGradients
import PhantomModel
import PhantomModelIO
import PhantomTraining

extension CellKind: ExpressibleByArgument {}
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
        Writes OUTPUT/epoch-0000.h5 (the initial model) and a checkpoint every --save-every epochs plus the \
        last one; every checkpoint holds the run's settings, its history and the optimiser's state. \
        --resume continues from the folder's last checkpoint with the settings stored there (only --epochs \
        may be raised). Deterministic for a seed and a thread count.
        """
    )

    @Option(help: "Cell: tanh, resmlp or mdeq. (default: \(Defaults.defaultCell.rawValue))") var cell: CellKind?
    @Option(help: "tanh and resmlp: state dimension d. (default: \(Defaults.defaultHidden))") var hidden: Int?
    @Option(help: "resmlp only: hidden width m of the MLP. (default: 2·d)") var mlpWidth: Int?
    @Option(help: "mdeq only: channels C of the state (d = C·H·W; C_in, H and W come from the data, flat x of s² features is 1×s×s). (default: \(Defaults.defaultChannels))") var channels: Int?
    @Option(help: "mdeq only: expansion E (conv1 has E·C channels). (default: \(Defaults.defaultExpansion))") var expansion: Int?
    @Option(help: "mdeq only: GroupNorm groups G, dividing C. (default: \(Defaults.defaultGroups))") var groups: Int?
    @Option(help: "Data: a bundled name (digits → notebooks-data/digits.h5) or an HDF5 file with x, y and optionally split. (default: \(Defaults.defaultData))") var data: String?
    @Option(help: "Gradient: \(Defaults.estimatorNames.joined(separator: ", ")). (default: \(Defaults.defaultEstimator))") var estimator: EstimatorID?
    @Option(name: .customLong("k"), help: "Steps k of the phantom estimators. (default: \(Defaults.defaultSteps))") var steps: Int?
    @Option(name: .customLong("lambda"), help: "Damping λ of the phantom estimators, in (0, 1]. (default: \(Defaults.defaultDamping))") var damping: Double?
    @Option(help: "Adjoint solver of the exact gradient: auto, lu, gmres, fixed-point. (default: \(Defaults.defaultAdjoint.rawValue))") var adjoint: AdjointMethod?
    @Option(help: "Adjoint relative tolerance. (default: \(Defaults.defaultAdjointTolerance))") var adjointTolerance: Double?
    @Option(help: "Forward solver: auto (Anderson → Broyden → damped iteration → Newton), anderson, broyden, fixed-point. (default: \(Defaults.defaultSolver.rawValue))") var solver: FixedPointMethod?
    @Option(help: "Forward relative tolerance. (default: \(FixedPointConfiguration.trainingTolerance))") var tolerance: Double?
    @Option(help: "Forward iteration limit. (default: \(FixedPointConfiguration.trainingMaxIterations))") var maxIterations: Int?
    @Option(help: "Epochs to train (with --resume: the new total). (default: \(Defaults.defaultEpochs))") var epochs: Int?
    @Option(help: "Minibatch size. (default: \(Defaults.defaultBatchSize))") var batch: Int?
    @Option(help: "Optimiser: sgd (momentum 0.9) or adam. (default: \(Defaults.defaultOptimizer.rawValue))") var optimizer: OptimizerKind?
    @Option(help: "Learning rate, > 0. (default: \(Defaults.defaultLearningRate))") var lr: Double?
    @Option(help: "L2 weight decay, ≥ 0. (default: \(Defaults.defaultWeightDecay))") var weightDecay: Double?
    @Option(help: "Random seed. (default: \(Defaults.defaultSeed))") var seed: UInt64?
    @Option(help: "Save a checkpoint every N epochs. (default: \(Defaults.defaultSaveEvery))") var saveEvery: Int?
    @Option(help: "tanh only: keep ‖cell.weight‖₂ ≤ γ after every step (0 disables). (default: \(Defaults.defaultMaxNorm))") var maxNorm: Double?
    @Option(name: .shortAndLong, help: "The run folder.") var output: String
    @Flag(help: "Continue the run in OUTPUT from its last checkpoint.") var resume = false
    @Flag(help: "Start over in an OUTPUT folder that holds another run's checkpoints (they are removed).") var force = false

    func validate() throws {
        if resume {
            let given: [(String, Bool)] = [("--cell", cell != nil), ("--hidden", hidden != nil), ("--mlp-width", mlpWidth != nil),
                ("--data", data != nil), ("--estimator", estimator != nil), ("--k", steps != nil), ("--lambda", damping != nil),
                ("--adjoint", adjoint != nil), ("--adjoint-tolerance", adjointTolerance != nil), ("--solver", solver != nil),
                ("--tolerance", tolerance != nil), ("--max-iterations", maxIterations != nil), ("--batch", batch != nil),
                ("--optimizer", optimizer != nil), ("--lr", lr != nil), ("--weight-decay", weightDecay != nil),
                ("--seed", seed != nil), ("--save-every", saveEvery != nil), ("--max-norm", maxNorm != nil), ("--force", force),
                ("--channels", channels != nil), ("--expansion", expansion != nil), ("--groups", groups != nil)]
            if let first = given.first(where: { $0.1 }) {
                throw ValidationError("--resume continues with the run's own settings; drop \(first.0) (only --epochs may change)")
            }
        } else {
            let kind = cell ?? Defaults.defaultCell
            let misplaced: [(String, Bool, Bool)] = [
                ("--hidden", hidden != nil, kind != .mdeq), ("--mlp-width", mlpWidth != nil, kind == .resmlp),
                ("--channels", channels != nil, kind == .mdeq), ("--expansion", expansion != nil, kind == .mdeq),
                ("--groups", groups != nil, kind == .mdeq), ("--max-norm", maxNorm != nil, kind == .tanh)]
            if let wrong = misplaced.first(where: { $0.1 && !$0.2 }) {
                throw ValidationError("\(wrong.0) does not apply to the \(kind.rawValue) cell")
            }
            _ = try newConfiguration()
        }
    }

    /// The configuration of a new run: the options over the library's defaults.
    func newConfiguration() throws -> TrainingConfiguration {
        let d = hidden ?? Defaults.defaultHidden
        return try TrainingConfiguration(
            cell: cell ?? Defaults.defaultCell, hidden: d, mlpWidth: mlpWidth ?? Defaults.defaultMLPWidth(hidden: d),
            estimator: estimator ?? Defaults.defaultEstimator, steps: steps ?? Defaults.defaultSteps, damping: damping ?? Defaults.defaultDamping,
            adjoint: adjoint ?? Defaults.defaultAdjoint, adjointTolerance: adjointTolerance ?? Defaults.defaultAdjointTolerance,
            solver: try FixedPointConfiguration(method: solver ?? Defaults.defaultSolver,
                                                stopping: .relative(tolerance ?? FixedPointConfiguration.trainingTolerance),
                                                maxIterations: maxIterations ?? FixedPointConfiguration.trainingMaxIterations),
            epochs: epochs ?? Defaults.defaultEpochs, batchSize: batch ?? Defaults.defaultBatchSize, optimizer: optimizer ?? Defaults.defaultOptimizer,
            learningRate: lr ?? Defaults.defaultLearningRate, weightDecay: weightDecay ?? Defaults.defaultWeightDecay, seed: seed ?? Defaults.defaultSeed,
            saveEvery: saveEvery ?? Defaults.defaultSaveEvery, maxNorm: maxNorm ?? Defaults.defaultMaxNorm,
            channels: channels ?? Defaults.defaultChannels, expansion: expansion ?? Defaults.defaultExpansion,
            groups: groups ?? Defaults.defaultGroups)
    }

    func run() throws {
        var run = resume
            ? try TrainingRun.resume(folder: output, epochs: epochs)
            : try TrainingRun.start(try newConfiguration(), data: data ?? Defaults.defaultData, folder: output, force: force)
        let c = run.configuration
        print("training \(c.cell.rawValue) d = \(run.model.stateDimension) on \(run.dataPath) (\(run.train.count) train, \(run.test.count) test) "
              + "with \(c.estimatorLabel), \(c.optimizer.rawValue) lr \(c.learningRate), epochs \(run.startEpoch + 1)…\(c.epochs)")
        print("epoch   loss     train   test    fwd-iter  fwd-s    bwd-s    unconverged")
        try run.train { record in
            let warning = record.unconvergedForward + record.unconvergedAdjoint > 0
                ? "\(record.unconvergedForward) forward, \(record.unconvergedAdjoint) adjoint solves NOT converged" : "0"
            print(pad("\(record.epoch)", 8) + pad(String(format: "%.4f", record.loss), 9) + pad(String(format: "%.3f", record.trainAccuracy), 8)
                  + pad(String(format: "%.3f", record.testAccuracy), 8) + pad(String(format: "%.1f", record.forwardIterations), 10)
                  + pad(String(format: "%.3f", record.forwardSeconds), 9) + pad(String(format: "%.3f", record.backwardSeconds), 9) + warning)
        }
        print("checkpoints in \(output)/")
    }
}
