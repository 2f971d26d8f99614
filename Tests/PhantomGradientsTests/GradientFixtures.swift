import PhantomGradients
import PhantomLinearAlgebra
import PhantomModel
import PhantomTestSupport

/// Small models and problems for the estimator tests.
enum GradientFixtures {
    static func gaussian(_ rows: Int, _ columns: Int, scale: Double = 1, _ rng: inout SplitMix64) -> Matrix {
        gaussianMatrix(rows, columns, scale: scale, &rng)
    }

    static func tanhModel(d: Int = 6, n: Int = 3, c: Int = 3, norm: Double = 0.8, seed: UInt64 = 1) -> ImplicitModel {
        RandomModels.tanh(d: d, n: n, c: c, norm: norm, injectionScale: 0.7, biasScale: 0.1, seed: seed)
    }

    static func resmlpModel(d: Int = 6, n: Int = 3, m: Int = 8, c: Int = 3, seed: UInt64 = 2) -> ImplicitModel {
        RandomModels.resmlp(d: d, n: n, m: m, c: c, normCenter: 0.6, seed: seed)
    }

    /// A small mdeq model: C = 2, C_in = 1, 3×2 images, E = 2, G = 1 (d = 12).
    static func mdeqModel(c: Int = 3, seed: UInt64 = 4) -> ImplicitModel {
        RandomModels.mdeq(MDEQCell.Geometry(channels: 2, inChannels: 1, height: 3, width: 2, expansion: 2, groups: 1), c: c, seed: seed)
    }

    enum ModelCase: String, CaseIterable, Sendable, CustomStringConvertible {
        case tanh, resmlp, mdeq
        /// Graph cells that are not built in (``TestGraphs``).
        case gated, attention, monotone, twoResolution, gatedWithHead
        var description: String { rawValue }
        var model: ImplicitModel {
            switch self {
            case .tanh: tanhModel()
            case .resmlp: resmlpModel()
            case .mdeq: mdeqModel()
            case .gated: TestGraphs.gatedModel()
            case .attention: TestGraphs.attentionModel()
            case .monotone: TestGraphs.monotoneModel()
            case .twoResolution: TestGraphs.twoResolutionModel()
            case .gatedWithHead: TestGraphs.gatedWithHeadModel()
            }
        }
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
