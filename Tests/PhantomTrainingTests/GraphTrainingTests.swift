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

/// A user-defined graph cell trains like the built-ins: every estimator, a run started from its checkpoint, resume.
@Suite("Training graph cells")
struct GraphTrainingTests {
    static func configuration(_ estimator: EstimatorID, model: ImplicitModel, epochs: Int = 1) throws -> TrainingConfiguration {
        var c = try TrainingConfiguration(startingFrom: model)
        c.estimator = estimator
        c.solver = try FixedPointConfiguration(
            method: estimator == SHINEGradient.id ? .auto : .anderson, stopping: .relative(1e-8), maxIterations: 200)
        (c.epochs, c.batchSize, c.optimizer, c.learningRate, c.adjoint, c.adjointTolerance) = (epochs, 32, .adam, 0.01, .auto, 1e-8)
        return try c.validated()
    }

    @Test(
        "one epoch lowers the loss of a gated graph cell, for every estimator",
        arguments: [EstimatorID.exact] + Estimators.builtIn.map(\.id))
    func oneEpochLowersLoss(estimator: EstimatorID) throws {
        let data = SyntheticData.twoClass(count: 200, inputs: 5, seed: 1)
        let train = data.part(0), test = data.part(1)
        var model = TestGraphs.gatedModel(d: 8, n: 5, c: 2, seed: 3)
        let c = try Self.configuration(estimator, model: model)
        #expect(c.cell == .graph && c.hidden == 8)
        let trainer = Trainer(configuration: c, train: train, test: test, classes: 2)
        var optimizer = c.makeOptimizer(for: model)
        let before = try TrainingTests.loss(model, train)
        var records: [EpochRecord] = []
        try trainer.run(model: &model, optimizer: &optimizer, startEpoch: 0) { record, _, _ in records.append(record) }
        let after = try TrainingTests.loss(model, train)
        #expect(after < before, "\(estimator): \(before) → \(after)")
        #expect(records.count == 1 && records[0].unconvergedForward == 0 && records[0].unconvergedAdjoint == 0)
    }

    @Test("a run starts from a graph checkpoint, saves graph checkpoints, and resumes exactly")
    func startAndResume() throws {
        let folder = makeTemporaryFolder()
        try TrainingTests.write(SyntheticData.twoClass(count: 120, inputs: 5, seed: 4), to: folder + "/data.h5")
        let model = TestGraphs.gatedModel(d: 6, n: 5, c: 2, seed: 8)
        try Checkpoint(model: model).save(to: folder + "/gated.h5")
        let initial = try Checkpoint.load(folder + "/gated.h5").model
        let c = try Self.configuration(UnrolledPhantomGradient.id, model: initial, epochs: 2)
        // A graph run needs its model.
        #expect(throws: ConfigurationError.self) {
            try TrainingRun.start(c, data: folder + "/data.h5", folder: folder + "/none", force: false)
        }
        var straight = try TrainingRun.start(c, data: folder + "/data.h5", folder: folder + "/a", force: false, from: initial)
        try straight.train { _ in }
        var first = try TrainingRun.start(
            try Self.configuration(UnrolledPhantomGradient.id, model: initial, epochs: 1), data: folder + "/data.h5", folder: folder + "/b",
            force: false, from: initial)
        try first.train { _ in }
        var resumed = try TrainingRun.resume(folder: folder + "/b", epochs: 2)
        try resumed.train { _ in }
        let a = try Checkpoint.load(folder + "/a/epoch-0002.h5"), b = try Checkpoint.load(folder + "/b/epoch-0002.h5")
        #expect(a.model.cell.kind == .graph && b.model.cell.kind == .graph)
        #expect(a.model.cell.parameters == b.model.cell.parameters)
        #expect(a.model.cell.parameters != model.cell.parameters)
        #expect((a.model.cell as? GraphCell)?.graph == (model.cell as? GraphCell)?.graph)
    }
}
