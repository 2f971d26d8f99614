import ArgumentParser
import Foundation
import PhantomBenchmarks

/// `phantom bench cell`: the mdeq cell's batched state VJP against dgemm.
struct BenchCell: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cell",
        abstract: "Time the batched state VJP of the mdeq cell (convolutions as im2col + GEMM) in GFLOP/s against dgemm.",
        discussion: "FLOPs are the two transposed convolutions' GEMMs; dgemm is a 512×512 product in the same run. Medians over --repeats runs after a warm-up."
    )

    static let defaults = CellBenchmark()
    @Option(help: "Channels C.") var channels: Int = defaults.channels
    @Option(help: "Expansion E.") var expansion: Int = defaults.expansion
    @Option(help: "Image sizes H = W, comma-separated.") var sizes: String = defaults.sizes.map(String.init).joined(separator: ",")
    @Option(help: "Batch size B.") var batch: Int = defaults.batch
    @Option(help: "Timed runs per figure (the median is reported).") var repeats: Int = defaults.repeats

    var benchmark: CellBenchmark {
        get throws {
            var b = CellBenchmark()
            let parsed = sizes.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard parsed.allSatisfy({ $0 != nil }) else { throw ValidationError("--sizes: '\(sizes)' is not a list of integers") }
            (b.channels, b.expansion, b.sizes, b.batch, b.repeats) = (channels, expansion, parsed.map { $0! }, batch, repeats)
            return b
        }
    }

    func validate() throws { try benchmark.validate() }

    func run() throws {
        print("phantom bench cell: mdeq C = \(channels), E = \(expansion), B = \(batch); \(Stopwatch.blasLine)")
        let r = try benchmark.run()
        print(String(format: "dgemm 512×512·512×512: %.1f GFLOP/s", r.gemmGFLOPS))
        for row in r.rows {
            print(String(format: "%2d×%-2d (d = %6d): state VJP %.4f s, %.1f GFLOP/s, ratio to dgemm %.2f (target ≥ 0.3)",
                         row.size, row.size, row.stateDimension, row.seconds, row.gflops, row.gflops / r.gemmGFLOPS))
        }
    }
}
