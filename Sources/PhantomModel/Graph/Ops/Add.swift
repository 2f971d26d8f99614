import PhantomLinearAlgebra

extension GraphOps {
    /// `Add`: y = a + b, with NumPy broadcasting of the per-sample shapes.
    public struct Add: BinaryElementwiseOp, PlainOp {
        public static let type = "Add"
        public static let isSum = true
        public init() {}
        public func combine(_ a: Matrix, _ b: Matrix) -> (value: Matrix, da: BinaryPartial, db: BinaryPartial) {
            (a + b, .one, .one)
        }
    }
}
