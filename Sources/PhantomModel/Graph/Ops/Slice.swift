import PhantomLinearAlgebra

extension GraphOps {
    /// `Slice`: y = x[starts : ends : steps] along the named per-sample axes (every other axis whole). Linear: ẏ is ẋ
    /// sliced likewise, and x̄ is ȳ put back in place with zeros elsewhere.
    ///
    /// Attributes (ints; ONNX's inputs): `starts` and `ends` (required, one per sliced axis), `axes` (per-sample,
    /// negative counting from the end, each once; default the leading axes [0, 1, …]) and `steps` (default all 1;
    /// only positive steps are implemented). As in ONNX, a negative start or end counts from the end of its axis
    /// (+ the size), then both are clamped to 0…size, so ends beyond the axis (e.g. Int.max) mean "to the end"; the
    /// axis keeps ⌈(end − start) / step⌉ elements start, start + step, …, and an empty result is refused.
    ///
    /// ONNX `Split` (several outputs) has no node of its own, a node having one output: it lowers to one Slice per
    /// piece, ``split(axis:sizes:)``.
    public struct Slice: GraphOp {
        public static let type = "Slice"
        public let starts: [Int]
        public let ends: [Int]
        public let axes: [Int]
        public let steps: [Int]

        public init(starts: [Int], ends: [Int], axes: [Int]? = nil, steps: [Int]? = nil) throws(OpProblem) {
            let axes = axes ?? Array(starts.indices), steps = steps ?? starts.map { _ in 1 }
            guard ends.count == starts.count, axes.count == starts.count, steps.count == starts.count else {
                let lists = "starts \(shapeText(starts)), ends \(shapeText(ends)), axes \(shapeText(axes)) and steps \(shapeText(steps))"
                throw OpProblem("\(lists) differ in length")
            }
            guard steps.allSatisfy({ $0 >= 1 }) else { throw OpProblem("steps \(shapeText(steps)): only positive steps are implemented") }
            (self.starts, self.ends, self.axes, self.steps) = (starts, ends, axes, steps)
        }

        public init(attributes: [String: GraphAttribute]) throws(OpProblem) {
            var reader = AttributeReader(attributes)
            let starts = try reader.ints("starts"), ends = try reader.ints("ends")
            let axes = try reader.ints("axes", default: Array(starts.indices))
            let steps = try reader.ints("steps", default: starts.map { _ in 1 })
            try reader.finish()
            try self.init(starts: starts, ends: ends, axes: axes, steps: steps)
        }

        public var attributes: [String: GraphAttribute] {
            ["starts": .ints(starts), "ends": .ints(ends), "axes": .ints(axes), "steps": .ints(steps)]
        }

        /// ONNX `Split` of `axis` into consecutive pieces of `sizes` (each ≥ 1; together the axis, which the Slices'
        /// binding does not check): one Slice per piece, piece k being [Σ_{i<k} sizes[i], Σ_{i≤k} sizes[i]). ONNX's
        /// `num_outputs` n instead of sizes means pieces of ⌈d / n⌉ with the last one smaller.
        public static func split(axis: Int, sizes: [Int]) throws(OpProblem) -> [Slice] {
            guard !sizes.isEmpty, sizes.allSatisfy({ $0 >= 1 && $0 <= opElementLimit }) else {
                throw OpProblem("split \(shapeText(sizes)) needs pieces of 1…\(opElementLimit) elements")
            }
            var start = 0, slices: [Slice] = []
            for size in sizes {
                slices.append(try Slice(starts: [start], ends: [start + size], axes: [axis]))
                start += size
            }
            return slices
        }

        public func bind(_ inputs: [OpInput]) throws(OpProblem) -> any BoundOp {
            try expectInputs(inputs, 1...1)
            try checkInputShapes(inputs)
            let shape = inputs[0].shape, strides = rowMajorStrides(shape)
            let sliced = try normalizedAxes(axes, rank: shape.count, "axes \(shapeText(axes)) of \(shapeText(shape))")
            var out = shape, maps = shape.indices.map { AxisMap.identity(shape[$0], stride: strides[$0]) }
            for (k, a) in sliced.enumerated() {
                let n = shape[a]
                var start = starts[k], end = ends[k]
                if start < 0 { start += n }
                if end < 0 { end += n }
                start = min(max(start, 0), n)
                end = min(max(end, 0), n)
                guard end > start else {
                    let lists = "starts \(shapeText(starts)), ends \(shapeText(ends))"
                    throw OpProblem("\(lists) leave nothing of axis \(a) of \(shapeText(shape)) (\(start)..<\(end))")
                }
                out[a] = (end - start - 1) / steps[k] + 1
                var map = AxisMap()
                for o in 0..<out[a] {
                    map.add((start + o * steps[k]) * strides[a])
                    map.close()
                }
                maps[a] = map
            }
            return try BoundIndexMap(inputs, outputShape: out, axes: [maps])
        }
    }
}
