import PhantomLinearAlgebra

/// PyTorch's `nn.Linear`: y = W z + b, W = `<name>.weight` [out, in], b = `<name>.bias` [out] (optional).
///
/// Batched: Y = Z Wᵀ + 1 bᵀ. The parameter VJP of sample i is the outer product g_i z_iᵀ (and g_i for b), so
/// Σ_i is one GEMM Gᵀ Z. Each product is one GEMM.
public struct Linear: AffineLayer {
    public let name: String
    public let inputWidth: Int
    public let outputWidth: Int
    public let hasBias: Bool
    /// W, out×in.
    public var weight: Matrix
    /// b (empty without bias).
    public var bias: [Double]

    /// Zero weight and bias.
    public init(_ name: String, input: Int, output: Int, bias: Bool = true) {
        self.name = name
        inputWidth = input
        outputWidth = output
        hasBias = bias
        weight = Matrix(zeros: output, input)
        self.bias = bias ? [Double](repeating: 0, count: output) : []
    }

    public var biasCount: Int { hasBias ? outputWidth : 0 }

    public var tensors: [(name: String, shape: [Int])] {
        [("\(name).weight", [outputWidth, inputWidth])] + (hasBias ? [("\(name).bias", [outputWidth])] : [])
    }

    public var parameters: [Double] {
        get { weight.elements + bias }
        set {
            let w = outputWidth * inputWidth
            precondition(newValue.count == w + bias.count, "\(name): \(newValue.count) parameters")
            weight.elements = Array(newValue[0..<w])
            bias = Array(newValue[w...])
        }
    }

    public func operand(_ z: Matrix) -> Matrix { z }

    public func selectingSamples(_ rows: [Int], of operand: Matrix) -> Matrix { operand.selectingRows(rows) }

    public func apply(_ operand: Matrix, weight w: ArraySlice<Double>?, into y: inout Matrix, accumulate: Bool) {
        let matrix = w.map { Matrix(rows: outputWidth, columns: inputWidth, elements: Array($0)) } ?? weight
        BLAS.gemm(operand, matrix, transposeB: true, beta: accumulate ? 1 : 0, into: &y)
    }

    public func applyTranspose(_ g: Matrix, into x: inout Matrix, accumulate: Bool) {
        BLAS.gemm(g, weight, beta: accumulate ? 1 : 0, into: &x)
    }

    public func addBias(_ b: ArraySlice<Double>?, to y: inout Matrix) {
        guard hasBias else { return }
        y.addToEachRow(b.map(Array.init) ?? bias)
    }

    public func parameterVJP(_ g: Matrix, operand z: Matrix) -> [Double] {
        BLAS.gemm(g, transposeA: true, z).elements + (hasBias ? g.columnSums : [])
    }

    /// One GEMM for all K cotangent batches: [G_1 … G_K]ᵀ Z.
    public func parameterVJPs(_ gs: [Matrix], operand z: Matrix) -> [[Double]] {
        guard gs.count > 1 else { return gs.map { parameterVJP($0, operand: z) } }
        let b = z.rows, out = outputWidth, k = gs.count
        var g = Matrix(zeros: b, k * out)
        g.elements.withUnsafeMutableBufferPointer { dst in
            for (slot, gk) in gs.enumerated() {
                gk.elements.withUnsafeBufferPointer { src in
                    for i in 0..<b {
                        let to = i * k * out + slot * out, from = i * out
                        for r in 0..<out { dst[to + r] = src[from + r] }
                    }
                }
            }
        }
        let product = BLAS.gemm(g, transposeA: true, z)  // (K·out) × in
        let sums = hasBias ? g.columnSums : []
        let w = out * inputWidth
        return (0..<k).map { slot in
            Array(product.elements[(slot * w)..<((slot + 1) * w)]) + (hasBias ? Array(sums[(slot * out)..<((slot + 1) * out)]) : [])
        }
    }

    /// Row i: (g_i ⊗ z_i, g_i), outer products written in place.
    public func parameterVJPRows(_ g: Matrix, operand z: Matrix, into o: UnsafeMutableBufferPointer<Double>, stride p: Int, offset: Int) {
        let out = outputWidth, n = inputWidth
        g.elements.withUnsafeBufferPointer { gp in
            z.elements.withUnsafeBufferPointer { zp in
                for i in 0..<g.rows {
                    let base = i * p + offset
                    for r in 0..<out {
                        let gr = gp[i * out + r]
                        for j in 0..<n { o[base + r * n + j] = gr * zp[i * n + j] }
                        if hasBias { o[base + out * n + r] = gr }
                    }
                }
            }
        }
    }

    /// (δ_i ⊗ z_i, δ_i): the output cotangent and the input themselves.
    public func parameterFactor(_ g: Matrix, operand z: Matrix) -> ParameterFactors.Part {
        .outer(delta: g, input: z, bias: hasBias)
    }

    public func rowFeatures(operand z: Matrix, sample i: Int) -> [Double]? {
        z.row(i) + (hasBias ? [1] : [])
    }
}
