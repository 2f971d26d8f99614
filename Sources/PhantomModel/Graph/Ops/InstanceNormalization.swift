import PhantomLinearAlgebra

extension GraphOps {
    /// `InstanceNormalization` (ONNX, on per-sample shapes): inputs x [C, …] (channels first, then the spatial axes),
    /// scale γ [C] and bias β [C]; attribute `epsilon` ε (default 1e-5). Each channel is normalised over its spatial
    /// positions with the biased variance, n = (x − μ)/√(σ² + ε), and y[c, ·] = γ_c n[c, ·] + β_c.
    ///
    /// It is ``GroupNormalization`` with num_groups = C (each group one channel), bound and computed as that, so its
    /// JVP, VJP and parameter cotangents are GroupNormalization's (γ̄_c = Σ_positions g ⊙ n, β̄_c = Σ_positions g).
    /// γ and β must be shared; x may be batched or shared.
    public struct InstanceNormalization: GraphOp {
        public static let type = "InstanceNormalization"
        public let epsilon: Double

        public init(epsilon: Double = 1e-5) { self.epsilon = epsilon }

        public init(attributes: [String: GraphAttribute]) throws(OpProblem) {
            var reader = AttributeReader(attributes)
            epsilon = try normalizationEpsilon(&reader)
            try reader.finish()
        }

        public var attributes: [String: GraphAttribute] { ["epsilon": .float(epsilon)] }

        public func bind(_ inputs: [OpInput]) throws(OpProblem) -> any BoundOp {
            try expectInputs(inputs, 3...3)
            guard let channels = inputs[0].shape.first else { throw OpProblem("x must be [C, …], got a scalar") }
            guard channels >= 1 else { throw OpProblem("x \(shapeText(inputs[0].shape)) has a dimension below 1") }
            return try GroupNormalization(numGroups: channels, epsilon: epsilon).bind(inputs)
        }
    }
}
