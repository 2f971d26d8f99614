import PhantomLinearAlgebra

extension GraphOps {
    /// `Conv` (ONNX, 2-D, on per-sample shapes): inputs x [C_in, H, W], weight W [C_out, C_in, k, k] and optional bias
    /// b [C_out]; attributes `kernel_shape` [k, k] (optional, else read from W; square and odd), `strides` [s, s] with
    /// s ∈ {1, 2}, `pads` [top, left, bottom, right] of zeros (default 0), `dilations` (absent or all 1), `group` (1) and
    /// `auto_pad` (absent or "NOTSET"). The output is [C_out, H_out, W_out], H_out = ⌊(H + top + bottom − k)/s⌋ + 1 and
    /// W_out = ⌊(W + left + right − k)/s⌋ + 1. W and b must be shared (parameters, constants or functions of them); x
    /// may be batched or shared.
    ///
    /// With the im2col patches Π(x) ∈ R^{(C_in·k²)×P}, P = H_out·W_out,
    /// Π[(c·k + dy)·k + dx, oy·W_out + ox] = x[c, oy·s + dy − top, ox·s + dx − left] (0 in the padding), and
    /// W_mat = W as C_out × (C_in·k²):
    ///
    ///     y = W_mat Π(x) + b 1ᵀ,
    ///     JVP ẏ = W_mat Π(ẋ) + Ẇ_mat Π(x) + ḃ 1ᵀ,
    ///     VJP x̄ = Π*(W_matᵀ g) (col2im: a scatter-add of the patches), W̄_mat = g Π(x)ᵀ, b̄ = g 1 (per sample; summed
    ///         over the batch for the shared W and b when the pass sums).
    ///
    /// A batch's patches lie side by side, (C_in·k²) × (B·P), so the forward, the JVPs and the input VJP are one GEMM
    /// over the batch, and the summed weight gradient is one GEMM G·Πᵀ; per-sample weight gradients are one GEMM per
    /// sample. With stride 1, pads k/2 and k ∈ {1, 3} the op is the ``Conv2d`` layer and delegates to it (its
    /// kernels, bit for bit: a built-in cell and its graph form give the same numbers); other cases gather and scatter
    /// through an index map built once at binding.
    public struct Conv: GraphOp {
        public static let type = "Conv"
        /// [k, k] when given (else k is read from W).
        public let kernelShape: [Int]?
        public let stride: Int
        /// [top, left, bottom, right].
        public let pads: [Int]

        /// The largest padding accepted on one side (keeps the size arithmetic far from overflow).
        static let maximumPad = 1 << 20

        /// A convolution with these attributes, refused as ``init(attributes:)`` refuses them.
        public init(kernelShape: [Int]? = nil, strides: [Int] = [1, 1], pads: [Int] = [0, 0, 0, 0]) throws(OpProblem) {
            if let kernelShape {
                guard kernelShape.count == 2 else {
                    throw OpProblem("kernel_shape \(shapeText(kernelShape)) is not 2 sizes (a 2-D convolution)")
                }
                guard kernelShape[0] == kernelShape[1] else {
                    throw OpProblem("kernel_shape \(shapeText(kernelShape)) is not square (only square kernels are implemented)")
                }
                guard kernelShape[0] >= 1, kernelShape[0] % 2 == 1 else {
                    throw OpProblem("kernel_shape \(shapeText(kernelShape)): only odd kernel sizes are implemented")
                }
            }
            guard strides.count == 2 else { throw OpProblem("strides \(shapeText(strides)) is not 2 values (a 2-D convolution)") }
            guard strides[0] == strides[1] else {
                throw OpProblem("strides \(shapeText(strides)) differ (only equal strides are implemented)")
            }
            guard strides[0] == 1 || strides[0] == 2 else {
                throw OpProblem("strides \(shapeText(strides)) are not implemented (only 1 and 2)")
            }
            guard pads.count == 4 else { throw OpProblem("pads \(shapeText(pads)) is not 4 values [top, left, bottom, right]") }
            guard pads.allSatisfy({ $0 >= 0 && $0 <= Self.maximumPad }) else {
                throw OpProblem("pads \(shapeText(pads)) are outside 0...\(Self.maximumPad)")
            }
            (self.kernelShape, stride, self.pads) = (kernelShape, strides[0], pads)
        }

        public init(attributes: [String: GraphAttribute]) throws(OpProblem) {
            var reader = AttributeReader(attributes)
            let autoPad = try reader.string("auto_pad", default: "NOTSET")
            guard autoPad == "NOTSET" else {
                throw OpProblem("auto_pad = \(autoPad) is not implemented (only NOTSET, with explicit pads)")
            }
            let dilations = try reader.ints("dilations", default: [1, 1])
            guard dilations.count == 2 && dilations.allSatisfy({ $0 == 1 }) else {
                throw OpProblem("dilations \(shapeText(dilations)) are not implemented (only [1, 1])")
            }
            let group = try reader.int("group", default: 1)
            guard group == 1 else { throw OpProblem("group = \(group) is not implemented (only 1)") }
            let kernel: [Int]? = attributes["kernel_shape"] == nil ? nil : try reader.ints("kernel_shape")
            let strides = try reader.ints("strides", default: [1, 1])
            let pads = try reader.ints("pads", default: [0, 0, 0, 0])
            try reader.finish()
            try self.init(kernelShape: kernel, strides: strides, pads: pads)
        }

        public var attributes: [String: GraphAttribute] {
            var a: [String: GraphAttribute] = [
                "auto_pad": .string("NOTSET"), "dilations": .ints([1, 1]), "group": .int(1), "pads": .ints(pads),
                "strides": .ints([stride, stride])
            ]
            if let kernelShape { a["kernel_shape"] = .ints(kernelShape) }
            return a
        }

        public func bind(_ inputs: [OpInput]) throws(OpProblem) -> any BoundOp {
            try expectInputs(inputs, 2...3)
            let x = inputs[0].shape, w = inputs[1].shape
            guard x.count == 3 else { throw OpProblem("x must be [C_in, H, W], got \(shapeText(x))") }
            guard w.count == 4 else { throw OpProblem("W must be [C_out, C_in, k, k], got \(shapeText(w))") }
            _ = try NormConvShapes.count(x, "x")
            _ = try NormConvShapes.count(w, "W")
            try NormConvShapes.requireShared(inputs[1], "W")
            guard w[1] == x[0] else {
                throw OpProblem("W \(shapeText(w)) expects \(w[1]) input channels, x \(shapeText(x)) has \(x[0])")
            }
            let k = w[2]
            guard w[3] == k else { throw OpProblem("W \(shapeText(w)): the kernel is not square (only square kernels are implemented)") }
            guard k % 2 == 1 else { throw OpProblem("W \(shapeText(w)): only odd kernel sizes are implemented") }
            if let kernelShape, kernelShape != [k, k] {
                throw OpProblem("kernel_shape \(shapeText(kernelShape)) does not match W \(shapeText(w))")
            }
            if inputs.count == 3 {
                try NormConvShapes.expectShape(inputs[2], [w[0]], "bias", for: "the output channels of W \(shapeText(w)),")
                try NormConvShapes.requireShared(inputs[2], "bias")
            }
            let paddedHeight = x[1] + pads[0] + pads[2], paddedWidth = x[2] + pads[1] + pads[3]
            guard paddedHeight >= k && paddedWidth >= k else {
                throw OpProblem("the \(k)×\(k) kernel does not fit x \(shapeText(x)) with pads \(shapeText(pads))")
            }
            let geometry = ConvGeometry(
                inChannels: x[0], height: x[1], width: x[2], outChannels: w[0], kernel: k, stride: stride, top: pads[0],
                left: pads[1], outHeight: (paddedHeight - k) / stride + 1, outWidth: (paddedWidth - k) / stride + 1)
            let out = [w[0], geometry.outHeight, geometry.outWidth]
            _ = try NormConvShapes.count(out, "the output")
            _ = try NormConvShapes.count([geometry.patchRows, geometry.positions], "the patches")
            let delegated = stride == 1 && pads.allSatisfy { $0 == k / 2 } && Conv2d.kernelSizes.contains(k)
            return BoundConv(
                outputShape: out, geometry: geometry, source: delegated ? nil : geometry.sourceIndex(), xShared: inputs[0].shared,
                hasBias: inputs.count == 3)
        }
    }
}

/// The sizes of a bound convolution.
struct ConvGeometry: Sendable {
    let inChannels: Int, height: Int, width: Int
    let outChannels: Int, kernel: Int, stride: Int
    let top: Int, left: Int
    let outHeight: Int, outWidth: Int

    /// P = H_out·W_out.
    var positions: Int { outHeight * outWidth }
    /// C_in·k², the rows of one sample's patches.
    var patchRows: Int { inChannels * kernel * kernel }
    var inputWidth: Int { inChannels * height * width }
    var outputWidth: Int { outChannels * positions }
    var weightCount: Int { outChannels * patchRows }

    /// For each patch row and output position (row-major, patch row · P + position), the index of x it reads, or −1 in
    /// the padding.
    func sourceIndex() -> [Int32] {
        var map = [Int32](repeating: -1, count: patchRows * positions)
        for c in 0..<inChannels {
            for dy in 0..<kernel {
                for dx in 0..<kernel {
                    let row = (c * kernel + dy) * kernel + dx
                    for oy in 0..<outHeight {
                        let iy = oy * stride + dy - top
                        guard iy >= 0 && iy < height else { continue }
                        for ox in 0..<outWidth {
                            let ix = ox * stride + dx - left
                            guard ix >= 0 && ix < width else { continue }
                            map[row * positions + oy * outWidth + ox] = Int32((c * height + iy) * width + ix)
                        }
                    }
                }
            }
        }
        return map
    }
}

struct BoundConv: BoundOp {
    let outputShape: [Int]
    let geometry: ConvGeometry
    /// ``ConvGeometry/sourceIndex()`` for the general path; nil when the op delegates to ``Conv2d``.
    let source: [Int32]?
    let xShared: Bool
    let hasBias: Bool

    func linearize(_ inputs: [Matrix]) -> (value: Matrix, point: any OpPoint) {
        let weight = inputs[1].elements, bias = hasBias ? inputs[2].elements : []
        var layer: Conv2d?
        if source == nil {
            let g = geometry
            var conv = Conv2d(
                "Conv", inChannels: g.inChannels, outChannels: g.outChannels, kernel: g.kernel, height: g.height, width: g.width,
                bias: hasBias)
            conv.weight = weight
            conv.bias = bias
            layer = conv
        }
        let patches = ConvPoint.gather(inputs[0], bound: self, layer: layer)
        let point = ConvPoint(bound: self, layer: layer, weight: weight, patches: patches, samples: inputs[0].rows)
        var y = point.product(weight, patches, own: true)
        if let layer {
            layer.addBias(nil, to: &y)
        } else if hasBias {
            let p = geometry.positions
            for r in 0..<y.rows {
                for (o, b) in bias.enumerated() {
                    for s in 0..<p { y.elements[r * geometry.outputWidth + o * p + s] += b }
                }
            }
        }
        return (y, point)
    }
}

/// The derivatives of a convolution at a batch: the point's patches Π(x), W and (when delegating) the layer holding W
/// and b. Convolutions have no per-sample weight gradient cheaper than the dense rows at these sizes (the outer-product
/// factors of docs/FactoredGradients.md would hold P terms per sample), so ``factor(_:input:)`` stays nil.
struct ConvPoint: OpPoint {
    let bound: BoundConv
    let layer: Conv2d?
    let weight: [Double]
    /// Π(x): (C_in·k²) × (samples·P), sample i in columns i·P ..< (i + 1)·P.
    let patches: Matrix
    let samples: Int

    var geometry: ConvGeometry { bound.geometry }

    /// Π of a batch (the layer's operand when delegating; gathered through the index map otherwise).
    static func gather(_ x: Matrix, bound: BoundConv, layer: Conv2d?) -> Matrix {
        if let layer { return layer.operand(x) }
        let g = bound.geometry, n = x.rows, p = g.positions, kr = g.patchRows, columns = n * p, width = g.inputWidth
        var out = Matrix(zeros: kr, columns)
        out.elements.withUnsafeMutableBufferPointer { o in
            x.elements.withUnsafeBufferPointer { xp in
                bound.source!.withUnsafeBufferPointer { s in
                    for row in 0..<kr {
                        for i in 0..<n {
                            let to = row * columns + i * p, from = i * width, map = row * p
                            for q in 0..<p where s[map + q] >= 0 { o[to + q] = xp[from + Int(s[map + q])] }
                        }
                    }
                }
            }
        }
        return out
    }

    /// A batch B × (C·P) as C × (B·P) (channels first).
    func channelsFirst(_ g: Matrix, channels: Int) -> Matrix {
        let p = geometry.positions, b = g.rows
        var out = Matrix(zeros: channels, b * p)
        out.elements.withUnsafeMutableBufferPointer { o in
            g.elements.withUnsafeBufferPointer { gp in
                for i in 0..<b {
                    for c in 0..<channels {
                        let from = (i * channels + c) * p, to = c * b * p + i * p
                        for s in 0..<p { o[to + s] = gp[from + s] }
                    }
                }
            }
        }
        return out
    }

    /// W_mat Π for a weight w and patches of n = Π.columns / P samples: one GEMM over the batch (the layer's `apply` when
    /// delegating), the output in the batch's rows.
    func product(_ w: [Double], _ patches: Matrix, own: Bool) -> Matrix {
        let g = geometry, p = g.positions, n = patches.columns / max(p, 1)
        var y = Matrix(zeros: n, g.outputWidth)
        if let layer {
            layer.apply(patches, weight: own ? nil : w[...], into: &y, accumulate: false)
            return y
        }
        let t = BLAS.gemm(Matrix(rows: g.outChannels, columns: g.patchRows, elements: w), patches)
        y.elements.withUnsafeMutableBufferPointer { yp in
            t.elements.withUnsafeBufferPointer { tp in
                for i in 0..<n {
                    for c in 0..<g.outChannels {
                        let to = i * g.outputWidth + c * p, from = c * n * p + i * p
                        for s in 0..<p { yp[to + s] = tp[from + s] }
                    }
                }
            }
        }
        return y
    }

    /// b 1ᵀ per row of a bias batch (1 or R rows of C_out), as rows of the output.
    func biasRows(_ b: Matrix) -> Matrix {
        let p = geometry.positions, c = geometry.outChannels
        var out = Matrix(zeros: b.rows, geometry.outputWidth)
        for r in 0..<b.rows {
            for o in 0..<c {
                let v = b.elements[r * c + o]
                for s in 0..<p { out.elements[(r * c + o) * p + s] = v }
            }
        }
        return out
    }

    /// Ẇ_mat Π(x): one GEMM for a shared Ẇ, one per sample for a row per sample, and one for several directions at a
    /// one-sample point (the directions' Ẇ stacked as (R·C_out) × (C_in·k²)).
    func weightJVP(_ dw: Matrix) -> Matrix {
        if dw.rows == 1 { return product(dw.elements, patches, own: false) }
        let g = geometry, p = g.positions, kr = g.patchRows, columns = patches.columns
        var y = Matrix(zeros: dw.rows, g.outputWidth)
        dw.elements.withUnsafeBufferPointer { dp in
            patches.elements.withUnsafeBufferPointer { pp in
                y.elements.withUnsafeMutableBufferPointer { yp in
                    if samples == 1 {
                        BLAS.gemm(
                            m: dw.rows * g.outChannels, n: p, k: kr, dp.baseAddress!, lda: kr, pp.baseAddress!, ldb: columns,
                            beta: 0, yp.baseAddress!, ldc: p)
                        return
                    }
                    for i in 0..<dw.rows {
                        BLAS.gemm(
                            m: g.outChannels, n: p, k: kr, dp.baseAddress! + i * g.weightCount, lda: kr, pp.baseAddress! + i * p,
                            ldb: columns, beta: 0, yp.baseAddress! + i * g.outputWidth, ldc: p)
                    }
                }
            }
        }
        return y
    }

    func jvp(_ tangents: [Matrix?]) -> Matrix? {
        var out: Matrix?
        if let dx = tangents[0] { out = product(weight, Self.gather(dx, bound: bound, layer: layer), own: true) }
        if let dw = tangents[1] { out = addBroadcasting(out, weightJVP(dw)) }
        if tangents.count > 2, let db = tangents[2] { out = addBroadcasting(out, biasRows(db)) }
        return out
    }

    /// x̄ = Π*(W_matᵀ g): the layer's `applyTranspose` when delegating; otherwise one GEMM over the batch and col2im.
    func inputVJP(_ g: Matrix) -> Matrix {
        var x = Matrix(zeros: g.rows, geometry.inputWidth)
        if let layer {
            layer.applyTranspose(g, into: &x, accumulate: false)
            return x
        }
        let geo = geometry, p = geo.positions, kr = geo.patchRows, n = g.rows, columns = n * p, width = geo.inputWidth
        let d = BLAS.gemm(
            Matrix(rows: geo.outChannels, columns: kr, elements: weight), transposeA: true, channelsFirst(g, channels: geo.outChannels))
        x.elements.withUnsafeMutableBufferPointer { xp in
            d.elements.withUnsafeBufferPointer { dp in
                bound.source!.withUnsafeBufferPointer { s in
                    for row in 0..<kr {
                        for i in 0..<n {
                            let from = row * columns + i * p, to = i * width, map = row * p
                            for q in 0..<p where s[map + q] >= 0 { xp[to + Int(s[map + q])] += dp[from + q] }
                        }
                    }
                }
            }
        }
        return x
    }

    /// Σ_positions g per row and output channel: R × C_out.
    func channelSums(_ g: Matrix) -> Matrix {
        let p = geometry.positions, c = geometry.outChannels
        var out = Matrix(zeros: g.rows, c)
        for r in 0..<g.rows {
            for o in 0..<c {
                var s = 0.0
                for q in 0..<p { s += g.elements[(r * c + o) * p + q] }
                out.elements[r * c + o] = s
            }
        }
        return out
    }

    /// (W̄, b̄) summed over the batch: G·Πᵀ as one GEMM (the layer's `parameterVJP` when delegating).
    func parameterSums(_ g: Matrix) -> (weight: Matrix, bias: Matrix) {
        // Several directions at a one-sample point: Σ_r g_r Πᵀ = (Σ_r g_r) Πᵀ.
        let g = g.rows == samples ? g : g.rowSum
        let count = geometry.weightCount
        if let layer {
            let all = layer.parameterVJP(g, operand: patches)
            return (
                Matrix(rows: 1, columns: count, elements: Array(all[..<count])),
                Matrix(rows: 1, columns: all.count - count, elements: Array(all[count...]))
            )
        }
        let w = BLAS.gemm(channelsFirst(g, channels: geometry.outChannels), patches, transposeB: true)
        return (Matrix(rows: 1, columns: count, elements: w.elements), channelSums(g).rowSum)
    }

    /// (W̄, b̄) per row of g: one GEMM per sample (the layer's `parameterVJPRows` when delegating), or one GEMM for
    /// several directions at a one-sample point, (R·C_out × P) · Πᵀ.
    func parameterRows(_ g: Matrix) -> (weight: Matrix, bias: Matrix) {
        let geo = geometry, count = geo.weightCount, p = geo.positions, kr = geo.patchRows, columns = patches.columns
        if let layer, g.rows == samples {
            let stride = layer.parameterCount
            var all = Matrix(zeros: g.rows, stride)
            all.elements.withUnsafeMutableBufferPointer { layer.parameterVJPRows(g, operand: patches, into: $0, stride: stride, offset: 0) }
            var w = Matrix(zeros: g.rows, count), b = Matrix(zeros: g.rows, stride - count)
            for r in 0..<g.rows {
                w.elements.replaceSubrange((r * count)..<((r + 1) * count), with: all.elements[(r * stride)..<(r * stride + count)])
                b.elements.replaceSubrange(
                    (r * (stride - count))..<((r + 1) * (stride - count)), with: all.elements[(r * stride + count)..<((r + 1) * stride)])
            }
            return (w, b)
        }
        var w = Matrix(zeros: g.rows, count)
        g.elements.withUnsafeBufferPointer { gp in
            patches.elements.withUnsafeBufferPointer { pp in
                w.elements.withUnsafeMutableBufferPointer { wp in
                    if samples == 1 {
                        BLAS.gemm(
                            m: g.rows * geo.outChannels, n: kr, k: p, gp.baseAddress!, lda: p, pp.baseAddress!, ldb: columns,
                            transposeB: true, beta: 0, wp.baseAddress!, ldc: kr)
                        return
                    }
                    for i in 0..<g.rows {
                        BLAS.gemm(
                            m: geo.outChannels, n: kr, k: p, gp.baseAddress! + i * geo.outputWidth, lda: p, pp.baseAddress! + i * p,
                            ldb: columns, transposeB: true, beta: 0, wp.baseAddress! + i * count, ldc: kr)
                    }
                }
            }
        }
        return (w, channelSums(g))
    }

    func vjp(_ g: Matrix, wanted: [Bool], sumShared: Bool) -> [Matrix?] {
        let g = g.rows < samples ? g.expandingRows(to: samples) : g
        var out = [Matrix?](repeating: nil, count: wanted.count)
        if wanted[0] { out[0] = finishCotangent(inputVJP(g), shared: bound.xShared, sumShared: sumShared) }
        let wantBias = wanted.count > 2 && wanted[2]
        guard wanted[1] || wantBias else { return out }
        let (w, b) = sumShared ? parameterSums(g) : parameterRows(g)
        if wanted[1] { out[1] = w }
        if wantBias { out[2] = b }
        return out
    }

    func selectingSamples(_ rows: [Int]) -> any OpPoint {
        guard !bound.xShared else { return self }
        let selected: Matrix
        if let layer {
            selected = layer.selectingSamples(rows, of: patches)
        } else {
            let p = geometry.positions, columns = patches.columns, n = rows.count
            var out = Matrix(zeros: patches.rows, n * p)
            for row in 0..<patches.rows {
                for (j, i) in rows.enumerated() {
                    out.elements.replaceSubrange(
                        (row * n * p + j * p)..<(row * n * p + (j + 1) * p),
                        with: patches.elements[(row * columns + i * p)..<(row * columns + (i + 1) * p)])
                }
            }
            selected = out
        }
        return ConvPoint(bound: bound, layer: layer, weight: weight, patches: selected, samples: rows.count)
    }
}
