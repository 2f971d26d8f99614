import PhantomLinearAlgebra

/// An implicit model: the cell f(h, x; θ) whose fixed point h* is the representation, and the output
/// head on h*.
public struct ImplicitModel: Sendable {
    public var cell: any ImplicitCell
    public var head: OutputHead

    public init(cell: any ImplicitCell, head: OutputHead) {
        precondition(
            head.graphHead.map { $0.graph.stateDimension == cell.stateDimension } ?? (head.weight.columns == cell.stateDimension),
            "the head must read d values")
        self.cell = cell
        self.head = head
    }

    /// n_in.
    public var inputDimension: Int { cell.inputDimension }
    /// d.
    public var stateDimension: Int { cell.stateDimension }
    /// c.
    public var outputDimension: Int { head.outputDimension }

    /// The tensors of cell and head, in checkpoint order (cell first).
    public var allSpecs: [(name: String, shape: [Int])] {
        cell.layout.specs.map { ($0.name, $0.shape) } + head.layout.specs.map { ($0.name, $0.shape) }
    }

    /// The fixed points h* of a batch of inputs, solved from h = 0.
    public func solve(_ x: Matrix, _ configuration: FixedPointConfiguration) -> FixedPointSolution {
        let cell = self.cell
        @Sendable func inputs(_ rows: [Int]) -> Matrix { x.selectingRows(rows) }
        let map = cell.fixedPointMap(input: x)
        return FixedPointSolver(configuration).solve(
            initial: Matrix(zeros: x.rows, stateDimension),
            map: map,
            linearize: { h, rows in cell.linearize(state: h, input: inputs(rows)) })
    }
}
