import Foundation
import PhantomAnalysis
import PhantomGradients
import PhantomLinearAlgebra
import PhantomModel
import PhantomTestSupport
import Testing

/// Independent recomputations of what the analysis reports, from dense J and M.
@Suite("Certificates against independent computations")
struct CertificateTests {
    /// Dense J_i, M_i (d×p, from the rows Mᵀe_a) and the problem.
    func denseParts(_ model: ImplicitModel, batch: Int = 4) -> (GradientProblem, [Matrix], [Matrix]) {
        let (x, y) = AnalysisFixtures.inputs(model, batch: batch)
        let problem = GradientProblem(model: model, inputs: x, targets: y, solver: AnalysisFixtures.solver)
        let js = (0..<batch).map { problem.linearization.jacobian(sample: $0) }
        let ms = (0..<batch).map { problem.linearization.parameterJacobian(sample: $0) }
        return (problem, js, ms)
    }

    @Test(
        "NPG: ‖E‖ = ‖B^k M‖₂; JFB: ‖E‖ = ‖J M‖₂; RBP(k): ‖E‖ = ‖J^k M‖₂ (dgesdd on the d×p products)",
        arguments: ["tanh", "resmlp"])
    func errorNorms(cell: String) throws {
        let model = cell == "tanh" ? AnalysisFixtures.tanh() : AnalysisFixtures.resmlp(seed: 4)
        let configuration = AnalysisFixtures.configuration(ks: [1, 3, 5], lambdas: [0.4, 1.0])
        let (x, y) = AnalysisFixtures.inputs(model, batch: 3)
        let result = try Analyzer(configuration).analyze(model: model, inputs: x, targets: y, solver: AnalysisFixtures.solver)
        let (_, js, ms) = denseParts(model, batch: 3)
        let e = { (kind: EstimatorFamily) in result.estimators.firstIndex(of: kind.id)! }
        for s in 0..<3 {
            let d = model.stateDimension
            #expect(abs(result.certificates.errorNorm[e(.jfb), 0, 0, s] - (try (js[s] * ms[s]).spectralNorm())) <= 1e-10)
            for (l, lambda) in configuration.lambdas.enumerated() {
                let b = (lambda * js[s]) + ((1 - lambda) * Matrix.identity(d))
                for (kk, k) in configuration.ks.enumerated() {
                    var power = Matrix.identity(d), jPower = Matrix.identity(d)
                    for _ in 0..<k { power = b * power; jPower = js[s] * jPower }
                    #expect(abs(result.certificates.errorNorm[e(.npg), l, kk, s] - (try (power * ms[s]).spectralNorm())) <= 1e-10)
                    #expect(abs(result.certificates.errorNorm[e(.rbp), l, kk, s] - (try (jPower * ms[s]).spectralNorm())) <= 1e-10)
                    #expect(abs(result.spectra[s].powerNorms[l][kk] - (try power.spectralNorm())) <= 1e-12)
                    // At a converged h*, UPG = NPG (docs/Theory.md §2 identity 2), and so are their E.
                    #expect(
                        abs(result.certificates.errorNorm[e(.upg), l, kk, s] - result.certificates.errorNorm[e(.npg), l, kk, s]) <= 1e-9)
                }
            }
            let sigma = try ms[s].singularValues()
            #expect(abs(result.spectra[s].sigmaMax - sigma.first!) <= 1e-10 * sigma.first!)
            #expect(abs(result.spectra[s].sigmaMin - sigma.last!) <= 1e-8 * sigma.first!)
        }
    }

    @Test("tanh: σ(M) from the closed-form Gram equals the generic route to 1e-10")
    func closedFormSigma() throws {
        let model = AnalysisFixtures.tanh(d: 7, n: 5)
        let (problem, _, ms) = denseParts(model)
        for s in 0..<problem.batchSize {
            let closed = try SymmetricEigen(ParameterGram.compute(problem.linearization, sample: s).matrix, computeVectors: false).values
            let generic = try SymmetricEigen(
                ParameterGram.compute(problem.linearization, sample: s, generic: true).matrix, computeVectors: false
            ).values
            #expect(relativeError(closed.map { $0.squareRoot() }, generic.map { $0.squareRoot() }) <= 1e-10)
            #expect(relativeError(closed.reversed().map { $0.squareRoot() }, try ms[s].singularValues()) <= 1e-10)
        }
    }

    /// ⟨ĝ, ∇⟩ for NPG(k, λ) and a cotangent g, computed from J and M directly (no analysis code).
    func npgInner(_ j: Matrix, _ m: Matrix, _ g: [Double], k: Int, lambda: Double) throws -> Double {
        let d = j.rows
        let w = try LUFactorization(Matrix.identity(d) - j).solve(g, transposed: true)
        var v = g, a = [Double](repeating: 0, count: d)
        for _ in 0..<k {
            BLAS.axpy(lambda, v, &a)
            let jtv = j.applyTranspose(v)
            v = zip(v, jtv).map { (1 - lambda) * $0 + lambda * $1 }
        }
        return BLAS.dot(m.applyTranspose(a), m.applyTranspose(w))
    }

    @Test("a non-negative ascent margin means ascent for 100 random cotangents; a negative one is tight")
    func marginIsExact() throws {
        // Random models, and a nilpotent W (h* = 0, M Mᵀ = I) whose JFB margin is 1 − a/2 < 0 for a = 3.
        var rng = SplitMix64(seed: 77)
        let d = 4
        var w = Matrix(zeros: d, d)
        w[0, 1] = 3
        let nilpotent = ImplicitModel(
            cell: TanhCell(injectionWeight: Matrix(zeros: d, 2), injectionBias: [0, 0, 0, 0], cellWeight: w),
            head: OutputHead(weight: AnalysisFixtures.gaussian(3, d, &rng), bias: [0.2, 0, -0.1]))
        var negatives = 0, nonNegatives = 0
        for model in [AnalysisFixtures.tanh(), AnalysisFixtures.tanh(d: 5, n: 2, norm: 0.99, seed: 13), nilpotent] {
            let configuration = AnalysisFixtures.configuration(ks: [1, 2, 4], lambdas: [0.5, 1.0])
            let x =
                model.inputDimension == 2 && model.stateDimension == 4 ? Matrix(zeros: 2, 2) : AnalysisFixtures.inputs(model, batch: 2).0
            let result = try Analyzer(configuration).analyze(
                model: model, inputs: x, targets: .labels([0, 1]), solver: AnalysisFixtures.solver)
            let problem = GradientProblem(model: model, inputs: x, targets: .labels([0, 1]), solver: AnalysisFixtures.solver)
            let e = result.estimators.firstIndex(of: NeumannPhantomGradient.id)!
            for s in 0..<2 {
                let j = problem.linearization.jacobian(sample: s)
                let m = problem.linearization.parameterJacobian(sample: s)
                let gram = m * m.transposed
                let lambdaMax = try SymmetricEigen(gram, computeVectors: false).values.last!
                for (l, lambda) in configuration.lambdas.enumerated() {
                    for (kk, k) in configuration.ks.enumerated() {
                        let margin = result.certificates.ascentMargin[e, l, kk, s]
                        // S = G (I − (Bᵀ)^k), built here independently of the analysis.
                        let b = (lambda * j) + ((1 - lambda) * Matrix.identity(model.stateDimension))
                        var power = Matrix.identity(model.stateDimension)
                        for _ in 0..<k { power = b * power }
                        let sym = (gram * (Matrix.identity(model.stateDimension) - power.transposed)).symmetricPart
                        let eig = try SymmetricEigen(sym)
                        #expect(abs(margin - eig.values[0] / lambdaMax) <= 1e-10)
                        if margin >= 0 {
                            nonNegatives += 1
                            for _ in 0..<100 {
                                let g = (0..<model.stateDimension).map { _ in rng.nextGaussian() }
                                #expect(try npgInner(j, m, g, k: k, lambda: lambda) >= -1e-12)
                            }
                        } else {
                            negatives += 1
                            // w = the eigenvector of the most negative eigenvalue; g = (I − Jᵀ) w.
                            let v = try #require(eig.vectors).column(0)
                            let g = zip(v, j.applyTranspose(v)).map { $0 - $1 }
                            #expect(try npgInner(j, m, g, k: k, lambda: lambda) < 0)
                        }
                    }
                }
            }
        }
        #expect(negatives > 0 && nonNegatives > 0)
    }

    @Test("bad analysis grids are rejected")
    func badConfiguration() throws {
        let adjoint = try AdjointSolver()
        #expect(throws: ConfigurationError.self) { try AnalysisConfiguration(ks: [], lambdas: [0.5], estimators: [.npg], adjoint: adjoint) }
        #expect(throws: ConfigurationError.self) {
            try AnalysisConfiguration(ks: [0, 1], lambdas: [0.5], estimators: [.npg], adjoint: adjoint)
        }
        #expect(throws: ConfigurationError.self) { try AnalysisConfiguration(ks: [1], lambdas: [0], estimators: [.npg], adjoint: adjoint) }
        #expect(throws: ConfigurationError.self) {
            try AnalysisConfiguration(ks: [1], lambdas: [1.01], estimators: [.npg], adjoint: adjoint)
        }
        #expect(throws: ConfigurationError.self) { try AnalysisConfiguration(ks: [1], lambdas: [], estimators: [.npg], adjoint: adjoint) }
        #expect(throws: ConfigurationError.self) { try AnalysisConfiguration(ks: [1], lambdas: [0.5], estimators: [], adjoint: adjoint) }
    }
}

extension CertificateTests {
    @Test("UPG certificates: the tanh state-space route equals the generic column route, away from h*'s exactness too")
    func upgRoutesAgree() throws {
        let model = AnalysisFixtures.tanh(d: 6, n: 3, norm: 0.95, seed: 21)
        let (x, y) = AnalysisFixtures.inputs(model, batch: 3)
        // A loose forward solve, so that the unroll really moves away from h* and UPG ≠ NPG.
        let loose = try FixedPointConfiguration(method: .fixedPoint, stopping: .absolute(1e-3), maxIterations: 300)
        var results: [AnalysisResult] = []
        for columns in [false, true] {
            let configuration = try AnalysisConfiguration(
                ks: [1, 3, 6], lambdas: [0.4, 1.0], estimators: [.upg, .npg],
                adjoint: try AdjointSolver(method: .lu), preferColumnRoute: columns)
            results.append(try Analyzer(configuration).analyze(model: model, inputs: x, targets: y, solver: loose))
        }
        let (fast, columns) = (results[0], results[1])
        #expect(relativeError(fast.certificates.errorNorm.values, columns.certificates.errorNorm.values) <= 1e-9)
        #expect(relativeError(fast.certificates.ascentMargin.values, columns.certificates.ascentMargin.values) <= 1e-8)
        #expect(relativeError(fast.certificates.rhoStar.values, columns.certificates.rhoStar.values) <= 1e-7)
        // And UPG's E really differs from NPG's here.
        let upg = fast.certificates.errorNorm.samplesOf(e: 0, l: 0, k: 2), npg = fast.certificates.errorNorm.samplesOf(e: 1, l: 0, k: 2)
        #expect(relativeError(upg, npg) > 1e-6)
    }
}

extension CertificateTests {
    @Test("the batch as one stacked system: its certificates bound the batch-mean gradient, and ‖E_stack‖ ≥ max_i ‖E_i‖")
    func stackedSystem() throws {
        let model = AnalysisFixtures.tanh(d: 5, n: 4, norm: 0.9, seed: 31)  // p = 5·10 = 50 ≥ B·d = 20
        let (x, y) = AnalysisFixtures.inputs(model, batch: 4)
        let configuration = try AnalysisConfiguration(
            ks: [1, 2, 4, 8], lambdas: [0.5, 1.0], estimators: [.npg, .jfb, .rbp],
            adjoint: try AdjointSolver(method: .lu, tolerance: 1e-11))
        let r = try Analyzer(configuration).analyze(model: model, inputs: x, targets: y, solver: AnalysisFixtures.solver)
        let stacked = try #require(r.stacked)
        var exercised = 0
        for e in 0..<r.estimators.count {
            for l in 0..<r.lambdas.count {
                for k in 0..<r.ks.count {
                    let error = r.batch.relativeError[e, l, k, 0], cosine = r.batch.cosine[e, l, k, 0]
                    for bound in [stacked.certificates.rho[e, l, k, 0], stacked.certificates.rhoStar[e, l, k, 0]] where bound < 1 {
                        exercised += 1
                        #expect(error <= bound * (1 + 1e-9) + 1e-14)
                        #expect(cosine >= (1 - bound * bound).squareRoot() - 1e-12)
                    }
                    if stacked.certificates.theorem1[e, l, k, 0] == 1 || stacked.certificates.ascentMargin[e, l, k, 0] >= 0 {
                        #expect(cosine >= 0)
                    }
                    #expect(stacked.certificates.rhoStar[e, l, k, 0] <= stacked.certificates.rho[e, l, k, 0] * (1 + 1e-9))
                    let perSample = r.certificates.errorNorm.samplesOf(e: e, l: l, k: k).max()!
                    #expect(stacked.certificates.errorNorm[e, l, k, 0] >= perSample * (1 - 1e-12))
                }
            }
        }
        #expect(exercised > 0)
        #expect(stacked.sigmaMin <= r.spectra.map(\.sigmaMin).min()! * (1 + 1e-12))  // interlacing: a stack is no better conditioned
        // Above the limit, or with p < B·d, the stacked system is not analysed.
        let big = try AnalysisConfiguration(ks: [1], lambdas: [1], estimators: [.npg], adjoint: try AdjointSolver(), stackedLimit: 19)
        #expect(try Analyzer(big).analyze(model: model, inputs: x, targets: y, solver: AnalysisFixtures.solver).stacked == nil)
    }
}
