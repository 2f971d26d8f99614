import ArgumentParser
import Foundation
import PhantomGradients
import PhantomModel
import PhantomModelIO
import PhantomTraining

/// `phantom bench train`: the paper's speed claim, measured — exact vs UPG backward passes in training.
struct BenchTrain: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train the same model with the exact gradient (fixed-point and GMRES adjoints) and with UPG(5, 0.5); compare step times and accuracy.",
        discussion: "The exact gradient's fixed-point adjoint stops at relative residual --adjoint-tolerance, as TorchDEQ does (1e-6)."
    )

    @Option(help: "Cell: tanh or resmlp.") var cell: CellKind = .tanh
    @Option(help: "State dimension d.") var hidden: Int = 64
    @Option(help: "Data set (bundled name or HDF5 file).") var data: String = "digits"
    @Option(help: "Epochs per estimator.") var epochs: Int = 5
    @Option(help: "Minibatch size.") var batch: Int = 128
    @Option(help: "Relative tolerance of the exact gradient's adjoint solves.") var adjointTolerance: Double = 1e-6
    @Option(help: "Random seed (the same initial model for every estimator).") var seed: UInt64 = 0

    func validate() throws {
        guard hidden >= 1, epochs >= 1, batch >= 1 else { throw ValidationError("--hidden, --epochs and --batch must be at least 1") }
        guard adjointTolerance > 0 else { throw ValidationError("--adjoint-tolerance must be positive") }
    }

    func run() throws {
        let dataSet = try DataSet.load(try DataSetResolver.resolve(data))
        guard case .labels(let labels)? = dataSet.y else { throw ValidationError("\(data): bench train needs class labels") }
        let train = dataSet.part(0), test = dataSet.part(1)
        let variants: [(String, EstimatorID, AdjointMethod)] = [
            ("exact, fixed-point adjoint", .exact, .fixedPoint), ("exact, GMRES adjoint", .exact, .gmres),
            ("UPG(5, 0.5)", UnrolledPhantomGradient.id, .auto),
        ]
        print("phantom bench train: \(cell.rawValue) d = \(hidden), \(data) (\(train.count) train), batch \(batch), \(epochs) epochs each; \(Stopwatch.blasLine)")
        print(pad("gradient", 30) + pad("backward/step", 15) + pad("total/step", 13) + pad("test acc", 10) + "unconverged adjoint")
        var backward: [Double] = [], total: [Double] = []
        for (label, estimator, adjoint) in variants {
            let configuration = try TrainingConfiguration(
                cell: cell, hidden: hidden, mlpWidth: 2 * hidden, estimator: estimator, steps: 5, damping: 0.5, adjoint: adjoint,
                adjointTolerance: adjointTolerance,
                solver: try FixedPointConfiguration(method: .anderson, stopping: .relative(1e-6), maxIterations: 100),
                epochs: epochs, batchSize: batch, optimizer: .adam, learningRate: 0.003, weightDecay: 0, seed: seed,
                saveEvery: epochs, maxNorm: 0.95)
            let trainer = Trainer(configuration: configuration, train: train, test: test, classes: (labels.max() ?? 0) + 1)
            var model = trainer.initialModel()
            var optimizer = configuration.makeOptimizer(for: model)
            var records: [EpochRecord] = []
            try trainer.run(model: &model, optimizer: &optimizer, startEpoch: 0) { record, _, _ in records.append(record) }
            let steps = Double(records.map(\.steps).reduce(0, +))
            let b = records.map(\.backwardSeconds).reduce(0, +) / steps
            let t = records.map { $0.backwardSeconds + $0.forwardSeconds }.reduce(0, +) / steps
            backward.append(b)
            total.append(t)
            print(pad(label, 30) + pad(String(format: "%.2f ms", 1000 * b), 15) + pad(String(format: "%.2f ms", 1000 * t), 13)
                  + pad(String(format: "%.3f", records.last?.testAccuracy ?? .nan), 10) + "\(records.map(\.unconvergedAdjoint).reduce(0, +))")
        }
        print(String(format: "backward speed-up of UPG(5, 0.5): %.2f× vs the fixed-point adjoint, %.2f× vs GMRES (the paper reports ≈ 1.7×)",
                     backward[0] / backward[2], backward[1] / backward[2]))
        print(String(format: "total step speed-up: %.2f× vs fixed-point, %.2f× vs GMRES", total[0] / total[2], total[1] / total[2]))
    }
}
