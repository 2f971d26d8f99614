import PhantomLinearAlgebra

extension GraphOps {
    /// `Unsqueeze`: y = x with axes of size 1 inserted (no data change, no copy). JVP ẏ = ẋ and VJP x̄ = ȳ, reshaped
    /// likewise.
    ///
    /// Attribute `axes` (ints, required, not empty): the positions of the new axes in the output, of rank r + |axes|
    /// (negative counting from the output's end), each named once.
    public struct Unsqueeze: GraphOp {
        public static let type = "Unsqueeze"
        public let axes: [Int]

        public init(axes: [Int]) throws(OpProblem) {
            guard !axes.isEmpty else { throw OpProblem("axes [] names no axis to insert") }
            self.axes = axes
        }

        public init(attributes: [String: GraphAttribute]) throws(OpProblem) {
            var reader = AttributeReader(attributes)
            let axes = try reader.ints("axes")
            try reader.finish()
            try self.init(axes: axes)
        }

        public var attributes: [String: GraphAttribute] { ["axes": .ints(axes)] }

        public func bind(_ inputs: [OpInput]) throws(OpProblem) -> any BoundOp {
            try expectInputs(inputs, 1...1)
            try checkInputShapes(inputs)
            let shape = inputs[0].shape, rank = shape.count + axes.count
            let inserted = Set(try normalizedAxes(axes, rank: rank, "axes \(shapeText(axes)) for \(shapeText(shape))"))
            var next = shape.makeIterator()
            let out = (0..<rank).map { inserted.contains($0) ? 1 : next.next()! }
            return BoundIndexMap(reshaping: inputs[0], to: out)
        }
    }
}
