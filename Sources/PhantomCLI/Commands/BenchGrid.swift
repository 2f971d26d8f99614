import ArgumentParser
import Foundation
import PhantomBenchmarks

/// `phantom bench grid`: the (k, λ) grid engine against one NPG pass and against direct recomputation.
struct BenchGrid: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "grid",
        abstract: """
            Time the NPG (k, λ) grid engine, one NPG(K, λ) pass, direct per-cell recomputation, and the batched VJP against dgemm.
            """,
        discussion: "A random tanh cell with ‖W‖₂ = 0.9. Medians over --repeats runs after a warm-up."
    )

    static let defaults = GridBenchmark()
    @Option(help: "State dimension d.") var d: Int = defaults.stateDimension
    @Option(help: "Batch size B.") var batch: Int = defaults.batch
    @Option(help: "Input dimension n_in.") var inputs: Int = defaults.inputs
    @Option(help: "Largest k, K.") var k: Int = defaults.maxSteps
    @Option(help: "Number of λ values, evenly spaced in (0, 1].") var lambdas: Int = defaults.lambdaCount
    @Option(help: "Timed runs per figure (the median is reported).") var repeats: Int = defaults.repeats
    @Option(help: "Cells timed for direct recomputation (the per-cell median is scaled to the whole grid).")
    var directCells: Int = defaults.directCells

    var benchmark: GridBenchmark {
        var b = GridBenchmark()
        (b.stateDimension, b.batch, b.inputs, b.maxSteps) = (d, batch, inputs, k)
        (b.lambdaCount, b.repeats, b.directCells) = (lambdas, repeats, directCells)
        return b
    }

    func validate() throws { try benchmark.validate() }

    func run() throws {
        print(benchmark.headline)
        for line in benchmark.lines(try benchmark.run()) { print(line) }
    }
}
