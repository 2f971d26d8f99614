import Foundation
import PhantomGradients
import PhantomHDF5
import PhantomLinearAlgebra
import PhantomModel
import PhantomModelIO

/// A run folder: `epoch-0000.h5`, `epoch-0005.h5`, … — a checkpoint series `phantom analyze` can take.
/// Every checkpoint carries the run's configuration (attributes `train_*`), its history so far and the
/// optimiser's state, so that `--resume` continues exactly from the last one.
public enum TrainingRun {
    public static func checkpointName(epoch: Int) -> String { String(format: "epoch-%04d.h5", epoch) }

    /// The checkpoints in a folder, ordered by epoch.
    public static func checkpoints(in folder: String) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
        return names.filter { $0.hasPrefix("epoch-") && $0.hasSuffix(".h5") }.sorted().map { folder + "/" + $0 }
    }

    /// Writes the checkpoint of `epoch`.
    public static func save(folder: String, epoch: Int, step: Int, model: ImplicitModel, optimizer: Optimizer,
                            configuration c: TrainingConfiguration, dataset: String, history: [EpochRecord]) throws {
        var metadata: [String: HDF5AttributeValue] = [
            "train_mlp_width": .integer(Int64(c.mlpWidth)), "train_k": .integer(Int64(c.steps)),
            "train_lambda": .double(c.damping), "train_adjoint": .string(c.adjoint.rawValue),
            "train_adjoint_tolerance": .double(c.adjointTolerance), "train_solver": .string(c.solver.method.rawValue),
            "train_tolerance": .double(c.solver.stopping.tolerance), "train_max_iterations": .integer(Int64(c.solver.maxIterations)),
            "train_epochs": .integer(Int64(c.epochs)), "train_batch": .integer(Int64(c.batchSize)),
            "train_optimizer": .string(c.optimizer.rawValue), "train_lr": .double(c.learningRate),
            "train_weight_decay": .double(c.weightDecay), "train_seed": .string(String(c.seed)),
            "train_save_every": .integer(Int64(c.saveEvery)), "train_max_norm": .double(c.maxNorm),
        ]
        metadata["optimizer_steps"] = .integer(Int64(optimizer.steps))
        var state = ["first": HDF5Array(shape: [optimizer.first.count], values: optimizer.first)]
        if !optimizer.second.isEmpty { state["second"] = HDF5Array(shape: [optimizer.second.count], values: optimizer.second) }
        var checkpoint = Checkpoint(model: model, dataset: dataset, epoch: epoch, step: step,
                                    estimator: c.estimator.rawValue, metadata: metadata, history: historyArrays(history))
        checkpoint.optimizerState = state
        try checkpoint.save(to: folder + "/" + checkpointName(epoch: epoch), overwrite: true)
    }

    static func historyArrays(_ history: [EpochRecord]) -> [String: HDF5Array<Double>] {
        guard !history.isEmpty else { return [:] }
        func column(_ f: (EpochRecord) -> Double) -> HDF5Array<Double> { HDF5Array(shape: [history.count], values: history.map(f)) }
        return ["epoch": column { Double($0.epoch) }, "loss": column(\.loss), "train_accuracy": column(\.trainAccuracy),
                "test_accuracy": column(\.testAccuracy), "forward_iterations": column(\.forwardIterations),
                "forward_seconds": column(\.forwardSeconds), "backward_seconds": column(\.backwardSeconds),
                "unconverged_forward": column { Double($0.unconvergedForward) },
                "unconverged_adjoint": column { Double($0.unconvergedAdjoint) }, "steps": column { Double($0.steps) }]
    }

    /// The history stored in a checkpoint.
    public static func history(of checkpoint: Checkpoint) -> [EpochRecord] {
        let h = checkpoint.history
        guard let epochs = h["epoch"]?.values else { return [] }
        func value(_ name: String, _ i: Int) -> Double { h[name]?.values[safe: i] ?? .nan }
        return epochs.indices.map { i in
            EpochRecord(epoch: Int(epochs[i]), loss: value("loss", i), trainAccuracy: value("train_accuracy", i),
                        testAccuracy: value("test_accuracy", i), forwardIterations: value("forward_iterations", i),
                        forwardSeconds: value("forward_seconds", i), backwardSeconds: value("backward_seconds", i),
                        unconvergedForward: Int(value("unconverged_forward", i)), unconvergedAdjoint: Int(value("unconverged_adjoint", i)),
                        steps: Int(value("steps", i)))
        }
    }

    /// The configuration, optimiser and history stored in a checkpoint of a run.
    public static func restore(_ checkpoint: Checkpoint, path: String) throws -> (TrainingConfiguration, Optimizer, [EpochRecord]) {
        let m = checkpoint.metadata
        func fail(_ what: String) -> CheckpointError { CheckpointError(path: path, message: "not a resumable training checkpoint: \(what)") }
        func int(_ key: String) throws -> Int { guard let v = m[key]?.integerValue else { throw fail("attribute '\(key)' is missing") }; return Int(v) }
        func double(_ key: String) throws -> Double { guard let v = m[key]?.doubleValue else { throw fail("attribute '\(key)' is missing") }; return v }
        func string(_ key: String) throws -> String { guard let v = m[key]?.stringValue else { throw fail("attribute '\(key)' is missing") }; return v }
        guard let estimator = TrainingEstimator(rawValue: checkpoint.estimator ?? "") else { throw fail("unknown estimator '\(checkpoint.estimator ?? "")'") }
        guard let adjoint = AdjointMethod(rawValue: try string("train_adjoint")) else { throw fail("unknown adjoint") }
        guard let method = FixedPointMethod(rawValue: try string("train_solver")) else { throw fail("unknown solver") }
        guard let optimizerKind = OptimizerKind(rawValue: try string("train_optimizer")) else { throw fail("unknown optimizer") }
        guard let seed = UInt64(try string("train_seed")) else { throw fail("bad seed") }
        let solver = try FixedPointConfiguration(method: method, stopping: .relative(try double("train_tolerance")),
                                                 maxIterations: try int("train_max_iterations"))
        let configuration = try TrainingConfiguration(
            cell: checkpoint.model.cell.kind, hidden: checkpoint.model.stateDimension, mlpWidth: try int("train_mlp_width"),
            estimator: estimator, steps: try int("train_k"), damping: try double("train_lambda"), adjoint: adjoint,
            adjointTolerance: try double("train_adjoint_tolerance"), solver: solver, epochs: try int("train_epochs"),
            batchSize: try int("train_batch"), optimizer: optimizerKind, learningRate: try double("train_lr"),
            weightDecay: try double("train_weight_decay"), seed: seed, saveEvery: try int("train_save_every"),
            maxNorm: try double("train_max_norm"))
        var optimizer = Optimizer(kind: optimizerKind, learningRate: configuration.learningRate, weightDecay: configuration.weightDecay,
                                  parameterCount: checkpoint.model.cell.layout.count + checkpoint.model.head.layout.count)
        optimizer.steps = try int("optimizer_steps")
        guard let first = checkpoint.optimizerState["first"]?.values, first.count == optimizer.first.count else { throw fail("optimizer state missing") }
        optimizer.first = first
        if optimizerKind == .adam {
            guard let second = checkpoint.optimizerState["second"]?.values, second.count == first.count else { throw fail("optimizer state missing") }
            optimizer.second = second
        }
        return (configuration, optimizer, history(of: checkpoint))
    }
}

extension Array {
    subscript(safe index: Int) -> Element? { indices.contains(index) ? self[index] : nil }
}
