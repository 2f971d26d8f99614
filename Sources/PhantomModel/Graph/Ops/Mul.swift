import PhantomLinearAlgebra

extension GraphOps {
    /// `Mul`: y = a ⊙ b; ∂y/∂a = b, ∂y/∂b = a, with NumPy broadcasting of the per-sample shapes.
    public struct Mul: BinaryElementwiseOp, PlainOp {
        public static let type = "Mul"
        public init() {}
        public func combine(_ a: Matrix, _ b: Matrix) -> (value: Matrix, da: BinaryPartial, db: BinaryPartial) {
            (a.hadamard(b), .values(b), .values(a))
        }
    }
}
