import Testing
import PhantomLinearAlgebra
import PhantomTestSupport

@Suite("GMRES and spectral-norm estimators")
struct KrylovTests {
    /// A non-symmetric, well-conditioned system: I + 0.5 R/√n with R Gaussian.
    static func nonSymmetric(_ n: Int) -> Matrix {
        var a = randomMatrix(n, n, seed: 21)
        BLAS.scal(0.5 / Double(n).squareRoot(), &a.elements)
        return Matrix.identity(n) + a
    }

    @Test("GMRES(20) reaches 1e-12 on a non-symmetric well-conditioned system, with restarts")
    func gmresConverges() throws {
        let n = 120
        let a = Self.nonSymmetric(n)
        var rng = SplitMix64(seed: 22)
        let x = (0..<n).map { _ in rng.nextGaussian() }
        let b = a * x
        let solver = try GMRES(tolerance: 1e-12, restart: 20, maxIterations: 500)
        let result = solver.solve(a, b)
        #expect(result.status == .converged)
        #expect(result.relativeResidual <= 1e-12)
        #expect(relativeError(result.solution, x) < 1e-10)
        // The reported residual is the true one.
        let r = zip(b, a * result.solution).map { $0 - $1 }
        #expect(abs(BLAS.nrm2(r) / BLAS.nrm2(b) - result.relativeResidual) < 1e-14)
        #expect(result.residualHistory.first == 1)
        #expect(result.iterations > 20)  // it did restart
    }

    @Test("GMRES on a singular, inconsistent system reports non-convergence with its residual")
    func gmresSingular() throws {
        let n = 30
        var d = (0..<n).map { Double($0 + 1) }
        d[n - 1] = 0  // singular
        let a = Matrix.diagonal(d)
        let b = [Double](repeating: 1, count: n)  // has a component outside range(A)
        let result = try GMRES(tolerance: 1e-10, restart: 10, maxIterations: 200).solve(a, b)
        #expect(result.status != .converged)
        #expect(!result.status.isConverged)
        #expect(result.relativeResidual > 0.1)  // ‖e_n‖/‖b‖ = 1/√30 ≈ 0.18 is the best possible
        #expect(abs(result.relativeResidual - 1 / Double(n).squareRoot()) < 1e-8)
    }

    @Test("GMRES flags NaN input and a zero right-hand side gives x = 0")
    func gmresEdges() throws {
        let a = Matrix.identity(3)
        let solver = try GMRES()
        #expect(solver.solve(a, [1, .nan, 0]).status == .nonFiniteInput)
        let zero = solver.solve(a, [0, 0, 0])
        #expect(zero.status == .converged && zero.solution == [0, 0, 0])
        #expect(throws: ConfigurationError.self) { try GMRES(tolerance: -1) }
        #expect(throws: ConfigurationError.self) { try GMRES(restart: 0) }
    }

    @Test("Power iteration and Lanczos give σ_max equal to dgesdd's", arguments: SpectralNormEstimator.Method.allCases)
    func spectralNorm(method: SpectralNormEstimator.Method) throws {
        let a = randomMatrix(80, 50, seed: 23)
        let exact = try a.spectralNorm()
        let estimator = try SpectralNormEstimator(method: method, tolerance: 1e-13, maxIterations: 5000)
        let estimate = estimator.estimate(a)
        #expect(estimate.converged)
        #expect(abs(estimate.value - exact) <= 1e-8 * exact)
        // Matrix-free: the same through closures.
        let op = FunctionOperator(inputDimension: 50, outputDimension: 80,
                                  apply: { x, y in y = a * x }, applyTranspose: { x, y in y = a.applyTranspose(x) })
        #expect(abs(estimator.estimate(op).value - exact) <= 1e-8 * exact)
    }

    @Test("Lanczos needs far fewer products than power iteration when σ₁ ≈ σ₂")
    func lanczosIsFaster() throws {
        let n = 200
        let q = try #require(try SymmetricEigen(randomMatrix(n, n, seed: 24) + randomMatrix(n, n, seed: 24).transposed).vectors)
        var d = [Double](repeating: 0, count: n)
        for i in 0..<n { d[i] = 0.5 * Double(n - i) / Double(n) }
        d[0] = 1
        d[1] = 0.99
        let a = q * Matrix.diagonal(d) * q.transposed
        let lanczos = try SpectralNormEstimator(method: .lanczos, tolerance: 1e-10).estimate(a)
        let power = try SpectralNormEstimator(method: .power, tolerance: 1e-10, maxIterations: 5000).estimate(a)
        #expect(abs(lanczos.value - 1) < 1e-9)
        #expect(lanczos.iterations * 4 < power.iterations)
    }
}
