import Foundation
import PhantomFileSystem
import PhantomGradients
import PhantomLinearAlgebra
import PhantomModel
import PhantomModelIO
import PhantomTraining

/// The paper's speed claim, measured: the same model trained with the exact gradient (fixed-point and GMRES
/// adjoints) and with UPG(5, 0.5); step times and accuracy. The fixed-point adjoint stops at `adjointTolerance`
/// (TorchDEQ's 1e-6 by default).
public struct TrainingBenchmark: Sendable {
    public var cell = CellKind.tanh
    public var hidden = 64
    /// A bundled data-set name or a file (``DataSetResolver``).
    public var data = TrainingConfiguration.defaultData
    public var epochs = 5
    public var batch = 128
    public var adjointTolerance = 1e-6
    /// The same initial model for every estimator.
    public var seed: UInt64 = 0

    public init() {}

    public struct Row: Sendable {
        public var label: String
        /// Seconds per step.
        public var backward: Double
        public var total: Double
        public var testAccuracy: Double
        public var unconvergedAdjoint: Int
    }

    public struct Report: Sendable {
        public var dataPath: String
        public var trainCount: Int
        /// Fixed-point adjoint, GMRES adjoint, UPG(5, 0.5).
        public var rows: [Row]
    }

    /// The training configuration of one variant; throws for settings out of range.
    public func configuration(estimator: EstimatorID, adjoint: AdjointMethod) throws -> TrainingConfiguration {
        guard epochs >= 1 else { throw ConfigurationError("the number of epochs must be at least 1, got \(epochs)") }
        return try TrainingConfiguration(
            cell: cell, hidden: hidden, mlpWidth: TrainingConfiguration.defaultMLPWidth(hidden: hidden), estimator: estimator,
            steps: 5, damping: 0.5, adjoint: adjoint, adjointTolerance: adjointTolerance,
            solver: try FixedPointConfiguration(
                method: .anderson, stopping: .relative(FixedPointConfiguration.trainingTolerance),
                maxIterations: FixedPointConfiguration.trainingMaxIterations),
            epochs: epochs, batchSize: batch, optimizer: .adam, learningRate: TrainingConfiguration.defaultLearningRate, weightDecay: 0,
            seed: seed, saveEvery: epochs, maxNorm: TrainingConfiguration.defaultMaxNorm)
    }

    /// - Throws: for settings out of range (before any data is read).
    public func validate() throws { _ = try configuration(estimator: .exact, adjoint: .auto) }

    public func run() throws -> Report {
        try validate()
        let path = try DataSetResolver.resolve(data)
        let dataSet = try DataSet.load(path)
        guard case .labels(let labels)? = dataSet.y else {
            throw InputError(path: path, message: "the training benchmark needs class labels")
        }
        let train = dataSet.part(0), test = dataSet.part(1)
        let variants: [(String, EstimatorID, AdjointMethod)] = [
            ("exact, fixed-point adjoint", .exact, .fixedPoint), ("exact, GMRES adjoint", .exact, .gmres),
            ("UPG(5, 0.5)", UnrolledPhantomGradient.id, .auto)
        ]
        var rows: [Row] = []
        for (label, estimator, adjoint) in variants {
            let configuration = try configuration(estimator: estimator, adjoint: adjoint)
            let trainer = Trainer(configuration: configuration, train: train, test: test, classes: (labels.max() ?? 0) + 1)
            var model = trainer.initialModel()
            var optimizer = configuration.makeOptimizer(for: model)
            var records: [EpochRecord] = []
            try trainer.run(model: &model, optimizer: &optimizer, startEpoch: 0) { record, _, _ in records.append(record) }
            let steps = Double(records.map(\.steps).reduce(0, +))
            rows.append(
                Row(
                    label: label, backward: records.map(\.backwardSeconds).reduce(0, +) / steps,
                    total: records.map { $0.backwardSeconds + $0.forwardSeconds }.reduce(0, +) / steps,
                    testAccuracy: records.last?.testAccuracy ?? .nan, unconvergedAdjoint: records.map(\.unconvergedAdjoint).reduce(0, +)))
        }
        return Report(dataPath: path, trainCount: train.count, rows: rows)
    }
}
