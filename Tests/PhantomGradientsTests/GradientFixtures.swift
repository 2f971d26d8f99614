import PhantomLinearAlgebra
import PhantomModel
import PhantomGradients

/// Small models and problems for the estimator tests.
enum GradientFixtures {
    static func gaussian(_ rows: Int, _ columns: Int, scale: Double = 1, _ rng: inout SplitMix64) -> Matrix {
        Matrix(rows: rows, columns: columns, elements: (0..<(rows * columns)).map { _ in scale * rng.nextGaussian() })
    }

    static func tanhModel(d: Int = 6, n: Int = 3, c: Int = 3, norm: Double = 0.8, seed: UInt64 = 1) -> ImplicitModel {
        var rng = SplitMix64(seed: seed)
        var w = gaussian(d, d, &rng)
        BLAS.scal(norm / ((try? w.spectralNorm()) ?? 1), &w.elements)
        let cell = TanhCell(injectionWeight: gaussian(d, n, scale: 0.7, &rng),
                            injectionBias: (0..<d).map { _ in 0.1 * rng.nextGaussian() }, cellWeight: w)
        return ImplicitModel(cell: cell, head: OutputHead(weight: gaussian(c, d, &rng), bias: (0..<c).map { _ in 0.1 * rng.nextGaussian() }))
    }

    static func resmlpModel(d: Int = 6, n: Int = 3, m: Int = 8, c: Int = 3, seed: UInt64 = 2) -> ImplicitModel {
        var rng = SplitMix64(seed: seed)
        var cell = ResMLPCell(stateDimension: d, inputDimension: n, hiddenWidth: m)
        cell.linear1Weight = gaussian(m, d, scale: 0.5, &rng)
        cell.linear1Bias = (0..<m).map { _ in 0.1 * rng.nextGaussian() }
        cell.linear2Weight = gaussian(d, m, scale: 0.3, &rng)
        cell.linear2Bias = (0..<d).map { _ in 0.1 * rng.nextGaussian() }
        cell.normWeight = (0..<d).map { _ in 0.6 + 0.1 * rng.nextGaussian() }
        cell.normBias = (0..<d).map { _ in 0.1 * rng.nextGaussian() }
        cell.injectionWeight = gaussian(d, n, &rng)
        cell.injectionBias = (0..<d).map { _ in 0.5 * rng.nextGaussian() }
        return ImplicitModel(cell: cell, head: OutputHead(weight: gaussian(c, d, &rng), bias: (0..<c).map { _ in 0.1 * rng.nextGaussian() }))
    }

    enum ModelCase: String, CaseIterable, Sendable, CustomStringConvertible {
        case tanh, resmlp
        var description: String { rawValue }
        var model: ImplicitModel { self == .tanh ? tanhModel() : resmlpModel() }
    }

    static func inputs(_ model: ImplicitModel, batch: Int = 4, seed: UInt64 = 3) -> (Matrix, Targets) {
        var rng = SplitMix64(seed: seed)
        let x = gaussian(batch, model.inputDimension, &rng)
        return (x, .labels((0..<batch).map { $0 % model.outputDimension }))
    }

    static func tightSolver() -> FixedPointConfiguration {
        try! FixedPointConfiguration(method: .anderson, stopping: .absolute(1e-13), maxIterations: 1000)
    }

    static func problem(_ model: ImplicitModel, batch: Int = 4, solver: FixedPointConfiguration = tightSolver()) -> GradientProblem {
        let (x, y) = inputs(model, batch: batch)
        return GradientProblem(model: model, inputs: x, targets: y, solver: solver)
    }

    static func exact(_ problem: GradientProblem, _ method: AdjointMethod = .lu, perSample: Bool = true) -> GradientEstimate {
        ExactGradient(solver: try! AdjointSolver(method: method, tolerance: 1e-12)).estimate(problem, perSample: perSample)
    }
}
