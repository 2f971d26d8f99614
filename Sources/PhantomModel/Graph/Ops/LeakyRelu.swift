import PhantomLinearAlgebra

extension GraphOps {
    /// `LeakyRelu`: y = z for z > 0, αz otherwise (φ′(0) = α, as in PyTorch). Attribute `alpha` (default 0.01).
    public struct LeakyRelu: ElementwiseOp {
        public static let type = "LeakyRelu"
        public let alpha: Double
        public init(alpha: Double = 0.01) { self.alpha = alpha }
        public init(attributes: [String: GraphAttribute]) throws(OpProblem) {
            var reader = AttributeReader(attributes)
            alpha = try reader.float("alpha", default: 0.01)
            try reader.finish()
        }
        public var attributes: [String: GraphAttribute] { ["alpha": .float(alpha)] }
        public func valueAndSlope(_ z: Matrix) -> (value: Matrix, slope: Matrix) {
            z.mapWithSlope { $0 > 0 ? ($0, 1) : (alpha * $0, alpha) }
        }
    }
}
