import PhantomLinearAlgebra

/// The block layout of one operand of a batched matrix product: each sample's row of the batch holds `blocks`
/// row-major matrices of `rows × columns`; `lead[l]` is the block that broadcast leading index l reads.
struct BlockOperand {
    let matrix: Matrix
    let rows: Int
    let columns: Int
    let transposed: Bool
    let lead: [Int]

    var blockSize: Int { rows * columns }
    /// The operand's rows and columns after the transpose.
    var m: Int { transposed ? columns : rows }
    var n: Int { transposed ? rows : columns }
}

/// out[r, outLead[l]] += op(x[r, l]) · op(y[r, l]) for every row r of the pass (one-row operands broadcast) and every
/// broadcast leading index l; a one-row `out` with several rows in the pass sums them (a shared operand's gradient).
///
/// Two cases are one GEMM over the batch, which is where the cells' linear layers spend their time: a batched x times
/// a shared y with no leading dimensions (R·m × k times k × n), and the batch sum xᵀy of two batched operands
/// ((k × R·m) times (R·m × n)).
func batchedGemm(_ x: BlockOperand, _ y: BlockOperand, into out: inout Matrix, outLead: [Int]) {
    let rows = max(x.matrix.rows, y.matrix.rows)
    let (m, k, n) = (x.m, x.n, y.n)
    precondition(y.m == k && out.columns % max(m * n, 1) == 0, "batched GEMM: shapes")
    let single = x.lead.count == 1 && out.columns == m * n
    x.matrix.elements.withUnsafeBufferPointer { xp in
        y.matrix.elements.withUnsafeBufferPointer { yp in
            out.elements.withUnsafeMutableBufferPointer { op in
                guard let xb = xp.baseAddress, let yb = yp.baseAddress, let ob = op.baseAddress else { return }
                let ldx = x.columns, ldy = y.columns
                if single && !x.transposed && x.matrix.rows == rows && y.matrix.rows == 1 && out.rows == rows {
                    BLAS.gemm(
                        m: rows * m, n: n, k: k, xb, lda: ldx, yb, ldb: ldy, transposeB: y.transposed, beta: 1, ob, ldc: n)
                    return
                }
                if single && x.transposed && !y.transposed && x.matrix.rows == rows && y.matrix.rows == rows && out.rows == 1 && rows > 1 {
                    BLAS.gemm(
                        m: m, n: n, k: rows * k, xb, lda: ldx, transposeA: true, yb, ldb: ldy, beta: 1, ob, ldc: n)
                    return
                }
                for r in 0..<rows {
                    let xr = x.matrix.rows == 1 ? 0 : r, yr = y.matrix.rows == 1 ? 0 : r, orow = out.rows == 1 ? 0 : r
                    for l in x.lead.indices {
                        BLAS.gemm(
                            m: m, n: n, k: k,
                            xb + xr * x.matrix.columns + x.lead[l] * x.blockSize, lda: ldx, transposeA: x.transposed,
                            yb + yr * y.matrix.columns + y.lead[l] * y.blockSize, ldb: ldy, transposeB: y.transposed,
                            beta: 1, ob + orow * out.columns + outLead[l] * m * n, ldc: n)
                    }
                }
            }
        }
    }
}
