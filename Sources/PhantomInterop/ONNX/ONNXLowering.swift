import PhantomModel
import PhantomONNX

/// Lowers an ONNX graph's nodes to the graph ops (docs/Graphs.md, docs/ONNX.md), one node at a time in a topological
/// order.
///
/// **Shapes.** Every value keeps its ONNX shape, the batch dimension being 1: a sample's h of ONNX shape [N, C, H, W]
/// is the per-sample value [1, C, H, W]. Ops whose ONNX semantics act on the batch's leading axis (Conv, pooling,
/// the normalisations over channels, Resize) are wrapped: reshaped to the op's per-sample [C, H, W] form and back, by
/// no-copy Reshapes. Every other op keeps its ONNX attributes verbatim (axes, perm, pads), because the per-sample
/// value *is* the ONNX tensor.
///
/// **Known values.** Integer initializers, `Constant` nodes and every node whose data inputs are known (shape
/// arithmetic: Shape, Gather, Concat, Range, Expand, …) are folded (``ONNXConstantFolding``); a known value read by a
/// lowered op becomes a graph constant.
///
/// **Patterns.** PyTorch's GroupNorm (Reshape → InstanceNormalization with unit scale and zero bias → Reshape →
/// Mul γ → Add β) becomes one GroupNormalization; GELU's erf form 0.5·x·(1 + erf(x/√2)) becomes Gelu (exact √2; the
/// exporter's float32 1/√2 is not used).
struct ONNXLowering {
    enum Partial {
        case erf(String)
        case onePlusErf(String, Double)
        case xOnePlusErf(String)
    }

    enum Value {
        case known(FoldedTensor)
        case graph(String)
        case partial(Partial)
    }

    let opset: Int
    var values: [String: Value] = [:]
    /// Our graph's values: per-sample shape and whether shared (a function of parameters and constants only).
    var shapes: [String: (shape: [Int], shared: Bool)] = [:]
    var nodes: [GraphNode] = []
    var producers: [String: GraphNode] = [:]
    var constants: [(name: String, shape: [Int], values: [Double])] = []
    var used: Set<String> = []
    /// Patterns in progress.
    var scaled: [String: (x: String, factor: Double)] = [:]
    var reshapeSource: [String: String] = [:]
    var instanceNormOf: [String: (source: String, groups: Int, epsilon: Double)] = [:]
    var plainGroupNorm: [String: (source: String, groups: Int, epsilon: Double)] = [:]
    var scaledGroupNorm: [String: (source: String, groups: Int, epsilon: Double, gamma: String)] = [:]

    init(opset: Int) { self.opset = opset }

    // MARK: - Values

    mutating func fresh(_ hint: String) -> String {
        var base = Graph.isValidName(hint) && hint.utf8.count <= 180 ? hint : "v"
        if base.isEmpty { base = "v" }
        var name = base, k = 1
        while used.contains(name) {
            name = "\(base).\(k)"
            k += 1
        }
        used.insert(name)
        return name
    }

    func shape(_ name: String) -> [Int] { shapes[name]!.shape }

    func known(_ v: Value?) -> FoldedTensor? { if case .known(let t)? = v { t } else { nil } }

    /// The graph value an input names (a known value becomes a constant).
    mutating func operand(_ onnxName: String) throws(OpProblem) -> String {
        switch values[onnxName] {
        case .graph(let name)?: return name
        case .known(let t)?:
            let name = fresh(onnxName.isEmpty ? "const" : onnxName)
            constants.append((name, t.shape, t.reals))
            shapes[name] = (t.shape, true)
            return name
        case .partial?: throw OpProblem("Erf is supported only inside GELU's erf form 0.5·x·(1 + erf(x/√2))")
        case nil: throw OpProblem("input \(onnxName) is not defined")
        }
    }

    /// Appends `output = op(inputs)` under a fresh name; returns the name.
    @discardableResult
    mutating func emit(_ op: any GraphOp, _ inputs: [String], _ hint: String) throws(OpProblem) -> String {
        let opInputs = inputs.map { OpInput(shape: shape($0), shared: shapes[$0]!.shared) }
        let bound = try op.bind(opInputs)
        guard bound.outputShape.allSatisfy({ $0 > 0 }) else { throw OpProblem("output shape \(shapeText(bound.outputShape))") }
        let name = fresh(hint)
        let node = GraphNode(name: name, op: op, inputs: inputs, output: name)
        nodes.append(node)
        producers[name] = node
        shapes[name] = (bound.outputShape, opInputs.allSatisfy(\.shared))
        return name
    }

    mutating func reshape(_ v: String, to s: [Int], _ hint: String) throws(OpProblem) -> String {
        if shape(v) == s { return v }
        // Undo a wrapper's reshape rather than stacking a second one.
        if let node = producers[v], node.op is GraphOps.Reshape, let source = node.inputs.first, shape(source) == s { return source }
        return try emit(GraphOps.Reshape(shape: s), [v], hint)
    }

    /// An op on ONNX's [N, C, spatial…] layout: the per-sample value [1, C, …] reshaped to [C, …], the op, and back.
    mutating func batchLayout(_ op: any GraphOp, _ inputs: [String], _ hint: String) throws(OpProblem) -> String {
        let x = shape(inputs[0])
        guard x.count >= 2, x[0] == 1, !shapes[inputs[0]]!.shared else {
            throw OpProblem("input \(shapeText(x)) is not a batch of one sample [N, C, …] depending on h or x")
        }
        let unbatched = try reshape(inputs[0], to: Array(x.dropFirst()), hint + ".sample")
        let y = try emit(op, [unbatched] + inputs.dropFirst(), hint + ".op")
        return try reshape(y, to: [1] + shape(y), hint)
    }

    // MARK: - Attributes

    static func graphAttributes(_ node: ONNXNode, dropping: Set<String> = []) throws(OpProblem) -> [String: GraphAttribute] {
        var out: [String: GraphAttribute] = [:]
        for (name, value) in node.attributes where !dropping.contains(name) {
            switch value {
            case .int(let i): out[name] = .int(i)
            case .ints(let v): out[name] = .ints(v)
            case .float(let f): out[name] = .float(f)
            case .string(let s): out[name] = .string(s)
            case .floats: throw OpProblem("attribute \(name) (a list of floats) is not supported")
            case .strings: throw OpProblem("attribute \(name) (a list of strings) is not supported")
            case .tensor: throw OpProblem("attribute \(name) (a tensor) is not supported")
            case .unsupported(let kind):
                throw OpProblem(
                    "attribute \(name) is a \(kind)"
                        + (kind.hasPrefix("graph") ? " (control flow: If, Loop and Scan are not supported)" : ""))
            }
        }
        return out
    }

    static func int(_ node: ONNXNode, _ name: String, default value: Int) throws(OpProblem) -> Int {
        switch node.attribute(name) {
        case nil: return value
        case .int(let i)?: return i
        default: throw OpProblem("attribute \(name) is not an integer")
        }
    }

    func knownInput(_ node: ONNXNode, _ k: Int, _ what: String) throws(OpProblem) -> FoldedTensor? {
        guard k < node.inputs.count, !node.inputs[k].isEmpty else { return nil }
        guard let t = known(values[node.inputs[k]]) else {
            throw OpProblem("input \(k) (\(what)) must be known when the model is imported; here it depends on h, x or a parameter")
        }
        return t
    }
}
