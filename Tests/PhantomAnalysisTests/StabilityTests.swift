import PhantomAnalysis
import PhantomGradients
import PhantomLinearAlgebra
import PhantomModel
import PhantomTestSupport
import Testing

@Suite("Unstable fixed points and determinism of the analysis")
struct StabilityTests {
    @Test("a sample at a repelling fixed point is flagged unstable, excluded, and counted; the others are reliable")
    func repellingSampleFlagged() throws {
        let (model, x) = SolverModels.oneRepelling()
        let configuration = try AnalysisConfiguration(
            ks: [1, 2], lambdas: [0.5], estimators: [.npg, .jfb],
            adjoint: try AdjointSolver(method: .lu))
        let result = try Analyzer(configuration).analyze(
            model: model, inputs: x, targets: .labels([0, 1, 0, 1]),
            solver: try FixedPointConfiguration(stopping: .relative(1e-10)))
        #expect(result.spectra[0].spectralRadius > 1)
        #expect(result.stable == [false, true, true, true])
        #expect(result.reliable == [false, true, true, true])
        let summary = AnalysisSummary(series: [SeriesEntry(path: "m", sha256: "", epoch: nil, step: nil, result: result)], output: "o")
        #expect(summary.checkpoints[0].unstable + summary.checkpoints[0].unconvergedForward >= 1)
    }

    @Test("the whole analysis is bit-identical at 1 and 2 BLAS threads")
    func threads() throws {
        let model = RandomModels.tanh(d: 40, n: 5, c: 3, norm: 0.9, injectionScale: 0.8, biasScale: 0.2, seed: 13)
        var rng = SplitMix64(seed: 14)
        let x = gaussianMatrix(37, 5, &rng)
        let y = Targets.labels((0..<37).map { $0 % 3 })
        let configuration = try AnalysisConfiguration(
            ks: [1, 3, 5], lambdas: [0.5, 1], estimators: [.upg, .npg, .jfb],
            adjoint: try AdjointSolver(), certificateSamples: 4, stackedLimit: 0)
        let solver = try FixedPointConfiguration(stopping: .relative(1e-10))
        let one = try BLASInfo.withThreads(1) { try Analyzer(configuration).analyze(model: model, inputs: x, targets: y, solver: solver) }
        let two = try BLASInfo.withThreads(2) { try Analyzer(configuration).analyze(model: model, inputs: x, targets: y, solver: solver) }
        #expect(one.forwardIterations == two.forwardIterations)
        for (a, b) in [
            (one.metrics.cosine, two.metrics.cosine), (one.metrics.relativeError, two.metrics.relativeError),
            (one.certificates.rhoStar, two.certificates.rhoStar), (one.batch.cosine, two.batch.cosine)
        ] {
            #expect(zip(a.values, b.values).allSatisfy { $0.bitPattern == $1.bitPattern || ($0.isNaN && $1.isNaN) })
        }
        #expect(one.spectra.map(\.sigmaMin) == two.spectra.map(\.sigmaMin))
    }
}
