import PhantomLinearAlgebra
import PhantomModel

/// G_M = M_i M_iᵀ (d×d) for one sample: the metric that turns state-space vectors into parameter-space
/// inner products, ⟨M_iᵀ a, M_iᵀ b⟩ = aᵀ G_M b (docs/Theory.md §4). Its eigenvalues are σ(M)².
public enum ParameterGram: Sendable {
    /// A diagonal Gram (the tanh cell's closed form).
    case diagonal([Double])
    case dense(Matrix)

    /// The closed form when the cell has one (unless `generic` is true), else the generic d-product route.
    public static func compute(_ lin: any CellLinearization, sample i: Int, generic: Bool = false) -> ParameterGram {
        if !generic, let diagonal = lin.closedFormParameterGramDiagonal(sample: i) { return .diagonal(diagonal) }
        return .dense(lin.parameterGram(sample: i))
    }

    public var dimension: Int {
        switch self {
        case .diagonal(let v): return v.count
        case .dense(let m): return m.rows
        }
    }

    /// The dense d×d matrix.
    public var matrix: Matrix {
        switch self {
        case .diagonal(let v): return Matrix.diagonal(v)
        case .dense(let m): return m
        }
    }

    /// G_M v.
    public func apply(_ v: [Double]) -> [Double] {
        switch self {
        case .diagonal(let g): return zip(g, v).map { $0 * $1 }
        case .dense(let m): return m * v
        }
    }

    /// V G_M for the rows of V (K×d).
    public func applyToRows(_ v: Matrix) -> Matrix {
        switch self {
        case .diagonal(let g): return v.scalingColumns(by: g)
        case .dense(let m): return v * m  // G_M is symmetric
        }
    }

}
