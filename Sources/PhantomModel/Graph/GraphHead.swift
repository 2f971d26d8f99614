import PhantomLinearAlgebra

/// The head of a graph: logits = head(h*; θ_head), the subgraph from h to the graph's `logits` (docs/Graphs.md). Its
/// parameters are the graph's head parameters, in order; it reads h and nothing of x.
public struct GraphHead: Sendable, Equatable {
    public let graph: Graph
    /// The head's tensors, in ``Graph/headParameterIndices`` order, each 1 × count.
    var tensors: [Matrix]

    /// The head of `graph` (which must have `logits`), with zero parameters or the given ones.
    public init(graph: Graph, parameters: [Double]? = nil) {
        precondition(graph.logitsIndex != nil, "GraphHead: the graph has no logits")
        self.graph = graph
        tensors = graph.headParameterIndices.map { Matrix(zeros: 1, graph.values[$0].count) }
        if let parameters { self.parameters = parameters }
    }

    /// c, the number of logits.
    public var outputDimension: Int { graph.values[graph.logitsIndex!].count }
    public var layout: ParameterLayout { graph.headLayout }

    public var parameters: [Double] {
        get { tensors.flatMap(\.elements) }
        set { tensors = Graph.tensors(newValue, shapedAs: tensors, what: "the head") }
    }

    /// h, the head's parameters and the constants.
    private func initialValues(_ h: Matrix) -> [Matrix?] {
        graph.valueTable(state: h, input: nil, parameters: tensors, at: graph.headParameterIndices)
    }

    /// Logits, B×c.
    public func logits(_ h: Matrix) -> Matrix {
        var values = initialValues(h)
        for n in graph.headNodes { values[graph.nodeOutput[n]] = graph.bound[n].evaluate(graph.nodeInputs[n].map { values[$0]! }) }
        return values[graph.logitsIndex!]!.expandingRows(to: h.rows)
    }

    /// Backpropagates ∂L/∂logits through the head: ∂L/∂h (B×d) and ∂L/∂θ_head summed over the batch.
    public func backward(state h: Matrix, logitGradient g: Matrix) -> (state: Matrix, parameters: [Double]) {
        var values = initialValues(h)
        var points = [(any OpPoint)?](repeating: nil, count: graph.nodes.count)
        for n in graph.headNodes {
            let (y, point) = graph.bound[n].linearize(graph.nodeInputs[n].map { values[$0]! })
            values[graph.nodeOutput[n]] = y
            points[n] = point
        }
        var cot = [Matrix?](repeating: nil, count: graph.values.count)
        cot[graph.logitsIndex!] = g
        for n in graph.headNodes.reversed() {
            guard let gn = cot[graph.nodeOutput[n]] else { continue }
            let inputs = graph.nodeInputs[n]
            let wanted = inputs.map { graph.dependsOnState[$0] || graph.dependsOnParameters[$0] }
            guard wanted.contains(true) else { continue }
            let grads = points[n]!.vjp(gn, wanted: wanted, sumShared: true)
            for (k, v) in inputs.enumerated() where wanted[k] {
                guard let c = grads[k] else { continue }
                cot[v] = addBroadcasting(cot[v], c)
            }
        }
        let state = cot[0]?.expandingRows(to: h.rows) ?? Matrix(zeros: h.rows, graph.stateDimension)
        var parameters: [Double] = []
        for p in graph.headParameterIndices {
            parameters += cot[p]?.rowSum.elements ?? [Double](repeating: 0, count: graph.values[p].count)
        }
        return (state, parameters)
    }
}
