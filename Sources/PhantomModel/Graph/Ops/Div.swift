import PhantomLinearAlgebra

extension GraphOps {
    /// `Div`: y = a / b, with NumPy broadcasting of the per-sample shapes; ∂y/∂a = 1/b, ∂y/∂b = −y/b. The divisor may
    /// be an activation or a constant; it must stay away from zero (nothing guards a division by zero).
    public struct Div: BinaryElementwiseOp, PlainOp {
        public static let type = "Div"
        public init() {}
        public func combine(_ a: Matrix, _ b: Matrix) -> (value: Matrix, da: BinaryPartial, db: BinaryPartial) {
            var y = a, inv = b, dy = b
            for i in y.elements.indices {
                inv.elements[i] = 1 / b.elements[i]
                y.elements[i] = a.elements[i] / b.elements[i]
                dy.elements[i] = -y.elements[i] / b.elements[i]
            }
            return (y, .values(inv), .values(dy))
        }
    }
}
