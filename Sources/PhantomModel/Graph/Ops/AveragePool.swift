import PhantomLinearAlgebra

extension GraphOps {
    /// `AveragePool` on a per-sample [C, H, W]: y[c, oh, ow] = (1 / m) Σ x[c, h, w] over the window's (h, w) inside the
    /// input (padding adds zeros), m = kh · kw with `count_include_pad` 1, else the number of those (h, w). Linear: ẏ is
    /// ẋ pooled likewise, and x̄[c, h, w] = Σ ȳ[c, oh, ow] / m over the windows holding (h, w).
    ///
    /// Attributes: `kernel_shape` [kh, kw] (required), `strides` [sh, sw] (default [1, 1]), `pads` [top, left, bottom,
    /// right] (default 0; each smaller than the kernel along its axis), `count_include_pad` (0 or 1, default 0); the
    /// window geometry is ``PoolWindows`` (ONNX's `ceil_mode` 0, no `dilations`, no `auto_pad`).
    public struct AveragePool: GraphOp {
        public static let type = "AveragePool"
        let windows: PoolWindows
        public let countIncludePad: Bool

        public var kernelShape: [Int] { windows.kernel }
        public var strides: [Int] { windows.strides }
        public var pads: [Int] { windows.pads }

        public init(kernelShape: [Int], strides: [Int] = [1, 1], pads: [Int] = [0, 0, 0, 0], countIncludePad: Bool = false)
            throws(OpProblem)
        {
            windows = try PoolWindows(kernel: kernelShape, strides: strides, pads: pads)
            self.countIncludePad = countIncludePad
        }

        public init(attributes: [String: GraphAttribute]) throws(OpProblem) {
            var reader = AttributeReader(attributes)
            windows = try PoolWindows(&reader)
            let include = try reader.int("count_include_pad", default: 0)
            try reader.finish()
            guard include == 0 || include == 1 else { throw OpProblem("count_include_pad = \(include) is not 0 or 1") }
            countIncludePad = include == 1
        }

        public var attributes: [String: GraphAttribute] {
            windows.attributes.merging(["count_include_pad": .int(countIncludePad ? 1 : 0)]) { $1 }
        }

        public func bind(_ inputs: [OpInput]) throws(OpProblem) -> any BoundOp {
            try expectInputs(inputs, 1...1)
            try checkInputShapes(inputs)
            let (out, maps) = try windows.map(inputs[0], weights: countIncludePad ? .kernel : .inside)
            return try BoundIndexMap(inputs, outputShape: out, axes: [maps])
        }
    }
}
