import Foundation
import PhantomFileSystem
import PhantomGradients
import PhantomHDF5
import PhantomLinearAlgebra
import PhantomModel
import PhantomModelIO
import PhantomTestSupport
import PhantomTraining
import Testing

@Suite("Training")
struct TrainingTests {
    static func configuration(
        _ estimator: EstimatorID, cell: CellKind = .tanh, hidden: Int = 16, epochs: Int = 1,
        batch: Int = 32, lr: Double = 0.01, seed: UInt64 = 0
    ) throws -> TrainingConfiguration {
        try TrainingConfiguration(
            cell: cell, hidden: hidden, mlpWidth: 2 * hidden, estimator: estimator, steps: 5, damping: 0.5, adjoint: .auto,
            adjointTolerance: 1e-8,
            // SHINE needs Broyden histories: auto (Anderson first) makes it re-solve by Broyden.
            solver: try FixedPointConfiguration(
                method: estimator == SHINEGradient.id ? .auto : .anderson, stopping: .relative(1e-8), maxIterations: 200),
            epochs: epochs, batchSize: batch, optimizer: .adam, learningRate: lr, weightDecay: 1e-4, seed: seed,
            saveEvery: 1, maxNorm: 0.95)
    }

    /// Mean loss of a model on a data set, with a tight forward solve.
    static func loss(_ model: ImplicitModel, _ data: DataSet) throws -> Double {
        let states = model.solve(data.x, try FixedPointConfiguration(stopping: .relative(1e-10), maxIterations: 500)).states
        return Loss.evaluate(logits: model.head.logits(states), targets: data.y!).value
    }

    @Test(
        "one epoch lowers the loss on the synthetic tasks, for every estimator",
        arguments: [EstimatorID.exact] + Estimators.builtIn.map(\.id))
    func oneEpochLowersLoss(estimator: EstimatorID) throws {
        for (data, classes) in [
            (SyntheticData.twoClass(count: 200, inputs: 5, seed: 1), 2),
            (SyntheticData.teacherRegression(count: 200, inputs: 5, hidden: 8, outputs: 3, seed: 2), 3)
        ] {
            let train = data.part(0), test = data.part(1)
            let trainer = Trainer(configuration: try Self.configuration(estimator), train: train, test: test, classes: classes)
            var model = trainer.initialModel()
            var optimizer = try Self.configuration(estimator).makeOptimizer(for: model)
            let before = try Self.loss(model, train)
            var records: [EpochRecord] = []
            try trainer.run(model: &model, optimizer: &optimizer, startEpoch: 0) { record, _, _ in records.append(record) }
            let after = try Self.loss(model, train)
            #expect(after < before, "\(estimator) on \(data.name): \(before) → \(after)")
            #expect(records.count == 1 && records[0].unconvergedForward == 0 && records[0].unconvergedAdjoint == 0)
        }
    }

    @Test("the tanh cell reaches ≥ 90% test accuracy on digits in 4 epochs (the full 30-epoch run: see the README)")
    func digits() throws {
        let path = try #require(repositoryFile("notebooks-data/digits.h5"))
        let data = try DataSet.load(path)
        let trainer = Trainer(
            configuration: try Self.configuration(UnrolledPhantomGradient.id, hidden: 32, epochs: 4, batch: 64, lr: 0.005),
            train: data.part(0), test: data.part(1), classes: 10)
        var model = trainer.initialModel()
        var optimizer = try Self.configuration(UnrolledPhantomGradient.id, hidden: 32, epochs: 4, batch: 64, lr: 0.005).makeOptimizer(
            for: model)
        var last: EpochRecord?
        try trainer.run(model: &model, optimizer: &optimizer, startEpoch: 0) { record, _, _ in last = record }
        let accuracy = try #require(last).testAccuracy
        print("digits, tanh d = 32, UPG(5, 0.5), 4 epochs: test accuracy \(accuracy)")
        #expect(accuracy >= 0.90)
    }

    @Test("two runs with the same seed give identical checkpoints; a resumed run continues exactly")
    func determinismAndResume() throws {
        let data = SyntheticData.twoClass(count: 120, inputs: 4, seed: 3)
        let folder = makeTemporaryFolder()
        let dataPath = folder + "/two-class.h5"
        try Self.write(data, to: dataPath)
        func train(epochs: Int, into run: String, resumeFrom: String? = nil) throws {
            var training =
                resumeFrom != nil
                ? try TrainingRun.resume(folder: run, epochs: epochs)
                : try TrainingRun.start(
                    try Self.configuration(UnrolledPhantomGradient.id, epochs: epochs, seed: 42), data: dataPath,
                    folder: run, force: false)
            try training.train { _ in }
        }
        try train(epochs: 3, into: folder + "/a")
        try train(epochs: 3, into: folder + "/b")
        try train(epochs: 1, into: folder + "/c")
        try train(epochs: 3, into: folder + "/c", resumeFrom: folder + "/c/epoch-0001.h5")
        // A used folder is refused unless forced (an output error: the target exists); forcing starts over.
        #expect(throws: OutputError.self) {
            try TrainingRun.start(
                try Self.configuration(UnrolledPhantomGradient.id, epochs: 1), data: dataPath, folder: folder + "/a", force: false)
        }
        let a = try Checkpoint.load(folder + "/a/epoch-0003.h5")
        for other in ["b", "c"] {
            let o = try Checkpoint.load(folder + "/\(other)/epoch-0003.h5")
            #expect(o.model.cell.parameters == a.model.cell.parameters, "\(other)")
            #expect(o.model.head == a.model.head, "\(other)")
            #expect(o.optimizerState["first"]?.values == a.optimizerState["first"]?.values, "\(other)")
            #expect(o.optimizerState["second"]?.values == a.optimizerState["second"]?.values, "\(other)")
            // Every history column but the wall-clock timings is identical.
            for (name, column) in a.history where !name.hasSuffix("_seconds") {
                #expect(o.history[name]?.values == column.values, "\(other): \(name)")
            }
        }
    }

    /// Writes a synthetic data set as an HDF5 data file.
    static func write(_ data: DataSet, to dataPath: String) throws {
        try HDF5File.write(to: dataPath) { file in
            try file.root.write("x", HDF5Array(shape: [data.count, data.x.columns], values: data.x.elements))
            guard case .labels(let labels)? = data.y else { return }
            try file.root.write("y", vector: labels.map { Int64($0) })
            try file.root.write("split", vector: (data.split ?? []).map { Int64($0) })
        }
    }

    @Test("the estimators' settings and the adjoint budget are stored in every checkpoint and restored on resume")
    func estimatorSettingsRoundTrip() throws {
        let folder = makeTemporaryFolder()
        try Self.write(SyntheticData.twoClass(count: 60, inputs: 4, seed: 5), to: folder + "/data.h5")
        var c = try Self.configuration(FixedPointAdjoint.id, epochs: 1)
        c.estimatorSettings = try EstimatorSettings(shineFallback: 1.8, truncatedStop: .relative(1e-4))
        c.adjointBudget = 7
        c = try c.validated()
        #expect(try c.gradientEstimator().label == "FP-ADJOINT(7)")
        var run = try TrainingRun.start(c, data: folder + "/data.h5", folder: folder + "/run", force: false)
        try run.train { _ in }
        let (restored, _, _) = try TrainingRun.restore(try Checkpoint.load(folder + "/run/epoch-0001.h5"), path: "epoch-0001.h5")
        #expect(restored.estimatorSettings == c.estimatorSettings && restored.adjointBudget == 7)
        #expect(restored == c)
    }
}

/// A file of the repository, found from this source file's location.
func repositoryFile(_ relative: String) -> String? {
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { url.deleteLastPathComponent() }
    let path = url.appendingPathComponent(relative).path
    return FileManager.default.fileExists(atPath: path) ? path : nil
}
