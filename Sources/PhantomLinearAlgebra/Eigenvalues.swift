import CLinAlg
import Numerics

extension Complex where RealType == Double {
    /// The modulus |z| = √(x² + y²) of z = x + iy, computed exactly so — the toolkit's spectral radii and
    /// ρ(B) = max |1 − λ(1 − μ)| are this expression, bit for bit.
    ///
    /// Not swift-numerics' `length`: that returns the same √(x² + y²) only while x² + y² is a normal number, and
    /// switches to hypot(x, y) when it underflows or overflows and to +∞ when x or y is NaN (|NaN| here stays
    /// NaN, so a failed eigenvalue is not mistaken for a diverging one). Not `magnitude` either: for ``Complex``
    /// that is the ∞-norm max(|x|, |y|).
    @inlinable public var modulus: Double { (real * real + imaginary * imaginary).squareRoot() }
}

extension Matrix {
    /// The eigenvalues of a square, generally non-symmetric, matrix (in LAPACK's order; conjugate pairs
    /// adjacent). The corresponding C function is `LAPACKE_dgeev` (no eigenvectors). Complexity: O(n³).
    /// - Throws: `.shape` if not square, `.nonFiniteInput`, `.noConvergence`.
    public func eigenvalues() throws(LinearAlgebraError) -> [Complex<Double>] {
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
                            LAPACKE_dgeev(
                                LAPACK_ROW_MAJOR, 78, 78, Int32(n), ap.baseAddress, Int32(n),
                                rp.baseAddress, ip.baseAddress, lp.baseAddress, 1, vp.baseAddress, 1)
                        }
                    }
                }
            }
        }
        try checkLAPACK(info, "dgeev") { .noConvergence(routine: "dgeev", info: $0) }
        return (0..<n).map { Complex(wr[$0], wi[$0]) }
    }

    /// The spectral radius ρ(A) = max |μ| over the eigenvalues μ of A.
    public func spectralRadius() throws(LinearAlgebraError) -> Double {
        try eigenvalues().map(\.modulus).max() ?? 0
    }
}
