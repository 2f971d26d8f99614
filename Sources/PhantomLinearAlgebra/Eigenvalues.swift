import CLinAlg

/// A complex number as LAPACK returns eigenvalues of a real non-symmetric matrix.
public struct ComplexValue: Equatable, Sendable {
    public var real: Double
    public var imaginary: Double
    public init(real: Double, imaginary: Double) { self.real = real; self.imaginary = imaginary }
    /// |z|.
    public var magnitude: Double { (real * real + imaginary * imaginary).squareRoot() }
}

extension Matrix {
    /// The eigenvalues of a square, generally non-symmetric, matrix (in LAPACK's order; conjugate pairs
    /// adjacent). The corresponding C function is `LAPACKE_dgeev` (no eigenvectors). Complexity: O(n³).
    /// - Throws: `.shape` if not square, `.nonFiniteInput`, `.noConvergence`.
    public func eigenvalues() throws(LinearAlgebraError) -> [ComplexValue] {
        guard rows == columns else {
            throw .shape(routine: "dgeev", detail: "needs a square matrix, got \(rows)×\(columns)")
        }
        guard isFinite else { throw .nonFiniteInput(routine: "dgeev") }
        let n = rows
        if n == 0 { return [] }
        var a = elements
        var wr = [Double](repeating: 0, count: n)
        var wi = [Double](repeating: 0, count: n)
        var vl = [Double](repeating: 0, count: 1)
        var vr = [Double](repeating: 0, count: 1)
        let info = a.withUnsafeMutableBufferPointer { ap in
            wr.withUnsafeMutableBufferPointer { rp in
                wi.withUnsafeMutableBufferPointer { ip in
                    vl.withUnsafeMutableBufferPointer { lp in
                        vr.withUnsafeMutableBufferPointer { vp in
                            LAPACKE_dgeev(LAPACK_ROW_MAJOR, 78, 78, Int32(n), ap.baseAddress, Int32(n),
                                          rp.baseAddress, ip.baseAddress, lp.baseAddress, 1, vp.baseAddress, 1)
                        }
                    }
                }
            }
        }
        try checkLAPACK(info, "dgeev") { .noConvergence(routine: "dgeev", info: $0) }
        return (0..<n).map { ComplexValue(real: wr[$0], imaginary: wi[$0]) }
    }

    /// The spectral radius ρ(A) = max |μ| over the eigenvalues μ of A.
    public func spectralRadius() throws(LinearAlgebraError) -> Double {
        try eigenvalues().map(\.magnitude).max() ?? 0
    }
}
