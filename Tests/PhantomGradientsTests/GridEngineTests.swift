import Testing
import PhantomLinearAlgebra
import PhantomModel
import PhantomGradients
import PhantomTestSupport

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

    @Test("the grid equals direct NPG in every cell to 1e-10, per sample and for the batch",
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
                    expectSame(grid.perSample[i][l][k - 1], GradientMetrics.compare(rows.row(i), exactRows.row(i)), "sample \(i), λ \(lambda), k \(k)")
                }
                expectSame(batch[l][k - 1], GradientMetrics.compare(npg.batchMean, exact.batchMean), "batch, λ \(lambda), k \(k)")
            }
        }
    }

    func expectSame(_ grid: GradientMetrics, _ direct: GradientMetrics, _ label: String) {
        #expect(abs(grid.cosine - direct.cosine) <= 1e-10, "\(label): cosine")
        #expect(abs(grid.normRatio - direct.normRatio) <= 1e-10 * direct.normRatio, "\(label): norm ratio")
        #expect(abs(grid.relativeError - direct.relativeError) <= 1e-10 * direct.relativeError + 1e-14,
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

import Foundation

extension GridEngineTests {
    @Test("the UPG grid equals direct UPG in every cell, and matches the NPG grid at a converged h*")
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
                    #expect(samples[i][l][k - 1] == GradientMetrics.compare(try #require(direct.perSample).row(i), try #require(exact.perSample).row(i)))
                    #expect(abs(samples[i][l][k - 1].cosine - npgGrid.perSample[i][l][k - 1].cosine) <= 1e-10)
                }
            }
        }
    }
}

extension NPGGrid {
    /// THEORY.md §4's weights on the Krylov vectors of g (test-only: the engine uses the residual route),
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
