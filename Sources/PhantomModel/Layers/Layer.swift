import PhantomLinearAlgebra

/// A kernel with PyTorch's module semantics and state-dict names ("cell.conv1.weight"), which the graph's ops compute
/// with (docs/Graphs.md): the convolution (`Conv`, stride 1, padding k/2) and the normalisations. Two kinds:
/// - ``AffineLayer``: y = A_W z + b, linear in its input z and in its weight W (Conv2d).
/// - ``MapLayer``: any other map y = φ(z; θ) (LayerNorm, GroupNorm), with a ``MapPoint`` that holds what its
///   derivatives at z need.
///
/// Every product is batched: a batch is a B×width ``Matrix``, one sample per row, each sample flattened in
/// PyTorch's order (NCHW for images). Derivations: docs/LayerDerivatives.md.
public protocol Layer: Sendable {
    /// The module's name in the state dict, e.g. "cell.conv1"; tensors are "<name>.weight" and "<name>.bias".
    var name: String { get }
    /// Width of one sample's input and output.
    var inputWidth: Int { get }
    var outputWidth: Int { get }
    /// The tensors this layer owns, in state-dict order (weight before bias).
    var tensors: [(name: String, shape: [Int])] { get }
    /// Its parameters, flat, in ``tensors`` order.
    var parameters: [Double] { get set }
}

extension Layer {
    /// Number of scalar parameters.
    public var parameterCount: Int { tensors.reduce(0) { $0 + $1.shape.reduce(1, *) } }
}

/// A layer y = A_W z + b whose output is linear in its input z and in its weight W (bias optional).
///
/// The products read an *operand*, a form of z prepared once per point (the im2col patches
/// for Conv2d), so a perturbation of W at a fixed point does not prepare z again.
public protocol AffineLayer: Layer {
    /// Whether the layer has a bias b (the last tensor).
    var hasBias: Bool { get }
    /// The number of values in b (0 without bias).
    var biasCount: Int { get }
    /// The operand for input batch z (B×inputWidth).
    func operand(_ z: Matrix) -> Matrix
    /// The operand of samples `rows` of a batch, from the batch's operand.
    func selectingSamples(_ rows: [Int], of operand: Matrix) -> Matrix
    /// y ← A_W z (+ y when `accumulate`), without the bias; `weight` nil means the layer's own W, else the
    /// flat weight tensor δW (for parameter JVPs). The output y is B×outputWidth.
    func apply(_ operand: Matrix, weight: ArraySlice<Double>?, into y: inout Matrix, accumulate: Bool)
    /// x ← A_Wᵀ g (+ x when `accumulate`): the cotangent of the input (B×inputWidth).
    func applyTranspose(_ g: Matrix, into x: inout Matrix, accumulate: Bool)
    /// y ← y + 1 bᵀ with b the given flat bias (the layer's own when nil).
    func addBias(_ bias: ArraySlice<Double>?, to y: inout Matrix)
    /// Σ_i of the per-sample parameter VJPs for output cotangent g: (∂y/∂W)ᵀ g, then (∂y/∂b)ᵀ g.
    func parameterVJP(_ g: Matrix, operand: Matrix) -> [Double]
    /// The same for several cotangent batches at once (layers may fuse them into one GEMM).
    func parameterVJPs(_ gs: [Matrix], operand: Matrix) -> [[Double]]
    /// Per-sample parameter VJPs: row i of `out` (row length `stride`), columns offset..<offset+parameterCount.
    func parameterVJPRows(_ g: Matrix, operand: Matrix, into out: UnsafeMutableBufferPointer<Double>, stride: Int, offset: Int)
    /// The per-sample parameter VJPs in factored form (default: the dense rows).
    func parameterFactor(_ g: Matrix, operand: Matrix) -> ParameterFactors.Part
    /// Per-sample parameter JVPs: y_i ← y_i + A_{δW_i} z_i + δb_i, with row i of `dthetas` holding sample i's
    /// flat (weight, bias) perturbation in columns offset..<offset+parameterCount (default: one sample at a time).
    func addParameterJVPRows(_ dthetas: Matrix, offset: Int, operand: Matrix, to y: inout Matrix)
}

extension AffineLayer {
    public func parameterVJPs(_ gs: [Matrix], operand: Matrix) -> [[Double]] {
        gs.map { parameterVJP($0, operand: operand) }
    }

    public func parameterFactor(_ g: Matrix, operand: Matrix) -> ParameterFactors.Part {
        var rows = Matrix(zeros: g.rows, parameterCount)
        let p = parameterCount
        rows.elements.withUnsafeMutableBufferPointer { parameterVJPRows(g, operand: operand, into: $0, stride: p, offset: 0) }
        return .dense(rows)
    }

    public func addParameterJVPRows(_ dthetas: Matrix, offset: Int, operand: Matrix, to y: inout Matrix) {
        let weights = parameterCount - biasCount
        for i in 0..<y.rows {
            let row = dthetas.elements[(i * dthetas.columns + offset)..<(i * dthetas.columns + offset + parameterCount)]
            var yi = Matrix(zeros: 1, outputWidth)
            apply(selectingSamples([i], of: operand), weight: row.prefix(weights), into: &yi, accumulate: false)
            if hasBias { addBias(row.suffix(biasCount), to: &yi) }
            y.elements.withUnsafeMutableBufferPointer { e in
                for j in 0..<outputWidth { e[i * outputWidth + j] += yi.elements[j] }
            }
        }
    }
}

/// A map y = φ(z; θ) that is not affine: activations and normalisations.
public protocol MapLayer: Layer {
    /// y = φ(z) and the point that holds what the derivatives at z need.
    func forward(_ z: Matrix) -> (value: Matrix, point: any MapPoint)
    /// y = φ(z) alone (no derivative data kept).
    func value(_ z: Matrix) -> Matrix
}

extension MapLayer {
    public func value(_ z: Matrix) -> Matrix { forward(z).value }
}

/// The derivatives of a ``MapLayer`` at a batch z. A point of one sample also acts on a batch of tangents (every
/// row at that one sample), which is how dense Jacobians are formed.
public protocol MapPoint: Sendable {
    /// Row i: (∂φ/∂z)_i dz_i.
    func jvp(_ dz: Matrix) -> Matrix
    /// Row i: (∂φ/∂z)_iᵀ g_i.
    func vjp(_ g: Matrix) -> Matrix
    /// y ← y + (∂φ/∂θ) δθ for the layer's flat parameter perturbation (y nil: start from zero). Only called
    /// when the layer has parameters.
    func addParameterJVP(_ dtheta: ArraySlice<Double>, to y: inout Matrix?)
    /// Row i: y_i ← y_i + (∂φ/∂θ)_i δθ_i, with δθ_i in row i of `dthetas`, columns offset..<offset+count (y nil:
    /// start from zero; default: one sample at a time). Only called when the layer has parameters.
    func addParameterJVPRows(_ dthetas: Matrix, offset: Int, count: Int, to y: inout Matrix?)
    /// Σ_i (∂φ/∂θ)_iᵀ g_i.
    func parameterVJP(_ g: Matrix) -> [Double]
    /// Per-sample parameter VJPs, as ``AffineLayer/parameterVJPRows(_:operand:into:stride:offset:)``.
    func parameterVJPRows(_ g: Matrix, into out: UnsafeMutableBufferPointer<Double>, stride: Int, offset: Int)
    /// The point of samples `rows` only.
    func selectingSamples(_ rows: [Int]) -> any MapPoint
    /// For an element-wise φ without parameters: φ′(z), B×width (the diagonal of ∂φ/∂z per sample). Nil otherwise.
    var slope: Matrix? { get }
}

extension MapPoint {
    public func addParameterJVP(_ dtheta: ArraySlice<Double>, to y: inout Matrix?) {}
    public func addParameterJVPRows(_ dthetas: Matrix, offset: Int, count: Int, to y: inout Matrix?) {
        var rows: [Matrix] = []
        for i in 0..<dthetas.rows {
            var yi: Matrix?
            let start = i * dthetas.columns + offset
            selectingSamples([i]).addParameterJVP(dthetas.elements[start..<(start + count)], to: &yi)
            rows.append(yi!)
        }
        let t = Matrix(rows: rows.count, columns: rows[0].columns, elements: rows.flatMap(\.elements))
        accumulate(t, into: &y)
    }
    public func parameterVJP(_ g: Matrix) -> [Double] { [] }
    public func parameterVJPRows(_ g: Matrix, into out: UnsafeMutableBufferPointer<Double>, stride: Int, offset: Int) {}
    public var slope: Matrix? { nil }
}

/// A normalisation layer with an ε in its denominator √(var + ε) (LayerNorm, GroupNorm).
public protocol NormalizationLayer: MapLayer {
    var epsilon: Double { get set }
}

extension Matrix {
    /// Row i of `self` times row (rows == 1 ? 0 : i) of `other`, element-wise: a Hadamard product where a
    /// one-row `other` is broadcast to every row.
    func hadamardBroadcasting(_ other: Matrix) -> Matrix {
        if other.rows == rows { return hadamard(other) }
        precondition(other.rows == 1 && other.columns == columns, "hadamard: shape mismatch")
        var c = self
        c.elements.withUnsafeMutableBufferPointer { e in
            other.elements.withUnsafeBufferPointer { o in
                for i in 0..<rows {
                    let base = i * columns
                    for j in 0..<columns { e[base + j] *= o[j] }
                }
            }
        }
        return c
    }
}

/// Writes y ← y + t (t nil: y unchanged; y nil: y = t).
func accumulate(_ t: Matrix?, into y: inout Matrix?) {
    guard let t else { return }
    if let current = y { y = current + t } else { y = t }
}
