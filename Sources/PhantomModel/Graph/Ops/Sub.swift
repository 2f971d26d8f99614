import PhantomLinearAlgebra

extension GraphOps {
    /// `Sub`: y = a − b, with NumPy broadcasting of the per-sample shapes.
    public struct Sub: BinaryElementwiseOp, PlainOp {
        public static let type = "Sub"
        public init() {}
        public func combine(_ a: Matrix, _ b: Matrix) -> (value: Matrix, da: BinaryPartial, db: BinaryPartial) {
            (a - b, .one, .minusOne)
        }
    }
}
