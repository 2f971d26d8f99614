import ArgumentParser
import Foundation
import PhantomBenchmarks
import PhantomModel

/// `phantom bench`: performance measurements (run them from a release build). The benchmarks live in
/// PhantomBenchmarks; these commands set their options and print their reports.
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure the toolkit's performance (use a release build: swift build -c release).",
        subcommands: [BenchGrid.self, BenchTrain.self, BenchCell.self, BenchAnalysis.self]
    )
}

/// A `bench` subcommand: options that make a library ``Benchmark``, checked by it, run and printed.
protocol BenchmarkCommand: ParsableCommand {
    associatedtype Measured: Benchmark
    var benchmark: Measured { get throws }
}

extension BenchmarkCommand {
    func validate() throws { try benchmark.validate() }

    func run() throws {
        let benchmark = try benchmark
        print(benchmark.headline)
        for line in benchmark.lines(try benchmark.run()) { print(line) }
    }
}

/// `phantom bench grid`: the (k, λ) grid engine against one NPG pass and against direct recomputation.
struct BenchGrid: BenchmarkCommand {
    static let configuration = CommandConfiguration(
        commandName: "grid",
        abstract: "Time the NPG (k, λ) grid engine, one NPG(K, λ) pass, direct per-cell recomputation, the batched VJP against dgemm.",
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
}

/// `phantom bench train`: the paper's speed claim, measured — exact vs UPG backward passes in training.
struct BenchTrain: BenchmarkCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train one model with the exact gradient (fixed-point, GMRES adjoints) and UPG(5, 0.5); compare steps and accuracy.",
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
}

/// `phantom bench cell`: the mdeq cell's batched state VJP against dgemm.
struct BenchCell: BenchmarkCommand {
    static let configuration = CommandConfiguration(
        commandName: "cell",
        abstract: "Time the batched state VJP of the mdeq cell (convolutions as im2col + GEMM) in GFLOP/s against dgemm.",
        discussion: "FLOPs: the two transposed convolutions' GEMMs; dgemm: a 512×512 product in the same run. Medians after a warm-up."
    )

    static let defaults = CellBenchmark()
    @Option(help: "Channels C.") var channels: Int = defaults.channels
    @Option(help: "Expansion E.") var expansion: Int = defaults.expansion
    @Option(help: "GroupNorm groups G (dividing C and E·C).") var groups: Int = defaults.groups
    @Option(help: "Image sizes H = W, comma-separated.") var sizes: String = defaults.sizes.map(String.init).joined(separator: ",")
    @Option(help: "Batch size B.") var batch: Int = defaults.batch
    @Option(help: "Timed runs per figure (the median is reported).") var repeats: Int = defaults.repeats
    var benchmark: CellBenchmark {
        get throws {
            var b = CellBenchmark()
            (b.channels, b.expansion, b.groups, b.batch, b.repeats) = (channels, expansion, groups, batch, repeats)
            b.sizes = try CellBenchmark.sizes(parsing: sizes)
            return b
        }
    }
}

/// `phantom bench analysis`: the analysis of one checkpoint stage by stage, against the FLOP model and dgemm.
struct BenchAnalysis: BenchmarkCommand {
    static let configuration = CommandConfiguration(
        commandName: "analysis", abstract: "Time each analysis stage (no certificates) against its FLOPs.")
    @Argument(help: "The checkpoint.") var checkpoint: String
    @Option(help: "Data file or bundled name (default: the checkpoint's).") var data: String?
    @Option(help: "Samples.") var samples = AnalysisBenchmark().samples
    @Option(help: "Estimators.") var estimators = ListArgument<EstimatorSyntax>(AnalysisBenchmark().estimators)
    @Option(help: "Timed runs (the median is reported).") var repeats = AnalysisBenchmark().repeats
    var benchmark: AnalysisBenchmark { AnalysisBenchmark(checkpoint, data, samples, estimators.values, repeats: repeats) }
}
