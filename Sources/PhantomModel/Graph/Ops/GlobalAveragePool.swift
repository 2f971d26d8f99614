import PhantomLinearAlgebra

extension GraphOps {
    /// `GlobalAveragePool`: the mean of each channel over its spatial axes, [C, H, W] → [C, 1, 1] (any [C, spatial…]
    /// of rank ≥ 2 → [C, 1, …, 1]): y[c] = (1 / n) Σ x[c, ·], n = H · W. Linear: ẏ is the same mean of ẋ, and
    /// x̄[c, ·] = ȳ[c] / n everywhere in channel c. No attributes.
    public struct GlobalAveragePool: PlainOp {
        public static let type = "GlobalAveragePool"
        public init() {}

        public func bind(_ inputs: [OpInput]) throws(OpProblem) -> any BoundOp {
            try expectInputs(inputs, 1...1)
            try checkInputShapes(inputs)
            let shape = inputs[0].shape
            guard shape.count >= 2 else { throw OpProblem("input \(shapeText(shape)) is not [C, H, W] (or [C, spatial…])") }
            let strides = rowMajorStrides(shape)
            var maps = [AxisMap.identity(shape[0], stride: strides[0])]
            for d in 1..<shape.count {
                var axis = AxisMap()
                for i in 0..<shape[d] { axis.add(i * strides[d], weight: 1 / Double(shape[d])) }
                axis.close()
                maps.append(axis)
            }
            return try BoundIndexMap(inputs, outputShape: [shape[0]] + Array(repeating: 1, count: shape.count - 1), axes: [maps])
        }
    }
}
