import PhantomLinearAlgebra

/// Per-sample parameter VJPs M_iᵀ u_i kept factored by layer, so that inner products between them never form a
/// B × p array (docs/FactoredGradients.md):
/// - a Linear layer's is the outer product δ_i ⊗ z_i of its output cotangent and its input (and δ_i for its bias),
///   out + in numbers per sample instead of out·in;
/// - every other layer's is its dense per-sample rows (a convolution's C_out·C_in·k² weights are fewer numbers than
///   its factors, H·W·(C_out + C_in·k²), at every size the toolkit meets; norms have 2C).
public struct ParameterFactors: Sendable {
    public enum Part: Sendable {
        /// Row i: δ_i ⊗ z_i, then δ_i when the layer has a bias. δ is B×out, z is B×in.
        case outer(delta: Matrix, input: Matrix, bias: Bool)
        /// Row i: the layer's per-sample parameter VJP (B × p_ℓ).
        case dense(Matrix)
    }

    /// One part per layer with parameters, in θ's order.
    public let parts: [Part]

    public init(parts: [Part]) { self.parts = parts }

    /// ⟨row i of self, row i of other⟩ in R^p for every sample i, from the factors: (δ·δ′)(z·z′ + b) per Linear
    /// layer (b = 1 with a bias), a plain dot product per dense part. The two must come from the same cell.
    public func rowInnerProducts(_ other: ParameterFactors) -> [Double] {
        precondition(parts.count == other.parts.count, "factors of different cells")
        var out: [Double]?
        for (a, b) in zip(parts, other.parts) {
            let dots: [Double]
            switch (a, b) {
            case (.outer(let da, let za, let bias), .outer(let db, let zb, _)):
                let dd = da.rowDots(db), zz = za.rowDots(zb)
                dots = zip(dd, zz).map { $0 * ($1 + (bias ? 1 : 0)) }
            case (.dense(let ma), .dense(let mb)): dots = ma.rowDots(mb)
            default: preconditionFailure("factors of different layers")
            }
            out = out.map { zip($0, dots).map(+) } ?? dots
        }
        return out ?? []
    }

    /// The dense B×p rows (for tests and cross-checks; the point of this type is not to need them).
    public var materialized: Matrix {
        let rows: Int
        switch parts.first {
        case .outer(let delta, _, _): rows = delta.rows
        case .dense(let m): rows = m.rows
        case nil: return Matrix(zeros: 0, 0)
        }
        var out: [[Double]] = Array(repeating: [], count: rows)
        for part in parts {
            for i in 0..<rows {
                switch part {
                case .outer(let delta, let input, let bias):
                    let d = delta.row(i), z = input.row(i)
                    for r in d { out[i] += z.map { r * $0 } }
                    if bias { out[i] += d }
                case .dense(let m): out[i] += m.row(i)
                }
            }
        }
        return Matrix(rowArrays: out)
    }
}

extension Matrix {
    /// ⟨row i of self, row i of other⟩ for every i, each summed in four interleaved partial sums (j mod 4) so that the
    /// loop vectorises (one running sum is a chain of dependent additions: UPG's factored comparisons spent 12 % of an
    /// analysis here); the order is fixed, so the result is too.
    public func rowDots(_ other: Matrix) -> [Double] {
        precondition(rows == other.rows && columns == other.columns, "rowDots: shape mismatch")
        var out = [Double](repeating: 0, count: rows)
        let n = columns, body = n - n % 4
        elements.withUnsafeBufferPointer { a in
            other.elements.withUnsafeBufferPointer { b in
                for i in 0..<rows {
                    var (s0, s1, s2, s3) = (0.0, 0.0, 0.0, 0.0)
                    let base = i * n
                    var j = 0
                    while j < body {
                        s0 += a[base + j] * b[base + j]
                        s1 += a[base + j + 1] * b[base + j + 1]
                        s2 += a[base + j + 2] * b[base + j + 2]
                        s3 += a[base + j + 3] * b[base + j + 3]
                        j += 4
                    }
                    for r in body..<n { s0 += a[base + r] * b[base + r] }
                    out[i] = (s0 + s1) + (s2 + s3)
                }
            }
        }
        return out
    }
}
