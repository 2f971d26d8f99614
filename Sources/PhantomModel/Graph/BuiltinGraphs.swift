import PhantomLinearAlgebra

/// The built-in cells as graphs, built by name with the tensor names and order of their checkpoints (docs/Graphs.md).
/// The graphs are valid by construction; a constructor's dimensions are checked by its caller (``ModelShape``).
public enum BuiltinGraphs {
    /// Nodes in order, each `output = op(inputs…)` with the node named after its output.
    static func node(_ output: String, _ op: any GraphOp, _ inputs: [String]) -> GraphNode {
        GraphNode(name: output, op: op, inputs: inputs, output: output)
    }

    static func build(
        state: [Int], input: [Int], parameters: [(String, [Int])], nodes: [GraphNode]
    ) -> Graph {
        do {
            return try Graph(
                state: ("h", state), input: ("x", input), parameters: parameters.map { (name: $0.0, shape: $0.1) }, nodes: nodes)
        } catch {
            preconditionFailure("built-in graph: \(error)")
        }
    }

    /// The tanh cell: f = tanh(W h + (U x + b)) with W = `cell.weight` [d, d], U = `injection.weight` [d, n_in],
    /// b = `injection.bias` [d] (θ in that order: injection.weight, injection.bias, cell.weight).
    public static func tanh(stateDimension d: Int, inputDimension n: Int) -> Graph {
        build(
            state: [d], input: [n],
            parameters: [("injection.weight", [d, n]), ("injection.bias", [d]), ("cell.weight", [d, d])],
            nodes: [
                node("injection", GraphOps.Gemm(), ["x", "injection.weight", "injection.bias"]),
                node("cell", GraphOps.Gemm(), ["h", "cell.weight"]),
                node("z", GraphOps.Add(), ["injection", "cell"]),
                node("f", GraphOps.Tanh(), ["z"]),
            ])
    }
}
