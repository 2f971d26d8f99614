import Foundation
import PhantomAnalysis
import PhantomGradients
import PhantomLinearAlgebra
import PhantomModel

/// The (k, λ) grid engine against one NPG(K, λ) pass, against direct per-cell recomputation, and the batched
/// state VJP against dgemm of the same shape, on a random tanh cell with ‖W‖₂ = 0.9.
public struct GridBenchmark: Sendable {
    public var stateDimension = 256
    public var batch = 256
    public var inputs = 64
    public var maxSteps = 20
    public var lambdaCount = 10
    /// Timed runs per figure (the median is reported).
    public var repeats = 5
    /// Cells timed for direct recomputation (the per-cell median is scaled to the whole grid).
    public var directCells = 6
    /// Upper bound on every size option (the benchmark allocates B×d and d×d matrices).
    public static let maximumSize = 8192

    public init() {}

    /// - Throws: ``ConfigurationError`` for a size outside 1…``maximumSize`` (repeats and cells: 1…1000).
    public func validate() throws(ConfigurationError) {
        for (name, value, limit) in [
            ("d", stateDimension, Self.maximumSize), ("the batch size", batch, Self.maximumSize),
            ("n_in", inputs, Self.maximumSize), ("K", maxSteps, AnalysisConfiguration.maximumK),
            ("the number of λ values", lambdaCount, 1000), ("repeats", repeats, 1000),
            ("direct cells", directCells, 1000)
        ] where !(1...limit).contains(value) {
            throw ConfigurationError("\(name) must lie in 1…\(limit), got \(value)")
        }
    }

    public struct Report: Sendable {
        public var forwardConverged: Bool
        public var adjointConverged: Bool
        /// Seconds (medians).
        public var onePass: Double
        public var gridPerSample: Double
        public var gridWithBatch: Double
        public var grams: Double
        public var direct: Double
        /// GFLOP/s of the batched state VJP and of dgemm (B×d · d×d).
        public var vjpGFLOPS: Double
        public var gemmGFLOPS: Double
        /// One UPG(K, 0.5) pass (batch mean) and the UPG grid over every k ≤ K and every λ with per-sample metrics
        /// (factored) and batch metrics.
        public var upgPass: Double
        public var upgGrid: Double
    }

    public func run() throws -> Report {
        try validate()
        let (d, b, k) = (stateDimension, batch, maxSteps)
        var rng = SplitMix64(seed: 2021)
        func gaussian(_ r: Int, _ c: Int, _ s: Double) -> Matrix {
            Matrix(rows: r, columns: c, elements: (0..<(r * c)).map { _ in s * rng.nextGaussian() })
        }
        var w = gaussian(d, d, 1)
        BLAS.scal(0.9 / (try w.spectralNorm()), &w.elements)
        let cell = TanhCell(
            injectionWeight: gaussian(d, inputs, 1 / Double(inputs).squareRoot()),
            injectionBias: (0..<d).map { _ in 0.1 * rng.nextGaussian() }, cellWeight: w)
        let model = ImplicitModel(
            cell: cell,
            head: OutputHead(
                weight: gaussian(10, d, 1 / Double(d).squareRoot()),
                bias: [Double](repeating: 0, count: 10)))
        let x = gaussian(b, inputs, 1)
        let problem = GradientProblem(
            model: model, inputs: x, targets: .labels((0..<b).map { $0 % 10 }),
            solver: try FixedPointConfiguration(method: .anderson, stopping: .relative(1e-12), maxIterations: 300))
        let exact = ExactGradient(solver: try AdjointSolver(method: .auto)).estimate(problem, perSample: false)
        let wStar = exact.stateCotangents ?? problem.cotangents
        let lambdaValues = (1...lambdaCount).map { Double($0) / Double(lambdaCount) }
        let grid = try NPGGrid(maxSteps: k, lambdas: lambdaValues)
        let npg = try NeumannPhantomGradient(steps: k, damping: 0.5)

        let grams = (0..<b).map { ParameterGram.compute(problem.linearization, sample: $0) }
        let onePass = Stopwatch.median(repeats: repeats) { _ = npg.estimate(problem, perSample: false) }
        let gridSamples = Stopwatch.median(repeats: repeats) { _ = grid.evaluate(problem, exact: wStar, grams: grams, includeBatch: false) }
        let gridAll = Stopwatch.median(repeats: repeats) { _ = grid.evaluate(problem, exact: wStar, grams: grams, includeBatch: true) }
        let gramTime = Stopwatch.median(repeats: repeats) { _ = (0..<b).map { ParameterGram.compute(problem.linearization, sample: $0) } }
        // Direct: each cell's NPG(k, λ) computed per sample in R^p and compared with the per-sample exact gradient.
        let exactRows = problem.perSampleGradients(wStar)
        let cells = Array((0..<(k * lambdaCount)).shuffled(using: &rng).prefix(directCells))
        var perCell: [Double] = []
        for cellIndex in cells {
            let estimator = try NeumannPhantomGradient(steps: cellIndex % k + 1, damping: lambdaValues[cellIndex / k])
            perCell.append(
                Stopwatch.seconds {
                    let rows = estimator.estimate(problem, perSample: true).perSample!
                    for i in 0..<b { _ = GradientMetrics.compare(rows.row(i), exactRows.row(i)) }
                })
        }
        perCell.sort()
        let direct = perCell[perCell.count / 2] * Double(k * lambdaCount)

        // UPG: one pass against the whole grid (one unroll per λ, one backward sweep per k, factored per-sample metrics).
        let upgPass = Stopwatch.median(repeats: repeats) {
            _ = try? UnrolledPhantomGradient(steps: k, damping: 0.5).estimate(problem, perSample: false)
        }
        let upgGrid = try UPGGrid(maxSteps: k, lambdas: lambdaValues)
        let upgGridTime = Stopwatch.median(repeats: max(1, repeats / 2)) { _ = upgGrid.evaluate(problem, exact: exact, perSample: true) }

        // Batched VJP throughput vs dgemm of the same shape (B×d by d×d).
        let v = gaussian(b, d, 1)
        let flops = 2.0 * Double(b) * Double(d) * Double(d)
        let vjp = Stopwatch.median(repeats: repeats * 4) { _ = problem.linearization.stateVJP(v) }
        let gemm = Stopwatch.median(repeats: repeats * 4) { _ = BLAS.gemm(v, w) }
        return Report(
            forwardConverged: problem.forward.allConverged, adjointConverged: exact.isReliable, onePass: onePass,
            gridPerSample: gridSamples, gridWithBatch: gridAll, grams: gramTime, direct: direct,
            vjpGFLOPS: flops / vjp / 1e9, gemmGFLOPS: flops / gemm / 1e9, upgPass: upgPass, upgGrid: upgGridTime)
    }
}
