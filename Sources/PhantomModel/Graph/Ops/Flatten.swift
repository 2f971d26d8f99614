import PhantomLinearAlgebra

extension GraphOps {
    /// `Flatten`: y = x as a matrix (or a vector), the elements in the same row-major order (no data change, no copy).
    /// JVP ẏ = ẋ and VJP x̄ = ȳ, reshaped likewise.
    ///
    /// Attribute `axis` (int, default 0), an axis of the per-sample shape s of rank r, in −r…r (negative: + r). ONNX
    /// counts the batch dimension, so its `axis` a ≥ 1 is ours a − 1. Output: [s₀ ⋯ s_{axis−1}, s_axis ⋯ s_{r−1}]
    /// for axis ≥ 1 (axis = r gives [count, 1]); for axis 0 the leading factor is ONNX's batch dimension, so the
    /// per-sample output is the vector [count] (ONNX's default, axis 1 on [N, …], gives [N, count]).
    public struct Flatten: GraphOp {
        public static let type = "Flatten"
        public let axis: Int

        public init(axis: Int = 0) { self.axis = axis }

        public init(attributes: [String: GraphAttribute]) throws(OpProblem) {
            var reader = AttributeReader(attributes)
            axis = try reader.int("axis", default: 0)
            try reader.finish()
        }

        public var attributes: [String: GraphAttribute] { ["axis": .int(axis)] }

        public func bind(_ inputs: [OpInput]) throws(OpProblem) -> any BoundOp {
            try expectInputs(inputs, 1...1)
            try checkInputShapes(inputs)
            let shape = inputs[0].shape, rank = shape.count
            guard axis >= -rank && axis <= rank else {
                throw OpProblem("axis \(axis) is out of range for \(shapeText(shape)) (−\(rank)…\(rank))")
            }
            let a = axis < 0 ? axis + rank : axis
            let out = a == 0 ? [inputs[0].count] : [shape[..<a].reduce(1, *), shape[a...].reduce(1, *)]
            return BoundIndexMap(reshaping: inputs[0], to: out)
        }
    }
}
