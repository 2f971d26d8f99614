/// A linear operator on batches of rows — row i through sample i's operator — with its transpose: the values the
/// matrix-free routes build and compose instead of d×d matrices (after lineax's operators as values). Batched JVPs and
/// VJPs through a cell are the usual building blocks, so one application of the batch is one GEMM-sized product.
public struct BatchOperator {
    /// Row i: A_i v_i.
    public let apply: (Matrix) -> Matrix
    /// Row i: A_iᵀ v_i.
    public let transpose: (Matrix) -> Matrix

    public init(apply: @escaping (Matrix) -> Matrix, transpose: @escaping (Matrix) -> Matrix) {
        (self.apply, self.transpose) = (apply, transpose)
    }

    /// A symmetric operator (Aᵀ = A).
    public static func symmetric(_ apply: @escaping (Matrix) -> Matrix) -> BatchOperator {
        BatchOperator(apply: apply, transpose: apply)
    }

    public func callAsFunction(_ v: Matrix) -> Matrix { apply(v) }

    /// A^k: k applications (and k of the transpose), A⁰ = I.
    public func power(_ k: Int) -> BatchOperator {
        let (a, t) = (apply, transpose)
        return BatchOperator(
            apply: { v in (0..<k).reduce(v) { x, _ in a(x) } },
            transpose: { v in (0..<k).reduce(v) { x, _ in t(x) } })
    }
}
