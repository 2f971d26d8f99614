import PhantomLinearAlgebra

extension GraphOps {
    /// `Reshape`: y = x under another per-sample shape, the elements in the same row-major order (no data change, no
    /// copy). JVP ẏ = ẋ and VJP x̄ = ȳ, reshaped likewise.
    ///
    /// Attribute `shape` (ints, required; ONNX's second input): the per-sample target shape, without the batch
    /// dimension. An entry 0 copies the input's dimension at the same position, one entry may be −1 (inferred from the
    /// element count), every other entry is the size itself; the element counts must match. (ONNX's `allowzero` is
    /// not implemented: 0 always copies.)
    public struct Reshape: GraphOp {
        public static let type = "Reshape"
        public let shape: [Int]

        public init(shape: [Int]) throws(OpProblem) {
            guard shape.allSatisfy({ $0 >= -1 }), shape.filter({ $0 == -1 }).count <= 1 else {
                throw OpProblem("shape \(shapeText(shape)) may hold one -1 and otherwise sizes ≥ 0 (0: copy the input's)")
            }
            self.shape = shape
        }

        public init(attributes: [String: GraphAttribute]) throws(OpProblem) {
            var reader = AttributeReader(attributes)
            let shape = try reader.ints("shape")
            try reader.finish()
            try self.init(shape: shape)
        }

        public var attributes: [String: GraphAttribute] { ["shape": .ints(shape)] }

        public func bind(_ inputs: [OpInput]) throws(OpProblem) -> any BoundOp {
            try expectInputs(inputs, 1...1)
            try checkInputShapes(inputs)
            let input = inputs[0].shape, count = inputs[0].count
            let mismatch = OpProblem("shape \(shapeText(shape)) does not fit input \(shapeText(input)) (\(count) elements)")
            var out: [Int] = [], known = 1, inferred: Int?
            for (k, d) in shape.enumerated() {
                switch d {
                case -1:
                    inferred = k
                    out.append(1)
                    continue
                case 0:
                    guard k < input.count else {
                        throw OpProblem(
                            "shape \(shapeText(shape)): the 0 at position \(k) copies a dimension \(shapeText(input)) does not have")
                    }
                    out.append(input[k])
                default:
                    out.append(d)
                }
                // Every size is ≥ 1, so a product past the count can stop before it overflows.
                known *= out[k]
                guard known <= count else { throw mismatch }
            }
            if let inferred {
                guard count % known == 0 else { throw mismatch }
                out[inferred] = count / known
            } else {
                guard known == count else { throw mismatch }
            }
            return BoundIndexMap(reshaping: inputs[0], to: out)
        }
    }
}
