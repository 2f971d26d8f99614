import PhantomLinearAlgebra

extension GraphOps {
    /// `Squeeze`: y = x without the named axes of size 1 (no data change, no copy). JVP ẏ = ẋ and VJP x̄ = ȳ, reshaped
    /// likewise.
    ///
    /// Attribute `axes` (ints, per-sample axes, negative counting from the end; default []: every axis of size 1, as
    /// ONNX without axes). An axis whose size is not 1, or one named twice, is refused.
    public struct Squeeze: GraphOp {
        public static let type = "Squeeze"
        public let axes: [Int]

        public init(axes: [Int] = []) { self.axes = axes }

        public init(attributes: [String: GraphAttribute]) throws(OpProblem) {
            var reader = AttributeReader(attributes)
            axes = try reader.ints("axes", default: [])
            try reader.finish()
        }

        public var attributes: [String: GraphAttribute] { ["axes": .ints(axes)] }

        public func bind(_ inputs: [OpInput]) throws(OpProblem) -> any BoundOp {
            try expectInputs(inputs, 1...1)
            try checkInputShapes(inputs)
            let shape = inputs[0].shape
            let what = "axes \(shapeText(axes)) of \(shapeText(shape))"
            let removed = axes.isEmpty ? shape.indices.filter { shape[$0] == 1 } : try normalizedAxes(axes, rank: shape.count, what)
            for a in removed where shape[a] != 1 { throw OpProblem("\(what): axis \(a) has size \(shape[a]), not 1") }
            let out = shape.indices.filter { !removed.contains($0) }.map { shape[$0] }
            return BoundIndexMap(reshaping: inputs[0], to: out)
        }
    }
}
