import ArgumentParser
import Foundation
import PhantomGradients
import PhantomLinearAlgebra
import PhantomModel

/// `phantom bench grid`: the (k, λ) grid engine against one NPG pass and against direct recomputation.
struct BenchGrid: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "grid",
        abstract: "Time the NPG (k, λ) grid engine, one NPG(K, λ) pass, direct per-cell recomputation, and the batched VJP against dgemm.",
        discussion: "A random tanh cell with ‖W‖₂ = 0.9. Medians over --repeats runs after a warm-up."
    )

    @Option(help: "State dimension d.") var d: Int = 256
    @Option(help: "Batch size B.") var batch: Int = 256
    @Option(help: "Input dimension n_in.") var inputs: Int = 64
    @Option(help: "Largest k, K.") var k: Int = 20
    @Option(help: "Number of λ values, evenly spaced in (0, 1].") var lambdas: Int = 10
    @Option(help: "Timed runs per figure (the median is reported).") var repeats: Int = 5
    @Option(help: "Cells timed for direct recomputation (the per-cell median is scaled to the whole grid).") var directCells: Int = 6

    func validate() throws {
        for (name, value) in [("--d", d), ("--batch", batch), ("--inputs", inputs), ("--k", k), ("--lambdas", lambdas),
                              ("--repeats", repeats), ("--direct-cells", directCells)] where value < 1 {
            throw ValidationError("\(name) must be at least 1, got \(value)")
        }
    }

    func run() throws {
        var rng = SplitMix64(seed: 2021)
        func gaussian(_ r: Int, _ c: Int, _ s: Double) -> Matrix {
            Matrix(rows: r, columns: c, elements: (0..<(r * c)).map { _ in s * rng.nextGaussian() })
        }
        var w = gaussian(d, d, 1)
        BLAS.scal(0.9 / (try w.spectralNorm()), &w.elements)
        let cell = TanhCell(injectionWeight: gaussian(d, inputs, 1 / Double(inputs).squareRoot()),
                            injectionBias: (0..<d).map { _ in 0.1 * rng.nextGaussian() }, cellWeight: w)
        let model = ImplicitModel(cell: cell, head: OutputHead(weight: gaussian(10, d, 1 / Double(d).squareRoot()),
                                                               bias: [Double](repeating: 0, count: 10)))
        let x = gaussian(batch, inputs, 1)
        let problem = GradientProblem(model: model, inputs: x, targets: .labels((0..<batch).map { $0 % 10 }),
                                      solver: try FixedPointConfiguration(method: .anderson, stopping: .relative(1e-12), maxIterations: 300))
        let exact = ExactGradient(solver: try AdjointSolver(method: .auto)).estimate(problem, perSample: false)
        let wStar = exact.stateCotangents ?? problem.cotangents
        let lambdaValues = (1...lambdas).map { Double($0) / Double(lambdas) }
        let grid = try NPGGrid(maxSteps: k, lambdas: lambdaValues)
        let npg = try NeumannPhantomGradient(steps: k, damping: 0.5)

        print("phantom bench grid: tanh cell, d = \(d), B = \(batch), n_in = \(inputs), K = \(k), \(lambdas) λ values; \(Stopwatch.blasLine)")
        print("forward: \(problem.forward.allConverged ? "all converged" : "NOT all converged"); exact adjoint: \(exact.isReliable ? "converged" : "NOT converged")")

        let grams = (0..<batch).map { ParameterGram.compute(problem.linearization, sample: $0) }
        let onePass = Stopwatch.median(repeats: repeats) { _ = npg.estimate(problem, perSample: false) }
        let gridSamples = Stopwatch.median(repeats: repeats) {
            _ = grid.evaluate(problem, exact: wStar, grams: grams, includeBatch: false)
        }
        let gridAll = Stopwatch.median(repeats: repeats) {
            _ = grid.evaluate(problem, exact: wStar, grams: grams, includeBatch: true)
        }
        let gramTime = Stopwatch.median(repeats: repeats) {
            _ = (0..<batch).map { ParameterGram.compute(problem.linearization, sample: $0) }
        }
        // Direct: each cell's NPG(k, λ) computed per sample in R^p and compared with the per-sample exact gradient.
        let exactRows = problem.perSampleGradients(wStar)
        let cells = Array((0..<(k * lambdas)).shuffled(using: &rng).prefix(directCells))
        var perCell: [Double] = []
        for cellIndex in cells {
            let steps = cellIndex % k + 1, lambda = lambdaValues[cellIndex / k]
            let estimator = try NeumannPhantomGradient(steps: steps, damping: lambda)
            perCell.append(Stopwatch.seconds {
                let rows = estimator.estimate(problem, perSample: true).perSample!
                for i in 0..<batch { _ = GradientMetrics.compare(rows.row(i), exactRows.row(i)) }
            })
        }
        perCell.sort()
        let direct = perCell[perCell.count / 2] * Double(k * lambdas)

        // Batched VJP throughput vs dgemm of the same shape (B×d by d×d).
        let v = gaussian(batch, d, 1)
        let flops = 2.0 * Double(batch) * Double(d) * Double(d)
        let vjp = Stopwatch.median(repeats: repeats * 4) { _ = problem.linearization.stateVJP(v) }
        let gemm = Stopwatch.median(repeats: repeats * 4) { _ = BLAS.gemm(v, w) }

        func line(_ label: String, _ seconds: Double) -> String { pad(label, 44) + String(format: "%9.4f s", seconds) }
        print(line("one NPG(\(k), 0.5) pass (batch mean)", onePass))
        print(line("grid engine, per sample (\(k)×\(lambdas) cells)", gridSamples))
        print(line("grid engine, per sample + batch mean", gridAll))
        print(line("  of which not timed: Grams M Mᵀ (closed form)", gramTime))
        print(line("direct per-cell recomputation (scaled)", direct))
        print(String(format: "ratios: grid (per sample) / one pass = %.2f (target ≤ 1.5); grid (+ batch) / one pass = %.2f", gridSamples / onePass, gridAll / onePass))
        print(String(format: "        direct / grid (per sample) = %.0f, direct / grid (+ batch) = %.0f (target ≥ 20)", direct / gridSamples, direct / gridAll))
        print(String(format: "batched state VJP %.1f GFLOP/s, dgemm (B×d·d×d) %.1f GFLOP/s: ratio %.2f (target ≥ 0.5)",
                     flops / vjp / 1e9, flops / gemm / 1e9, gemm / vjp))
    }
}
