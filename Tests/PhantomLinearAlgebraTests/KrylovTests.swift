import Foundation
import PhantomLinearAlgebra
import PhantomTestSupport
import Testing

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
        let op = FunctionOperator(
            inputDimension: 50, outputDimension: 80,
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

@Suite("Batched LOBPCG: smallest eigenvalues of badly scaled symmetric operators")
struct LOBPCGTests {
    /// The ascent margin's operator for a tanh-like cell, sym(G(I − Jᵀ)) with J = D W and G = D²: D with scales over
    /// three decades and ‖W‖ ≈ 0.9, so that the lowest eigenvalues sit in a tight cluster for Lanczos; per row a
    /// different operator. G^{-1} is the preconditioner (G^{1/2} Jᵀ G^{-1/2} = D Wᵀ stays bounded).
    func operators(rows b: Int, n: Int, seed: UInt64) -> [Matrix] {
        var rng = SplitMix64(seed: seed)
        return (0..<b).map { _ in
            let d = (0..<n).map { _ in pow(10, -3 * rng.nextUniform()) }
            var a = Matrix(zeros: n, n)
            var w = Matrix(zeros: n, n)
            for i in 0..<n { for j in 0..<n { w[i, j] = 0.45 * rng.nextGaussian() / Double(n).squareRoot() } }
            // (G(I − Jᵀ))_ij = d_i² (δ_ij − (Jᵀ)_ij) = d_i² (δ_ij − d_j W_ji).
            for i in 0..<n { for j in 0..<n { a[i, j] = d[i] * d[i] * ((i == j ? 1 : 0) - d[j] * w[j, i]) } }
            return a.symmetricPart
        }
    }

    @Test("equals LAPACK's smallest eigenvalue, within the reported residual, in fewer products than Lanczos needs")
    func agreesWithLAPACK() throws {
        let (b, n) = (5, 60)
        let a = operators(rows: b, n: n, seed: 41)
        let apply = { (v: Matrix) -> Matrix in
            Matrix(rowArrays: (0..<b).map { i in (a[i] * v.row(i)) })
        }
        let inverse = Matrix(rowArrays: a.map { m in (0..<n).map { 1 / max(abs(m[$0, $0]), 1e-300) } })
        let scale = try a.map { try SymmetricEigen($0, computeVectors: false).values.map(abs).max()! }
        let run = BatchedLOBPCG.smallest(
            rows: b, dimension: n, tolerance: 1e-10, scale: scale, maxSteps: 300,
            preconditioner: { $0.hadamard(inverse) }, apply: apply)
        let lanczos = BatchedLanczos.extremes(rows: b, dimension: n, tolerance: 1e-10, maxSteps: n, apply: apply)
        for i in 0..<b {
            let exact = try SymmetricEigen(a[i], computeVectors: false).values[0]
            #expect(run.results[i].converged)
            #expect(
                abs(run.results[i].value - exact) <= max(run.results[i].residual, 1e-12 * scale[i]),
                "row \(i): \(run.results[i]) vs \(exact)")
            #expect(run.results[i].residual <= 1e-10 * scale[i])
            // The residual is the true ‖A x − θ x‖ of the returned unit vector.
            let x = run.vectors.row(i)
            let ax = (a[i] * x)
            let r = zip(ax, x).map { $0 - run.results[i].value * $1 }
            #expect(abs(BLAS.nrm2(x) - 1) <= 1e-12)
            #expect(BLAS.nrm2(r) <= 1.01 * run.results[i].residual + 1e-14 * scale[i])
        }
        #expect(run.steps.max()! < lanczos.map(\.steps).max()!, "LOBPCG \(run.steps) vs Lanczos \(lanczos.map(\.steps))")
    }

    @Test("a non-finite operator fails its row (NaN, not converged) and leaves the others alone")
    func breakdown() {
        let (b, n) = (3, 10)
        let a = operators(rows: b, n: n, seed: 42)
        let inverse = Matrix(rowArrays: a.map { m in (0..<n).map { 1 / max(abs(m[$0, $0]), 1e-300) } })
        let run = BatchedLOBPCG.smallest(
            rows: b, dimension: n, scale: [1, 1, 1], preconditioner: { $0.hadamard(inverse) },
            apply: { v in Matrix(rowArrays: (0..<b).map { i in i == 1 ? [Double](repeating: .nan, count: n) : (a[i] * v.row(i)) }) })
        #expect(run.results[1].value.isNaN && !run.results[1].converged)
        #expect(run.results[0].converged && run.results[2].converged, "\(run.results) \(run.steps)")
    }
}

@Suite("Warm starts cannot trap Lanczos or LOBPCG at an interior eigenvalue")
struct WarmStartTests {
    /// diag(1, 2, …, n) per row, started from an interior eigenvector e_{n/2}: a pure start there spans an invariant
    /// subspace, so the method would stop at n/2 + 1 with residual 0. The mixed start must find 1 and n.
    @Test("Lanczos and LOBPCG started from an interior eigenvector still find the extremes")
    func interiorEigenvector() {
        let (b, n) = (2, 40)
        let diagonal = Matrix(rowArrays: (0..<b).map { _ in (0..<n).map { Double($0 + 1) } })
        var start = Matrix(zeros: b, n)
        for i in 0..<b { start[i, n / 2] = 1 }
        let apply = { (v: Matrix) -> Matrix in v.hadamard(diagonal) }
        let lanczos = BatchedLanczos.extremes(rows: b, dimension: n, tolerance: 1e-10, maxSteps: n, start: start, apply: apply)
        let lobpcg = BatchedLOBPCG.smallest(
            rows: b, dimension: n, tolerance: 1e-10, scale: [Double](repeating: Double(n), count: b),
            start: start, preconditioner: { $0 }, apply: apply)
        for i in 0..<b {
            #expect(abs(lanczos[i].smallest.value - 1) <= 1e-8 && lanczos[i].smallest.converged, "\(lanczos[i])")
            #expect(abs(lanczos[i].largest.value - Double(n)) <= 1e-8 && lanczos[i].largest.converged, "\(lanczos[i])")
            #expect(abs(lobpcg.results[i].value - 1) <= 1e-8 && lobpcg.results[i].converged, "\(lobpcg.results[i])")
        }
    }
}
