import PhantomGradients
import PhantomLinearAlgebra
import PhantomModel
import PhantomTestSupport
import Testing

@Suite("The truncated fixed-point adjoint (TorchDEQ's implicit backward) against JFB, RBP and the exact gradient")
struct TruncatedAdjointTests {
    @Test("budget 1 is JFB; a large budget is the exact gradient to within its tolerance", arguments: GradientFixtures.ModelCase.allCases)
    func limits(modelCase: GradientFixtures.ModelCase) throws {
        let problem = GradientFixtures.problem(modelCase.model)
        let jfb = JacobianFreeGradient().estimate(problem, perSample: true)
        let one = try FixedPointAdjoint(steps: 1, damping: 1).estimate(problem, perSample: true)
        #expect(relativeError(one.batchMean, jfb.batchMean) <= 1e-14)
        #expect(relativeError(try #require(one.perSample).elements, try #require(jfb.perSample).elements) <= 1e-14)
        let exact = GradientFixtures.exact(problem).batchMean
        let long = try FixedPointAdjoint(steps: 1000, damping: 0.5).estimate(problem, perSample: false)
        #expect(relativeError(long.batchMean, exact) <= 1e-5, "\(relativeError(long.batchMean, exact))")
    }

    @Test("each sample returns RBP(t + 1) at its lowest residual ‖(Jᵀ)^t g‖ before the batch stops, recomputed with dense J")
    func stoppingRule() throws {
        let problem = GradientFixtures.problem(GradientFixtures.tanhModel(norm: 0.9))
        let b = problem.batchSize
        for budget in [1, 3, 12, 400] {
            // Direct: per sample the residuals r_t = ‖(Jᵀ)^t g_i‖ from dense powers; the batch stops at the first t where
            // the largest r_t < τ; each sample takes the lowest r_t up to there.
            var residuals = [[Double]](repeating: [], count: b)
            var stop = budget - 1
            for t in 0..<budget {
                for i in 0..<b {
                    var v = problem.cotangents.row(i)
                    let jt = problem.linearization.jacobian(sample: i).transposed
                    for _ in 0..<t { v = jt * v }
                    residuals[i].append(BLAS.nrm2(v))
                }
                if residuals.map({ $0[t] }).max()! < FixedPointAdjoint.tolerance {
                    stop = t
                    break
                }
            }
            let estimate = try FixedPointAdjoint(steps: budget, damping: 1).estimate(problem, perSample: true)
            for i in 0..<b {
                let chosen = residuals[i][0...stop].indices.min { residuals[i][$0] < residuals[i][$1] }!
                let rbp = try NeumannRBP(terms: chosen + 1).estimate(problem, perSample: true)
                #expect(
                    relativeError(try #require(estimate.perSample).row(i), try #require(rbp.perSample).row(i)) <= 1e-12,
                    "budget \(budget), sample \(i), \(chosen + 1) terms")
            }
        }
    }

    @Test("the grid measurement equals the cell-by-cell estimates, per sample and for the batch mean")
    func measurement() throws {
        let problem = GradientFixtures.problem(GradientFixtures.resmlpModel())
        let exact = GradientFixtures.exact(problem)
        let grams = (0..<problem.batchSize).map { ParameterGram.compute(problem.linearization, sample: $0) }
        let ks = [1, 2, 7, 60]
        let measurement = GridMeasurement(problem: problem, exact: exact, grams: grams, ks: ks, lambdas: [0.5, 1])
        let grid = try FixedPointAdjoint.measure(measurement)
        for (kk, k) in ks.enumerated() {
            let estimate = try FixedPointAdjoint(steps: k, damping: 1).estimate(problem, perSample: true)
            let batch = GradientMetrics.compare(estimate.batchMean, exact.batchMean)
            for l in 0..<2 {
                #expect(abs(try #require(grid.batch)[l][kk].cosine - batch.cosine) <= 1e-12)
                for i in 0..<problem.batchSize {
                    let direct = GradientMetrics.compare(
                        try #require(estimate.perSample).row(i), try #require(exact.perSample).row(i))
                    #expect(abs(grid.perSample[i][l][kk].cosine - direct.cosine) <= 1e-10, "k \(k), sample \(i)")
                    #expect(abs(grid.perSample[i][l][kk].relativeError - direct.relativeError) <= 1e-8, "k \(k), sample \(i)")
                }
            }
        }
    }

    @Test(
        "GMRES adjoint: budget 1 is α·JFB with GMRES's one-step α; a large budget is exact", arguments: GradientFixtures.ModelCase.allCases)
    func gmresLimits(modelCase: GradientFixtures.ModelCase) throws {
        let problem = GradientFixtures.problem(modelCase.model)
        let jfb = try #require(JacobianFreeGradient().estimate(problem, perSample: true).perSample)
        let one = try #require(try GMRESAdjoint(steps: 1, damping: 1).estimate(problem, perSample: true).perSample)
        for i in 0..<problem.batchSize {
            let g = problem.cotangents.row(i)
            let jt = problem.linearization.jacobian(sample: i).transposed
            let ag = zip(g, jt * g).map { $0 - $1 }  // (I − Jᵀ) g
            let alpha = BLAS.dot(ag, g) / BLAS.dot(ag, ag)
            #expect(relativeError(one.row(i), jfb.row(i).map { alpha * $0 }) <= 1e-12, "sample \(i)")
        }
        let exact = GradientFixtures.exact(problem).batchMean
        let long = try GMRESAdjoint(steps: 200, damping: 1).estimate(problem, perSample: false)
        #expect(relativeError(long.batchMean, exact) <= 1e-5, "\(relativeError(long.batchMean, exact))")
    }

    @Test("GMRES adjoint: the factored grid measurement equals direct per-sample comparisons")
    func gmresMeasurement() throws {
        let problem = GradientFixtures.problem(GradientFixtures.mdeqModel())
        let exact = GradientFixtures.exact(problem)
        let ks = [1, 3, 8]
        let measurement = GridMeasurement(problem: problem, exact: exact, grams: [], ks: ks, lambdas: [1])
        let grid = try GMRESAdjoint.measure(measurement)
        for (kk, k) in ks.enumerated() {
            let estimate = try GMRESAdjoint(steps: k, damping: 1).estimate(problem, perSample: true)
            #expect(
                abs(try #require(grid.batch)[0][kk].cosine - GradientMetrics.compare(estimate.batchMean, exact.batchMean).cosine) <= 1e-12)
            for i in 0..<problem.batchSize {
                let direct = GradientMetrics.compare(try #require(estimate.perSample).row(i), try #require(exact.perSample).row(i))
                #expect(abs(grid.perSample[i][0][kk].cosine - direct.cosine) <= 1e-10, "k \(k), sample \(i)")
                #expect(abs(grid.perSample[i][0][kk].relativeError - direct.relativeError) <= 1e-8, "k \(k), sample \(i)")
                #expect(abs(grid.perSample[i][0][kk].normRatio - direct.normRatio) <= 1e-10, "k \(k), sample \(i)")
            }
        }
    }
}
