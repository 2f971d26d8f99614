import PhantomLinearAlgebra

/// The tanh cell.
///
///     f(h, x) = tanh(W h + U x + b)
///
/// with W = `cell.weight` [d, d], U = `injection.weight` [d, n_in], b = `injection.bias` [d]: the layers
/// `injection` = Linear(n_in, d) and `cell` = Linear(d, d, bias: false), summed, then Tanh.
///
/// Mathematical Properties: with z = W h + U x + b and D = diag(1 − f²),
///
///     J = D W,    M δθ = D (δW h + δU x + δb),
///     M Mᵀ = D² (‖h‖² + ‖x‖² + 1)    (docs/Theory.md §3, closed form of the Gram of M)
///
/// Complexity: forward two GEMMs (B×d×d and B×n_in×d); each JVP/VJP one or two GEMMs.
public struct TanhCell: ComposedCell {
    public var composition: LayerComposition
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
        composition = LayerComposition(
            layers: [
                Linear("injection", input: n, output: d), Linear("cell", input: d, output: d, bias: false),
                Tanh("tanh", width: d)
            ],
            nodes: [.sum([.affine(layer: 0, of: .input), .affine(layer: 1, of: .state)]), .map(layer: 2, of: .node(0))],
            stateDimension: d, inputDimension: n)
    }

    /// The tensors of a tanh cell, computed without building it (the composition's ``layout`` equals it).
    public static func layout(stateDimension d: Int, inputDimension n: Int) -> ParameterLayout {
        ParameterLayout([("injection.weight", [d, n]), ("injection.bias", [d]), ("cell.weight", [d, d])])
    }

    /// U = injection.weight, d×n_in.
    public var injectionWeight: Matrix {
        get { (composition.layers[0] as! Linear).weight }
        set { var l = composition.layers[0] as! Linear; l.weight = newValue; composition.layers[0] = l }
    }
    /// b = injection.bias, d.
    public var injectionBias: [Double] {
        get { (composition.layers[0] as! Linear).bias }
        set { var l = composition.layers[0] as! Linear; l.bias = newValue; composition.layers[0] = l }
    }
    /// W = cell.weight, d×d.
    public var cellWeight: Matrix {
        get { (composition.layers[1] as! Linear).weight }
        set { var l = composition.layers[1] as! Linear; l.weight = newValue; composition.layers[1] = l }
    }
}
