import PhantomLinearAlgebra

/// The residual-MLP cell with layer normalisation.
///
///     a = relu(W₁ h + b₁)
///     s = h + W₂ a + b₂ + U x + b
///     f(h, x) = γ ⊙ LayerNorm(relu(s)) + β,   LayerNorm(r) = (r − mean r) / √(var r + ε),   ε = 1e-5 by default
///
/// Tensors: W₁ = `cell.linear1.weight` [m, d], b₁ = `cell.linear1.bias` [m], W₂ = `cell.linear2.weight`
/// [d, m], b₂ = `cell.linear2.bias` [d], γ = `cell.norm.weight` [d], β = `cell.norm.bias` [d],
/// U = `injection.weight` [d, n_in], b = `injection.bias` [d]. The variance is the biased one (PyTorch).
/// relu′(0) = 0, as in PyTorch.
///
/// Complexity: forward three GEMMs; JVP/VJP in the state two or three GEMMs.
public struct ResMLPCell: ComposedCell {
    /// PyTorch's LayerNorm default ε.
    public static let layerNormEpsilon = 1e-5

    public var composition: LayerComposition
    public var kind: CellKind { .resmlp }
    /// m, the hidden width of the MLP.
    public let hiddenWidth: Int
    public var extraDimensions: [String: Int] { ["m": hiddenWidth] }

    /// Whether ε may be used from a file: a finite number in (0, 1].
    public static func isValidNormEpsilon(_ epsilon: Double) -> Bool { epsilon.isFinite && epsilon > 0 && epsilon <= 1 }

    /// Zero parameters except γ = 1 (PyTorch's LayerNorm initialisation).
    public init(stateDimension d: Int, inputDimension n: Int, hiddenWidth m: Int) {
        hiddenWidth = m
        composition = LayerComposition(
            layers: [
                Linear("cell.linear1", input: d, output: m), Linear("cell.linear2", input: m, output: d),
                LayerNorm("cell.norm", width: d, epsilon: Self.layerNormEpsilon), Linear("injection", input: n, output: d),
                ReLU("relu1", width: m), ReLU("relu2", width: d)
            ],
            nodes: [
                .sum([.affine(layer: 0, of: .state)]),  // 0: W₁h + b₁
                .map(layer: 4, of: .node(0)),  // 1: a
                .sum([.value(.state), .affine(layer: 1, of: .node(1)), .affine(layer: 3, of: .input)]),  // 2: s
                .map(layer: 5, of: .node(2)),  // 3: relu(s)
                .map(layer: 2, of: .node(3))
            ],  // 4: f
            stateDimension: d, inputDimension: n)
    }

    /// The tensors of a resmlp cell, computed without building it (the composition's ``layout`` equals it).
    public static func layout(stateDimension d: Int, inputDimension n: Int, hiddenWidth m: Int) -> ParameterLayout {
        ParameterLayout([
            ("cell.linear1.weight", [m, d]), ("cell.linear1.bias", [m]),
            ("cell.linear2.weight", [d, m]), ("cell.linear2.bias", [d]),
            ("cell.norm.weight", [d]), ("cell.norm.bias", [d]),
            ("injection.weight", [d, n]), ("injection.bias", [d])
        ])
    }

    /// The LayerNorm's ε (checkpoint attribute `norm_eps`, safetensors metadata `phantom.norm_eps`), > 0.
    public var normEpsilon: Double {
        get { composition.normEpsilon! }
        set { composition.normEpsilon = newValue }
    }

    private func linear(_ i: Int) -> Linear { composition.layers[i] as! Linear }
    private mutating func update(_ i: Int, _ change: (inout Linear) -> Void) {
        var l = linear(i); change(&l); composition.layers[i] = l
    }
    private var norm: LayerNorm { composition.layers[2] as! LayerNorm }
    private mutating func updateNorm(_ change: (inout LayerNorm) -> Void) {
        var l = norm; change(&l); composition.layers[2] = l
    }

    public var linear1Weight: Matrix {
        get { linear(0).weight }
        set { update(0) { $0.weight = newValue } }
    }
    public var linear1Bias: [Double] {
        get { linear(0).bias }
        set { update(0) { $0.bias = newValue } }
    }
    public var linear2Weight: Matrix {
        get { linear(1).weight }
        set { update(1) { $0.weight = newValue } }
    }
    public var linear2Bias: [Double] {
        get { linear(1).bias }
        set { update(1) { $0.bias = newValue } }
    }
    public var normWeight: [Double] {
        get { norm.weight }
        set { updateNorm { $0.weight = newValue } }
    }
    public var normBias: [Double] {
        get { norm.bias }
        set { updateNorm { $0.bias = newValue } }
    }
    public var injectionWeight: Matrix {
        get { linear(3).weight }
        set { update(3) { $0.weight = newValue } }
    }
    public var injectionBias: [Double] {
        get { linear(3).bias }
        set { update(3) { $0.bias = newValue } }
    }
}
