import PhantomLinearAlgebra

/// A cell f(h, x; θ) given by a ``Graph``: θ is the graph's cell parameters, in order (docs/Graphs.md).
///
/// The parameters are kept as one matrix per tensor (one row each), so evaluations read them without copying θ.
public struct GraphCell: Sendable {
    public let graph: Graph
    /// θ's tensors, in ``Graph/cellParameterIndices`` order, each 1 × count.
    var tensors: [Matrix]

    /// The cell with zero parameters, or the given θ (flat, in ``Graph/cellLayout`` order).
    public init(graph: Graph, parameters: [Double]? = nil) {
        self.graph = graph
        tensors = graph.cellParameterIndices.map { Matrix(zeros: 1, graph.values[$0].count) }
        if let parameters { self.parameters = parameters }
    }

    /// d.
    public var stateDimension: Int { graph.stateDimension }
    /// n_in.
    public var inputDimension: Int { graph.inputDimension }
    /// θ's tensors, in order.
    public var layout: ParameterLayout { graph.cellLayout }

    /// θ, flat, in ``layout`` order.
    public var parameters: [Double] {
        get { tensors.flatMap(\.elements) }
        set { tensors = Graph.tensors(newValue, shapedAs: tensors, what: "the cell") }
    }

    /// One named tensor's values.
    public func tensor(_ name: String) -> [Double] {
        guard let k = graph.cellParameterIndices.firstIndex(where: { graph.values[$0].name == name }) else {
            preconditionFailure("no parameter \(name)")
        }
        return tensors[k].elements
    }

    /// Replaces one named tensor.
    public mutating func setTensor(_ name: String, _ values: [Double]) {
        guard let k = graph.cellParameterIndices.firstIndex(where: { graph.values[$0].name == name }) else {
            preconditionFailure("no parameter \(name)")
        }
        precondition(values.count == tensors[k].columns, "\(name) needs \(tensors[k].columns) values")
        tensors[k] = Matrix(rows: 1, columns: values.count, elements: values)
    }

    /// f(H, X) for a batch.
    public func forward(state h: Matrix, input x: Matrix) -> Matrix {
        graph.evaluateCell(parameters: tensors, state: h, input: x)
    }

    /// h ↦ f(h, x) for samples `rows` of X: every node that does not depend on h (the injection, and subgraphs of
    /// parameters only) is evaluated once for the whole batch and reused while a call asks for every sample; a call for a
    /// subset evaluates the whole cell on it, as ``forward(state:input:)`` does. Either way the same operations on the
    /// same operands as ``forward(state:input:)`` — a GEMM on a subset of rows need not equal those rows of the batch's
    /// GEMM to the last bit, so the batch's injection is not sliced — and so the same bits.
    public func fixedPointMap(input x: Matrix) -> @Sendable (_ h: Matrix, _ rows: [Int]) -> Matrix {
        let graph = self.graph, tensors = self.tensors
        var fixed = graph.initialValues(parameters: tensors, state: Matrix(zeros: x.rows, graph.stateDimension), input: x)
        var hNodes: [Int] = []
        for n in graph.cellNodes {
            let out = graph.nodeOutput[n]
            if graph.dependsOnState[out] {
                hNodes.append(n)
            } else {
                fixed[out] = graph.bound[n].evaluate(graph.nodeInputs[n].map { fixed[$0]! })
            }
        }
        let cached = fixed, stateNodes = hNodes, all = Array(0..<x.rows)
        return { h, rows in
            guard rows == all else { return graph.evaluateCell(parameters: tensors, state: h, input: x.selectingRows(rows)) }
            var values = cached
            values[0] = h
            for n in stateNodes { values[graph.nodeOutput[n]] = graph.bound[n].evaluate(graph.nodeInputs[n].map { values[$0]! }) }
            return values[graph.fIndex]!.expandingRows(to: h.rows)
        }
    }

    /// f, J and M at (H, X), as the concrete type.
    public func graphLinearization(state h: Matrix, input x: Matrix) -> GraphLinearization {
        GraphLinearization(graph: graph, parameters: tensors, state: h, input: x)
    }
}

/// A cell whose math is a ``GraphCell``: everything but its kind and extra dimensions comes from the graph. The
/// built-in cells (tanh, resmlp, mdeq) are graph-backed cells built by name.
public protocol GraphBackedCell: ImplicitCell {
    var graphCell: GraphCell { get set }
}

extension GraphBackedCell {
    public var stateDimension: Int { graphCell.stateDimension }
    public var inputDimension: Int { graphCell.inputDimension }
    public var layout: ParameterLayout { graphCell.layout }
    public var normalizationEpsilon: Double? { graphCell.normalizationEpsilon }
    public var inputImageShape: [Int]? { graphCell.inputImageShape }
    public var parameters: [Double] {
        get { graphCell.parameters }
        set { graphCell.parameters = newValue }
    }
    public func forward(state h: Matrix, input x: Matrix) -> Matrix { graphCell.forward(state: h, input: x) }
    public func fixedPointMap(input x: Matrix) -> @Sendable (_ h: Matrix, _ rows: [Int]) -> Matrix { graphCell.fixedPointMap(input: x) }
    public func linearize(state h: Matrix, input x: Matrix) -> any CellLinearization { graphCell.linearize(state: h, input: x) }
}

extension GraphCell: ImplicitCell {
    /// `graph`: a cell known by its graph alone (the built-ins wrap theirs in their own types).
    public var kind: CellKind { .graph }
    public var extraDimensions: [String: Int] { [:] }
    /// The ε of the first normalisation node, if the graph has one (every op that has an ε names it `epsilon`).
    public var normalizationEpsilon: Double? {
        for node in graph.nodes { if case .float(let e) = node.op.attributes["epsilon"] { return e } }
        return nil
    }
    /// [C_in, H, W] when x has rank 3 (an image), else nil.
    public var inputImageShape: [Int]? { graph.input.shape.count == 3 ? graph.input.shape : nil }
    public func linearize(state h: Matrix, input x: Matrix) -> any CellLinearization { graphLinearization(state: h, input: x) }
}
