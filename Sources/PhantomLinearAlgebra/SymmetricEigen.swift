import CLinAlg

/// Eigen-decomposition A = Q diag(λ) Qᵀ of a symmetric matrix (only the upper triangle is read).
///
/// Eigenvalues ascend. The corresponding C function is `LAPACKE_dsyevd` (divide and conquer).
/// Complexity: O(n³).
public struct SymmetricEigen: Sendable {
    /// λ₁ ≤ … ≤ λₙ.
    public let values: [Double]
    /// Q with the eigenvectors as columns (nil when only values were asked for).
    public let vectors: Matrix?

    /// - Parameter computeVectors: also compute Q (default true).
    /// - Throws: `.shape` if not square, `.nonFiniteInput`, `.noConvergence`.
    public init(_ matrix: Matrix, computeVectors: Bool = true) throws(LinearAlgebraError) {
        guard matrix.rows == matrix.columns else {
            throw .shape(routine: "dsyevd", detail: "needs a square matrix, got \(matrix.rows)×\(matrix.columns)")
        }
        guard matrix.isFinite else { throw .nonFiniteInput(routine: "dsyevd") }
        let n = matrix.rows
        var a = matrix.elements
        var w = [Double](repeating: 0, count: n)
        if n > 0 {
            let info = a.withUnsafeMutableBufferPointer { ap in
                w.withUnsafeMutableBufferPointer { wp in
                    LAPACKE_dsyevd(
                        LAPACK_ROW_MAJOR, computeVectors ? 86 /* V */ : 78 /* N */, 85 /* U */,
                        Int32(n), ap.baseAddress, Int32(n), wp.baseAddress)
                }
            }
            try checkLAPACK(info, "dsyevd") { .noConvergence(routine: "dsyevd", info: $0) }
        }
        values = w
        vectors = computeVectors ? Matrix(rows: n, columns: n, elements: a) : nil
    }

    /// Generalized symmetric-definite problem A x = λ B x with B positive definite.
    ///
    ///     A x = λ B x,   xᵀ B x = 1
    ///
    /// Used for the tight certificate ρ* = √λ_max(EᵀE, M Mᵀ) of docs/Theory.md §3. The corresponding C function
    /// is `LAPACKE_dsygvd` (itype 1).
    /// - Throws: `.notPositiveDefinite` when B is not (numerically) positive definite.
    public init(_ a: Matrix, _ b: Matrix, computeVectors: Bool = true) throws(LinearAlgebraError) {
        guard a.rows == a.columns, b.rows == b.columns, a.rows == b.rows else {
            throw .shape(routine: "dsygvd", detail: "A \(a.rows)×\(a.columns) and B \(b.rows)×\(b.columns) must be square and equal")
        }
        guard a.isFinite, b.isFinite else { throw .nonFiniteInput(routine: "dsygvd") }
        let n = a.rows
        var ae = a.elements
        var be = b.elements
        var w = [Double](repeating: 0, count: n)
        if n > 0 {
            let info = ae.withUnsafeMutableBufferPointer { ap in
                be.withUnsafeMutableBufferPointer { bp in
                    w.withUnsafeMutableBufferPointer { wp in
                        LAPACKE_dsygvd(
                            LAPACK_ROW_MAJOR, 1, computeVectors ? 86 : 78, 85, Int32(n),
                            ap.baseAddress, Int32(n), bp.baseAddress, Int32(n), wp.baseAddress)
                    }
                }
            }
            try checkLAPACK(info, "dsygvd") { code in
                code > n
                    ? .notPositiveDefinite(routine: "dsygvd", minor: code - n)
                    : .noConvergence(routine: "dsygvd", info: code)
            }
        }
        values = w
        vectors = computeVectors ? Matrix(rows: n, columns: n, elements: ae) : nil
    }
}
