import PhantomLinearAlgebra

/// PyTorch's `nn.Conv2d` with a square kernel k ∈ {1, 3}, stride 1 and zero padding k/2 (the output has the
/// input's height and width): W = `<name>.weight` [C_out, C_in, k, k], b = `<name>.bias` [C_out] (optional).
///
/// A sample z ∈ R^{C_in×H×W} is flattened in NCHW order. With the im2col patches Π(z) ∈ R^{(C_in·k²)×(H·W)},
/// Π[(c·k + dy)·k + dx, y·W + x] = z[c, y + dy − k/2, x + dx − k/2] (zero outside), the layer is
///
///     y = W_mat Π(z) + b 1ᵀ,   W_mat = W reshaped to C_out × (C_in·k²),
///
/// so the input VJP is Π*(W_matᵀ g) (col2im, the adjoint of Π) and the weight VJP is g Πᵀ per sample. Every
/// product is a GEMM per sample on its block of patches; there is no per-pixel loop outside im2col/col2im.
/// The operand of a batch is its patches, B blocks of (C_in·k²)×(H·W), stacked: (B·C_in·k²)×(H·W).
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

    /// Π(z) for every sample: (B·C_in·k²) × (H·W).
    public func operand(_ z: Matrix) -> Matrix {
        precondition(z.columns == inputWidth, "\(name): input has \(z.columns) values per sample, needs \(inputWidth)")
        let kr = patchRows, hw = positions, pad = kernel / 2
        var patches = Matrix(zeros: z.rows * kr, hw)
        patches.elements.withUnsafeMutableBufferPointer { p in
            z.elements.withUnsafeBufferPointer { zp in
                for i in 0..<z.rows {
                    for c in 0..<inChannels {
                        let plane = i * inputWidth + c * hw
                        for dy in 0..<kernel {
                            for dx in 0..<kernel {
                                let row = (i * kr + (c * kernel + dy) * kernel + dx) * hw
                                for y in 0..<height {
                                    let sy = y + dy - pad
                                    guard sy >= 0 && sy < height else { continue }
                                    let x0 = max(0, pad - dx), x1 = min(width, width + pad - dx)
                                    for x in x0..<x1 { p[row + y * width + x] = zp[plane + sy * width + x + dx - pad] }
                                }
                            }
                        }
                    }
                }
            }
        }
        return patches
    }

    /// z ← z + Π*(patches) for every sample: the adjoint of ``operand(_:)`` (col2im).
    func addAdjointOfPatches(_ patches: Matrix, to z: inout Matrix) {
        let kr = patchRows, hw = positions, pad = kernel / 2
        z.elements.withUnsafeMutableBufferPointer { zp in
            patches.elements.withUnsafeBufferPointer { p in
                for i in 0..<z.rows {
                    for c in 0..<inChannels {
                        let plane = i * inputWidth + c * hw
                        for dy in 0..<kernel {
                            for dx in 0..<kernel {
                                let row = (i * kr + (c * kernel + dy) * kernel + dx) * hw
                                for y in 0..<height {
                                    let sy = y + dy - pad
                                    guard sy >= 0 && sy < height else { continue }
                                    let x0 = max(0, pad - dx), x1 = min(width, width + pad - dx)
                                    for x in x0..<x1 { zp[plane + sy * width + x + dx - pad] += p[row + y * width + x] }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    public func selectingSamples(_ rows: [Int], of operand: Matrix) -> Matrix {
        let kr = patchRows
        return operand.selectingRows(rows.flatMap { Array(($0 * kr)..<(($0 + 1) * kr)) })
    }

    /// y_i (+)= W_mat Π_i, one GEMM per sample writing straight into row i of y.
    public func apply(_ operand: Matrix, weight w: ArraySlice<Double>?, into y: inout Matrix, accumulate: Bool) {
        let kr = patchRows, hw = positions, b = y.rows
        precondition(operand.rows == b * kr && y.columns == outputWidth)
        let wArray = w.map(Array.init) ?? weight
        wArray.withUnsafeBufferPointer { wp in
            operand.elements.withUnsafeBufferPointer { pp in
                y.elements.withUnsafeMutableBufferPointer { yp in
                    for i in 0..<b {
                        BLAS.gemm(m: outChannels, n: hw, k: kr, wp.baseAddress!, lda: kr,
                                  pp.baseAddress! + i * kr * hw, ldb: hw,
                                  beta: accumulate ? 1 : 0, yp.baseAddress! + i * outputWidth, ldc: hw)
                    }
                }
            }
        }
    }

    /// x (+)= Π*(W_matᵀ g_i) per sample.
    public func applyTranspose(_ g: Matrix, into x: inout Matrix, accumulate: Bool) {
        let kr = patchRows, hw = positions, b = g.rows
        var patches = Matrix(zeros: b * kr, hw)
        weight.withUnsafeBufferPointer { wp in
            g.elements.withUnsafeBufferPointer { gp in
                patches.elements.withUnsafeMutableBufferPointer { pp in
                    for i in 0..<b {
                        BLAS.gemm(m: kr, n: hw, k: outChannels, wp.baseAddress!, lda: kr, transposeA: true,
                                  gp.baseAddress! + i * outputWidth, ldb: hw,
                                  beta: 0, pp.baseAddress! + i * kr * hw, ldc: hw)
                    }
                }
            }
        }
        if !accumulate { x = Matrix(zeros: b, inputWidth) }
        addAdjointOfPatches(patches, to: &x)
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

    /// Σ_i g_i Π_iᵀ (one accumulating GEMM per sample) and Σ_i Σ_positions g_i for the bias.
    public func parameterVJP(_ g: Matrix, operand: Matrix) -> [Double] {
        let kr = patchRows, hw = positions
        var dW = [Double](repeating: 0, count: weight.count)
        g.elements.withUnsafeBufferPointer { gp in
            operand.elements.withUnsafeBufferPointer { pp in
                dW.withUnsafeMutableBufferPointer { dp in
                    for i in 0..<g.rows {
                        BLAS.gemm(m: outChannels, n: kr, k: hw, gp.baseAddress! + i * outputWidth, lda: hw,
                                  pp.baseAddress! + i * kr * hw, ldb: hw, transposeB: true,
                                  beta: i == 0 ? 0 : 1, dp.baseAddress!, ldc: kr)
                    }
                }
            }
        }
        return dW + (hasBias ? channelSums(g) : [])
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
        let kr = patchRows, hw = positions
        g.elements.withUnsafeBufferPointer { gp in
            operand.elements.withUnsafeBufferPointer { pp in
                for i in 0..<g.rows {
                    let base = i * p + offset
                    BLAS.gemm(m: outChannels, n: kr, k: hw, gp.baseAddress! + i * outputWidth, lda: hw,
                              pp.baseAddress! + i * kr * hw, ldb: hw, transposeB: true,
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
}
