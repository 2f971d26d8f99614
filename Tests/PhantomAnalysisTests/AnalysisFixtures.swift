import PhantomAnalysis
import PhantomGradients
import PhantomLinearAlgebra
import PhantomModel

enum AnalysisFixtures {
    static func gaussian(_ rows: Int, _ columns: Int, scale: Double = 1, _ rng: inout SplitMix64) -> Matrix {
        Matrix(rows: rows, columns: columns, elements: (0..<(rows * columns)).map { _ in scale * rng.nextGaussian() })
    }

    /// A random tanh model with ‖W‖₂ = norm; p = d(n + d + 1) ≥ d so M has full row rank.
    static func tanh(d: Int = 6, n: Int = 4, norm: Double = 0.9, seed: UInt64 = 1) -> ImplicitModel {
        var rng = SplitMix64(seed: seed)
        var w = gaussian(d, d, &rng)
        BLAS.scal(norm / ((try? w.spectralNorm()) ?? 1), &w.elements)
        let cell = TanhCell(injectionWeight: gaussian(d, n, scale: 0.8, &rng),
                            injectionBias: (0..<d).map { _ in 0.2 * rng.nextGaussian() }, cellWeight: w)
        return ImplicitModel(cell: cell, head: OutputHead(weight: gaussian(3, d, &rng), bias: [0.1, -0.1, 0]))
    }

    static func resmlp(d: Int = 6, n: Int = 4, m: Int = 8, seed: UInt64 = 2) -> ImplicitModel {
        var rng = SplitMix64(seed: seed)
        var cell = ResMLPCell(stateDimension: d, inputDimension: n, hiddenWidth: m)
        cell.linear1Weight = gaussian(m, d, scale: 0.5, &rng)
        cell.linear1Bias = (0..<m).map { _ in 0.1 * rng.nextGaussian() }
        cell.linear2Weight = gaussian(d, m, scale: 0.3, &rng)
        cell.linear2Bias = (0..<d).map { _ in 0.1 * rng.nextGaussian() }
        cell.normWeight = (0..<d).map { _ in 0.7 + 0.1 * rng.nextGaussian() }
        cell.normBias = (0..<d).map { _ in 0.1 * rng.nextGaussian() }
        cell.injectionWeight = gaussian(d, n, &rng)
        cell.injectionBias = (0..<d).map { _ in 0.5 * rng.nextGaussian() }
        return ImplicitModel(cell: cell, head: OutputHead(weight: gaussian(3, d, &rng), bias: [0.1, -0.1, 0]))
    }

    static func inputs(_ model: ImplicitModel, batch: Int, seed: UInt64 = 5) -> (Matrix, Targets) {
        var rng = SplitMix64(seed: seed)
        return (gaussian(batch, model.inputDimension, &rng), .labels((0..<batch).map { $0 % 3 }))
    }

    static let solver = try! FixedPointConfiguration(method: .anderson, stopping: .absolute(1e-13), maxIterations: 1000)

    static func configuration(ks: [Int] = Array(1...6), lambdas: [Double] = [0.3, 0.7, 1.0]) -> AnalysisConfiguration {
        try! AnalysisConfiguration(ks: ks, lambdas: lambdas, estimators: EstimatorKind.allCases,
                                   adjoint: try! AdjointSolver(method: .lu, tolerance: 1e-11))
    }

    static func analyze(_ model: ImplicitModel, batch: Int = 6, configuration: AnalysisConfiguration = configuration()) -> AnalysisResult {
        let (x, y) = inputs(model, batch: batch)
        return Analyzer(configuration).analyze(model: model, inputs: x, targets: y, solver: solver)
    }
}
