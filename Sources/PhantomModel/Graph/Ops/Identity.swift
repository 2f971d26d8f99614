import PhantomLinearAlgebra

extension GraphOps {
    /// `Identity`: y = x (any shape). JVP ẏ = ẋ; VJP x̄ = ȳ. No attributes. The value is passed on without a copy.
    public struct Identity: PlainOp {
        public static let type = "Identity"
        public init() {}

        public func bind(_ inputs: [OpInput]) throws(OpProblem) -> any BoundOp {
            try expectInputs(inputs, 1...1)
            try checkInputShapes(inputs)
            return BoundIndexMap(reshaping: inputs[0], to: inputs[0].shape)
        }
    }
}
