import PhantomLinearAlgebra

/// Row broadcasting of batches (``BoundOp``): a one-row matrix stands for the same row in every row.
extension Matrix {
    /// This matrix with `count` rows (a one-row matrix repeated; otherwise it must have `count` rows already).
    public func expandingRows(to count: Int) -> Matrix {
        if rows == count { return self }
        precondition(rows == 1, "row broadcast: \(rows) rows to \(count)")
        var out = [Double]()
        out.reserveCapacity(count * columns)
        for _ in 0..<count { out += elements }
        return Matrix(rows: count, columns: columns, elements: out)
    }

    /// Σ over rows, as one row.
    public var rowSum: Matrix {
        if rows == 1 { return self }
        return Matrix(rows: 1, columns: columns, elements: columnSums)
    }
}

/// The row count of a combination of batches: the largest (every one is 1 or that).
@inline(__always)
func broadcastRows(_ ms: [Matrix?]) -> Int { ms.reduce(1) { max($0, $1?.rows ?? 1) } }

/// Sum of two batches with row broadcasting (nil: zero).
func addBroadcasting(_ a: Matrix?, _ b: Matrix?) -> Matrix? {
    guard let a else { return b }
    guard let b else { return a }
    if a.rows == b.rows { return a + b }
    let r = max(a.rows, b.rows)
    return a.expandingRows(to: r) + b.expandingRows(to: r)
}

/// Element-wise a ⊙ b with row broadcasting.
func multiplyBroadcasting(_ a: Matrix, _ b: Matrix) -> Matrix {
    if a.rows == b.rows { return a.hadamard(b) }
    if b.rows == 1 { return a.hadamardBroadcasting(b) }
    return b.hadamardBroadcasting(a)
}

/// A cotangent for an input: summed over rows when the input is shared and the pass asks for sums.
func finishCotangent(_ c: Matrix, shared: Bool, sumShared: Bool) -> Matrix {
    shared && sumShared ? c.rowSum : c
}
