import ArgumentParser
import Foundation
import PhantomBenchmarks

/// `phantom bench cell`: the mdeq cell's batched state VJP against dgemm.
struct BenchCell: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cell",
        abstract: "Time the batched state VJP of the mdeq cell (convolutions as im2col + GEMM) in GFLOP/s against dgemm.",
        discussion: """
            FLOPs are the two transposed convolutions' GEMMs; dgemm is a 512×512 product in the same run. \
            Medians over --repeats runs after a warm-up.
            """
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

    func validate() throws { try benchmark.validate() }

    func run() throws {
        let benchmark = try benchmark
        print(benchmark.headline)
        for line in benchmark.lines(try benchmark.run()) { print(line) }
    }
}
