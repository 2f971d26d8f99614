import PhantomLinearAlgebra

extension GraphOps {
    /// `Relu`: y = z ⊙ 1[z > 0]; φ′ = 1[z > 0] (relu′(0) = 0, as in PyTorch).
    public struct Relu: ElementwiseOp, PlainOp {
        public static let type = "Relu"
        public init() {}
        public func valueAndSlope(_ z: Matrix) -> (value: Matrix, slope: Matrix) {
            let mask = z.map { $0 > 0 ? 1 : 0 }
            return (z.hadamard(mask), mask)
        }
    }
}
