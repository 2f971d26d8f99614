import ArgumentParser
import Foundation
import PhantomBenchmarks
import PhantomModel

/// `phantom bench train`: the paper's speed claim, measured — exact vs UPG backward passes in training.
struct BenchTrain: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: """
            Train the same model with the exact gradient (fixed-point and GMRES adjoints) and with UPG(5, 0.5); \
            compare step times and accuracy.
            """,
        discussion: "The exact gradient's fixed-point adjoint stops at relative residual --adjoint-tolerance, as TorchDEQ does (1e-6)."
    )

    static let defaults = TrainingBenchmark()
    @Option(help: "Cell (mdeq with phantom train's default channels, expansion and groups).") var cell: CellKind = defaults.cell
    @Option(help: "State dimension d.") var hidden: Int = defaults.hidden
    @Option(help: "Data set (bundled name or HDF5 file).") var data: String = defaults.data
    @Option(help: "Epochs per estimator.") var epochs: Int = defaults.epochs
    @Option(help: "Minibatch size.") var batch: Int = defaults.batch
    @Option(help: "Relative tolerance of the exact gradient's adjoint solves.") var adjointTolerance: Double = defaults.adjointTolerance
    @Option(help: "Random seed (the same initial model for every estimator).") var seed: UInt64 = defaults.seed

    var benchmark: TrainingBenchmark {
        var b = TrainingBenchmark()
        (b.cell, b.hidden, b.data, b.epochs) = (cell, hidden, data, epochs)
        (b.batch, b.adjointTolerance, b.seed) = (batch, adjointTolerance, seed)
        return b
    }

    func validate() throws { try benchmark.validate() }

    func run() throws {
        print(benchmark.headline)
        for line in benchmark.lines(try benchmark.run()) { print(line) }
    }
}
