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
public struct TanhCell: GraphBackedCell {
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
