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

@Suite("Batched LOBPCG on a pencil: the largest λ_max(A, G) over the range of a singular G")
struct GeneralizedLOBPCGTests {
    /// Per row a pencil (A, G): G = V diag(g) Vᵀ with V a random orthogonal basis, g over a decade and `nullity`
    /// zeros (singular G), and A = Π Ã Π with Ã = Q Qᵀ and Π the projector onto G's range, so that A vanishes on G's
    /// null space — ρ*'s finite case. The expected value from LAPACK: λ_max(Λ_R^{-1/2} Rᵀ A R Λ_R^{-1/2}) on G's
    /// eigenvectors R of non-null eigenvalues.
    func pencils(rows b: Int, n: Int, nullity: Int, seed: UInt64) throws -> [(a: Matrix, g: Matrix, exact: Double)] {
        var rng = SplitMix64(seed: seed)
        return try (0..<b).map { _ in
            var z = Matrix(zeros: n, n)
            for i in 0..<n { for j in 0..<n { z[i, j] = rng.nextGaussian() } }
            let v = try SymmetricEigen(z.symmetricPart).vectors!
            let spectrum = (0..<n).map { $0 < nullity ? 0 : pow(10, -rng.nextUniform()) }
            var scaled = v
            for i in 0..<n { for j in 0..<n { scaled[i, j] *= spectrum[j] } }
            let g = (scaled * v.transposed).symmetricPart
            var q = Matrix(zeros: n, n)
            for i in 0..<n { for j in 0..<n { q[i, j] = rng.nextGaussian() } }
            var r = Matrix(zeros: n, n - nullity), rs = r
            for c in 0..<(n - nullity) {
                for i in 0..<n { (r[i, c], rs[i, c]) = (v[i, nullity + c], v[i, nullity + c] / spectrum[nullity + c].squareRoot()) }
            }
            let projector = r * r.transposed
            let a = (projector * (q * q.transposed) * projector).symmetricPart
            let exact = try SymmetricEigen((rs.transposed * a * rs).symmetricPart, computeVectors: false).values.last!
            return (a, g, exact)
        }
    }

    func run(_ p: [(a: Matrix, g: Matrix, exact: Double)], maxSteps: Int = 400)
        -> (results: [RitzValue], vectors: Matrix, steps: [Int])
    {
        let b = p.count, n = p[0].a.rows
        return BatchedLOBPCG.largestGeneralized(
            rows: b, dimension: n, tolerance: 1e-8,
            nullFloor: try! p.map { 1e-12 * (try SymmetricEigen($0.g, computeVectors: false).values.last!) }, maxSteps: maxSteps,
            project: { $0 }, preconditioner: { $0 },
            apply: { v in Matrix(rowArrays: (0..<b).map { p[$0].a * v.row($0) }) },
            applyGram: { v in Matrix(rowArrays: (0..<b).map { p[$0].g * v.row($0) }) })
    }

    @Test("equals LAPACK's on the range of G, singular or not, with the true residual reported", arguments: [0, 7])
    func agreesWithLAPACK(nullity: Int) throws {
        let p = try pencils(rows: 4, n: 40, nullity: nullity, seed: 51 + UInt64(nullity))
        let out = run(p)
        for (i, pencil) in p.enumerated() {
            let r = out.results[i]
            // (unpreconditioned, its steps grow like √κ(G): here 10, so well within the 400 allowed)
            #expect(r.converged, "row \(i): \(r) after \(out.steps[i]) steps")
            #expect(abs(r.value - pencil.exact) <= 1e-8 * pencil.exact, "row \(i): \(r.value) vs \(pencil.exact)")
            // The residual is ‖A x − μ G x‖ / ‖G x‖ of the returned vector.
            let x = out.vectors.row(i)
            let ax = pencil.a * x, gx = pencil.g * x
            let residual = BLAS.nrm2(zip(ax, gx).map { $0 - r.value * $1 }) / BLAS.nrm2(gx)
            #expect(abs(residual - r.residual) <= 1e-6 * residual + 1e-11 * r.value, "row \(i): \(residual) vs \(r.residual)")
        }
    }

    @Test("too few steps: the value is reported with its residual, not converged; a non-finite operator fails its row")
    func shortAndBroken() throws {
        let p = try pencils(rows: 2, n: 40, nullity: 3, seed: 61)
        let short = run(p, maxSteps: 2)
        #expect(short.results.allSatisfy { !$0.converged && $0.residual > 0 && $0.value.isFinite })
        let b = p.count, n = 40
        let broken = BatchedLOBPCG.largestGeneralized(
            rows: b, dimension: n, nullFloor: [1e-12, 1e-12], maxSteps: 400, project: { $0 }, preconditioner: { $0 },
            apply: { v in Matrix(rowArrays: (0..<b).map { $0 == 0 ? [Double](repeating: .nan, count: n) : p[$0].a * v.row($0) }) },
            applyGram: { v in Matrix(rowArrays: (0..<b).map { p[$0].g * v.row($0) }) })
        #expect(broken.results[0].value.isNaN && !broken.results[0].converged)
        #expect(broken.results[1].converged && abs(broken.results[1].value - p[1].exact) <= 1e-6 * p[1].exact)
    }

    @Test("a warm start at an interior eigenvector of the pencil does not end the run: the largest is still found")
    func interiorWarmStart() throws {
        let p = try pencils(rows: 1, n: 30, nullity: 4, seed: 71)
        // An interior generalized eigenvector: G^{-1/2}-transform of an interior eigenvector of the reduced problem.
        let (a, g) = (p[0].a, p[0].g)
        let eigen = try SymmetricEigen(g)
        let range = eigen.values.indices.filter { eigen.values[$0] > 1e-12 * eigen.values.last! }
        var rs = Matrix(zeros: 30, range.count)
        for (c, e) in range.enumerated() { for i in 0..<30 { rs[i, c] = eigen.vectors![i, e] / eigen.values[e].squareRoot() } }
        let reduced = try SymmetricEigen((rs.transposed * a * rs).symmetricPart)
        let interior = rs * reduced.vectors!.column(range.count / 2)
        let out = BatchedLOBPCG.largestGeneralized(
            rows: 1, dimension: 30, nullFloor: [1e-12 * eigen.values.last!], maxSteps: 400,
            start: Matrix(rows: 1, columns: 30, elements: interior), project: { $0 }, preconditioner: { $0 },
            apply: { v in Matrix(rowArrays: [a * v.row(0)]) }, applyGram: { v in Matrix(rowArrays: [g * v.row(0)]) })
        #expect(out.results[0].converged && out.steps[0] > 0)
        #expect(abs(out.results[0].value - p[0].exact) <= 1e-8 * p[0].exact, "\(out.results[0].value) vs \(p[0].exact)")
    }
}
