import CLinAlg

extension Matrix {
    /// The singular values σ₁ ≥ … ≥ σ_min(m,n) ≥ 0 of A.
    ///
    /// ‖A‖₂ = σ₁. The corresponding C function is `LAPACKE_dgesdd` (jobz 'N'). Complexity: O(m n min(m, n)).
    /// - Throws: `.nonFiniteInput`, `.noConvergence`.
    public func singularValues() throws(LinearAlgebraError) -> [Double] {
        guard isFinite else { throw .nonFiniteInput(routine: "dgesdd") }
        let k = Swift.min(rows, columns)
        if k == 0 { return [] }
        var a = elements
        var s = [Double](repeating: 0, count: k)
        var dummy = [Double](repeating: 0, count: 1)
        var dummy2 = [Double](repeating: 0, count: 1)
        let info = a.withUnsafeMutableBufferPointer { ap in
            s.withUnsafeMutableBufferPointer { sp in
                dummy.withUnsafeMutableBufferPointer { up in
                    dummy2.withUnsafeMutableBufferPointer { vp in
                        LAPACKE_dgesdd(
                            LAPACK_ROW_MAJOR, 78 /* N */, Int32(rows), Int32(columns),
                            ap.baseAddress, Int32(columns), sp.baseAddress,
                            up.baseAddress, Int32(Swift.max(rows, 1)), vp.baseAddress, Int32(Swift.max(columns, 1)))
                    }
                }
            }
        }
        try checkLAPACK(info, "dgesdd") { .noConvergence(routine: "dgesdd", info: $0) }
        return s
    }

    /// ‖A‖₂ = σ_max(A).
    public func spectralNorm() throws(LinearAlgebraError) -> Double {
        try singularValues().first ?? 0
    }
}
