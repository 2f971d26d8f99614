import Foundation
import PhantomGradients
import PhantomLinearAlgebra
import PhantomModel
import PhantomTestSupport
import Testing

@Suite("The (k, λ) grid engine")
struct GridEngineTests {
    @Test("the binomial weights c_j(k, λ) reproduce λ Σ_{t<k} (Bᵀ)^t on a scalar J")
    func coefficients() throws {
        // For a scalar J = μ: Σ_j c_j μ^j = λ Σ_{t<k} (λμ + 1 − λ)^t.
        let k = 7, lambda = 0.3, mu = 0.6
        let c = NPGGrid.coefficients(maxSteps: k, lambda: lambda)
        for step in 1...k {
            let viaWeights = (0..<step).reduce(0.0) { $0 + c[step - 1, $1] * pow(mu, Double($1)) }
            let direct = lambda * (0..<step).reduce(0.0) { $0 + pow(lambda * mu + 1 - lambda, Double($1)) }
            #expect(abs(viaWeights - direct) <= 1e-15)
            for j in step..<k { #expect(c[step - 1, j] == 0) }
        }
    }

    @Test(
        "the grid equals direct NPG in every cell to 1e-10, per sample and for the batch",
        arguments: GradientFixtures.ModelCase.allCases)
    func gridEqualsDirect(modelCase: GradientFixtures.ModelCase) throws {
        let problem = GradientFixtures.problem(modelCase.model, batch: 5)
        let exact = GradientFixtures.exact(problem)
        let w = try #require(exact.stateCotangents)
        let grams = (0..<problem.batchSize).map { ParameterGram.compute(problem.linearization, sample: $0) }
        let lambdas = [0.1, 0.5, 0.9, 1.0]
        let grid = try NPGGrid(maxSteps: 12, lambdas: lambdas).evaluate(problem, exact: w, grams: grams)
        let exactRows = try #require(exact.perSample)
        let batch = try #require(grid.batch)
        for (l, lambda) in lambdas.enumerated() {
            for k in 1...12 {
                let npg = try NeumannPhantomGradient(steps: k, damping: lambda).estimate(problem, perSample: true)
                let rows = try #require(npg.perSample)
                for i in 0..<problem.batchSize {
                    expectSame(
                        grid.perSample[i][l][k - 1], GradientMetrics.compare(rows.row(i), exactRows.row(i)),
                        "sample \(i), λ \(lambda), k \(k)")
                }
                expectSame(batch[l][k - 1], GradientMetrics.compare(npg.batchMean, exact.batchMean), "batch, λ \(lambda), k \(k)")
            }
        }
    }

    func expectSame(_ grid: GradientMetrics, _ direct: GradientMetrics, _ label: String) {
        #expect(abs(grid.cosine - direct.cosine) <= 1e-10, "\(label): cosine")
        #expect(abs(grid.normRatio - direct.normRatio) <= 1e-10 * direct.normRatio, "\(label): norm ratio")
        #expect(
            abs(grid.relativeError - direct.relativeError) <= 1e-10 * direct.relativeError + 1e-14,
            "\(label): relative error \(grid.relativeError) vs \(direct.relativeError)")
    }

    @Test("tanh: the closed-form Gram M Mᵀ equals the generic route to 1e-10")
    func closedFormGram() throws {
        let problem = GradientFixtures.problem(GradientFixtures.tanhModel(d: 9, n: 4))
        for i in 0..<problem.batchSize {
            let closed = ParameterGram.compute(problem.linearization, sample: i).matrix
            let generic = ParameterGram.compute(problem.linearization, sample: i, generic: true).matrix
            #expect(relativeError(closed.elements, generic.elements) <= 1e-10)
        }
    }

    @Test("bad grids are rejected")
    func badGrid() {
        #expect(throws: ConfigurationError.self) { try NPGGrid(maxSteps: 0, lambdas: [0.5]) }
        #expect(throws: ConfigurationError.self) { try NPGGrid(maxSteps: 5, lambdas: []) }
        #expect(throws: ConfigurationError.self) { try NPGGrid(maxSteps: 5, lambdas: [0.5, 1.2]) }
    }
}

extension GridEngineTests {
    @Test(
        "the UPG grid equals direct UPG in every cell (batch: bitwise; per sample, factored: 1e-12), and matches the NPG grid at a converged h*"
    )
    func upgGrid() throws {
        let problem = GradientFixtures.problem(GradientFixtures.resmlpModel(), batch: 3)
        let exact = GradientFixtures.exact(problem)
        let lambdas = [0.5, 1.0]
        let grid = try UPGGrid(maxSteps: 6, lambdas: lambdas).evaluate(problem, exact: exact, perSample: true)
        let samples = try #require(grid.perSample)
        let grams = (0..<problem.batchSize).map { ParameterGram.compute(problem.linearization, sample: $0) }
        let npgGrid = try NPGGrid(maxSteps: 6, lambdas: lambdas).evaluate(problem, exact: try #require(exact.stateCotangents), grams: grams)
        for (l, lambda) in lambdas.enumerated() {
            for k in 1...6 {
                let direct = try UnrolledPhantomGradient(steps: k, damping: lambda).estimate(problem, perSample: true)
                let metrics = GradientMetrics.compare(direct.batchMean, exact.batchMean)
                #expect(grid.batch[l][k - 1] == metrics)
                for i in 0..<problem.batchSize {
                    let materialized = GradientMetrics.compare(try #require(direct.perSample).row(i), try #require(exact.perSample).row(i))
                    #expect(abs(samples[i][l][k - 1].cosine - materialized.cosine) <= 1e-12)
                    #expect(abs(samples[i][l][k - 1].relativeError - materialized.relativeError) <= 1e-12 * materialized.relativeError)
                    #expect(abs(samples[i][l][k - 1].normRatio - materialized.normRatio) <= 1e-12 * materialized.normRatio)
                    #expect(abs(samples[i][l][k - 1].cosine - npgGrid.perSample[i][l][k - 1].cosine) <= 1e-10)
                }
            }
        }
    }
}

extension NPGGrid {
    /// docs/Theory.md §4's weights on the Krylov vectors of g (test-only: the engine uses the residual route),
    /// c_j(k, λ) = λ Σ_{t=j}^{k−1} C(t, j) λ^j (1 − λ)^{t−j}, the weights of NPG(k, λ) on (Jᵀ)^j g, for
    /// k = 1 … K (rows) and j = 0 … K − 1 (columns; zero for j ≥ k).
    static func coefficients(maxSteps K: Int, lambda: Double) -> Matrix {
        var c = Matrix(zeros: K, K)
        let pmf = binomialWeights(maxSteps: K - 1, lambda: lambda)
        var cumulative = [Double](repeating: 0, count: K)
        for t in 0..<K {
            for j in 0...t { cumulative[j] += pmf[t, j] }
            for j in 0...t { c[t, j] = lambda * cumulative[j] }  // row t is k = t + 1
        }
        return c
    }

}

@Suite("UPG's per-sample metrics from factored parameter VJPs")
struct FactoredUPGTests {
    @Test(
        "factored metrics equal the materialised ones to 1e-12, loosely solved (UPG ≠ NPG) and exactly solved (UPG = NPG)",
        arguments: GradientFixtures.ModelCase.allCases, [true, false])
    func factoredEqualsMaterialized(modelCase: GradientFixtures.ModelCase, loose: Bool) throws {
        let solver =
            loose
            ? try FixedPointConfiguration(method: .fixedPoint, stopping: .relative(1e-3), maxIterations: 8)
            : GradientFixtures.tightSolver()
        let problem = GradientFixtures.problem(modelCase.model, batch: 4, solver: solver)
        let exact = GradientFixtures.exact(problem)
        let grid = try UPGGrid(maxSteps: 6, lambdas: [0.4, 1.0], steps: [1, 2, 4, 6])
        let factored = try #require(grid.evaluate(problem, exact: exact, perSample: true).perSample)
        let materialized = try #require(grid.evaluate(problem, exact: exact, perSample: true, materialized: true).perSample)
        var largestError = 0.0
        for i in 0..<problem.batchSize {
            for l in 0..<2 {
                for s in 0..<4 {
                    let f = factored[i][l][s], m = materialized[i][l][s]
                    let label = "\(modelCase) sample \(i) l \(l) s \(s)"
                    #expect(abs(f.cosine - m.cosine) <= 1e-12, "\(label): cosine \(f.cosine) vs \(m.cosine)")
                    #expect(abs(f.inner - m.inner) <= 1e-12 * abs(m.inner), "\(label): inner")
                    #expect(abs(f.normRatio - m.normRatio) <= 1e-12 * m.normRatio, "\(label): norm ratio")
                    #expect(
                        abs(f.relativeError - m.relativeError) <= 1e-12 * m.relativeError + 1e-15,
                        "\(label): relative error \(f.relativeError) vs \(m.relativeError)")
                    largestError = max(largestError, m.relativeError)
                }
            }
        }
        // The loose solve leaves UPG visibly different from NPG; the tight one makes them agree (docs/Theory.md §2).
        let npg = try NeumannPhantomGradient(steps: 6, damping: 1).estimate(problem, perSample: true)
        let upg = try UnrolledPhantomGradient(steps: 6, damping: 1).estimate(problem, perSample: true)
        let gap = relativeError(try #require(upg.perSample).elements, try #require(npg.perSample).elements)
        #expect(loose ? gap > 1e-6 : gap < 1e-10, "UPG − NPG gap \(gap)")
        #expect(largestError > 0)
    }

    @Test("ParameterFactors materialise to the per-sample parameter VJP rows", arguments: GradientFixtures.ModelCase.allCases)
    func factorsMaterialize(modelCase: GradientFixtures.ModelCase) throws {
        let problem = GradientFixtures.problem(modelCase.model, batch: 3)
        var rng = SplitMix64(seed: 5)
        let u = gaussianMatrix(3, problem.model.stateDimension, &rng)
        let factors = problem.linearization.parameterFactors(u)
        #expect(relativeError(factors.materialized.elements, problem.linearization.parameterVJPRows(u).elements) <= 1e-15)
    }
}
