import ArgumentParser
import Foundation
import PhantomBenchmarks

/// `phantom bench grid`: the (k, λ) grid engine against one NPG pass and against direct recomputation.
struct BenchGrid: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "grid",
        abstract: "Time the NPG (k, λ) grid engine, one NPG(K, λ) pass, direct per-cell recomputation, and the batched VJP against dgemm.",
        discussion: "A random tanh cell with ‖W‖₂ = 0.9. Medians over --repeats runs after a warm-up."
    )

    static let defaults = GridBenchmark()
    @Option(help: "State dimension d.") var d: Int = defaults.stateDimension
    @Option(help: "Batch size B.") var batch: Int = defaults.batch
    @Option(help: "Input dimension n_in.") var inputs: Int = defaults.inputs
    @Option(help: "Largest k, K.") var k: Int = defaults.maxSteps
    @Option(help: "Number of λ values, evenly spaced in (0, 1].") var lambdas: Int = defaults.lambdaCount
    @Option(help: "Timed runs per figure (the median is reported).") var repeats: Int = defaults.repeats
    @Option(help: "Cells timed for direct recomputation (the per-cell median is scaled to the whole grid).") var directCells: Int = defaults.directCells

    var benchmark: GridBenchmark {
        var b = GridBenchmark()
        (b.stateDimension, b.batch, b.inputs, b.maxSteps, b.lambdaCount, b.repeats, b.directCells) = (d, batch, inputs, k, lambdas, repeats, directCells)
        return b
    }

    func validate() throws { try benchmark.validate() }

    func run() throws {
        print("phantom bench grid: tanh cell, d = \(d), B = \(batch), n_in = \(inputs), K = \(k), \(lambdas) λ values; \(Stopwatch.blasLine)")
        let r = try benchmark.run()
        print("forward: \(r.forwardConverged ? "all converged" : "NOT all converged"); exact adjoint: \(r.adjointConverged ? "converged" : "NOT converged")")
        func line(_ label: String, _ seconds: Double) -> String { pad(label, 44) + String(format: "%9.4f s", seconds) }
        print(line("one NPG(\(k), 0.5) pass (batch mean)", r.onePass))
        print(line("grid engine, per sample (\(k)×\(lambdas) cells)", r.gridPerSample))
        print(line("grid engine, per sample + batch mean", r.gridWithBatch))
        print(line("  of which not timed: Grams M Mᵀ (closed form)", r.grams))
        print(line("direct per-cell recomputation (scaled)", r.direct))
        print(String(format: "ratios: grid (per sample) / one pass = %.2f (target ≤ 1.5); grid (+ batch) / one pass = %.2f", r.gridPerSample / r.onePass, r.gridWithBatch / r.onePass))
        print(String(format: "        direct / grid (per sample) = %.0f, direct / grid (+ batch) = %.0f (target ≥ 20)", r.direct / r.gridPerSample, r.direct / r.gridWithBatch))
        print(line("one UPG(\(k), 0.5) pass (batch mean)", r.upgPass))
        print(line("UPG grid (\(k)×\(lambdas) cells, per sample + batch)", r.upgGrid))
        print(String(format: "        UPG grid / one UPG pass = %.1f (target ≤ 3)", r.upgGrid / r.upgPass))
        print(String(format: "batched state VJP %.1f GFLOP/s, dgemm (B×d·d×d) %.1f GFLOP/s: ratio %.2f (target ≥ 0.5)",
                     r.vjpGFLOPS, r.gemmGFLOPS, r.vjpGFLOPS / r.gemmGFLOPS))
    }
}
