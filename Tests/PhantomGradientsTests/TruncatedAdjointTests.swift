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
                if residuals.map({ $0[t] }).max()! < EstimatorSettings.defaultTruncatedStop.tolerance {
                    stop = t
                    break
                }
            }
            let estimate = try FixedPointAdjoint(steps: budget, damping: 1).estimate(problem, perSample: true)
            // The measurement's records: the VJPs the batch ran (t + 1 iterations: t state VJPs and the parameter VJP)
            // and each sample's lowest residual, converged when it is below τ.
            let measurement = GridMeasurement(
                problem: problem, exact: GradientFixtures.exact(problem), grams: [], ks: [budget], lambdas: [1])
            let records = try #require(try FixedPointAdjoint.measure(measurement).backward)
            for i in 0..<b {
                let lowest = residuals[i][0...stop].min()!
                #expect(records[i][0][0].vjps == Double(stop + 1), "budget \(budget)")
                #expect(abs(records[i][0][0].residual - lowest) <= 1e-12 * max(lowest, 1e-300), "budget \(budget), sample \(i)")
                #expect(records[i][0][0].status == (lowest < 1e-6 ? .converged : .budget))
            }
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

@Suite("The truncated adjoints' stopping rules and records")
struct TruncatedAdjointRecordTests {
    @Test("GMRES adjoint: iterations and residuals recorded match a direct recomputation of ‖g − (I − Jᵀ)w‖, abs and rel")
    func gmresRecords() throws {
        let problem = GradientFixtures.problem(GradientFixtures.tanhModel(norm: 0.9))
        let exact = GradientFixtures.exact(problem)
        for stop in [StoppingCriterion.absolute(1e-6), .relative(1e-4)] {
            let settings = try EstimatorSettings(truncatedStop: stop)
            let ks = [1, 4, 40]
            let grid = try GMRESAdjoint.measure(
                GridMeasurement(problem: problem, exact: exact, grams: [], ks: ks, lambdas: [1], settings: settings))
            let records = try #require(grid.backward)
            for (kk, k) in ks.enumerated() {
                let estimate = try GMRESAdjoint(steps: k, damping: 1, training: false, settings: settings).estimate(
                    problem, perSample: false)
                let w = try #require(estimate.stateCotangents)
                for i in 0..<problem.batchSize {
                    let g = problem.cotangents.row(i), jt = problem.linearization.jacobian(sample: i).transposed
                    let r = BLAS.nrm2(zip(g, zip(w.row(i), jt * w.row(i)).map { $0 - $1 }).map { $0 - $1 })
                    let expected = stop.isRelative ? r / BLAS.nrm2(g) : r
                    let record = records[i][0][kk]
                    // (round-off in forming (I − Jᵀ)w: ε‖g‖ in absolute terms)
                    let floor = 1e-13 * (stop.isRelative ? 1 : BLAS.nrm2(g))
                    #expect(abs(record.residual - expected) <= 1e-9 * expected + floor, "\(stop) k \(k) sample \(i)")
                    #expect(record.vjps >= 2 && record.vjps <= Double(k + 1))
                    #expect(record.status == (expected <= stop.tolerance * (1 + 1e-9) ? .converged : .budget), "\(stop) k \(k) sample \(i)")
                }
            }
            // With a generous budget every sample meets the tolerance before it.
            #expect(records.allSatisfy { $0[0][2].status == .converged && $0[0][2].vjps < 41 })
        }
    }

    @Test("fp-adjoint with a relative stop: the batch stops when every ‖(Jᵀ)^t g‖/(‖f_t‖ + 1e-12) is below τ")
    func relativeStop() throws {
        let problem = GradientFixtures.problem(GradientFixtures.resmlpModel())
        let settings = try EstimatorSettings(truncatedStop: .relative(1e-3))
        let grid = try FixedPointAdjoint.measure(
            GridMeasurement(
                problem: problem, exact: GradientFixtures.exact(problem), grams: [], ks: [400], lambdas: [1], settings: settings))
        let records = try #require(grid.backward).map { $0[0][0] }
        let ran = Int(records[0].vjps)
        // Direct: f_t and the relative residuals per t.
        func relative(_ t: Int, _ i: Int) -> Double {
            let jt = problem.linearization.jacobian(sample: i).transposed
            var v = problem.cotangents.row(i), f = v
            for _ in 0..<t {
                v = jt * v
                f = zip(f, v).map { $0 + $1 }
            }
            return BLAS.nrm2(v) / (BLAS.nrm2(f) + 1e-12)
        }
        #expect(ran < 400)
        #expect((0..<problem.batchSize).allSatisfy { relative(ran - 1, $0) < 1e-3 })
        #expect(!(0..<problem.batchSize).allSatisfy { relative(ran - 2, $0) < 1e-3 })
        #expect(records.allSatisfy { $0.status == .converged })
    }

    @Test("bad settings are refused with the option's name")
    func badSettings() {
        for bad in [-1, Double.nan, .infinity] {
            #expect(throws: ConfigurationError.self) { try EstimatorSettings(shineFallback: bad) }
        }
        for bad in [0, -1e-6, Double.nan] {
            #expect(throws: ConfigurationError.self) { try EstimatorSettings(truncatedStop: .absolute(bad)) }
        }
    }
}
