import PhantomAnalysis
import PhantomGradients
import PhantomLinearAlgebra
import PhantomModel
import PhantomTestSupport
import Testing

/// Streaming: a batch analysed in blocks of samples gives the results of the batch analysed whole — per sample to the
/// rounding that batched products of other sizes bring, the batch-mean metrics from the blocks' means — and the
/// split itself depends on the job alone.
@Suite("Sample blocks: a batch streamed through the stages in blocks is the batch analysed whole")
struct SampleBlockTests {
    static func configuration(block: Int?, certify: Int? = nil, stackedLimit: Int = 0) -> AnalysisConfiguration {
        try! AnalysisConfiguration(
            ks: [1, 2, 4], lambdas: [0.5, 1.0], estimators: [.upg, .npg, .jfb, .rbp, GMRESAdjoint.family],
            adjoint: try! AdjointSolver(method: .lu, tolerance: 1e-11), certificateSamples: certify, stackedLimit: stackedLimit,
            sampleBlock: block)
    }

    @Test("the split: consecutive blocks of the block size, the certified samples shared out from the first block")
    func split() throws {
        let blocks = try SampleBlock.split(Self.configuration(block: 4, certify: 6), stateDimension: 6, parameters: 100, samples: 10)
        #expect(blocks.map(\.samples) == [0..<4, 4..<8, 8..<10])
        #expect(blocks.map(\.certified) == [4, 2, 0])
        #expect(blocks.allSatisfy { $0.total == 10 && !$0.isWhole && $0.route == .dense })
        let whole = try SampleBlock.split(Self.configuration(block: nil), stateDimension: 6, parameters: 100, samples: 10)
        #expect(whole.count == 1 && whole[0].isWhole && whole[0].certified == 10)
        // Automatic: never fewer samples than a batch the stacked route could take, so such a batch is one block.
        let c = try AnalysisConfiguration(adjoint: try AdjointSolver(method: .lu), stackedLimit: 100_000)
        #expect(c.sampleBlockSize(stateDimension: 2) == 50_000)
        let standard = try AnalysisConfiguration(adjoint: try AdjointSolver(method: .lu))
        #expect(standard.sampleBlockSize(stateDimension: 1) >= AnalysisConfiguration.defaultStackedLimit)
        // At d = 512 the dense route's d×d matrices bound the block: 1 GiB / (16 d² + 400 d K) bytes.
        #expect(standard.sampleBlockSize(stateDimension: 512) == (1 << 30) / (16 * 512 * 512 + 400 * 512 * 10))
        // A batch whose blocks' cell means in R^p would exceed 4 GiB (5 families × 2 λ × 3 k × 16 B × p): kept one block
        // when automatic, refused when asked for.
        let huge = 4 << 30 / (16 * 5 * 2 * 3) + 1
        #expect(try SampleBlock.split(Self.configuration(block: nil), stateDimension: 6, parameters: huge, samples: 10_000).count == 1)
        #expect(throws: ConfigurationError.self) {
            _ = try SampleBlock.split(Self.configuration(block: 4), stateDimension: 6, parameters: huge, samples: 10)
        }
        #expect(try SampleBlock.split(Self.configuration(block: 4), stateDimension: 6, parameters: huge - 2, samples: 10).count == 3)
        #expect(throws: ConfigurationError.self) {
            _ = try AnalysisConfiguration(adjoint: try AdjointSolver(method: .lu), sampleBlock: 0)
        }
    }

    @Test("blocks of 4 of a 10-sample batch give the whole batch's results", arguments: ["tanh", "resmlp"])
    func blocksMatchWhole(cell: String) throws {
        let model = cell == "tanh" ? AnalysisFixtures.tanh(d: 6, norm: 0.8) : AnalysisFixtures.resmlp(d: 6)
        let (x, y) = AnalysisFixtures.inputs(model, batch: 10)
        func run(_ block: Int?) throws -> AnalysisResult {
            try Analyzer(Self.configuration(block: block, certify: 6)).analyze(
                model: model, inputs: x, targets: y, solver: AnalysisFixtures.solver)
        }
        let whole = try run(nil), blocked = try run(4)
        #expect(blocked.sampleCount == 10 && blocked.certifiedSamples == 6)
        #expect(blocked.loss == whole.loss)
        #expect(blocked.forwardIterations == whole.forwardIterations)
        func close(_ a: [Double], _ b: [Double], _ tolerance: Double, _ label: String) {
            #expect(a.count == b.count, "\(label)")
            for (u, v) in zip(a, b) {
                #expect(u.isNaN == v.isNaN, "\(label): \(u) vs \(v)")
                if !u.isNaN { #expect(abs(u - v) <= tolerance * max(1, abs(u)), "\(label): \(u) vs \(v)") }
            }
        }
        close(blocked.metrics.cosine.values, whole.metrics.cosine.values, 1e-10, "cosine")
        close(blocked.metrics.relativeError.values, whole.metrics.relativeError.values, 1e-8, "relative error")
        close(blocked.certificates.errorNorm.values, whole.certificates.errorNorm.values, 1e-9, "‖E‖₂")
        close(blocked.certificates.theorem1.values, whole.certificates.theorem1.values, 0, "Theorem 1")
        close(blocked.spectra.map(\.spectralRadius), whole.spectra.map(\.spectralRadius), 1e-10, "ρ(J)")
        close(
            blocked.spectra.flatMap { $0.powerNorms.flatMap { $0 } }, whole.spectra.flatMap { $0.powerNorms.flatMap { $0 } }, 1e-9, "‖B^k‖₂"
        )
        // Certified: the first 6 samples, across the first two blocks; the others NaN.
        #expect(blocked.certificates.errorNorm.samplesOf(e: 0, l: 0, k: 0).map(\.isNaN) == (0..<10).map { $0 >= 6 })
        // The batch mean from the blocks' means: the same metrics as the whole batch's (its cosines are near 1 only for
        // good estimators; the relative error is an absolute quantity of order 1).
        close(blocked.batch.cosine.values, whole.batch.cosine.values, 1e-12, "batch cosine")
        close(blocked.batch.relativeError.values, whole.batch.relativeError.values, 1e-10, "batch relative error")
        close(blocked.batch.normRatio.values, whole.batch.normRatio.values, 1e-12, "batch norm ratio")
        #expect(abs(blocked.exactGradientNorm - whole.exactGradientNorm) <= 1e-13 * whole.exactGradientNorm)
        #expect(abs(blocked.headGradientNorm - whole.headGradientNorm) <= 1e-13 * whole.headGradientNorm)
        #expect(blocked.batch.cosine.values.allSatisfy { $0.isFinite })
        #expect(blocked.failures == whole.failures)
    }

    @Test("the batch-mean metrics of a blocked run are those of the mean gradient formed directly")
    func batchMeanFromBlocks() throws {
        let model = AnalysisFixtures.tanh(d: 5, norm: 0.7, seed: 3)
        let (x, y) = AnalysisFixtures.inputs(model, batch: 7)
        let blocked = try Analyzer(Self.configuration(block: 3)).analyze(
            model: model, inputs: x, targets: y, solver: AnalysisFixtures.solver)
        // Direct: the whole batch's problem, NPG(2, 0.5) and the exact gradient as batch means in R^p.
        let problem = GradientProblem(model: model, inputs: x, targets: y, solver: AnalysisFixtures.solver)
        let exact = ExactGradient(solver: try AdjointSolver(method: .lu, tolerance: 1e-11)).estimate(problem, perSample: false)
        let npg = try NeumannPhantomGradient(steps: 2, damping: 0.5, training: false).estimate(problem, perSample: false)
        let direct = GradientMetrics.compare(npg.batchMean, exact.batchMean)
        let e = 1, l = 0, k = 1  // NPG, λ = 0.5, k = 2
        #expect(abs(blocked.batch.cosine[e, l, k, 0] - direct.cosine) <= 1e-12)
        #expect(abs(blocked.batch.relativeError[e, l, k, 0] - direct.relativeError) <= 1e-10 * max(direct.relativeError, 1e-3))
        #expect(abs(blocked.exactGradientNorm - BLAS.nrm2(exact.batchMean)) <= 1e-13 * BLAS.nrm2(exact.batchMean))
        #expect(blocked.stacked == nil)
    }

    @Test("a batch the stacked route takes is one block, and only a whole batch is certified as a stacked system")
    func stackedOnlyWhole() throws {
        let model = AnalysisFixtures.tanh(d: 4, norm: 0.6)
        let (x, y) = AnalysisFixtures.inputs(model, batch: 5)
        let whole = try Analyzer(Self.configuration(block: nil, stackedLimit: 512)).analyze(
            model: model, inputs: x, targets: y, solver: AnalysisFixtures.solver)
        #expect(whole.stacked != nil)
        let blocked = try Analyzer(Self.configuration(block: 2, stackedLimit: 512)).analyze(
            model: model, inputs: x, targets: y, solver: AnalysisFixtures.solver)
        #expect(blocked.stacked == nil)
    }
}
