import PhantomLinearAlgebra
import PhantomModel

/// Cells that are not built in, as test graphs: the shapes of DEQs researchers train (docs/Graphs.md), small enough to
/// check densely, with random parameters that make the cell contractive enough for tight fixed points.
public enum TestGraphs {
    static func node(_ output: String, _ op: any GraphOp, _ inputs: [String]) -> GraphNode {
        GraphNode(name: output, op: op, inputs: inputs, output: output)
    }

    /// A model of a graph cell with Gaussian parameters (each tensor `center(name) + scale(name)·N(0, 1)`) and a Gaussian
    /// head.
    public static func model(
        _ graph: Graph, classes c: Int, seed: UInt64, center: (String) -> Double = { _ in 0 }, scale: (String, [Int]) -> Double
    ) -> ImplicitModel {
        var rng = SplitMix64(seed: seed)
        var cell = GraphCell(graph: graph)
        cell.parameters = cell.layout.specs.flatMap { spec in
            let (m, s) = (center(spec.name), scale(spec.name, spec.shape))
            return (0..<spec.count).map { _ in m + s * rng.nextGaussian() }
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

    /// A DEQ-transformer block on T tokens of width D (h [T, D], x [T, n]), pre-norm attention and a GELU MLP:
    ///
    ///     z = h + (x U + b),  y = LN₁(z),  a = softmax(y W_q (y W_k)ᵀ / √D) (y W_v) W_o,  r = z + a
    ///     f = LN₃(r + GELU(LN₂(r) W₁ + b₁) W₂)
    public static func attention(tokens t: Int, width w: Int, inputs n: Int, hidden m: Int) throws -> Graph {
        let parameters: [(name: String, shape: [Int])] = [
            ("in.U", [n, w]), ("in.b", [w]), ("ln1.weight", [w]), ("ln1.bias", [w]), ("attn.q", [w, w]), ("attn.k", [w, w]),
            ("attn.v", [w, w]), ("attn.o", [w, w]), ("ln2.weight", [w]), ("ln2.bias", [w]), ("mlp.w1", [w, m]), ("mlp.b1", [m]),
            ("mlp.w2", [m, w]), ("ln3.weight", [w]), ("ln3.bias", [w])
        ]
        let nodes = [
            node("xu", GraphOps.MatMul(), ["x", "in.U"]), node("u", GraphOps.Add(), ["xu", "in.b"]), node("z", GraphOps.Add(), ["h", "u"]),
            node("y", GraphOps.LayerNormalization(), ["z", "ln1.weight", "ln1.bias"]),
            node("q", GraphOps.MatMul(), ["y", "attn.q"]), node("k", GraphOps.MatMul(), ["y", "attn.k"]),
            node("v", GraphOps.MatMul(), ["y", "attn.v"]), node("kt", GraphOps.Transpose(perm: [1, 0]), ["k"]),
            node("scores", GraphOps.MatMul(), ["q", "kt"]), node("scaled", GraphOps.Mul(), ["scores", "temperature"]),
            node("weights", GraphOps.Softmax(axis: -1), ["scaled"]), node("mixed", GraphOps.MatMul(), ["weights", "v"]),
            node("attended", GraphOps.MatMul(), ["mixed", "attn.o"]), node("r", GraphOps.Add(), ["z", "attended"]),
            node("y2", GraphOps.LayerNormalization(), ["r", "ln2.weight", "ln2.bias"]), node("m1", GraphOps.MatMul(), ["y2", "mlp.w1"]),
            node("m1b", GraphOps.Add(), ["m1", "mlp.b1"]), node("g", GraphOps.Gelu(), ["m1b"]),
            node("m2", GraphOps.MatMul(), ["g", "mlp.w2"]),
            node("out", GraphOps.Add(), ["r", "m2"]), node("f", GraphOps.LayerNormalization(), ["out", "ln3.weight", "ln3.bias"])
        ]
        return try Graph(
            state: ("h", [t, w]), input: ("x", [t, n]), parameters: parameters,
            constants: [("temperature", [], [1 / Double(w).squareRoot()])], nodes: nodes)
    }

    /// The attention block with small weights and the last LayerNorm's gain about 0.4 (so that ρ(J) < 1).
    public static func attentionModel(tokens t: Int = 3, width w: Int = 4, inputs n: Int = 2, c: Int = 3, seed: UInt64 = 6) -> ImplicitModel
    {
        model(
            try! attention(tokens: t, width: w, inputs: n, hidden: 2 * w), classes: c, seed: seed,
            center: { $0 == "ln3.weight" ? 0.4 : $0.hasSuffix(".weight") ? 1 : 0 },
            scale: { name, _ in name.hasPrefix("ln") ? 0.05 : name.hasPrefix("in.") ? 0.8 : 0.3 })
    }

    /// A monotone-operator DEQ cell (Winston & Kolter): f = relu(W h + U x + b) with the weight built inside the cell from
    /// parameters A and B, W = (1 − m) I − AᵀA + B − Bᵀ (a shared subgraph: products and sums of parameters).
    public static func monotone(stateDimension d: Int, inputDimension n: Int, m: Double) throws -> Graph {
        var identity = [Double](repeating: 0, count: d * d)
        for i in 0..<d { identity[i * d + i] = 1 - m }
        let nodes = [
            node("at", GraphOps.Transpose(), ["A"]), node("ata", GraphOps.MatMul(), ["at", "A"]), node("bt", GraphOps.Transpose(), ["B"]),
            node("w1", GraphOps.Sub(), ["shifted_identity", "ata"]), node("w2", GraphOps.Add(), ["w1", "B"]),
            node("W", GraphOps.Sub(), ["w2", "bt"]), node("wh", GraphOps.MatMul(), ["W", "h"]),
            node("ux", GraphOps.Gemm(), ["x", "U", "b"]), node("z", GraphOps.Add(), ["wh", "ux"]), node("f", GraphOps.Relu(), ["z"])
        ]
        return try Graph(
            state: ("h", [d]), input: ("x", [n]), parameters: [("A", [d, d]), ("B", [d, d]), ("U", [d, n]), ("b", [d])],
            constants: [("shifted_identity", [d, d], identity)], nodes: nodes)
    }

    /// The monotone cell with m = 0.5 and small A, B.
    public static func monotoneModel(d: Int = 6, n: Int = 3, c: Int = 3, seed: UInt64 = 7) -> ImplicitModel {
        model(try! monotone(stateDimension: d, inputDimension: n, m: 0.5), classes: c, seed: seed) { name, _ in
            name == "A" || name == "B" ? 0.15 : name == "U" ? 0.6 : 0.2
        }
    }

    /// A two-resolution MDEQ (HRNet-style fusion): h holds branch 1 [C, H, W] and branch 2 [C, H/2, W/2], flattened and
    /// concatenated; x is [C_in, H, W]. Each branch is relu(GN(conv(h_b) + injection_b(x))) (branch 2's injection a
    /// stride-2 convolution); the branches are fused by nearest 2× upsampling of a 1×1 convolution (2 → 1) and a stride-2
    /// 3×3 convolution (1 → 2); each fused branch ends in a GroupNorm, and f concatenates them.
    public static func twoResolution(channels c: Int, inChannels ci: Int, size s: Int) throws -> Graph {
        let d1 = c * s * s, d2 = c * (s / 2) * (s / 2)
        let conv3 = try GraphOps.Conv(kernelShape: [3, 3], pads: [1, 1, 1, 1])
        let down = try GraphOps.Conv(kernelShape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1])
        let conv1 = try GraphOps.Conv(kernelShape: [1, 1])
        var parameters: [(name: String, shape: [Int])] = [
            ("b1.inject", [c, ci, 3, 3]), ("b1.inject_bias", [c]), ("b2.inject", [c, ci, 3, 3]), ("b2.inject_bias", [c])
        ]
        for b in ["b1", "b2"] { parameters += [("\(b).conv", [c, c, 3, 3]), ("\(b).gn.weight", [c]), ("\(b).gn.bias", [c])] }
        parameters += [("fuse.up", [c, c, 1, 1]), ("fuse.down", [c, c, 3, 3])]
        for b in ["b1", "b2"] { parameters += [("\(b).out.weight", [c]), ("\(b).out.bias", [c])] }
        let nodes = [
            node("h1flat", try GraphOps.Slice(starts: [0], ends: [d1]), ["h"]),
            node("h1", try GraphOps.Reshape(shape: [c, s, s]), ["h1flat"]),
            node("h2flat", try GraphOps.Slice(starts: [d1], ends: [d1 + d2]), ["h"]),
            node("h2", try GraphOps.Reshape(shape: [c, s / 2, s / 2]), ["h2flat"]),
            node("u1", conv3, ["x", "b1.inject", "b1.inject_bias"]), node("u2", down, ["x", "b2.inject", "b2.inject_bias"]),
            node("c1", conv3, ["h1", "b1.conv"]), node("s1", GraphOps.Add(), ["c1", "u1"]),
            node("n1", GraphOps.GroupNormalization(numGroups: 1), ["s1", "b1.gn.weight", "b1.gn.bias"]),
            node("t1", GraphOps.Relu(), ["n1"]),
            node("c2", conv3, ["h2", "b2.conv"]), node("s2", GraphOps.Add(), ["c2", "u2"]),
            node("n2", GraphOps.GroupNormalization(numGroups: 1), ["s2", "b2.gn.weight", "b2.gn.bias"]),
            node("t2", GraphOps.Relu(), ["n2"]),
            node("low", conv1, ["t2", "fuse.up"]), node("up", GraphOps.Resize(.nearest), ["low"]),
            node("fused1", GraphOps.Add(), ["t1", "up"]), node("strided", down, ["t1", "fuse.down"]),
            node("fused2", GraphOps.Add(), ["t2", "strided"]),
            node("o1", GraphOps.GroupNormalization(numGroups: 1), ["fused1", "b1.out.weight", "b1.out.bias"]),
            node("o2", GraphOps.GroupNormalization(numGroups: 1), ["fused2", "b2.out.weight", "b2.out.bias"]),
            node("f1", GraphOps.Flatten(), ["o1"]), node("f2", GraphOps.Flatten(), ["o2"]),
            node("f", GraphOps.Concat(axis: 0), ["f1", "f2"])
        ]
        return try Graph(state: ("h", [d1 + d2]), input: ("x", [ci, s, s]), parameters: parameters, nodes: nodes)
    }

    /// The two-resolution MDEQ with C = 2, C_in = 1, 4×4 images (d = 40), output GroupNorms' gain about 0.3.
    public static func twoResolutionModel(channels c: Int = 2, size s: Int = 4, classes: Int = 3, seed: UInt64 = 8) -> ImplicitModel {
        model(
            try! twoResolution(channels: c, inChannels: 1, size: s), classes: classes, seed: seed,
            center: { $0.hasSuffix(".out.weight") ? 0.3 : $0.hasSuffix("gn.weight") ? 1 : 0 },
            scale: { name, _ in name.hasSuffix("weight") || name.hasSuffix("bias") ? 0.05 : 0.3 })
    }

    /// The gated cell with its own nonlinear head in the graph: logits = V tanh(P h + p) + v (head parameters P [m, d],
    /// p [m], V [c, m], v [c]).
    public static func gatedWithHead(stateDimension d: Int, inputDimension n: Int, hidden m: Int, classes c: Int) throws -> Graph {
        let cell = try gated(stateDimension: d, inputDimension: n)
        let nodes =
            cell.nodes + [
                node("head_hidden", GraphOps.Gemm(), ["h", "head.P", "head.p"]), node("head_act", GraphOps.Tanh(), ["head_hidden"]),
                node("logits", GraphOps.Gemm(), ["head_act", "head.V", "head.v"])
            ]
        let parameters =
            cell.cellLayout.specs.map { (name: $0.name, shape: $0.shape) }
            + [("head.P", [m, d]), ("head.p", [m]), ("head.V", [c, m]), ("head.v", [c])]
        return try Graph(
            state: ("h", [d]), input: ("x", [n]), parameters: parameters, constants: [("one", [], [1])], nodes: nodes, logits: "logits")
    }

    /// The gated cell with a graph head; its model's head is the graph's (``GraphHead``).
    public static func gatedWithHeadModel(d: Int = 6, n: Int = 3, c: Int = 3, seed: UInt64 = 12) -> ImplicitModel {
        let graph = try! gatedWithHead(stateDimension: d, inputDimension: n, hidden: 5, classes: c)
        var rng = SplitMix64(seed: seed)
        var cell = GraphCell(graph: graph)
        cell.parameters = cell.layout.specs.flatMap { spec in
            let s =
                spec.name.hasSuffix(".W") ? 0.4 / Double(d).squareRoot() : spec.name.hasSuffix(".U") ? 0.5 / Double(n).squareRoot() : 0.1
            return (0..<spec.count).map { _ in s * rng.nextGaussian() }
        }
        var head = GraphHead(graph: graph)
        head.parameters = head.layout.specs.flatMap { spec in (0..<spec.count).map { _ in 0.7 * rng.nextGaussian() } }
        return ImplicitModel(cell: cell, head: OutputHead(graph: head))
    }
}
