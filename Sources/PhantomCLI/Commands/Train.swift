import ArgumentParser
import Foundation
import PhantomGradients
import PhantomModel
import PhantomModelIO
import PhantomTraining

extension CellKind: ExpressibleByArgument {}
extension TrainingEstimator: ExpressibleByArgument {}
extension OptimizerKind: ExpressibleByArgument {}

/// `phantom train`: minibatch training with a selectable gradient estimator, checkpointing a series.
struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train an implicit model with the exact, UPG, NPG or JFB gradient; save a checkpoint series.",
        discussion: """
        Writes OUTPUT/epoch-0000.h5 (the initial model) and a checkpoint every --save-every epochs plus the \
        last one; every checkpoint holds the run's settings, its history and the optimiser's state. \
        --resume continues from the folder's last checkpoint with the settings stored there (only --epochs \
        may be raised). Deterministic for a seed and a thread count.
        """
    )

    @Option(help: "Cell: tanh or resmlp. (default: tanh)") var cell: CellKind?
    @Option(help: "State dimension d. (default: 64)") var hidden: Int?
    @Option(help: "resmlp only: hidden width m of the MLP. (default: 2·d)") var mlpWidth: Int?
    @Option(help: "Data: a bundled name (digits → notebooks-data/digits.h5) or an HDF5 file with x, y and optionally split. (default: digits)") var data: String?
    @Option(help: "Gradient: exact, upg, npg or jfb. (default: upg)") var estimator: TrainingEstimator?
    @Option(name: .customLong("k"), help: "Steps k of UPG/NPG. (default: 5)") var steps: Int?
    @Option(name: .customLong("lambda"), help: "Damping λ of UPG/NPG, in (0, 1]. (default: 0.5)") var damping: Double?
    @Option(help: "Adjoint solver of the exact gradient: auto, lu, gmres, fixed-point. (default: auto)") var adjoint: AdjointMethod?
    @Option(help: "Adjoint relative tolerance. (default: 1e-8)") var adjointTolerance: Double?
    @Option(help: "Forward solver: anderson, broyden, fixed-point. (default: anderson)") var solver: FixedPointMethod?
    @Option(help: "Forward relative tolerance. (default: 1e-6)") var tolerance: Double?
    @Option(help: "Forward iteration limit. (default: 100)") var maxIterations: Int?
    @Option(help: "Epochs to train (with --resume: the new total). (default: 30)") var epochs: Int?
    @Option(help: "Minibatch size. (default: 128)") var batch: Int?
    @Option(help: "Optimiser: sgd (momentum 0.9) or adam. (default: adam)") var optimizer: OptimizerKind?
    @Option(help: "Learning rate, > 0. (default: 0.003)") var lr: Double?
    @Option(help: "L2 weight decay, ≥ 0. (default: 0)") var weightDecay: Double?
    @Option(help: "Random seed. (default: 0)") var seed: UInt64?
    @Option(help: "Save a checkpoint every N epochs. (default: 5)") var saveEvery: Int?
    @Option(help: "tanh only: keep ‖cell.weight‖₂ ≤ γ after every step (0 disables). (default: 0.95)") var maxNorm: Double?
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
                ("--seed", seed != nil), ("--save-every", saveEvery != nil), ("--max-norm", maxNorm != nil), ("--force", force)]
            if let first = given.first(where: { $0.1 }) {
                throw ValidationError("--resume continues with the run's own settings; drop \(first.0) (only --epochs may change)")
            }
        }
        if let epochs, epochs < 0 { throw ValidationError("--epochs must be ≥ 0, got \(epochs)") }
        if let tolerance, !(tolerance > 0) { throw ValidationError("--tolerance must be a positive number, got \(tolerance)") }
        if let maxIterations, maxIterations < 1 { throw ValidationError("--max-iterations must be at least 1, got \(maxIterations)") }
    }

    func run() throws {
        var configuration: TrainingConfiguration
        let dataName: String
        /// The run to continue: its model, optimiser and history.
        var resumed: (model: ImplicitModel, optimizer: Optimizer, history: [EpochRecord])?
        if resume {
            guard let last = TrainingRun.checkpoints(in: output).last else {
                throw ValidationError("\(output): no checkpoints to resume from")
            }
            let checkpoint = try Checkpoint.load(last)
            let (stored, optimizer, history) = try TrainingRun.restore(checkpoint, path: last)
            configuration = stored
            if let epochs { configuration.epochs = epochs }  // checked in validate()
            resumed = (checkpoint.model, optimizer, history)
            dataName = checkpoint.dataset ?? "digits"
        } else {
            let d = hidden ?? 64
            configuration = try TrainingConfiguration(
                cell: cell ?? .tanh, hidden: d, mlpWidth: mlpWidth ?? 2 * d, estimator: estimator ?? .upg, steps: steps ?? 5,
                damping: damping ?? 0.5, adjoint: adjoint ?? .auto, adjointTolerance: adjointTolerance ?? 1e-8,
                solver: try FixedPointConfiguration(method: solver ?? .anderson, stopping: .relative(tolerance ?? 1e-6),
                                                    maxIterations: maxIterations ?? 100),
                epochs: epochs ?? 30, batchSize: batch ?? 128, optimizer: optimizer ?? .adam, learningRate: lr ?? 0.003,
                weightDecay: weightDecay ?? 0, seed: seed ?? 0, saveEvery: saveEvery ?? 5, maxNorm: maxNorm ?? 0.95)
            dataName = data ?? "digits"
        }
        let dataPath = try DataResolver.path(dataName)
        let dataSet = try DataSet.load(dataPath)
        guard let targets = dataSet.y else { throw ValidationError("\(dataPath): no targets 'y' to train on") }
        let classes: Int
        switch targets {
        case .labels(let labels): classes = (labels.max() ?? 0) + 1
        case .values(let values): classes = values.columns
        }
        let hasSplit = dataSet.split != nil
        let train = hasSplit ? dataSet.part(0) : dataSet.selecting(Array(0..<(dataSet.count * 4 / 5)))
        let test = hasSplit ? dataSet.part(1) : dataSet.selecting(Array((dataSet.count * 4 / 5)..<dataSet.count))
        guard train.count > 0 else { throw ValidationError("\(dataPath): the training split (split = 0) holds no samples") }
        let trainer = Trainer(configuration: configuration, train: train, test: test, classes: classes)

        var model: ImplicitModel, optimizerState: Optimizer, history: [EpochRecord]
        if let resumed {
            (model, optimizerState, history) = resumed
            guard model.inputDimension == dataSet.x.columns else {
                throw ValidationError("\(dataPath): x has \(dataSet.x.columns) features, the run's model expects n_in = \(model.inputDimension)")
            }
            try DataSet.checkTargets(targets, outputs: model.outputDimension, path: dataPath)
        } else {
            try prepareFolder()
            model = trainer.initialModel()
            optimizerState = Optimizer(kind: configuration.optimizer, learningRate: configuration.learningRate,
                                       weightDecay: configuration.weightDecay,
                                       parameterCount: model.cell.layout.count + model.head.layout.count)
            history = []
            try TrainingRun.save(folder: output, epoch: 0, step: 0, model: model, optimizer: optimizerState,
                                 configuration: configuration, dataset: dataName, history: [])
        }
        let startEpoch = history.last?.epoch ?? 0
        print("training \(configuration.cell.rawValue) d = \(configuration.hidden) on \(dataPath) (\(train.count) train, \(test.count) test) "
              + "with \(configuration.estimatorLabel), \(configuration.optimizer.rawValue) lr \(configuration.learningRate), "
              + "epochs \(startEpoch + 1)…\(configuration.epochs)")
        print("epoch   loss     train   test    fwd-iter  fwd-s    bwd-s    unconverged")
        var log = history
        try trainer.run(model: &model, optimizer: &optimizerState, startEpoch: startEpoch) { record, current, state in
            log.append(record)
            let warning = record.unconvergedForward + record.unconvergedAdjoint > 0
                ? "\(record.unconvergedForward) forward, \(record.unconvergedAdjoint) adjoint solves NOT converged" : "0"
            print(pad("\(record.epoch)", 8) + pad(String(format: "%.4f", record.loss), 9) + pad(String(format: "%.3f", record.trainAccuracy), 8)
                  + pad(String(format: "%.3f", record.testAccuracy), 8) + pad(String(format: "%.1f", record.forwardIterations), 10)
                  + pad(String(format: "%.3f", record.forwardSeconds), 9) + pad(String(format: "%.3f", record.backwardSeconds), 9) + warning)
            if record.epoch % configuration.saveEvery == 0 || record.epoch == configuration.epochs {
                try TrainingRun.save(folder: output, epoch: record.epoch, step: state.steps, model: current, optimizer: state,
                                     configuration: configuration, dataset: dataName, history: log)
            }
        }
        print("checkpoints in \(output)/")
    }

    /// Creates OUTPUT, or refuses a folder holding another run's checkpoints unless --force.
    private func prepareFolder() throws {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: output, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else { throw ValidationError("\(output): exists and is not a folder") }
            let existing = TrainingRun.checkpoints(in: output)
            if !existing.isEmpty {
                guard force else {
                    throw ValidationError("\(output): holds another run's checkpoints (\(existing.count)); use --resume to continue it or --force to start over")
                }
                for path in existing { try FileManager.default.removeItem(atPath: path) }
            }
        } else {
            do { try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true) }
            catch { throw ValidationError("\(output): cannot create the folder (\(error.localizedDescription))") }
        }
        guard FileManager.default.isWritableFile(atPath: output) else { throw ValidationError("\(output): the folder is not writable") }
    }
}

/// Bundled data-set names and paths.
enum DataResolver {
    static func path(_ name: String) throws -> String {
        if FileManager.default.fileExists(atPath: name) { return name }
        if !name.contains("/") && !name.hasSuffix(".h5") {
            let bundled = "notebooks-data/\(name).h5"
            if FileManager.default.fileExists(atPath: bundled) { return bundled }
            throw ValidationError("unknown data set '\(name)': no file \(name) and no bundled \(bundled) (run from the repository's top folder, or pass a path)")
        }
        throw ValidationError("\(name): no such data file")
    }
}
