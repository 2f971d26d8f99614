import Foundation
import PhantomFileSystem
import PhantomGradients
import PhantomHDF5
import PhantomLinearAlgebra
import PhantomModel
import PhantomModelIO

/// A training run and its folder (``RunFolder``: `epoch-0000.h5`, `epoch-0005.h5`, …, a checkpoint series
/// `phantom analyze` can take): the pipeline behind `phantom train`.
///
/// ``start(_:data:folder:force:)`` prepares the folder (refusing another run's checkpoints unless `force`, which
/// removes them), builds the initial model and optimiser and saves epoch 0; ``resume(folder:epochs:)`` restores
/// the configuration, model, optimiser and history from the folder's last checkpoint. ``train(onEpoch:)`` runs
/// the remaining epochs and saves every `saveEvery` epochs and the last one. Every checkpoint carries the run's
/// configuration (attributes `train_*`), its history so far and the optimiser's state, so that a resumed run
/// continues exactly.
public struct TrainingRun {
    public let folder: String
    public private(set) var configuration: TrainingConfiguration
    /// The data reference stored in the checkpoints (a bundled name or a path) and the file it resolved to.
    public let data: String
    public let dataPath: String
    public let train: DataSet
    public let test: DataSet
    /// The head's outputs the data asks for: the largest label + 1, or the regression targets' width.
    public let classes: Int
    public private(set) var model: ImplicitModel
    public private(set) var optimizer: Optimizer
    public private(set) var history: [EpochRecord]

    /// The training log's first line: the cell, the data and its split, the gradient, the optimiser and the epochs.
    public var headline: String {
        let c = configuration
        return "training \(c.cell.rawValue) d = \(model.stateDimension) on \(dataPath) (\(train.count) train, \(test.count) test) with "
            + "\(c.estimatorLabel), \(c.optimizer.rawValue) lr \(c.learningRate), epochs \(startEpoch + 1)…\(c.epochs)"
    }

    /// The epoch the run continues after.
    public var startEpoch: Int { history.last?.epoch ?? 0 }

    /// A new run in `folder`, from a freshly initialised model of the configuration's cell, or from `initial` (a
    /// checkpoint's model: a graph cell's run always starts from one; the configuration then comes from
    /// ``TrainingConfiguration/init(startingFrom:)``), read from the file `initialPath` (which --force never removes).
    /// - Throws: ``InputError`` for a folder that cannot be used, the data's errors (inputs or classes that do not fit
    ///   the initial model), ``ConfigurationError``.
    public static func start(
        _ configuration: TrainingConfiguration, data: String, folder: String, force: Bool, from initial: ImplicitModel? = nil,
        initialPath: String? = nil
    ) throws -> TrainingRun {
        let loaded = try RunData(data)
        if initial == nil {
            guard configuration.cell.builtin != nil else {
                throw ConfigurationError("a graph cell's run starts from a checkpoint that holds its graph (--from)")
            }
            _ = try configuration.modelShape(for: loaded.train, classes: loaded.classes)
        }
        if let initial {
            try loaded.train.checkInputs(
                initial.inputDimension, image: initial.cell.inputImageShape, path: loaded.path, model: "the initial model")
            try DataSet.checkTargets(loaded.targets, outputs: initial.outputDimension, path: loaded.path)
        }
        // --force removes the folder's checkpoints: never the data file or the initial model's file.
        for checkpoint in RunFolder.checkpoints(in: folder) {
            try AtomicOutput.refuseReplacing([loaded.path] + (initialPath.map { [$0] } ?? []), with: checkpoint)
        }
        let model =
            initial
            ?? Trainer(configuration: configuration, train: loaded.train, test: loaded.test, classes: loaded.classes).initialModel()
        // Checked before the folder is touched: the checkpoints must be ones the readers accept.
        if let problem = ModelShape(of: model).limitProblem { throw ConfigurationError("the model is too large to checkpoint: \(problem)") }
        try prepare(folder: folder, force: force)
        let run = TrainingRun(
            folder: folder, configuration: configuration, data: data, dataPath: loaded.path, train: loaded.train,
            test: loaded.test, classes: loaded.classes, model: model, optimizer: configuration.makeOptimizer(for: model),
            history: [])
        try run.save(epoch: 0, step: 0)
        return run
    }

    /// Continues the run in `folder` from its last checkpoint; `epochs` raises the total.
    public static func resume(folder: String, epochs: Int? = nil) throws -> TrainingRun {
        guard let last = RunFolder.checkpoints(in: folder).last else { throw InputError("\(folder): no checkpoints to resume from") }
        let checkpoint = try Checkpoint.load(last)
        var (configuration, optimizer, history) = try restore(checkpoint, path: last)
        if let epochs {
            guard epochs >= 0 else { throw ConfigurationError("the number of epochs must be ≥ 0, got \(epochs)") }
            configuration.epochs = epochs
        }
        let data = checkpoint.dataset ?? TrainingConfiguration.defaultData
        let loaded = try DataSetResolver.named(by: last, data) { try RunData(data) }
        let model = checkpoint.model
        try loaded.train.checkInputs(model.inputDimension, image: model.cell.inputImageShape, path: loaded.path, model: "the run's model")
        try DataSet.checkTargets(loaded.targets, outputs: model.outputDimension, path: loaded.path)
        return TrainingRun(
            folder: folder, configuration: configuration, data: data, dataPath: loaded.path, train: loaded.train,
            test: loaded.test, classes: loaded.classes, model: model, optimizer: optimizer, history: history)
    }

    /// Trains the remaining epochs, saving on the run's cadence; `onEpoch` sees each epoch's record.
    public mutating func train(onEpoch: (EpochRecord) throws -> Void) throws {
        let trainer = Trainer(configuration: configuration, train: train, test: test, classes: classes)
        var log = history
        let (c, folder, data) = (configuration, folder, data)
        try trainer.run(model: &model, optimizer: &optimizer, startEpoch: startEpoch) { record, current, state in
            log.append(record)
            try onEpoch(record)
            if record.epoch % c.saveEvery == 0 || record.epoch == c.epochs {
                try Self.save(
                    folder: folder, epoch: record.epoch, step: state.steps, model: current, optimizer: state,
                    configuration: c, dataset: data, history: log)
            }
        }
        history = log
    }

    /// Writes the checkpoint of `epoch` into the folder.
    public func save(epoch: Int, step: Int) throws {
        try Self.save(
            folder: folder, epoch: epoch, step: step, model: model, optimizer: optimizer, configuration: configuration,
            dataset: data, history: history)
    }

    /// The data file of a run, its train/test parts (the file's split, else the first 80 % to train), all its
    /// targets and the class count they ask for.
    struct RunData {
        let path: String
        let train: DataSet
        let test: DataSet
        let targets: Targets
        let classes: Int

        init(_ reference: String) throws {
            path = try DataSetResolver.resolve(reference)
            let dataSet = try DataSet.load(path)
            guard let targets = dataSet.y else { throw InputError(path: path, message: "no targets 'y' to train on") }
            let hasSplit = dataSet.split != nil
            train = hasSplit ? dataSet.part(0) : dataSet.selecting(Array(0..<(dataSet.count * 4 / 5)))
            test = hasSplit ? dataSet.part(1) : dataSet.selecting(Array((dataSet.count * 4 / 5)..<dataSet.count))
            guard train.count > 0 else { throw InputError(path: path, message: "the training split (split = 0) holds no samples") }
            self.targets = targets
            switch targets {
            case .labels(let labels): classes = (labels.max() ?? 0) + 1
            case .values(let values): classes = values.columns
            }
        }
    }

    /// Creates the folder, or refuses one holding another run's checkpoints unless `force`, which removes them —
    /// only them: every `epoch-NNNN.h5` entry must be a regular file this command wrote (``ownCheckpointProblem(_:)``),
    /// or nothing is removed and the error says which entry is not and why. Nothing else in the folder is touched.
    static func prepare(folder: String, force: Bool) throws {
        try AtomicOutput.createFolder(folder)  // or checks that the existing one is a writable folder
        let existing = RunFolder.checkpoints(in: folder)
        guard !existing.isEmpty else { return }
        guard force else {
            throw OutputError(
                path: folder, message: "holds another run's checkpoints (\(existing.count)); resume it (--resume) or start over",
                targetExists: true)
        }
        for path in existing {
            if let problem = ownCheckpointProblem(path) {
                throw OutputError(
                    path: path, message: "\(problem); --force removes only checkpoints phantom train wrote, so nothing was removed")
            }
        }
        for path in existing { try FileManager.default.removeItem(atPath: path) }
    }

    /// Why `path` is not a checkpoint of a training run (nil: it is one): it must be a regular file (not a link or a
    /// folder), a phantom checkpoint whose `epoch` attribute is the one its name says, with the run settings
    /// (`train_*` attributes) ``save(epoch:step:)`` writes.
    static func ownCheckpointProblem(_ path: String) -> String? {
        var info = stat()
        guard lstat(path, &info) == 0, info.st_mode & S_IFMT == S_IFREG else { return "is not a regular file" }
        let name = URL(fileURLWithPath: path).lastPathComponent
        guard let epoch = RunFolder.epoch(ofCheckpointName: name) else { return "is not named epoch-NNNN.h5" }
        do {
            let checkpoint = try Checkpoint.load(path)
            guard checkpoint.epoch == epoch, checkpoint.metadata["train_epochs"] != nil, checkpoint.metadata["train_optimizer"] != nil
            else {
                return "is a checkpoint, but not one a training run wrote at epoch \(epoch) (no run settings)"
            }
            return nil
        } catch {
            return "is not a checkpoint phantom can read (\(error))"
        }
    }

    /// Writes the checkpoint of `epoch`.
    static func save(
        folder: String, epoch: Int, step: Int, model: ImplicitModel, optimizer: Optimizer,
        configuration c: TrainingConfiguration, dataset: String, history: [EpochRecord]
    ) throws {
        var metadata: [String: HDF5AttributeValue] = [
            "train_mlp_width": .integer(Int64(c.mlpWidth)), "train_k": .integer(Int64(c.steps)),
            "train_lambda": .double(c.damping), "train_adjoint": .string(c.adjoint.rawValue),
            "train_adjoint_tolerance": .double(c.adjointTolerance), "train_solver": .string(c.solver.method.rawValue),
            "train_tolerance": .double(c.solver.stopping.tolerance), "train_max_iterations": .integer(Int64(c.solver.maxIterations)),
            "train_epochs": .integer(Int64(c.epochs)), "train_batch": .integer(Int64(c.batchSize)),
            "train_optimizer": .string(c.optimizer.rawValue), "train_lr": .double(c.learningRate),
            "train_weight_decay": .double(c.weightDecay), "train_seed": .string(String(c.seed)),
            "train_save_every": .integer(Int64(c.saveEvery)), "train_max_norm": .double(c.maxNorm),
            "train_shine_fallback": .double(c.estimatorSettings.shineFallback),
            "train_truncated_stop": .string(c.estimatorSettings.truncatedStopMode.rawValue),
            "train_truncated_tolerance": .double(c.estimatorSettings.truncatedStop.tolerance),
            "train_adjoint_budget": .integer(Int64(c.adjointBudget))
        ]
        metadata["optimizer_steps"] = .integer(Int64(optimizer.steps))
        var state = ["first": HDF5Array(shape: [optimizer.first.count], values: optimizer.first)]
        if !optimizer.second.isEmpty { state["second"] = HDF5Array(shape: [optimizer.second.count], values: optimizer.second) }
        var checkpoint = Checkpoint(
            model: model, dataset: dataset, epoch: epoch, step: step,
            estimator: c.estimator.rawValue, metadata: metadata, history: historyArrays(history))
        checkpoint.optimizerState = state
        try checkpoint.save(to: folder + "/" + RunFolder.checkpointName(epoch: epoch), overwrite: true)
    }

    static func historyArrays(_ history: [EpochRecord]) -> [String: HDF5Array<Double>] {
        guard !history.isEmpty else { return [:] }
        func column(_ f: (EpochRecord) -> Double) -> HDF5Array<Double> { HDF5Array(shape: [history.count], values: history.map(f)) }
        return [
            "epoch": column { Double($0.epoch) }, "loss": column(\.loss), "train_accuracy": column(\.trainAccuracy),
            "test_accuracy": column(\.testAccuracy), "forward_iterations": column(\.forwardIterations),
            "forward_seconds": column(\.forwardSeconds), "backward_seconds": column(\.backwardSeconds),
            "unconverged_forward": column { Double($0.unconvergedForward) },
            "unconverged_adjoint": column { Double($0.unconvergedAdjoint) }, "steps": column { Double($0.steps) }
        ]
    }

    /// The history stored in a checkpoint. Rows whose epoch is not a finite integer are dropped; counts that
    /// are not finite integers read as 0 (values from a file are converted with checks, never trapped on).
    public static func history(of checkpoint: Checkpoint) -> [EpochRecord] {
        let h = checkpoint.history
        guard let epochs = h["epoch"]?.values else { return [] }
        func value(_ name: String, _ i: Int) -> Double { h[name]?.values[safe: i] ?? .nan }
        func count(_ name: String, _ i: Int) -> Int { InputLimits.integer(value(name, i)) ?? 0 }
        return epochs.indices.compactMap { i in
            guard let epoch = InputLimits.integer(epochs[i]) else { return nil }
            return EpochRecord(
                epoch: epoch, loss: value("loss", i), trainAccuracy: value("train_accuracy", i),
                testAccuracy: value("test_accuracy", i), forwardIterations: value("forward_iterations", i),
                forwardSeconds: value("forward_seconds", i), backwardSeconds: value("backward_seconds", i),
                unconvergedForward: count("unconverged_forward", i), unconvergedAdjoint: count("unconverged_adjoint", i),
                steps: count("steps", i))
        }
    }

    /// The configuration, optimiser and history stored in a checkpoint of a run.
    public static func restore(_ checkpoint: Checkpoint, path: String) throws -> (TrainingConfiguration, Optimizer, [EpochRecord]) {
        let m = checkpoint.metadata
        func fail(_ what: String) -> InputError { InputError(path: path, message: "not a resumable training checkpoint: \(what)") }
        func int(_ key: String) throws -> Int {
            guard let v = m[key]?.integerValue else { throw fail("attribute '\(key)' is missing") }
            guard let int = InputLimits.integer(v, in: 0...Int(Int32.max)) else { throw fail("attribute '\(key)' = \(v) is out of range") }
            return int
        }
        func double(_ key: String) throws -> Double {
            guard let v = m[key]?.doubleValue else { throw fail("attribute '\(key)' is missing") }; return v
        }
        func string(_ key: String) throws -> String {
            guard let v = m[key]?.stringValue else { throw fail("attribute '\(key)' is missing") }; return v
        }
        guard let estimator = EstimatorID(rawValue: checkpoint.estimator ?? "") else {
            throw fail("unknown estimator '\(checkpoint.estimator ?? "")'")
        }
        guard let adjoint = AdjointMethod(rawValue: try string("train_adjoint")) else { throw fail("unknown adjoint") }
        guard let method = FixedPointMethod(rawValue: try string("train_solver")) else { throw fail("unknown solver") }
        guard let optimizerKind = OptimizerKind(rawValue: try string("train_optimizer")) else { throw fail("unknown optimizer") }
        guard let seed = UInt64(try string("train_seed")) else { throw fail("bad seed") }
        let solver = try FixedPointConfiguration(
            method: method, stopping: .relative(try double("train_tolerance")),
            maxIterations: try int("train_max_iterations"))
        // Runs written before SHINE and the truncated adjoints lack their settings: the defaults, which they used.
        let standard = EstimatorSettings.standard
        guard
            let mode = m["train_truncated_stop"] == nil
                ? standard.truncatedStopMode : EstimatorSettings.StopMode(rawValue: try string("train_truncated_stop"))
        else { throw fail("attribute 'train_truncated_stop' is neither 'abs' nor 'rel'") }
        let tolerance = m["train_truncated_tolerance"] == nil ? standard.truncatedStop.tolerance : try double("train_truncated_tolerance")
        let settings = try EstimatorSettings(
            shineFallback: m["train_shine_fallback"] == nil ? standard.shineFallback : try double("train_shine_fallback"),
            truncatedStop: mode.criterion(tolerance))
        let budget = m["train_adjoint_budget"] == nil ? EstimatorSettings.defaultAdjointBudget : try int("train_adjoint_budget")
        let configuration = try TrainingConfiguration(
            cell: checkpoint.model.cell.kind, hidden: checkpoint.model.stateDimension, mlpWidth: try int("train_mlp_width"),
            estimator: estimator, steps: try int("train_k"), damping: try double("train_lambda"), adjoint: adjoint,
            adjointTolerance: try double("train_adjoint_tolerance"), solver: solver, epochs: try int("train_epochs"),
            batchSize: try int("train_batch"), optimizer: optimizerKind, learningRate: try double("train_lr"),
            weightDecay: try double("train_weight_decay"), seed: seed, saveEvery: try int("train_save_every"),
            maxNorm: try double("train_max_norm"),
            channels: (checkpoint.model.cell as? MDEQCell)?.geometry.channels ?? TrainingConfiguration.defaultChannels,
            expansion: (checkpoint.model.cell as? MDEQCell)?.geometry.expansion ?? TrainingConfiguration.defaultExpansion,
            groups: (checkpoint.model.cell as? MDEQCell)?.geometry.groups ?? TrainingConfiguration.defaultGroups,
            estimatorSettings: settings, adjointBudget: budget)
        var optimizer = configuration.makeOptimizer(for: checkpoint.model)
        optimizer.steps = try int("optimizer_steps")
        guard let first = checkpoint.optimizerState["first"]?.values, first.count == optimizer.first.count else {
            throw fail("optimizer state missing")
        }
        optimizer.first = first
        if optimizerKind == .adam {
            guard let second = checkpoint.optimizerState["second"]?.values, second.count == first.count else {
                throw fail("optimizer state missing")
            }
            optimizer.second = second
        }
        return (configuration, optimizer, history(of: checkpoint))
    }
}

extension Array {
    subscript(safe index: Int) -> Element? { indices.contains(index) ? self[index] : nil }
}
