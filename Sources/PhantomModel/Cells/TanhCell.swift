import PhantomLinearAlgebra

/// The tanh cell.
///
///     f(h, x) = tanh(W h + U x + b)
///
/// with W = `cell.weight` [d, d], U = `injection.weight` [d, n_in], b = `injection.bias` [d]: the graph
/// ``BuiltinGraphs/tanh(stateDimension:inputDimension:)``.
///
/// Mathematical Properties: with z = W h + U x + b and D = diag(1 − f²),
///
///     J = D W,    M δθ = D (δW h + δU x + δb),
///     M Mᵀ = D² (‖h‖² + ‖x‖² + 1)    (docs/Theory.md §3, closed form of the Gram of M)
///
/// Complexity: forward two GEMMs (B×d×d and B×n_in×d); each JVP/VJP one or two GEMMs.
public struct TanhCell: BuiltinCell {
    public var graphCell: GraphCell
    public var kind: CellKind { .tanh }
    public var extraDimensions: [String: Int] { [:] }

    public init(injectionWeight: Matrix, injectionBias: [Double], cellWeight: Matrix) {
        precondition(
            cellWeight.rows == cellWeight.columns && injectionWeight.rows == cellWeight.rows
                && injectionBias.count == cellWeight.rows, "TanhCell: inconsistent tensor shapes")
        self.init(stateDimension: cellWeight.rows, inputDimension: injectionWeight.columns)
        self.injectionWeight = injectionWeight
        self.injectionBias = injectionBias
        self.cellWeight = cellWeight
    }

    /// Zero parameters of the given dimensions.
    public init(stateDimension d: Int, inputDimension n: Int) {
        graphCell = GraphCell(graph: BuiltinGraphs.tanh(stateDimension: d, inputDimension: n))
    }

    public static let extraDimensionNames: [String] = []
    public static let hasNormalization = false
    public static let signatureTensor = "cell.weight"
    public static func problem(_ shape: ModelShape) -> String? { nil }
    public static func layout(_ shape: ModelShape) -> ParameterLayout {
        layout(stateDimension: shape.stateDimension, inputDimension: shape.inputDimension)
    }
    public init(shape: ModelShape, normEpsilon: Double?) {
        self.init(stateDimension: shape.stateDimension, inputDimension: shape.inputDimension)
    }

    /// d and n_in from `injection.weight` [d, n_in].
    public static func stateDictShape(
        classes c: Int, metadata: [String: String], dimension: (String, String, Int) throws -> Int,
        declared: (String) throws -> Int?, fail: (String) -> any Error
    ) throws -> ModelShape {
        let d = try dimension("d", "injection.weight", 0), n = try dimension("n_in", "injection.weight", 1)
        return ModelShape(kind: .tanh, inputDimension: n, stateDimension: d, outputDimension: c, extraDimensions: [:])
    }

    /// W drawn and scaled to ‖W‖₂ = 0.5 (ρ(J) ≤ 0.5 at the start), then U and b.
    public static func initialized(_ shape: ModelShape, uniform: (Int, Int, Int) -> Matrix) -> TanhCell {
        let d = shape.stateDimension, n = shape.inputDimension
        var w = uniform(d, d, d)
        BLAS.scal(0.5 / max((try? w.spectralNorm()) ?? 1, 1e-12), &w.elements)
        return TanhCell(injectionWeight: uniform(d, n, n), injectionBias: uniform(1, d, n).elements, cellWeight: w)
    }

    /// The tensors of a tanh cell, computed without building it (the graph's ``GraphCell/layout`` equals it).
    public static func layout(stateDimension d: Int, inputDimension n: Int) -> ParameterLayout {
        ParameterLayout([("injection.weight", [d, n]), ("injection.bias", [d]), ("cell.weight", [d, d])])
    }

    /// U = injection.weight, d×n_in.
    public var injectionWeight: Matrix {
        get { Matrix(rows: stateDimension, columns: inputDimension, elements: graphCell.tensor("injection.weight")) }
        set { graphCell.setTensor("injection.weight", newValue.elements) }
    }
    /// b = injection.bias, d.
    public var injectionBias: [Double] {
        get { graphCell.tensor("injection.bias") }
        set { graphCell.setTensor("injection.bias", newValue) }
    }
    /// W = cell.weight, d×d.
    public var cellWeight: Matrix {
        get { Matrix(rows: stateDimension, columns: stateDimension, elements: graphCell.tensor("cell.weight")) }
        set { graphCell.setTensor("cell.weight", newValue.elements) }
    }
}
