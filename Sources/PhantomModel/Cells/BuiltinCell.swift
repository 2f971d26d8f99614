import PhantomLinearAlgebra

/// A built-in cell: a graph built by name from its dimensions, and everything the readers, the safetensors importer and
/// the trainer know of its kind — so that the rest of the toolkit asks the kind's type (``CellKind/builtin``) instead of
/// switching over kinds. Adding a built-in is one file that conforms, one case of ``CellKind`` and its line in
/// ``CellKind/builtin``.
public protocol BuiltinCell: GraphBackedCell {
    /// The checkpoint attributes (and `phantom.*` metadata) of the kind's extra integer dimensions, in order.
    static var extraDimensionNames: [String] { get }
    /// Whether the cell has normalisations (and so an ε: checkpoint attribute `norm_eps`).
    static var hasNormalization: Bool { get }
    /// The state-dict tensor that tells the kind apart when a file does not name it.
    static var signatureTensor: String { get }
    /// What is inconsistent in a shape of this kind (nil: nothing); its extra dimensions are present.
    static func problem(_ shape: ModelShape) -> String?
    /// θ's tensors for a shape, computed without building the cell.
    static func layout(_ shape: ModelShape) -> ParameterLayout
    /// The cell of a consistent shape: zero weights, normalisations at γ = 1, β = 0, ε given or PyTorch's default.
    init(shape: ModelShape, normEpsilon: Double?)
    /// The shape of a state dict holding this kind: `dimension(key, tensor, axis)` reads one dimension from a tensor's
    /// shape (and checks it against the metadata `phantom.key`), `declared(key)` reads a dimension no tensor holds from
    /// the metadata; `fail` makes the error that names the file. The result may still have a ``ModelShape/problem``.
    static func stateDictShape(
        classes c: Int, metadata: [String: String], dimension: (String, String, Int) throws -> Int,
        declared: (String) throws -> Int?, fail: (String) -> any Error
    ) throws -> ModelShape
    /// A fresh cell of a consistent shape for training: every tensor drawn from `uniform(rows, columns, fanIn)`
    /// (PyTorch's uniform(±1/√fan_in)) in a fixed order, then scaled so that the first fixed points are easy to find.
    static func initialized(_ shape: ModelShape, uniform: (Int, Int, Int) -> Matrix) -> Self
}

extension CellKind {
    /// The built-in cell type of this kind (nil for `graph`, whose cell is its graph).
    public var builtin: (any BuiltinCell.Type)? {
        switch self {
        case .tanh: TanhCell.self
        case .resmlp: ResMLPCell.self
        case .mdeq: MDEQCell.self
        case .graph: nil
        }
    }
}
