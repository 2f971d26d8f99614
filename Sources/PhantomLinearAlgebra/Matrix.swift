import Foundation

/// A dense, row-major matrix of `Double`.
///
/// Element (i, j) sits at `elements[i * columns + j]`. This is the layout of PyTorch tensors, of HDF5
/// datasets written by h5py, and of a batch of states (B samples × d), so no transposition is needed at
/// any I/O boundary. BLAS and LAPACK are called with `CblasRowMajor` / `LAPACK_ROW_MAJOR`.
///
/// A `Matrix` is also a ``LinearOperator`` (y = A x through `dgemv`), the dense special case of the
/// matrix-free Jacobians used everywhere else.
public struct Matrix: Equatable, Sendable {
    public let rows: Int
    public let columns: Int
    /// Row-major storage, `rows * columns` values.
    public var elements: [Double]

    /// A matrix from row-major storage.
    ///
    /// - Precondition: `elements.count == rows * columns`, both non-negative (a programming error if not;
    ///   shapes that come from files are validated before they reach here).
    public init(rows: Int, columns: Int, elements: [Double]) {
        precondition(
            rows >= 0 && columns >= 0 && elements.count == rows * columns,
            "Matrix(\(rows)×\(columns)) needs \(rows * columns) elements, got \(elements.count)")
        self.rows = rows
        self.columns = columns
        self.elements = elements
    }

    /// The zero matrix.
    public init(zeros rows: Int, _ columns: Int) {
        self.init(rows: rows, columns: columns, elements: [Double](repeating: 0, count: rows * columns))
    }

    /// The n×n identity.
    public static func identity(_ n: Int) -> Matrix {
        var m = Matrix(zeros: n, n)
        for i in 0..<n { m.elements[i * n + i] = 1 }
        return m
    }

    /// A matrix whose rows are the given arrays (all of equal length).
    public init(rowArrays: [[Double]]) {
        let c = rowArrays.first?.count ?? 0
        precondition(rowArrays.allSatisfy { $0.count == c }, "ragged rows")
        self.init(rows: rowArrays.count, columns: c, elements: rowArrays.flatMap { $0 })
    }

    /// A diagonal matrix diag(values).
    public static func diagonal(_ values: [Double]) -> Matrix {
        var m = Matrix(zeros: values.count, values.count)
        for (i, v) in values.enumerated() { m.elements[i * values.count + i] = v }
        return m
    }

    public subscript(i: Int, j: Int) -> Double {
        get { elements[i * columns + j] }
        set { elements[i * columns + j] = newValue }
    }

    /// Row i as a new array.
    public func row(_ i: Int) -> [Double] { Array(elements[(i * columns)..<((i + 1) * columns)]) }

    /// Column j as a new array.
    public func column(_ j: Int) -> [Double] { (0..<rows).map { elements[$0 * columns + j] } }

    /// Replaces column j.
    public mutating func setColumn(_ j: Int, _ values: [Double]) {
        precondition(values.count == rows)
        for i in 0..<rows { elements[i * columns + j] = values[i] }
    }

    /// Aᵀ as a new matrix.
    public var transposed: Matrix {
        var t = Matrix(zeros: columns, rows)
        for i in 0..<rows {
            for j in 0..<columns { t.elements[j * rows + i] = elements[i * columns + j] }
        }
        return t
    }

    /// (A + Aᵀ)/2, the symmetric part of a square matrix.
    public var symmetricPart: Matrix {
        precondition(rows == columns)
        var s = self
        for i in 0..<rows {
            for j in 0..<columns { s.elements[i * columns + j] = 0.5 * (self[i, j] + self[j, i]) }
        }
        return s
    }

    /// True when every element is finite.
    public var isFinite: Bool { elements.allSatisfy { $0.isFinite } }

    /// The Frobenius norm ‖A‖_F.
    public var frobeniusNorm: Double { BLAS.nrm2(elements) }
}

// MARK: - Arithmetic

extension Matrix {
    /// A · B through `dgemm`.
    public static func * (a: Matrix, b: Matrix) -> Matrix {
        BLAS.gemm(a, b)
    }

    /// A · x through `dgemv`.
    public static func * (a: Matrix, x: [Double]) -> [Double] {
        BLAS.gemv(a, x)
    }

    public static func + (a: Matrix, b: Matrix) -> Matrix {
        precondition(a.rows == b.rows && a.columns == b.columns, "shape mismatch in +")
        var c = a
        BLAS.axpy(1, b.elements, &c.elements)
        return c
    }

    public static func - (a: Matrix, b: Matrix) -> Matrix {
        precondition(a.rows == b.rows && a.columns == b.columns, "shape mismatch in -")
        var c = a
        BLAS.axpy(-1, b.elements, &c.elements)
        return c
    }

    public static func * (s: Double, a: Matrix) -> Matrix {
        var c = a
        BLAS.scal(s, &c.elements)
        return c
    }
}

extension Matrix: CustomStringConvertible {
    public var description: String {
        var lines = ["Matrix \(rows)×\(columns)"]
        for i in 0..<min(rows, 8) {
            let shown = (0..<min(columns, 8)).map { String(format: "%10.4g", self[i, $0]) }
            lines.append(shown.joined(separator: " ") + (columns > 8 ? " …" : ""))
        }
        if rows > 8 { lines.append("…") }
        return lines.joined(separator: "\n")
    }
}
