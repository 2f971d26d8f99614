import Foundation
import PhantomAnalysis
import PhantomGradients
import PhantomLinearAlgebra
import PhantomModel
import PhantomPlots
import PhantomResults
import PhantomTestSupport
import Testing

/// An estimator the toolkit does not ship, defined here and nowhere else: half the JFB gradient, ĝ = ½ Mᵀg
/// (= NPG(1, ½)). Its residual operator is E = −Mᵀ(½I + ½Jᵀ), the Neumann family's with P = ½(J + I).
struct HalfJacobianFreeGradient: GridEstimator {
    static let id = EstimatorID("jfb-half")
    static let summary = "half the Jacobian-free gradient, ½Mᵀg"
    static let axes = EstimatorAxes.none

    init(steps k: Int, damping lambda: Double, training: Bool = false) throws(ConfigurationError) {}
    var label: String { "JFB/2" }
    func estimate(_ problem: GradientProblem, perSample: Bool) -> GradientEstimate {
        var a = problem.cotangents
        BLAS.scal(0.5, &a.elements)
        return GradientEstimate(stateCotangents: a, problem: problem, perSample: perSample)
    }
    static func measure(_ m: GridMeasurement) throws -> MeasuredGrid {
        m.reading(try m.neumannGrid(lambdas: [0.5]), lambda: { _ in 0 }, k: { _ in 1 })
    }
    /// P = ½(J + I) = B at λ = ½: declared once, certified by every route.
    static func residual(k: Int, lambda: Double) -> ResidualOperator? { .neumann(.damped(0.5), power: 1) }
}

@Suite("A new estimator type, registered in one file")
struct NewEstimatorTests {
    @Test("appears in the analysis, the results file and the figures, with values that match a direct computation")
    func newEstimatorFlowsThrough() throws {
        let model = RandomModels.tanh(d: 5, n: 3, c: 2, norm: 0.6, injectionScale: 0.7, biasScale: 0.1, seed: 11)
        var rng = SplitMix64(seed: 12)
        let x = gaussianMatrix(8, 3, &rng)
        let y = Targets.labels((0..<8).map { $0 % 2 })
        let solver = try FixedPointConfiguration(stopping: .relative(1e-13), maxIterations: 500)
        let configuration = try AnalysisConfiguration(
            ks: [1, 3], lambdas: [0.5, 1.0],
            estimators: [
                JacobianFreeGradient.family, HalfJacobianFreeGradient.family,
                DampedJacobianFreeGradient.family
            ],
            adjoint: try AdjointSolver(method: .lu))
        let result = try Analyzer(configuration).analyze(model: model, inputs: x, targets: y, solver: solver)
        #expect(result.estimators.map(\.rawValue) == ["jfb", "jfb-half", "jfb-damped"])

        // Against a direct computation of the estimate and the exact gradient, sample by sample.
        let problem = GradientProblem(model: model, inputs: x, targets: y, solver: solver)
        let half = try HalfJacobianFreeGradient(steps: 1, damping: 1).estimate(problem, perSample: true).perSample!
        let exact = ExactGradient(solver: try AdjointSolver(method: .lu)).estimate(problem, perSample: true).perSample!
        for s in 0..<8 {
            let direct = GradientMetrics.compare(half.row(s), exact.row(s))
            for l in 0..<2 {
                for k in 0..<2 {
                    #expect(abs(result.metrics.cosine[1, l, k, s] - direct.cosine) <= 1e-10)
                    #expect(abs(result.metrics.normRatio[1, l, k, s] - direct.normRatio) <= 1e-10 * direct.normRatio)
                    // Same direction as JFB, half its length; the damped JFB at λ = 0.5 is the same estimator.
                    #expect(abs(result.metrics.cosine[1, l, k, s] - result.metrics.cosine[0, l, k, s]) <= 1e-12)
                    #expect(abs(result.metrics.normRatio[2, 0, k, s] - result.metrics.normRatio[1, l, k, s]) <= 1e-12)
                    #expect(abs(result.certificates.errorNorm[2, 0, k, s] - result.certificates.errorNorm[1, l, k, s]) <= 1e-10)
                    #expect(abs(result.metrics.normRatio[2, 1, k, s] - result.metrics.normRatio[0, l, k, s]) <= 1e-12)
                }
            }
        }

        let path = makeTemporaryFolder() + "/results.h5"
        try ResultsFile.write(
            [SeriesEntry(path: "model", sha256: "", epoch: nil, step: nil, result: result)],
            sampleIndices: Array(0..<8), to: path, overwrite: false, attributes: [:])
        let data = try ResultsData.read(path)
        #expect(data.estimators == result.estimators)
        #expect(data.estimatorAxes == [.none, .none, .lambda])
        #expect(data.cell(.cosine, series: 0, estimator: 1, lambda: 0, k: 0) == result.metrics.cosine.samplesOf(e: 1, l: 0, k: 0))
        let names = ResultsFigures(data: data).all().compactMap { outcome -> String? in
            if case .figure(let figure) = outcome { return figure.name } else { return nil }
        }
        #expect(names.contains("heatmap_jfb-half"))
        #expect(names.contains("heatmap_jfb-damped"))
        let summary = AnalysisSummary(series: [SeriesEntry(path: "model", sha256: "", epoch: nil, step: nil, result: result)], output: path)
        #expect(summary.checkpoints[0].estimators.map(\.name.rawValue) == ["jfb", "jfb-half", "jfb-damped"])
    }

    @Test("estimator names are validated identifiers; unknown ones are errors listing the known ones")
    func identifiers() throws {
        #expect(EstimatorID(rawValue: "upg") != nil)
        for bad in ["", "UPG", "a b", "x'; system('ls')", "-upg", String(repeating: "a", count: 33), "jfb/../x"] {
            #expect(EstimatorID(rawValue: bad) == nil, "\(bad)")
        }
        #expect(throws: ConfigurationError.self) { try Estimators.family(named: "broyden-adjoint") }
        #expect(try Estimators.family(named: "shine").id == SHINEGradient.id)
        #expect(try Estimators.family(named: "jfb-damped").id == DampedJacobianFreeGradient.id)
    }
}
