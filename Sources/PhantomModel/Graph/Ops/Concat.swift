import PhantomLinearAlgebra

extension GraphOps {
    /// `Concat`: y = [x₁, x₂, …] joined along one per-sample axis; every other dimension equal. Any number ≥ 1 of
    /// inputs, batched and shared (parameters, constants) mixed: a shared input is the same block in every sample.
    /// Linear: ẏ joins the ẋ_k likewise (a nil tangent is a zero block), and x̄_k is ȳ's block of input k (summed over
    /// the batch for a shared input when the pass asks for sums).
    ///
    /// Attribute `axis` (int, required): the per-sample axis, negative counting from the end.
    public struct Concat: GraphOp {
        public static let type = "Concat"
        public let axis: Int

        public init(axis: Int) { self.axis = axis }

        public init(attributes: [String: GraphAttribute]) throws(OpProblem) {
            var reader = AttributeReader(attributes)
            axis = try reader.int("axis")
            try reader.finish()
        }

        public var attributes: [String: GraphAttribute] { ["axis": .int(axis)] }

        public func bind(_ inputs: [OpInput]) throws(OpProblem) -> any BoundOp {
            guard !inputs.isEmpty else { throw OpProblem("takes at least 1 input, got 0") }
            try checkInputShapes(inputs)
            let first = inputs[0].shape, rank = first.count
            let a = try normalizedAxis(axis, rank: rank, "axis \(axis) of \(shapeText(first))")
            var out = first
            out[a] = 0
            for input in inputs {
                let s = input.shape
                guard s.count == rank, s.indices.allSatisfy({ $0 == a || s[$0] == first[$0] }) else {
                    throw OpProblem("inputs \(shapeText(first)) and \(shapeText(s)) differ outside axis \(a)")
                }
                out[a] += s[a]
                guard out[a] <= opElementLimit else { break }
            }
            _ = try checkedOutputCount(out)
            // Input k fills coordinates start ..< start + s_k[a] of the axis; the other axes are one to one.
            var axes: [[AxisMap]] = [], start = 0
            for input in inputs {
                let s = input.shape, strides = rowMajorStrides(s)
                var maps = s.indices.map { AxisMap.identity(s[$0], stride: strides[$0]) }
                var joined = AxisMap()
                for o in 0..<out[a] {
                    if o >= start && o < start + s[a] { joined.add((o - start) * strides[a]) }
                    joined.close()
                }
                maps[a] = joined
                axes.append(maps)
                start += s[a]
            }
            return try BoundIndexMap(inputs, outputShape: out, axes: axes)
        }
    }
}
