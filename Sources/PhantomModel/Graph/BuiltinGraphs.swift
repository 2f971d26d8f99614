import PhantomLinearAlgebra

/// The built-in cells as graphs, built by name with the tensor names and order of their checkpoints (docs/Graphs.md).
/// The graphs are valid by construction; a constructor's dimensions are checked by its caller (``ModelShape``).
///
/// The sums are written in the order the cells always accumulated them — the residual, then each linear map's product,
/// then the biases — so that f, and with it every fixed point and every result, is the same to the last bit.
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

    /// The tanh cell: f = tanh((U x + W h) + b) with W = `cell.weight` [d, d], U = `injection.weight` [d, n_in],
    /// b = `injection.bias` [d] (θ in that order: injection.weight, injection.bias, cell.weight).
    public static func tanh(stateDimension d: Int, inputDimension n: Int) -> Graph {
        build(
            state: [d], input: [n],
            parameters: [("injection.weight", [d, n]), ("injection.bias", [d]), ("cell.weight", [d, d])],
            nodes: [
                node("injection", GraphOps.Gemm(), ["x", "injection.weight"]),
                node("cell", GraphOps.Gemm(), ["h", "cell.weight"]),
                node("products", GraphOps.Add(), ["injection", "cell"]),
                node("z", GraphOps.Add(), ["products", "injection.bias"]),
                node("f", GraphOps.Tanh(), ["z"])
            ])
    }

    /// The resmlp cell: a = relu(W₁h + b₁), s = (((h + W₂a) + Ux) + b₂) + b, f = LayerNorm_{γ,β}(relu(s)), ε the norm's
    /// (θ: cell.linear1.weight [m, d], .bias [m], cell.linear2.weight [d, m], .bias [d], cell.norm.weight [d], .bias [d],
    /// injection.weight [d, n_in], injection.bias [d]).
    public static func resmlp(stateDimension d: Int, inputDimension n: Int, hiddenWidth m: Int, normEpsilon: Double) -> Graph {
        build(
            state: [d], input: [n],
            parameters: [
                ("cell.linear1.weight", [m, d]), ("cell.linear1.bias", [m]), ("cell.linear2.weight", [d, m]), ("cell.linear2.bias", [d]),
                ("cell.norm.weight", [d]), ("cell.norm.bias", [d]), ("injection.weight", [d, n]), ("injection.bias", [d])
            ],
            nodes: [
                node("injection", GraphOps.Gemm(), ["x", "injection.weight"]),
                node("linear1", GraphOps.Gemm(), ["h", "cell.linear1.weight", "cell.linear1.bias"]),
                node("a", GraphOps.Relu(), ["linear1"]),
                node("linear2", GraphOps.Gemm(), ["a", "cell.linear2.weight"]),
                node("residual", GraphOps.Add(), ["h", "linear2"]),
                node("injected", GraphOps.Add(), ["residual", "injection"]),
                node("biased", GraphOps.Add(), ["injected", "cell.linear2.bias"]),
                node("s", GraphOps.Add(), ["biased", "injection.bias"]),
                node("r", GraphOps.Relu(), ["s"]),
                node("f", GraphOps.LayerNormalization(axis: -1, epsilon: normEpsilon), ["r", "cell.norm.weight", "cell.norm.bias"])
            ])
    }

    /// MDEQ's BasicBlock at one resolution on h [C, H, W] and x [C_in, H, W]: u = injection(x) (3×3, bias),
    /// f = gn3(relu(gn2((conv2(relu(gn1(conv1 h))) + W_u ⋆ x) + b_u) + h)), conv1: C → E·C and conv2: E·C → C (3×3, padding 1, no bias),
    /// GroupNorm with G groups and ε (θ in the checkpoint's order: injection.weight, injection.bias, cell.conv1.weight,
    /// cell.gn1.weight, cell.gn1.bias, cell.conv2.weight, cell.gn2.weight, cell.gn2.bias, cell.gn3.weight, cell.gn3.bias).
    public static func mdeq(
        channels c: Int, inChannels ci: Int, height: Int, width: Int, expansion: Int, groups: Int, normEpsilon: Double
    ) -> Graph {
        let e = expansion * c
        let conv = try! GraphOps.Conv(kernelShape: [3, 3], strides: [1, 1], pads: [1, 1, 1, 1])
        func norm() -> GraphOps.GroupNormalization { GraphOps.GroupNormalization(numGroups: groups, epsilon: normEpsilon) }
        return build(
            state: [c, height, width], input: [ci, height, width],
            parameters: [
                ("injection.weight", [c, ci, 3, 3]), ("injection.bias", [c]), ("cell.conv1.weight", [e, c, 3, 3]),
                ("cell.gn1.weight", [e]), ("cell.gn1.bias", [e]), ("cell.conv2.weight", [c, e, 3, 3]),
                ("cell.gn2.weight", [c]), ("cell.gn2.bias", [c]), ("cell.gn3.weight", [c]), ("cell.gn3.bias", [c])
            ],
            nodes: [
                node("injection", conv, ["x", "injection.weight"]),
                node("injection_bias", try! GraphOps.Reshape(attributes: ["shape": .ints([c, 1, 1])]), ["injection.bias"]),
                node("conv1", conv, ["h", "cell.conv1.weight"]),
                node("gn1", norm(), ["conv1", "cell.gn1.weight", "cell.gn1.bias"]),
                node("relu1", GraphOps.Relu(), ["gn1"]),
                node("conv2", conv, ["relu1", "cell.conv2.weight"]),
                node("products", GraphOps.Add(), ["conv2", "injection"]),
                node("fused", GraphOps.Add(), ["products", "injection_bias"]),
                node("gn2", norm(), ["fused", "cell.gn2.weight", "cell.gn2.bias"]),
                node("residual", GraphOps.Add(), ["gn2", "h"]),
                node("relu2", GraphOps.Relu(), ["residual"]),
                node("f", norm(), ["relu2", "cell.gn3.weight", "cell.gn3.bias"])
            ])
    }
}
