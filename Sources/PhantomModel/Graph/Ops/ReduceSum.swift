import PhantomLinearAlgebra

extension GraphOps {
    /// `ReduceSum`: y = Σ x over the per-sample `axes` (ints, negative counting from the end; default []: every axis),
    /// the reduced axes kept as 1 (`keepdims` 1, default) or removed (0). Linear: ẏ = Σ ẋ over the same axes, and x̄ is
    /// ȳ repeated over each reduced group. See ``ReductionOp``.
    public struct ReduceSum: ReductionOp {
        public static let type = "ReduceSum"
        public static let averages = false
        public let axes: [Int]
        public let keepdims: Bool

        public init(axes: [Int] = [], keepdims: Bool = true) { (self.axes, self.keepdims) = (axes, keepdims) }
    }
}
