import PhantomLinearAlgebra
import PhantomTestSupport
import Testing

/// Plain Swift references for the BLAS/LAPACK wrappers.
private func referenceProduct(_ a: Matrix, _ b: Matrix) -> Matrix {
    var c = Matrix(zeros: a.rows, b.columns)
    for i in 0..<a.rows {
        for j in 0..<b.columns {
            var s = 0.0
            for k in 0..<a.columns { s += a[i, k] * b[k, j] }
            c[i, j] = s
        }
    }
    return c
}

func randomMatrix(_ rows: Int, _ columns: Int, seed: UInt64) -> Matrix {
    var rng = SplitMix64(seed: seed)
    return Matrix(rows: rows, columns: columns, elements: (0..<(rows * columns)).map { _ in rng.nextGaussian() })
}

@Suite("BLAS wrappers against plain Swift on odd sizes")
struct BLASWrapperTests {
    static let sizes = [1, 7, 37, 129]

    @Test("gemm with every transposition equals the triple loop", arguments: sizes)
    func gemm(n: Int) {
        let m = n + 2, k = max(1, n - 1)
        let a = randomMatrix(m, k, seed: 1), b = randomMatrix(k, n, seed: 2)
        let reference = referenceProduct(a, b)
        #expect(relativeError((a * b).elements, reference.elements) < 1e-13)
        #expect(relativeError(BLAS.gemm(a.transposed, transposeA: true, b).elements, reference.elements) < 1e-13)
        #expect(relativeError(BLAS.gemm(a, b.transposed, transposeB: true).elements, reference.elements) < 1e-13)
        // C ← αAB + βC
        var c = randomMatrix(m, n, seed: 3)
        let expected = (2.0 * reference) + (-0.5 * c)
        BLAS.gemm(a, b, alpha: 2, beta: -0.5, into: &c)
        #expect(relativeError(c.elements, expected.elements) < 1e-13)
        // A Aᵀ by dsyrk equals the gemm route, both triangles.
        #expect(relativeError(BLAS.syrk(a).elements, BLAS.gemm(a, a, transposeB: true).elements) < 1e-13)
    }

    @Test("gemv, dot, nrm2 and axpy equal plain loops", arguments: sizes)
    func level1and2(n: Int) {
        let a = randomMatrix(n + 3, n, seed: 4)
        var rng = SplitMix64(seed: 5)
        let x = (0..<n).map { _ in rng.nextGaussian() }
        let y = (0..<(n + 3)).map { _ in rng.nextGaussian() }
        let ax = (0..<a.rows).map { i in (0..<n).reduce(0.0) { $0 + a[i, $1] * x[$1] } }
        let aty = (0..<n).map { j in (0..<a.rows).reduce(0.0) { $0 + a[$1, j] * y[$1] } }
        #expect(relativeError(a * x, ax) < 1e-13)
        #expect(relativeError(a.applyTranspose(y), aty) < 1e-13)
        let dot = zip(x, x).reduce(0.0) { $0 + $1.0 * $1.1 }
        #expect(abs(BLAS.dot(x, x) - dot) <= 1e-13 * dot)
        #expect(abs(BLAS.nrm2(x) - dot.squareRoot()) <= 1e-13 * dot.squareRoot())
        var z = x
        BLAS.axpy(3, x, &z)
        #expect(relativeError(z, x.map { 4 * $0 }) < 1e-15)
    }

    @Test("materialized() of a matrix-free operator equals the matrix; adjointness holds")
    func operatorLaws() {
        let a = randomMatrix(9, 5, seed: 6)
        let op = FunctionOperator(
            inputDimension: 5, outputDimension: 9,
            apply: { x, y in y = a * x },
            applyTranspose: { x, y in y = a.applyTranspose(x) })
        #expect(relativeError(op.materialized().elements, a.elements) < 1e-15)
        #expect(relativeError(op.transposed.materialized().elements, a.transposed.elements) < 1e-15)
        var rng = SplitMix64(seed: 7)
        let x = (0..<5).map { _ in rng.nextGaussian() }, y = (0..<9).map { _ in rng.nextGaussian() }
        let lhs = BLAS.dot(op.apply(x), y), rhs = BLAS.dot(x, op.applyTranspose(y))
        #expect(abs(lhs - rhs) <= 1e-12 * max(abs(lhs), 1))
        let square = randomMatrix(6, 6, seed: 8)
        let iMinus = IdentityMinus(square).materialized()
        #expect(relativeError(iMinus.elements, (Matrix.identity(6) - square).elements) < 1e-15)
        let b = randomMatrix(5, 6, seed: 9)
        let composed = ComposedOperator(a, b)
        #expect(relativeError(composed.materialized().elements, (a * b).elements) < 1e-13)
        #expect(relativeError(composed.transposed.materialized().elements, (a * b).transposed.elements) < 1e-13)
    }
}
