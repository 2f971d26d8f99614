import PhantomLinearAlgebra

extension GraphOps {
    /// `Transpose`: a permutation of the per-sample axes, y[i₀, …, i_{r−1}] = x[j] with j_{perm[k]} = i_k (output axis
    /// k is input axis perm[k], so the output shape is [s_{perm[0]}, …]). Linear: ẏ is ẋ permuted the same way, and x̄
    /// is ȳ permuted back (the inverse permutation).
    ///
    /// Attribute `perm` (ints): a permutation of the per-sample axes 0..<r (negative entries count from the end);
    /// default [] reverses the axes, as ONNX without perm.
    public struct Transpose: GraphOp {
        public static let type = "Transpose"
        public let perm: [Int]

        public init(perm: [Int] = []) { self.perm = perm }

        public init(attributes: [String: GraphAttribute]) throws(OpProblem) {
            var reader = AttributeReader(attributes)
            perm = try reader.ints("perm", default: [])
            try reader.finish()
        }

        public var attributes: [String: GraphAttribute] { ["perm": .ints(perm)] }

        public func bind(_ inputs: [OpInput]) throws(OpProblem) -> any BoundOp {
            try expectInputs(inputs, 1...1)
            try checkInputShapes(inputs)
            let shape = inputs[0].shape, rank = shape.count
            let what = "perm \(shapeText(perm)) for \(shapeText(shape))"
            guard perm.isEmpty || perm.count == rank else { throw OpProblem("\(what) is not a permutation of \(rank) axes") }
            let p = perm.isEmpty ? Array((0..<rank).reversed()) : try normalizedAxes(perm, rank: rank, what)
            let strides = rowMajorStrides(shape)
            return try BoundIndexMap(
                inputs, outputShape: p.map { shape[$0] }, axes: [p.map { AxisMap.identity(shape[$0], stride: strides[$0]) }])
        }
    }
}
