import PhantomLinearAlgebra

extension GraphOps {
    /// `ReduceMean`: y = (1 / n) Σ x over the per-sample `axes` (ints, negative counting from the end; default []: every
    /// axis), n the number of elements reduced into each output, the reduced axes kept as 1 (`keepdims` 1, default) or
    /// removed (0). Linear: ẏ is the same mean of ẋ, and x̄ is ȳ / n repeated over each reduced group. See
    /// ``ReductionOp``.
    public struct ReduceMean: ReductionOp {
        public static let type = "ReduceMean"
        public static let averages = true
        public let axes: [Int]
        public let keepdims: Bool

        public init(axes: [Int] = [], keepdims: Bool = true) { (self.axes, self.keepdims) = (axes, keepdims) }
    }
}
