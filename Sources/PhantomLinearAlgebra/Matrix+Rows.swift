/// Row-wise and element-wise helpers for batches stored as B×d matrices (one sample per row).
extension Matrix {
    /// A ⊙ B (Hadamard product).
    public func hadamard(_ other: Matrix) -> Matrix {
        precondition(rows == other.rows && columns == other.columns, "hadamard: shape mismatch")
        var c = self
        for i in 0..<elements.count { c.elements[i] *= other.elements[i] }
        return c
    }

    /// Adds `vector` (length `columns`) to every row: A + 1 vᵀ.
    public mutating func addToEachRow(_ vector: [Double]) {
        precondition(vector.count == columns, "addToEachRow: \(vector.count) vs \(columns) columns")
        elements.withUnsafeMutableBufferPointer { e in
            for i in 0..<rows {
                let base = i * columns
                for j in 0..<columns { e[base + j] += vector[j] }
            }
        }
    }

    /// Σ_i A[i, :], the column sums (length `columns`).
    public var columnSums: [Double] {
        var s = [Double](repeating: 0, count: columns)
        elements.withUnsafeBufferPointer { e in
            for i in 0..<rows {
                let base = i * columns
                for j in 0..<columns { s[j] += e[base + j] }
            }
        }
        return s
    }

    /// The Euclidean norm of each row.
    public var rowNorms: [Double] {
        (0..<rows).map { i in
            var s = 0.0
            for j in 0..<columns { let v = elements[i * columns + j]; s += v * v }
            return s.squareRoot()
        }
    }

    /// Applies `transform` to every element.
    public func map(_ transform: (Double) -> Double) -> Matrix {
        Matrix(rows: rows, columns: columns, elements: elements.map(transform))
    }

    /// Rows `indices` as a new matrix.
    public func selectingRows(_ indices: [Int]) -> Matrix {
        var out = [Double]()
        out.reserveCapacity(indices.count * columns)
        for i in indices { out.append(contentsOf: elements[(i * columns)..<((i + 1) * columns)]) }
        return Matrix(rows: indices.count, columns: columns, elements: out)
    }

    /// Replaces row i.
    public mutating func setRow(_ i: Int, _ values: [Double]) {
        precondition(values.count == columns)
        for j in 0..<columns { elements[i * columns + j] = values[j] }
    }
}

extension Matrix {
    /// A diag(v): column j scaled by v[j] (every row multiplied element-wise by v).
    public func scalingColumns(by v: [Double]) -> Matrix {
        precondition(v.count == columns, "scalingColumns: \(v.count) vs \(columns) columns")
        var c = self
        c.elements.withUnsafeMutableBufferPointer { e in
            for i in 0..<rows {
                let base = i * columns
                for j in 0..<columns { e[base + j] *= v[j] }
            }
        }
        return c
    }
}
