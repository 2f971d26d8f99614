import PhantomLinearAlgebra

extension GraphOps {
    /// `Resize` as 2× upsampling of a per-sample [C, H, W] to [C, 2H, 2W], nearest or bilinear, with ONNX's formulas.
    /// Linear in x: ẏ is ẋ resized likewise, and x̄ = Aᵀȳ spreads each output's cotangent over the inputs it read.
    ///
    /// Along H (and W likewise), output coordinate o reads input coordinate x_o of an axis of size n:
    /// - `mode` "nearest" with `coordinate_transformation_mode` "asymmetric" and `nearest_mode` "floor":
    ///   y[o] = x[⌊o / 2⌋].
    /// - `mode` "linear" (bilinear: the product of the two axes' weights) with x_o = (o + 0.5) / 2 − 0.5
    ///   (`coordinate_transformation_mode` "half_pixel") or x_o = o · (n − 1) / (2n − 1) ("align_corners"):
    ///   y[o] = (1 − r) x[clamp(i)] + r x[clamp(i + 1)], i = ⌊x_o⌋, r = x_o − i, clamp to 0…n − 1 (ONNX's edge
    ///   padding of the neighbours).
    ///
    /// Attributes: `mode` (string, default "nearest"), `scale` (int, required; only 2 is implemented; ONNX's `scales`
    /// input [1, 1, 2, 2]), `coordinate_transformation_mode` (string, default ONNX's "half_pixel") and `nearest_mode`
    /// (string, default ONNX's "round_prefer_floor"; read by "nearest" only, any of ONNX's four values stored for
    /// "linear"). Any other combination is refused.
    public struct Resize: GraphOp {
        public static let type = "Resize"

        /// The implemented interpolations.
        public enum Interpolation: Sendable, Equatable {
            case nearest
            case bilinearHalfPixel
            case bilinearAlignCorners
        }

        public let interpolation: Interpolation
        /// ONNX's `nearest_mode`: "floor" for nearest; stored but unused for linear.
        public let nearestMode: String

        public init(_ interpolation: Interpolation) {
            self.interpolation = interpolation
            nearestMode = interpolation == .nearest ? "floor" : "round_prefer_floor"
        }

        public init(attributes: [String: GraphAttribute]) throws(OpProblem) {
            var reader = AttributeReader(attributes)
            let mode = try reader.string("mode", default: "nearest")
            let scale = try reader.int("scale")
            let transformation = try reader.string("coordinate_transformation_mode", default: "half_pixel")
            nearestMode = try reader.string("nearest_mode", default: "round_prefer_floor")
            try reader.finish()
            guard scale == 2 else { throw OpProblem("scale \(scale) is not implemented (only 2)") }
            switch mode {
            case "nearest":
                guard transformation == "asymmetric" else {
                    throw OpProblem(
                        "coordinate_transformation_mode \"\(transformation)\" is not implemented for mode \"nearest\" (only \"asymmetric\")"
                    )
                }
                guard nearestMode == "floor" else {
                    throw OpProblem("nearest_mode \"\(nearestMode)\" is not implemented (only \"floor\")")
                }
                interpolation = .nearest
            case "linear":
                switch transformation {
                case "half_pixel": interpolation = .bilinearHalfPixel
                case "align_corners": interpolation = .bilinearAlignCorners
                default:
                    throw OpProblem(
                        "coordinate_transformation_mode \"\(transformation)\" is not implemented for mode \"linear\""
                            + " (only \"half_pixel\", \"align_corners\")")
                }
                guard ["round_prefer_floor", "round_prefer_ceil", "floor", "ceil"].contains(nearestMode) else {
                    throw OpProblem("nearest_mode \"\(nearestMode)\" is not one of ONNX's")
                }
            default:
                throw OpProblem("mode \"\(mode)\" is not implemented (only \"nearest\", \"linear\")")
            }
        }

        public var attributes: [String: GraphAttribute] {
            let (mode, transformation) =
                switch interpolation {
                case .nearest: ("nearest", "asymmetric")
                case .bilinearHalfPixel: ("linear", "half_pixel")
                case .bilinearAlignCorners: ("linear", "align_corners")
                }
            return [
                "mode": .string(mode), "scale": .int(2), "coordinate_transformation_mode": .string(transformation),
                "nearest_mode": .string(nearestMode)
            ]
        }

        public func bind(_ inputs: [OpInput]) throws(OpProblem) -> any BoundOp {
            try expectInputs(inputs, 1...1)
            try checkInputShapes(inputs)
            let shape = inputs[0].shape
            guard shape.count == 3 else { throw OpProblem("input \(shapeText(shape)) is not [C, H, W]") }
            let out = [shape[0], 2 * shape[1], 2 * shape[2]]
            _ = try checkedOutputCount(out)
            let strides = rowMajorStrides(shape)
            var maps = [AxisMap.identity(shape[0], stride: strides[0])]
            for d in 1...2 { maps.append(axis(size: shape[d], stride: strides[d])) }
            return try BoundIndexMap(inputs, outputShape: out, axes: [maps])
        }

        /// The 1-D map of one spatial axis of `size` n to 2n.
        func axis(size n: Int, stride: Int) -> AxisMap {
            var map = AxisMap()
            for o in 0..<(2 * n) {
                let x: Double
                switch interpolation {
                case .nearest:
                    map.add(o / 2 * stride)
                    map.close()
                    continue
                case .bilinearHalfPixel: x = (Double(o) + 0.5) / 2 - 0.5
                case .bilinearAlignCorners: x = Double(o) * Double(n - 1) / Double(2 * n - 1)
                }
                let i = Int(x.rounded(.down)), r = x - Double(i)
                let a = min(max(i, 0), n - 1), b = min(max(i + 1, 0), n - 1)
                if a == b {
                    map.add(a * stride)
                } else {
                    map.add(a * stride, weight: 1 - r)
                    if r != 0 { map.add(b * stride, weight: r) }
                }
                map.close()
            }
            return map
        }
    }
}
