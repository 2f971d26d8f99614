import PhantomLinearAlgebra
import PhantomModel

/// Cells that are not built in, as test graphs: the shapes of DEQs researchers train (docs/Graphs.md), small enough to
/// check densely, with random parameters that make the cell contractive enough for tight fixed points.
public enum TestGraphs {
    static func node(_ output: String, _ op: any GraphOp, _ inputs: [String]) -> GraphNode {
        GraphNode(name: output, op: op, inputs: inputs, output: output)
    }

    /// A model of a graph cell with Gaussian parameters (each tensor scaled by `scale(name)`) and a Gaussian head.
    public static func model(_ graph: Graph, classes c: Int, seed: UInt64, scale: (String, [Int]) -> Double) -> ImplicitModel {
        var rng = SplitMix64(seed: seed)
        var cell = GraphCell(graph: graph)
        cell.parameters = cell.layout.specs.flatMap { spec in
            let s = scale(spec.name, spec.shape)
            return (0..<spec.count).map { _ in s * rng.nextGaussian() }
        }
        let d = graph.stateDimension
        let head = OutputHead(
            weight: gaussianMatrix(c, d, scale: 1 / Double(d).squareRoot(), &rng), bias: (0..<c).map { _ in 0.1 * rng.nextGaussian() })
        return ImplicitModel(cell: cell, head: head)
    }

    /// A gated, GRU-like update (DEQ-Flow's ConvGRU as dense layers):
    ///
    ///     z = σ(W_z h + U_z x + b_z),  r = σ(W_r h + U_r x + b_r),  n = tanh(W_n (r ⊙ h) + U_n x + b_n)
    ///     f = (1 − z) ⊙ n + z ⊙ h
    public static func gated(stateDimension d: Int, inputDimension n: Int) throws -> Graph {
        var parameters: [(name: String, shape: [Int])] = []
        var nodes: [GraphNode] = []
        for gate in ["z", "r", "n"] {
            parameters += [("gate_\(gate).U", [d, n]), ("gate_\(gate).b", [d]), ("gate_\(gate).W", [d, d])]
            nodes.append(node("u\(gate)", GraphOps.Gemm(), ["x", "gate_\(gate).U", "gate_\(gate).b"]))
        }
        nodes += [
            node("wz", GraphOps.Gemm(), ["h", "gate_z.W"]), node("az", GraphOps.Add(), ["wz", "uz"]), node("z", GraphOps.Sigmoid(), ["az"]),
            node("wr", GraphOps.Gemm(), ["h", "gate_r.W"]), node("ar", GraphOps.Add(), ["wr", "ur"]), node("r", GraphOps.Sigmoid(), ["ar"]),
            node("rh", GraphOps.Mul(), ["r", "h"]), node("wn", GraphOps.Gemm(), ["rh", "gate_n.W"]),
            node("an", GraphOps.Add(), ["wn", "un"]), node("n", GraphOps.Tanh(), ["an"]),
            node("keep", GraphOps.Sub(), ["one", "z"]), node("new", GraphOps.Mul(), ["keep", "n"]),
            node("old", GraphOps.Mul(), ["z", "h"]), node("f", GraphOps.Add(), ["new", "old"])
        ]
        return try Graph(
            state: ("h", [d]), input: ("x", [n]), parameters: parameters, constants: [("one", [], [1])], nodes: nodes)
    }

    /// The gated cell with weights of norm about 0.4 (W) and 0.5 (U).
    public static func gatedModel(d: Int = 6, n: Int = 3, c: Int = 3, seed: UInt64 = 5) -> ImplicitModel {
        model(try! gated(stateDimension: d, inputDimension: n), classes: c, seed: seed) { name, shape in
            name.hasSuffix(".W") ? 0.4 / Double(d).squareRoot() : name.hasSuffix(".U") ? 0.5 / Double(n).squareRoot() : 0.1
        }
    }
}
