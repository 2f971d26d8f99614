import ArgumentParser
import Foundation
import PhantomBenchmarks
import PhantomModel

/// `phantom bench train`: the paper's speed claim, measured — exact vs UPG backward passes in training.
struct BenchTrain: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train the same model with the exact gradient (fixed-point and GMRES adjoints) and with UPG(5, 0.5); compare step times and accuracy.",
        discussion: "The exact gradient's fixed-point adjoint stops at relative residual --adjoint-tolerance, as TorchDEQ does (1e-6)."
    )

    static let defaults = TrainingBenchmark()
    @Option(help: "Cell: tanh, resmlp or mdeq (mdeq with phantom train's default channels, expansion and groups).") var cell: CellKind = defaults.cell
    @Option(help: "State dimension d.") var hidden: Int = defaults.hidden
    @Option(help: "Data set (bundled name or HDF5 file).") var data: String = defaults.data
    @Option(help: "Epochs per estimator.") var epochs: Int = defaults.epochs
    @Option(help: "Minibatch size.") var batch: Int = defaults.batch
    @Option(help: "Relative tolerance of the exact gradient's adjoint solves.") var adjointTolerance: Double = defaults.adjointTolerance
    @Option(help: "Random seed (the same initial model for every estimator).") var seed: UInt64 = defaults.seed

    var benchmark: TrainingBenchmark {
        var b = TrainingBenchmark()
        (b.cell, b.hidden, b.data, b.epochs, b.batch, b.adjointTolerance, b.seed) = (cell, hidden, data, epochs, batch, adjointTolerance, seed)
        return b
    }

    func validate() throws { try benchmark.validate() }

    func run() throws {
        print("phantom bench train: \(cell.rawValue) d = \(hidden), \(data), batch \(batch), \(epochs) epochs each; \(Stopwatch.blasLine)")
        let r = try benchmark.run()
        print(pad("gradient", 30) + pad("backward/step", 15) + pad("total/step", 13) + pad("test acc", 10) + "unconverged adjoint")
        for row in r.rows {
            print(pad(row.label, 30) + pad(String(format: "%.2f ms", 1000 * row.backward), 15) + pad(String(format: "%.2f ms", 1000 * row.total), 13)
                  + pad(String(format: "%.3f", row.testAccuracy), 10) + "\(row.unconvergedAdjoint)")
        }
        let (fixed, gmres, upg) = (r.rows[0], r.rows[1], r.rows[2])
        print(String(format: "backward speed-up of UPG(5, 0.5): %.2f× vs the fixed-point adjoint, %.2f× vs GMRES (the paper reports ≈ 1.7×)",
                     fixed.backward / upg.backward, gmres.backward / upg.backward))
        print(String(format: "total step speed-up: %.2f× vs fixed-point, %.2f× vs GMRES", fixed.total / upg.total, gmres.total / upg.total))
    }
}
