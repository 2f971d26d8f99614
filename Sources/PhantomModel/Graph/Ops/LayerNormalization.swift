import PhantomLinearAlgebra

extension GraphOps {
    /// `LayerNormalization` (ONNX opset 17+, on per-sample shapes): inputs x, scale γ and optional bias β; attributes
    /// `axis` (default −1; negative counts from the end; the batch dimension is not an axis), `epsilon` ε (default 1e-5)
    /// and `stash_type` (only 1 accepted and ignored: everything is computed in float64). Each block of x over the axes
    /// axis..<rank is normalised on its own with the biased variance, n = (x − μ)/√(σ² + ε), and y = n ⊙ γ + β, where γ
    /// and β have exactly the normalised shape x.shape[axis…] (no further broadcasting). Only Y is produced (not ONNX's
    /// optional Mean and InvStdDev outputs).
    ///
    /// Per block of L values, ∂n/∂x = (1/σ)(I − 11ᵀ/L − n nᵀ/L) is symmetric:
    /// JVP ẏ = γ ⊙ (ẋ − mean ẋ − n mean(n ⊙ ẋ))/σ + n ⊙ γ̇ + β̇, VJP x̄ = (γg − mean γg − n mean(n ⊙ γg))/σ,
    /// γ̄ = Σ_blocks g ⊙ n, β̄ = Σ_blocks g. Computed by the ``LayerNorm`` layer's kernels (`SegmentNormalization`, one
    /// segment per block, γ and β repeated per block). γ and β must be shared; x may be batched or shared.
    public struct LayerNormalization: GraphOp {
        public static let type = "LayerNormalization"
        public let axis: Int
        public let epsilon: Double

        public init(axis: Int = -1, epsilon: Double = 1e-5) { (self.axis, self.epsilon) = (axis, epsilon) }

        public init(attributes: [String: GraphAttribute]) throws(OpProblem) {
            var reader = AttributeReader(attributes)
            axis = try reader.int("axis", default: -1)
            epsilon = try normalizationEpsilon(&reader)
            try acceptStashType(&reader)
            try reader.finish()
        }

        public var attributes: [String: GraphAttribute] { ["axis": .int(axis), "epsilon": .float(epsilon), "stash_type": .int(1)] }

        public func bind(_ inputs: [OpInput]) throws(OpProblem) -> any BoundOp {
            try expectInputs(inputs, 2...3)
            guard epsilon >= 0 else { throw OpProblem("epsilon = \(epsilon) is negative") }
            let x = inputs[0].shape
            _ = try NormConvShapes.count(x, "x")
            let a = try NormConvShapes.axis(axis, rank: x.count)
            let normalized = Array(x[a...])
            try NormConvShapes.expectShape(inputs[1], normalized, "scale", for: "the normalised shape of x \(shapeText(x)),")
            try NormConvShapes.requireShared(inputs[1], "scale")
            if inputs.count == 3 {
                try NormConvShapes.expectShape(inputs[2], normalized, "bias", for: "the normalised shape of x \(shapeText(x)),")
                try NormConvShapes.requireShared(inputs[2], "bias")
            }
            let blocks = x[..<a].reduce(1, *)
            return BoundSegmentNorm(
                outputShape: x, normalization: SegmentNormalization(segments: blocks, repeats: 1, epsilon: epsilon), tiles: blocks,
                coefficients: normalized.reduce(1, *), xShared: inputs[0].shared, hasBias: inputs.count == 3)
        }
    }
}
