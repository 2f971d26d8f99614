import PhantomGradients
import PhantomLinearAlgebra
import PhantomModel
import PhantomTestSupport
import Testing

/// Per sample, H = (J − I)⁻¹ exactly: good-Broyden updates along orthogonal steps Δx = e_j with Δg = (J − I)e_j keep
/// every earlier secant condition (hereditary property), so after d of them H(J − I) = I.
func exactInverses(_ problem: GradientProblem) -> [BroydenInverse] {
    (0..<problem.batchSize).map { i in
        let a = problem.linearization.jacobian(sample: i) - Matrix.identity(problem.stateDimension)
        var h = BroydenInverse(dimension: problem.stateDimension)
        for j in 0..<problem.stateDimension {
            var e = [Double](repeating: 0, count: problem.stateDimension)
            e[j] = 1
            h.update(dx: e, dg: a * e)
        }
        return h
    }
}

func withHistories(_ problem: GradientProblem, _ inverses: [BroydenInverse]) -> GradientProblem {
    var p = problem
    p.broydenHistories = BroydenHistories(
        inverses: inverses, sources: inverses.map { _ in .forward }, resolveResiduals: inverses.map { _ in .nan })
    return p
}

@Suite("SHINE: the forward Broyden inverse estimate as the adjoint")
struct SHINETests {
    @Test("H v and Hᵀ v from the pairs equal the dense H = −I + Σ u wᵀ built from the same pairs")
    func lowRankEqualsDense() {
        var rng = SplitMix64(seed: 5)
        let d = 7
        for rank in [0, 1, 4, 9] {
            let pairs = (0..<rank).map { _ in
                ((0..<d).map { _ in rng.nextGaussian() }, (0..<d).map { _ in rng.nextGaussian() })
            }
            let h = BroydenInverse(dimension: d, pairs: pairs)
            var dense = Matrix.identity(d)
            for r in 0..<d { for c in 0..<d { dense[r, c] = -dense[r, c] + pairs.reduce(0) { $0 + $1.0[r] * $1.1[c] } } }
            let v = (0..<d).map { _ in rng.nextGaussian() }
            #expect(relativeError(h.apply(v), dense * v) <= 1e-13, "rank \(rank)")
            #expect(relativeError(h.apply(v, transposed: true), dense.transposed * v) <= 1e-13, "rank \(rank)")
            #expect(relativeError(h.matrix.elements, dense.elements) <= 1e-15, "rank \(rank)")
        }
    }

    @Test("a history that has converged to the exact inverse gives the exact gradient", arguments: GradientFixtures.ModelCase.allCases)
    func exactHistory(modelCase: GradientFixtures.ModelCase) throws {
        let problem = GradientFixtures.problem(modelCase.model)
        let inverses = exactInverses(problem)
        for i in 0..<problem.batchSize {
            let a = problem.linearization.jacobian(sample: i) - Matrix.identity(problem.stateDimension)
            #expect(relativeError((inverses[i].matrix * a).elements, Matrix.identity(problem.stateDimension).elements) <= 1e-10)
        }
        let shine = try SHINEGradient(steps: 1, damping: 1).estimate(withHistories(problem, inverses), perSample: true)
        let exact = GradientFixtures.exact(problem)
        #expect(relativeError(shine.batchMean, exact.batchMean) <= 1e-9, "\(relativeError(shine.batchMean, exact.batchMean))")
        #expect(relativeError(try #require(shine.perSample).elements, try #require(exact.perSample).elements) <= 1e-9)
    }

    @Test("an empty history (H = −I) is JFB, bit for bit", arguments: GradientFixtures.ModelCase.allCases)
    func emptyHistory(modelCase: GradientFixtures.ModelCase) throws {
        let problem = GradientFixtures.problem(modelCase.model)
        let empty = (0..<problem.batchSize).map { _ in BroydenInverse(dimension: problem.stateDimension) }
        let shine = try SHINEGradient(steps: 3, damping: 0.5).estimate(withHistories(problem, empty), perSample: true)
        let jfb = JacobianFreeGradient().estimate(problem, perSample: true)
        #expect(shine.batchMean == jfb.batchMean)
        #expect(try #require(shine.perSample).elements == (try #require(jfb.perSample)).elements)
    }

    @Test("the fallback triggers strictly above c‖g‖, per sample, and 0 turns it off")
    func fallbackThreshold() throws {
        #expect(!SHINEGradient.fallbackApplies(estimateNorm: 1.8, cotangentNorm: 1, threshold: 1.8))
        #expect(SHINEGradient.fallbackApplies(estimateNorm: 1.8.nextUp, cotangentNorm: 1, threshold: 1.8))
        #expect(!SHINEGradient.fallbackApplies(estimateNorm: 1e300, cotangentNorm: 1, threshold: 0))
        #expect(SHINEGradient.fallbackApplies(estimateNorm: .nan, cotangentNorm: 1, threshold: 1.8))
        // ŵ = −Hᵀg = (1 − α)g for H = −I + (g/‖g‖²)(α g)ᵀ: ratio 1.8 at α = −0.8 on sample 0, 1 (α = 0) on the others.
        let problem = GradientFixtures.problem(GradientFixtures.tanhModel())
        let d = problem.stateDimension
        let inverses = (0..<problem.batchSize).map { i -> BroydenInverse in
            let g = problem.cotangents.row(i), n2 = BLAS.dot(g, g)
            return BroydenInverse(dimension: d, pairs: i == 0 ? [(g.map { $0 / n2 }, g.map { -0.8 * $0 })] : [])
        }
        let p = withHistories(problem, inverses)
        let g0 = problem.cotangents.row(0)
        let ratio = BLAS.nrm2(inverses[0].apply(g0, transposed: true)) / BLAS.nrm2(g0)
        #expect(abs(ratio - 1.8) <= 1e-14)
        for (c, falls) in [(ratio * (1 - 1e-9), true), (ratio * (1 + 1e-9), false), (0, false)] {
            let (w, records) = SHINEGradient.adjoints(p, fallback: c)
            #expect((records[0].status == .fallback) == falls, "c = \(c)")
            #expect(records.dropFirst().allSatisfy { $0.status == .forwardHistory })
            #expect(w.row(0) == (falls ? g0 : inverses[0].apply(g0, transposed: true).map { -$0 }))
            let estimate = try SHINEGradient(steps: 1, damping: 1, training: false, settings: try EstimatorSettings(shineFallback: c))
                .estimate(p, perSample: true)
            let rows = try #require(estimate.perSample)
            #expect(relativeError(rows.row(0), problem.perSampleGradients(w).row(0)) <= 1e-14)
        }
    }

    @Test("the forward solver returns the Broyden estimate that proposed the best iterate, as a replay of its steps rebuilds it")
    func solverExposesHistory() throws {
        // A linear map f(h) = W h + b (‖W‖ < 1), one sample, forced Broyden with a small memory (restarts included).
        var rng = SplitMix64(seed: 12)
        let d = 6
        let raw = GradientFixtures.gaussian(d, d, scale: 0.3, &rng)
        let w = (0.6 / (try raw.spectralNorm())) * raw
        let b = (0..<d).map { _ in rng.nextGaussian() }
        for memory in [3, 30] {
            let configuration = try FixedPointConfiguration(
                method: .broyden, stopping: .relative(1e-13), maxIterations: 60, broydenMemory: memory, recordedIterates: 60)
            let solution = FixedPointSolver(configuration).solve(initial: Matrix(zeros: 1, d)) { h in
                Matrix(rowArrays: (0..<h.rows).map { r in zip(w * h.row(r), b).map { $0 + $1 } })
            }
            let history = try #require(solution.broydenInverses[0])
            let iterates = solution.recentIterates.map { $0.row(0) }
            let best = try #require(iterates.firstIndex(of: solution.states.row(0)))
            func g(_ x: [Double]) -> [Double] { zip(zip(w * x, b).map { $0 + $1 }, x).map { $0 - $1 } }
            var replay = BroydenInverse(dimension: d)
            if best >= 2 {
                for t in 1..<best {
                    replay.update(
                        dx: zip(iterates[t], iterates[t - 1]).map { $0 - $1 }, dg: zip(g(iterates[t]), g(iterates[t - 1])).map { $0 - $1 },
                        memory: memory)
                }
            }
            #expect(history == replay, "memory \(memory): best iterate \(best), rank \(history.rank) vs \(replay.rank)")
            #expect(solution.statuses[0].isConverged)
        }
    }

    @Test("E = 𝒜(I − Jᵀ) − Mᵀ: the residual operator's Pᵀ v is v − A(I − Jᵀ)v with A = −Hᵀ (I after a fallback), per sample")
    func residualOperator() throws {
        let problem = GradientFixtures.problem(GradientFixtures.resmlpModel())
        var rng = SplitMix64(seed: 3)
        let d = problem.stateDimension
        let inverses = (0..<problem.batchSize).map { _ in
            BroydenInverse(
                dimension: d,
                pairs: (0..<3).map { _ in ((0..<d).map { _ in 0.3 * rng.nextGaussian() }, (0..<d).map { _ in 0.3 * rng.nextGaussian() }) })
        }
        let p = withHistories(problem, inverses)
        for c in [0, 1.0] {
            let settings = try EstimatorSettings(shineFallback: c)
            guard case .stateSpace(let op)? = SHINEGradient.residual(k: 1, lambda: 1, problem: p, settings: settings) else {
                Issue.record("SHINE declares a state-space residual")
                return
            }
            let fallback = SHINEGradient.adjoints(p, fallback: c).records.map { $0.status == .fallback }
            if c > 0 { #expect(fallback.contains(true) && fallback.contains(false), "the test covers both branches") }
            let v = GradientFixtures.gaussian(problem.batchSize, d, &rng)
            let products = DenseProducts(problem)
            let pt = op.base.apply(v, transposed: true, samples: Array(0..<problem.batchSize), products: products)
            let pv = op.base.apply(v, transposed: false, samples: Array(0..<problem.batchSize), products: products)
            for i in 0..<problem.batchSize {
                let j = problem.linearization.jacobian(sample: i), id = Matrix.identity(d)
                let a = fallback[i] ? id : -1.0 * inverses[i].matrix.transposed
                let pDense = id - (id - j) * a.transposed
                #expect(relativeError(pt.row(i), pDense.transposed * v.row(i)) <= 1e-12, "c \(c) sample \(i)")
                #expect(relativeError(pv.row(i), pDense * v.row(i)) <= 1e-12, "c \(c) sample \(i)")
            }
        }
        // Without a history for every sample there is no residual operator.
        #expect(SHINEGradient.residual(k: 1, lambda: 1, problem: problem, settings: .standard) == nil)
    }

    @Test("a sample finished by Anderson gets its history from a Broyden re-solve that reaches the same h*")
    func resolvedHistories() throws {
        let model = GradientFixtures.tanhModel(norm: 0.9)
        let (x, y) = GradientFixtures.inputs(model, batch: 5)
        var problem = GradientProblem(model: model, inputs: x, targets: y, solver: GradientFixtures.tightSolver())
        #expect(problem.forward.methods.allSatisfy { $0 == .anderson })
        problem.attachBroydenHistories(solver: GradientFixtures.tightSolver())
        let histories = try #require(problem.broydenHistories)
        #expect(histories.sources.allSatisfy { $0 == .resolve })
        #expect(histories.resolveResiduals.allSatisfy { $0 <= GradientFixtures.tightSolver().stopping.tolerance })
        // A forced Broyden forward solve keeps its own.
        var broyden = GradientFixtures.tightSolver()
        broyden.method = .broyden
        var own = GradientProblem(model: model, inputs: x, targets: y, solver: broyden)
        own.attachBroydenHistories(solver: broyden)
        #expect(try #require(own.broydenHistories).sources.allSatisfy { $0 == .forward })
        #expect(try #require(own.broydenHistories).inverses.allSatisfy { ($0?.rank ?? 0) > 0 })
    }
}

/// J v and Jᵀ v on rows through each sample's dense J.
struct DenseProducts: StateProducts {
    let problem: GradientProblem
    init(_ problem: GradientProblem) { self.problem = problem }
    var stateDimension: Int { problem.stateDimension }
    func jvp(_ v: Matrix) -> Matrix { Matrix(rowArrays: (0..<v.rows).map { problem.linearization.jacobian(sample: $0) * v.row($0) }) }
    func vjp(_ v: Matrix) -> Matrix {
        Matrix(rowArrays: (0..<v.rows).map { problem.linearization.jacobian(sample: $0).transposed * v.row($0) })
    }
}
