import Numerics
import PhantomLinearAlgebra
import PhantomTestSupport
import Testing

@Suite("LAPACK wrappers")
struct LAPACKTests {
    @Test("LU solves A X = B and Aᵀ X = B for many right-hand sides", arguments: [1, 7, 37, 129])
    func luSolve(n: Int) throws {
        var a = randomMatrix(n, n, seed: UInt64(n))
        for i in 0..<n { a[i, i] += Double(n) }  // well conditioned
        let x = randomMatrix(n, 3, seed: 99)
        let lu = try LUFactorization(a)
        #expect(relativeError(lu.solve(a * x).elements, x.elements) < 1e-12)
        #expect(relativeError(lu.solve(BLAS.gemm(a, transposeA: true, x), transposed: true).elements, x.elements) < 1e-12)
        let v = x.column(0)
        #expect(relativeError(lu.solve(a * v), v) < 1e-12)
    }

    @Test("LU of a singular matrix throws .singular; NaN throws .nonFiniteInput")
    func luFailures() {
        let singular = Matrix(rowArrays: [[1, 2], [2, 4]])
        #expect(throws: LinearAlgebraError.singular(routine: "dgetrf", pivot: 2)) { try LUFactorization(singular) }
        let nan = Matrix(rowArrays: [[1, .nan], [0, 1]])
        #expect(throws: LinearAlgebraError.nonFiniteInput(routine: "dgetrf")) { try LUFactorization(nan) }
        #expect(throws: LinearAlgebraError.self) { try LUFactorization(Matrix(zeros: 2, 3)) }
    }

    @Test("dsyevd: Q diag(λ) Qᵀ reproduces a symmetric matrix; eigenvalues ascend", arguments: [1, 7, 37, 129])
    func symmetricEigen(n: Int) throws {
        let b = randomMatrix(n, n, seed: 11)
        let s = b + b.transposed
        let eig = try SymmetricEigen(s)
        let q = try #require(eig.vectors)
        let rebuilt = q * Matrix.diagonal(eig.values) * q.transposed
        #expect(relativeError(rebuilt.elements, s.elements) < 1e-12)
        #expect(zip(eig.values, eig.values.dropFirst()).allSatisfy { $0 <= $1 })
    }

    @Test("dsygvd: A x = λ B x with B positive definite; a non-definite B throws")
    func generalizedEigen() throws {
        let n = 17
        let c = randomMatrix(n, n, seed: 12)
        let a = c + c.transposed
        let r = randomMatrix(n, n, seed: 13)
        let b = BLAS.gemm(r, transposeA: true, r) + Matrix.identity(n)
        let eig = try SymmetricEigen(a, b)
        let x = try #require(eig.vectors)
        // A X = B X Λ
        #expect(relativeError((a * x).elements, (b * x * Matrix.diagonal(eig.values)).elements) < 1e-10)
        #expect(throws: LinearAlgebraError.self) { try SymmetricEigen(a, -1.0 * b) }
    }

    @Test("dgesdd singular values equal √eig(AᵀA), and ‖Q D‖₂ = max |D|", arguments: [1, 7, 37, 129])
    func singularValues(n: Int) throws {
        let a = randomMatrix(n + 4, n, seed: 14)
        let sigma = try a.singularValues()
        let gram = try SymmetricEigen(BLAS.gemm(a, transposeA: true, a), computeVectors: false)
        let fromGram = gram.values.reversed().map { max($0, 0).squareRoot() }
        #expect(relativeError(sigma, Array(fromGram)) < 1e-10)
        // An orthogonal Q times a diagonal has exactly the diagonal's magnitudes as singular values.
        let q = try #require(try SymmetricEigen(a.transposed * a).vectors)
        let d = (0..<n).map { Double($0 + 1) * (($0 % 2 == 0) ? 1 : -1) }
        #expect(abs(try (q * Matrix.diagonal(d)).spectralNorm() - Double(n)) < 1e-11 * Double(n))
    }

    @Test("dgeev: eigenvalues of a rotation block and a triangular matrix; spectral radius")
    func eigenvalues() throws {
        let rotation = Matrix(rowArrays: [[0, -2, 0], [2, 0, 0], [0, 0, 0.5]])
        let values = try rotation.eigenvalues()
        #expect(values.contains { abs($0.real) < 1e-14 && abs(abs($0.imaginary) - 2) < 1e-14 })
        #expect(abs(try rotation.spectralRadius() - 2) < 1e-14)
        let triangular = Matrix(rowArrays: [[0.3, 5, 7], [0, -0.9, 4], [0, 0, 0.1]])
        #expect(abs(try triangular.spectralRadius() - 0.9) < 1e-14)
        #expect(throws: LinearAlgebraError.self) { try Matrix(rowArrays: [[Double.infinity]]).eigenvalues() }
    }

    @Test("modulus is √(x² + y²) exactly, also where swift-numerics' length switches to hypot or +∞")
    func modulus() {
        for (x, y) in [(3.0, 4.0), (0.1, 0.7), (-1e-3, 2.5), (0.0, 0.0)] {
            #expect(Complex(x, y).modulus == (x * x + y * y).squareRoot())
            #expect(Complex(x, y).modulus == Complex(x, y).length)
        }
        // x² + y² subnormal: length takes hypot, modulus keeps the expression (the results files' formula).
        let tiny = Complex(3e-160, 4e-160)
        #expect(tiny.modulus == (tiny.real * tiny.real + tiny.imaginary * tiny.imaginary).squareRoot())
        #expect(tiny.length == 5e-160)
        #expect(tiny.modulus != tiny.length)
        // A NaN part: |z| stays NaN (length says +∞).
        #expect(Complex(Double.nan, 1).modulus.isNaN)
        #expect(Complex(Double.nan, 1).length == .infinity)
    }
}
