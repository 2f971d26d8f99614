import PhantomLinearAlgebra

/// PyTorch's `nn.Conv2d` with a square kernel k ∈ {1, 3}, stride 1 and zero padding k/2 (the output has the
/// input's height and width): W = `<name>.weight` [C_out, C_in, k, k], b = `<name>.bias` [C_out] (optional).
///
/// A sample z ∈ R^{C_in×H×W} is flattened in NCHW order. With the im2col patches Π(z) ∈ R^{(C_in·k²)×(H·W)},
/// Π[(c·k + dy)·k + dx, y·W + x] = z[c, y + dy − k/2, x + dx − k/2] (zero outside), the layer is
///
///     y = W_mat Π(z) + b 1ᵀ,   W_mat = W reshaped to C_out × (C_in·k²),
///
/// so the input VJP is Π*(W_matᵀ g) — computed as the convolution of g with the flipped, transposed kernel — and
/// the weight VJP is g Πᵀ per sample. The operand
/// of a batch is its patches side by side, (C_in·k²) × (B·H·W), so every product is one GEMM over the batch
/// (per-sample parameter VJPs: one per sample); there is no per-pixel loop outside im2col/col2im and the
/// channel-first reshuffles.
public struct Conv2d: AffineLayer {
    public let name: String
    public let inChannels: Int
    public let outChannels: Int
    public let kernel: Int
    public let height: Int
    public let width: Int
    public let hasBias: Bool
    /// W, flat [C_out, C_in, k, k] (= W_mat row-major).
    public var weight: [Double]
    public var bias: [Double]

    /// The kernel sizes this layer implements.
    public static let kernelSizes: Set<Int> = [1, 3]

    public init(_ name: String, inChannels: Int, outChannels: Int, kernel: Int, height: Int, width: Int, bias: Bool) {
        precondition(Self.kernelSizes.contains(kernel), "Conv2d: kernel \(kernel) is not 1 or 3")
        self.name = name
        self.inChannels = inChannels
        self.outChannels = outChannels
        self.kernel = kernel
        self.height = height
        self.width = width
        hasBias = bias
        weight = [Double](repeating: 0, count: outChannels * inChannels * kernel * kernel)
        self.bias = bias ? [Double](repeating: 0, count: outChannels) : []
    }

    public var inputWidth: Int { inChannels * height * width }
    public var outputWidth: Int { outChannels * height * width }
    /// C_in·k², the rows of one sample's patches.
    var patchRows: Int { inChannels * kernel * kernel }
    var positions: Int { height * width }

    public var biasCount: Int { hasBias ? outChannels : 0 }

    public var tensors: [(name: String, shape: [Int])] {
        [("\(name).weight", [outChannels, inChannels, kernel, kernel])] + (hasBias ? [("\(name).bias", [outChannels])] : [])
    }

    public var parameters: [Double] {
        get { weight + bias }
        set {
            precondition(newValue.count == weight.count + bias.count, "\(name): \(newValue.count) parameters")
            weight = Array(newValue[0..<weight.count])
            bias = Array(newValue[weight.count...])
        }
    }

    /// Π(z) for the whole batch: (C_in·k²) × (B·H·W), sample i's patches in columns i·H·W ..< (i + 1)·H·W, so
    /// that every product of the batch is one GEMM.
    public func operand(_ z: Matrix) -> Matrix {
        precondition(z.columns == inputWidth, "\(name): input has \(z.columns) values per sample, needs \(inputWidth)")
        var patches = Matrix(zeros: patchRows, z.rows * positions)
        let samples = z.rows
        patches.elements.withUnsafeMutableBufferPointer { p in
            z.elements.withUnsafeBufferPointer { zp in
                forEachPatchRun(samples: samples) { source, target, count in
                    for x in 0..<count { p[target + x] = zp[source + x] }
                }
            }
        }
        return patches
    }

    /// Calls `body(source, target, count)` for every run of `count` positions where patch row element
    /// p[target …] reads z[source …] (within image bounds), for `samples` samples; p is (C_in·k²) × (B·H·W).
    @inline(__always)
    private func forEachPatchRun(samples: Int, channels: Int? = nil, _ body: (Int, Int, Int) -> Void) {
        let hw = positions, pad = kernel / 2, columns = samples * hw
        let channels = channels ?? inChannels, sampleWidth = channels * hw
        for i in 0..<samples {
            for c in 0..<channels {
                let plane = i * sampleWidth + c * hw
                for dy in 0..<kernel {
                    for dx in 0..<kernel {
                        let row = ((c * kernel + dy) * kernel + dx) * columns + i * hw
                        let x0 = max(0, pad - dx), x1 = min(width, width + pad - dx)
                        guard x1 > x0 else { continue }
                        for y in 0..<height {
                            let sy = y + dy - pad
                            guard sy >= 0 && sy < height else { continue }
                            body(plane + sy * width + dx - pad + x0, row + y * width + x0, x1 - x0)
                        }
                    }
                }
            }
        }
    }

    public func selectingSamples(_ rows: [Int], of operand: Matrix) -> Matrix {
        let hw = positions, columns = operand.columns
        var out = Matrix(zeros: patchRows, rows.count * hw)
        for r in 0..<patchRows {
            for (j, i) in rows.enumerated() {
                for s in 0..<hw { out.elements[r * rows.count * hw + j * hw + s] = operand.elements[r * columns + i * hw + s] }
            }
        }
        return out
    }

    /// A batch B × (C·H·W) as C × (B·H·W) (channels first), and back.
    private func channelsFirst(_ g: Matrix, channels: Int) -> Matrix {
        let hw = positions, b = g.rows
        var out = Matrix(zeros: channels, b * hw)
        out.elements.withUnsafeMutableBufferPointer { o in
            g.elements.withUnsafeBufferPointer { gp in
                for i in 0..<b {
                    for c in 0..<channels {
                        let from = i * channels * hw + c * hw, to = c * b * hw + i * hw
                        for s in 0..<hw { o[to + s] = gp[from + s] }
                    }
                }
            }
        }
        return out
    }

    /// y (+)= W_mat Π: one GEMM over the batch, (C_out × C_in·k²)·(C_in·k² × B·H·W), scattered into the rows of y.
    public func apply(_ operand: Matrix, weight w: ArraySlice<Double>?, into y: inout Matrix, accumulate: Bool) {
        let hw = positions, b = y.rows
        precondition(operand.columns == b * hw && y.columns == outputWidth)
        let weights = Matrix(rows: outChannels, columns: patchRows, elements: w.map(Array.init) ?? weight)
        let t = BLAS.gemm(weights, operand)
        y.elements.withUnsafeMutableBufferPointer { yp in
            t.elements.withUnsafeBufferPointer { tp in
                for i in 0..<b {
                    for c in 0..<outChannels {
                        let to = i * outputWidth + c * hw, from = c * b * hw + i * hw
                        if accumulate {
                            for s in 0..<hw { yp[to + s] += tp[from + s] }
                        } else {
                            for s in 0..<hw { yp[to + s] = tp[from + s] }
                        }
                    }
                }
            }
        }
    }

    /// x (+)= Π*(W_matᵀ g), computed as the convolution of g with the flipped, transposed kernel
    /// W̃[c, o, dy, dx] = W[o, c, k−1−dy, k−1−dx] (stride 1 and padding k/2 make the adjoint a convolution):
    /// x_i = W̃_mat Π(g_i), GEMMs with inner dimension C_out·k² over chunks of samples whose patches fit in about
    /// 4 MB. See docs/LayerDerivatives.md.
    public func applyTranspose(_ g: Matrix, into x: inout Matrix, accumulate: Bool) {
        if !accumulate { x = Matrix(zeros: g.rows, inputWidth) }
        let k2 = kernel * kernel, hw = positions, rowsOfPatches = outChannels * k2
        var flipped = [Double](repeating: 0, count: weight.count)
        for o in 0..<outChannels {
            for c in 0..<inChannels {
                for t in 0..<k2 { flipped[(c * outChannels + o) * k2 + (k2 - 1 - t)] = weight[(o * inChannels + c) * k2 + t] }
            }
        }
        let chunk = max(1, min(g.rows, (1 << 19) / max(1, rowsOfPatches * hw)))
        var patches = [Double](repeating: 0, count: rowsOfPatches * chunk * hw)
        var product = [Double](repeating: 0, count: inChannels * chunk * hw)
        var start = 0, layout = chunk
        while start < g.rows {
            let n = min(chunk, g.rows - start)
            // Π(g) of the chunk: (C_out·k²) × (n·H·W), zero where a window leaves the image. The runs write the same
            // entries for every chunk of n samples, so the zeros stay in place; only a chunk of another n (the last)
            // lays the patches out anew and is cleared first.
            patches.withUnsafeMutableBufferPointer { p in
                if n != layout { p.update(repeating: 0); layout = n }
                g.elements.withUnsafeBufferPointer { all in
                    let gp = UnsafeBufferPointer(rebasing: all[(start * outputWidth)..<((start + n) * outputWidth)])
                    forEachPatchRun(samples: n, channels: outChannels) { source, target, count in
                        (p.baseAddress! + target).update(from: gp.baseAddress! + source, count: count)
                    }
                }
            }
            flipped.withUnsafeBufferPointer { wp in
                patches.withUnsafeBufferPointer { pp in
                    product.withUnsafeMutableBufferPointer { cp in
                        BLAS.gemm(
                            m: inChannels, n: n * hw, k: rowsOfPatches, wp.baseAddress!, lda: rowsOfPatches,
                            pp.baseAddress!, ldb: n * hw, beta: 0, cp.baseAddress!, ldc: n * hw)
                    }
                }
            }
            // Channels first (C_in × n·H·W) back into the rows of x.
            product.withUnsafeBufferPointer { cp in
                x.elements.withUnsafeMutableBufferPointer { xp in
                    for i in 0..<n {
                        for c in 0..<inChannels {
                            let to = (start + i) * inputWidth + c * hw, from = c * n * hw + i * hw
                            for q in 0..<hw { xp[to + q] += cp[from + q] }
                        }
                    }
                }
            }
            start += n
        }
    }

    public func addBias(_ b: ArraySlice<Double>?, to y: inout Matrix) {
        guard hasBias else { return }
        let values = b.map(Array.init) ?? bias, hw = positions
        y.elements.withUnsafeMutableBufferPointer { yp in
            for i in 0..<y.rows {
                for c in 0..<outChannels {
                    let base = i * outputWidth + c * hw
                    for s in 0..<hw { yp[base + s] += values[c] }
                }
            }
        }
    }

    /// Σ_i g_i Π_iᵀ as one GEMM over the batch, G (C_out × B·H·W) · Πᵀ, and Σ_i Σ_positions g_i for the bias.
    public func parameterVJP(_ g: Matrix, operand: Matrix) -> [Double] {
        BLAS.gemm(channelsFirst(g, channels: outChannels), operand, transposeB: true).elements + (hasBias ? channelSums(g) : [])
    }

    /// Σ_i Σ_s g[i, c, s] per output channel c.
    func channelSums(_ g: Matrix) -> [Double] {
        var sums = [Double](repeating: 0, count: outChannels)
        let hw = positions
        g.elements.withUnsafeBufferPointer { gp in
            for i in 0..<g.rows {
                for c in 0..<outChannels {
                    let base = i * outputWidth + c * hw
                    for s in 0..<hw { sums[c] += gp[base + s] }
                }
            }
        }
        return sums
    }

    public func parameterVJPRows(_ g: Matrix, operand: Matrix, into o: UnsafeMutableBufferPointer<Double>, stride p: Int, offset: Int) {
        let kr = patchRows, hw = positions, columns = operand.columns
        g.elements.withUnsafeBufferPointer { gp in
            operand.elements.withUnsafeBufferPointer { pp in
                for i in 0..<g.rows {
                    let base = i * p + offset
                    // g_i as C_out × H·W (row-major in the row of g) times Π_iᵀ, Π_i the columns of sample i.
                    BLAS.gemm(
                        m: outChannels, n: kr, k: hw, gp.baseAddress! + i * outputWidth, lda: hw,
                        pp.baseAddress! + i * hw, ldb: columns, transposeB: true,
                        beta: 0, o.baseAddress! + base, ldc: kr)
                    guard hasBias else { continue }
                    for c in 0..<outChannels {
                        var s = 0.0
                        for q in 0..<hw { s += gp[i * outputWidth + c * hw + q] }
                        o[base + weight.count + c] = s
                    }
                }
            }
        }
    }

    /// y_i ← y_i + W_{δ,i} Π_i + δb_i per sample: one GEMM per sample on its columns of the batch's patches (no copy
    /// of Π_i), the product formed apart and then added, as the default does (the same sums, bit for bit).
    public func addParameterJVPRows(_ dthetas: Matrix, offset: Int, operand: Matrix, to y: inout Matrix) {
        let kr = patchRows, hw = positions, columns = operand.columns, stride = dthetas.columns
        var product = [Double](repeating: 0, count: outputWidth)
        dthetas.elements.withUnsafeBufferPointer { dp in
            operand.elements.withUnsafeBufferPointer { pp in
                y.elements.withUnsafeMutableBufferPointer { yp in
                    for i in 0..<y.rows {
                        let base = i * stride + offset
                        product.withUnsafeMutableBufferPointer { t in
                            BLAS.gemm(
                                m: outChannels, n: hw, k: kr, dp.baseAddress! + base, lda: kr, pp.baseAddress! + i * hw,
                                ldb: columns, beta: 0, t.baseAddress!, ldc: hw)
                            if hasBias {
                                for c in 0..<outChannels { for q in 0..<hw { t[c * hw + q] += dp[base + weight.count + c] } }
                            }
                            for j in 0..<outputWidth { yp[i * outputWidth + j] += t[j] }
                        }
                    }
                }
            }
        }
    }
}
