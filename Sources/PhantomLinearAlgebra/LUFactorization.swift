import CLinAlg

/// The LU factorisation P A = L U of a square matrix, computed once and reused for many right-hand sides.
///
/// Solves A x = b and Aᵀ x = b from the same factors (the transposed solve is what the adjoint
/// (I − Jᵀ) w = g of the implicit gradient needs when I − J was factorised). The corresponding C
/// functions are `LAPACKE_dgetrf` and `LAPACKE_dgetrs`.
///
/// Complexity: (2/3) n³ flops to factor, 2 n² per right-hand side.
public struct LUFactorization: Sendable {
    public let order: Int
    /// L and U packed row-major, as `dgetrf` leaves them.
    let factors: [Double]
    /// 1-based pivot indices from `dgetrf`.
    let pivots: [Int32]

    /// Factors `matrix`.
    /// - Throws: ``LinearAlgebraError/singular(routine:pivot:)`` when an exact zero pivot occurs,
    ///   `.nonFiniteInput` for NaN/∞, `.shape` when not square.
    public init(_ matrix: Matrix) throws(LinearAlgebraError) {
        guard matrix.rows == matrix.columns else {
            throw .shape(routine: "dgetrf", detail: "needs a square matrix, got \(matrix.rows)×\(matrix.columns)")
        }
        guard matrix.isFinite else { throw .nonFiniteInput(routine: "dgetrf") }
        let n = matrix.rows
        var a = matrix.elements
        var ipiv = [Int32](repeating: 0, count: n)
        if n > 0 {
            let info = a.withUnsafeMutableBufferPointer { ap in
                ipiv.withUnsafeMutableBufferPointer { pp in
                    LAPACKE_dgetrf(LAPACK_ROW_MAJOR, Int32(n), Int32(n), ap.baseAddress, Int32(n), pp.baseAddress)
                }
            }
            try checkLAPACK(info, "dgetrf") { .singular(routine: "dgetrf", pivot: $0) }
        }
        order = n
        factors = a
        pivots = ipiv
    }

    /// Solves A X = B (or Aᵀ X = B) for every column of B at once.
    public func solve(_ b: Matrix, transposed: Bool = false) -> Matrix {
        precondition(b.rows == order, "LU solve: B has \(b.rows) rows, A is \(order)×\(order)")
        var x = b
        if order == 0 || b.columns == 0 { return x }
        let info = factors.withUnsafeBufferPointer { ap in
            pivots.withUnsafeBufferPointer { pp in
                x.elements.withUnsafeMutableBufferPointer { xp in
                    LAPACKE_dgetrs(
                        LAPACK_ROW_MAJOR, transposed ? 84 /* 'T' */ : 78 /* 'N' */,
                        Int32(order), Int32(b.columns), ap.baseAddress, Int32(order),
                        pp.baseAddress, xp.baseAddress, Int32(b.columns))
                }
            }
        }
        precondition(info == 0, "dgetrs rejected argument \(-info)")  // only reachable through a bug here
        return x
    }

    /// Solves A x = b (or Aᵀ x = b).
    public func solve(_ b: [Double], transposed: Bool = false) -> [Double] {
        solve(Matrix(rows: b.count, columns: 1, elements: b), transposed: transposed).elements
    }
}
