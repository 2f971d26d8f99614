import PhantomAnalysis
import PhantomGradients
import PhantomLinearAlgebra
import PhantomModel
import PhantomTestSupport

enum AnalysisFixtures {
    static func gaussian(_ rows: Int, _ columns: Int, scale: Double = 1, _ rng: inout SplitMix64) -> Matrix {
        gaussianMatrix(rows, columns, scale: scale, &rng)
    }

    /// A random tanh model with ‖W‖₂ = norm; p = d(n + d + 1) ≥ d so M has full row rank.
    static func tanh(d: Int = 6, n: Int = 4, norm: Double = 0.9, seed: UInt64 = 1) -> ImplicitModel {
        RandomModels.tanh(d: d, n: n, c: 3, norm: norm, injectionScale: 0.8, biasScale: 0.2, headBias: [0.1, -0.1, 0], seed: seed)
    }

    static func resmlp(d: Int = 6, n: Int = 4, m: Int = 8, seed: UInt64 = 2) -> ImplicitModel {
        RandomModels.resmlp(d: d, n: n, m: m, c: 3, normCenter: 0.7, headBias: [0.1, -0.1, 0], seed: seed)
    }

    static func inputs(_ model: ImplicitModel, batch: Int, seed: UInt64 = 5) -> (Matrix, Targets) {
        var rng = SplitMix64(seed: seed)
        return (gaussian(batch, model.inputDimension, &rng), .labels((0..<batch).map { $0 % 3 }))
    }

    static let solver = try! FixedPointConfiguration(method: .anderson, stopping: .absolute(1e-13), maxIterations: 1000)

    static func configuration(ks: [Int] = Array(1...6), lambdas: [Double] = [0.3, 0.7, 1.0]) -> AnalysisConfiguration {
        try! AnalysisConfiguration(
            ks: ks, lambdas: lambdas, estimators: [.upg, .npg, .jfb, .rbp],
            adjoint: try! AdjointSolver(method: .lu, tolerance: 1e-11))
    }

    static func analyze(_ model: ImplicitModel, batch: Int = 6, configuration: AnalysisConfiguration = configuration()) -> AnalysisResult {
        let (x, y) = inputs(model, batch: batch)
        return try! Analyzer(configuration).analyze(model: model, inputs: x, targets: y, solver: solver)
    }
}
