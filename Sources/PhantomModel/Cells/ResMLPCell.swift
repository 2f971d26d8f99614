import PhantomLinearAlgebra

/// The residual-MLP cell with layer normalisation.
///
///     a = relu(W₁ h + b₁)
///     s = h + W₂ a + b₂ + U x + b
///     f(h, x) = γ ⊙ LayerNorm(relu(s)) + β,   LayerNorm(r) = (r − mean r) / √(var r + ε),   ε = 1e-5 by default
///
/// (the graph ``BuiltinGraphs/resmlp(stateDimension:inputDimension:hiddenWidth:normEpsilon:)``).
///
/// Tensors: W₁ = `cell.linear1.weight` [m, d], b₁ = `cell.linear1.bias` [m], W₂ = `cell.linear2.weight`
/// [d, m], b₂ = `cell.linear2.bias` [d], γ = `cell.norm.weight` [d], β = `cell.norm.bias` [d],
/// U = `injection.weight` [d, n_in], b = `injection.bias` [d]. The variance is the biased one (PyTorch).
/// relu′(0) = 0, as in PyTorch.
///
/// Complexity: forward three GEMMs; JVP/VJP in the state two or three GEMMs.
public struct ResMLPCell: BuiltinCell {
    /// PyTorch's LayerNorm default ε.
    public static let layerNormEpsilon = 1e-5

    public var graphCell: GraphCell
    public var kind: CellKind { .resmlp }
    /// m, the hidden width of the MLP.
    public let hiddenWidth: Int
    public var extraDimensions: [String: Int] { ["m": hiddenWidth] }

    /// Whether ε may be used from a file: a finite number in (0, 1].
    public static func isValidNormEpsilon(_ epsilon: Double) -> Bool { epsilon.isFinite && epsilon > 0 && epsilon <= 1 }

    /// Zero parameters except γ = 1 (PyTorch's LayerNorm initialisation).
    public init(stateDimension d: Int, inputDimension n: Int, hiddenWidth m: Int, normEpsilon: Double = layerNormEpsilon) {
        hiddenWidth = m
        graphCell = GraphCell(graph: BuiltinGraphs.resmlp(stateDimension: d, inputDimension: n, hiddenWidth: m, normEpsilon: normEpsilon))
        graphCell.setTensor("cell.norm.weight", [Double](repeating: 1, count: d))
    }

    public static let extraDimensionNames = ["m"]
    public static let hasNormalization = true
    public static let signatureTensor = "cell.linear1.weight"
    public static func problem(_ shape: ModelShape) -> String? { nil }
    public static func layout(_ shape: ModelShape) -> ParameterLayout {
        layout(stateDimension: shape.stateDimension, inputDimension: shape.inputDimension, hiddenWidth: shape.hiddenWidth)
    }
    public init(shape: ModelShape, normEpsilon: Double?) {
        self.init(
            stateDimension: shape.stateDimension, inputDimension: shape.inputDimension, hiddenWidth: shape.hiddenWidth,
            normEpsilon: normEpsilon ?? Self.layerNormEpsilon)
    }

    /// d and n_in from `injection.weight` [d, n_in], m from `cell.linear1.weight` [m, d].
    public static func stateDictShape(
        classes c: Int, metadata: [String: String], dimension: (String, String, Int) throws -> Int,
        declared: (String) throws -> Int?, fail: (String) -> any Error
    ) throws -> ModelShape {
        let d = try dimension("d", "injection.weight", 0), n = try dimension("n_in", "injection.weight", 1)
        let m = try dimension("m", "cell.linear1.weight", 0)
        return ModelShape(kind: .resmlp, inputDimension: n, stateDimension: d, outputDimension: c, extraDimensions: ["m": m])
    }

    /// PyTorch's initialisation, with the second layer scaled by 0.3 and the LayerNorm gain γ = 0.5 (ρ(J) ≈ 0.5 instead
    /// of ≈ 0.96 with γ = 1).
    public static func initialized(_ shape: ModelShape, uniform: (Int, Int, Int) -> Matrix) -> ResMLPCell {
        let d = shape.stateDimension, n = shape.inputDimension, m = shape.hiddenWidth
        var c = ResMLPCell(stateDimension: d, inputDimension: n, hiddenWidth: m)
        c.linear1Weight = uniform(m, d, d)
        c.linear1Bias = uniform(1, m, d).elements
        c.linear2Weight = 0.3 * uniform(d, m, m)
        c.linear2Bias = uniform(1, d, m).elements
        c.injectionWeight = uniform(d, n, n)
        c.injectionBias = uniform(1, d, n).elements
        c.normWeight = [Double](repeating: 0.5, count: d)
        return c
    }

    /// The tensors of a resmlp cell, computed without building it (the graph's ``GraphCell/layout`` equals it).
    public static func layout(stateDimension d: Int, inputDimension n: Int, hiddenWidth m: Int) -> ParameterLayout {
        ParameterLayout([
            ("cell.linear1.weight", [m, d]), ("cell.linear1.bias", [m]),
            ("cell.linear2.weight", [d, m]), ("cell.linear2.bias", [d]),
            ("cell.norm.weight", [d]), ("cell.norm.bias", [d]),
            ("injection.weight", [d, n]), ("injection.bias", [d])
        ])
    }

    /// The LayerNorm's ε (checkpoint attribute `norm_eps`, safetensors metadata `phantom.norm_eps`), > 0: an attribute of
    /// the graph's LayerNormalization node, so setting it rebuilds the graph (the parameters are kept).
    public var normEpsilon: Double {
        get { graphCell.normalizationEpsilon! }
        set {
            let theta = graphCell.parameters
            graphCell = GraphCell(
                graph: BuiltinGraphs.resmlp(
                    stateDimension: stateDimension, inputDimension: inputDimension, hiddenWidth: hiddenWidth, normEpsilon: newValue),
                parameters: theta)
        }
    }

    private func matrix(_ name: String, _ rows: Int, _ columns: Int) -> Matrix {
        Matrix(rows: rows, columns: columns, elements: graphCell.tensor(name))
    }

    public var linear1Weight: Matrix {
        get { matrix("cell.linear1.weight", hiddenWidth, stateDimension) }
        set { graphCell.setTensor("cell.linear1.weight", newValue.elements) }
    }
    public var linear1Bias: [Double] {
        get { graphCell.tensor("cell.linear1.bias") }
        set { graphCell.setTensor("cell.linear1.bias", newValue) }
    }
    public var linear2Weight: Matrix {
        get { matrix("cell.linear2.weight", stateDimension, hiddenWidth) }
        set { graphCell.setTensor("cell.linear2.weight", newValue.elements) }
    }
    public var linear2Bias: [Double] {
        get { graphCell.tensor("cell.linear2.bias") }
        set { graphCell.setTensor("cell.linear2.bias", newValue) }
    }
    public var normWeight: [Double] {
        get { graphCell.tensor("cell.norm.weight") }
        set { graphCell.setTensor("cell.norm.weight", newValue) }
    }
    public var normBias: [Double] {
        get { graphCell.tensor("cell.norm.bias") }
        set { graphCell.setTensor("cell.norm.bias", newValue) }
    }
    public var injectionWeight: Matrix {
        get { matrix("injection.weight", stateDimension, inputDimension) }
        set { graphCell.setTensor("injection.weight", newValue.elements) }
    }
    public var injectionBias: [Double] {
        get { graphCell.tensor("injection.bias") }
        set { graphCell.setTensor("injection.bias", newValue) }
    }
}
