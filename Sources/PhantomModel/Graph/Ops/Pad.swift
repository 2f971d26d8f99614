import PhantomLinearAlgebra

extension GraphOps {
    /// `Pad` with zeros: y = x with `pads` zeros before and after each per-sample axis, y[i] = x[i − begins] where that
    /// is inside x, else 0 (a negative pad crops, as in ONNX). Linear: ẏ is ẋ padded likewise, and x̄ is ȳ without the
    /// padding (cropped back).
    ///
    /// Attributes: `pads` (ints, required; ONNX's layout on the per-sample axes: all begins, then all ends, 2r
    /// entries), `mode` (string, default "constant", the only one implemented) and `value` (number, default 0, the only
    /// one implemented).
    public struct Pad: GraphOp {
        public static let type = "Pad"
        public let pads: [Int]

        public init(pads: [Int]) { self.pads = pads }

        public init(attributes: [String: GraphAttribute]) throws(OpProblem) {
            var reader = AttributeReader(attributes)
            pads = try reader.ints("pads")
            let mode = try reader.string("mode", default: "constant")
            let value = try reader.float("value", default: 0)
            try reader.finish()
            guard mode == "constant" else { throw OpProblem("mode \"\(mode)\" is not implemented (only \"constant\")") }
            guard value == 0 else { throw OpProblem("value \(value) is not implemented (only 0: zero padding)") }
        }

        public var attributes: [String: GraphAttribute] { ["pads": .ints(pads), "mode": .string("constant"), "value": .float(0)] }

        public func bind(_ inputs: [OpInput]) throws(OpProblem) -> any BoundOp {
            try expectInputs(inputs, 1...1)
            try checkInputShapes(inputs)
            let shape = inputs[0].shape, rank = shape.count, strides = rowMajorStrides(shape)
            guard pads.count == 2 * rank else {
                throw OpProblem("pads \(shapeText(pads)) do not fit \(shapeText(shape)): \(2 * rank) entries, all begins then all ends")
            }
            var out: [Int] = []
            for d in 0..<rank {
                let (a, o1) = shape[d].addingReportingOverflow(pads[d])
                let (n, o2) = a.addingReportingOverflow(pads[d + rank])
                guard !o1, !o2, n >= 1, n <= opElementLimit else {
                    throw OpProblem("pads \(shapeText(pads)) leave axis \(d) of \(shapeText(shape)) empty or too large")
                }
                out.append(n)
            }
            _ = try checkedOutputCount(out)
            var maps: [AxisMap] = []
            for d in 0..<rank {
                var map = AxisMap()
                for o in 0..<out[d] {
                    let (i, overflow) = o.subtractingReportingOverflow(pads[d])
                    if !overflow && i >= 0 && i < shape[d] { map.add(i * strides[d]) }
                    map.close()
                }
                maps.append(map)
            }
            return try BoundIndexMap(inputs, outputShape: out, axes: [maps])
        }
    }
}
