import PhantomFileSystem
import PhantomLinearAlgebra
import PhantomModel
import PhantomModelIO
import PhantomONNX

/// An ONNX model → a phantom model whose cell and head are one graph (docs/ONNX.md).
///
/// The file holds one graph with inputs `h` (the state, ONNX shape [N, …], N = 1 or symbolic) and `x` (one data row,
/// [N, …]) and outputs `f` (h's shape: f(h, x; θ)) and `logits` ([N, c]). θ are the floating-point initializers that
/// `f` depends on, in the file's order; the head's parameters those only `logits` depends on; one used by both is
/// refused. Parameter names are the initializer names (PyTorch's state-dict keys when exported unoptimised).
///
/// Every failure is an ``InputError`` naming the file and the node (with its op type and the model's opset) or
/// tensor at fault.
public enum ONNXImporter {
    /// The default-domain opsets whose op semantics the lowering implements.
    public static let opsets = 13...23
    public static let inputNames = ["h", "x"]
    public static let outputNames = ["f", "logits"]

    /// The op types accepted: lowered to graph ops or folded when their inputs are known.
    public static var supportedOps: [String] { Array(Set(ONNXLowering.lowered).union(ONNXConstantFolding.foldable)).sorted() }

    /// The model in `path` (external data from its folder) as a checkpoint with the file's SHA-256 recorded.
    public static func importCheckpoint(_ path: String) throws -> Checkpoint { try importCheckpoint(FileSnapshot(path)) }

    public static func importCheckpoint(_ snapshot: FileSnapshot) throws -> Checkpoint {
        let model = try importModel(ONNXFile.read(snapshot), path: snapshot.path)
        return Checkpoint(model: model, metadata: ["source": .string("onnx"), "source_sha256": .string(snapshot.sha256)])
    }

    /// The graph and parameters of a decoded model.
    public static func importModel(_ onnx: ONNXModel, path: String) throws -> ImplicitModel {
        func fail(_ message: String) -> InputError { InputError(path: path, message: message) }
        let opset = onnx.opset
        guard opsets.contains(opset) else {
            throw fail("imports opset \(opset) of the default domain; phantom implements opsets \(opsets.lowerBound)–\(opsets.upperBound)")
        }
        let g = onnx.graph
        var initializers: [String: ONNXTensor] = [:]
        for t in g.initializers {
            guard initializers.updateValue(t, forKey: t.name) == nil else { throw fail("initializer \(t.name) is defined twice") }
        }
        // Inputs: h and x (initializers listed among the inputs, as IR < 4 does, are not inputs).
        let inputs = g.inputs.filter { initializers[$0.name] == nil }
        guard inputs.map(\.name).sorted() == inputNames.sorted() else {
            throw fail("has inputs \(inputs.map(\.name)); an implicit model's are exactly h (the state) and x (one data row)")
        }
        guard g.outputs.map(\.name).sorted() == outputNames.sorted() else {
            throw fail("has outputs \(g.outputs.map(\.name)); an implicit model's are exactly f (h's shape) and logits ([1, c])")
        }
        var lowering = ONNXLowering(opset: opset)
        lowering.used = Set(inputNames)
        var sampleShapes: [String: [Int]] = [:]
        for input in inputs {
            let shape = try sampleShape(input, fail: fail)
            sampleShapes[input.name] = shape
            lowering.values[input.name] = .graph(input.name)
            lowering.shapes[input.name] = (shape, false)
        }
        // Initializers: floating point → parameters, integers → known values.
        var parameterOrder: [String] = []
        var parameterValues: [String: [Double]] = [:]
        for t in g.initializers {
            // PyTorch's exporter with its default optimize=True folds parameter-only computations into new constants
            // (val_12, permute_2, …) and merges equal ones: the parameters are no longer the state dict's.
            if onnx.producerName == "pytorch", t.elementType.isFloatingPoint, !t.name.contains(".") {
                throw fail(
                    "initializer \(t.name) is not a state-dict name: the file looks like an optimised export (optimize=True "
                        + "folds and renames parameters); export with optimize=False (notebooks-data/scripts/export_onnx.py)")
            }
            if t.elementType.isFloatingPoint {
                guard Graph.isValidName(t.name), lowering.used.insert(t.name).inserted else {
                    throw fail("initializer \"\(t.name.prefix(200))\" is not a valid parameter name (letters, digits, . _ : / -)")
                }
                guard case .real(let v) = t.data, v.allSatisfy(\.isFinite) else {
                    throw fail("initializer \(t.name) holds a non-finite value")
                }
                guard t.count > 0 else { throw fail("initializer \(t.name) has no values (shape \(t.dims))") }
                parameterOrder.append(t.name)
                parameterValues[t.name] = v
                lowering.values[t.name] = .graph(t.name)
                lowering.shapes[t.name] = (t.dims, true)
            } else {
                lowering.values[t.name] = .known(FoldedTensor(t))
            }
        }
        // Nodes in a topological order (stable in the file's order).
        let order = try topologicalOrder(g.nodes, defined: Set(lowering.values.keys), fail: fail)
        var consumed = Set(g.outputs.map(\.name))
        for node in g.nodes { consumed.formUnion(node.inputs) }
        for k in order {
            let node = g.nodes[k]
            let label = node.name.isEmpty ? "node #\(k)" : "node \(node.name)"
            guard node.domain.isEmpty || node.domain == "ai.onnx" else {
                throw fail(
                    "\(label) (\(node.opType), domain \(node.domain)) is outside ONNX's default domain; supported ops: "
                        + supportedOps.joined(separator: " "))
            }
            do {
                try lowering.lower(node, consumed: consumed)
            } catch {
                var message = "\(label) (\(node.opType), opset \(opset)): \(error.message)"
                if error.message == "is not supported" { message += "; supported ops: " + supportedOps.joined(separator: " ") }
                throw fail(message)
            }
        }
        // Outputs.
        var outputNames: [String: String] = [:]
        for name in Self.outputNames {
            switch lowering.values[name] {
            case .graph(let v)?: outputNames[name] = v
            case .known?: throw fail("output \(name) does not depend on h, x or a parameter")
            case .partial?: throw fail("output \(name) is an unfinished GELU pattern (Erf)")
            case nil: throw fail("no node computes the output \(name)")
            }
        }
        let graph = try lowering.graph(
            state: ("h", sampleShapes["h"]!), input: ("x", sampleShapes["x"]!), parameters: parameterOrder,
            f: outputNames["f"]!, logits: outputNames["logits"]!, fail: fail)
        let cell = GraphCell(graph: graph, parameters: graph.cellParameterIndices.flatMap { parameterValues[graph.values[$0].name]! })
        let head = GraphHead(graph: graph, parameters: graph.headParameterIndices.flatMap { parameterValues[graph.values[$0].name]! })
        return ImplicitModel(cell: cell, head: OutputHead(graph: head))
    }

    /// A graph input's per-sample shape: its declared shape with the batch dimension (1, symbolic or unknown) as 1.
    static func sampleShape(_ input: ONNXValueInfo, fail: (String) -> InputError) throws -> [Int] {
        guard input.elementType == ONNXElementType.double.rawValue || input.elementType == ONNXElementType.float.rawValue else {
            throw fail("input \(input.name) has element type \(ONNXElementType.onnxName(input.elementType)); float64 or float32 expected")
        }
        guard let dims = input.dims, let batch = dims.first else {
            throw fail("input \(input.name) has no declared shape [N, …]; export with example inputs")
        }
        if case .fixed(let n) = batch, n != 1 {
            throw fail("input \(input.name) has batch dimension \(n); export with a batch of 1 or a symbolic batch")
        }
        var shape = [1]
        for (k, d) in dims.enumerated().dropFirst() {
            guard case .fixed(let n) = d, n >= 1 else {
                throw fail("input \(input.name) has dimension \(k) = \(d); only the batch dimension (the first) may be dynamic")
            }
            shape.append(n)
        }
        guard InputLimits.count(shape, limit: InputLimits.maximumDimension) != nil else {
            throw fail("input \(input.name) of shape \(dims) has more than \(InputLimits.maximumDimension) values")
        }
        return shape
    }

    /// Kahn's algorithm over value names; refuses undefined inputs and cycles, naming the nodes.
    static func topologicalOrder(_ nodes: [ONNXNode], defined: Set<String>, fail: (String) -> InputError) throws -> [Int] {
        var producer: [String: Int] = [:]
        for (k, node) in nodes.enumerated() {
            for out in node.outputs where !out.isEmpty {
                guard !defined.contains(out), producer.updateValue(k, forKey: out) == nil else {
                    throw fail("the value \(out) is defined twice (node \(node.name))")
                }
            }
        }
        var pending = [Int](repeating: 0, count: nodes.count)
        var readers = [[Int]](repeating: [], count: nodes.count)
        for (k, node) in nodes.enumerated() {
            for input in Set(node.inputs) where !input.isEmpty {
                if let p = producer[input] {
                    pending[k] += 1
                    readers[p].append(k)
                } else if !defined.contains(input) {
                    throw fail(
                        "node \(node.name.isEmpty ? "#\(k)" : node.name) (\(node.opType)) reads \(input), "
                            + "which no input, initializer or node defines"
                    )
                }
            }
        }
        var ready = (0..<nodes.count).filter { pending[$0] == 0 }.reversed() as [Int]
        var order: [Int] = []
        while let k = ready.popLast() {
            order.append(k)
            for r in readers[k] {
                pending[r] -= 1
                if pending[r] == 0 { ready.append(r); ready.sort(by: >) }
            }
        }
        guard order.count == nodes.count else {
            let stuck = (0..<nodes.count).filter { pending[$0] > 0 }.prefix(5).map { nodes[$0].name.isEmpty ? "#\($0)" : nodes[$0].name }
            throw fail("the graph has a cycle through node(s) " + stuck.joined(separator: ", "))
        }
        return order
    }
}

extension ONNXLowering {
    /// The lowered graph: only the nodes, parameters and constants that f and logits need.
    func graph(
        state: (name: String, shape: [Int]), input: (name: String, shape: [Int]), parameters: [String], f: String, logits: String,
        fail: (String) -> InputError
    ) throws -> Graph {
        var needed = Set<String>(), stack = [f, logits]
        while let v = stack.popLast() {
            guard needed.insert(v).inserted else { continue }
            if let node = producers[v] { stack += node.inputs }
        }
        var kept = nodes.filter { needed.contains($0.output) }
        // f and logits must be named so: the node computing each takes the name when nothing else reads its value and
        // f and logits are different values; otherwise (h itself, a parameter, one value for both) an Identity does.
        for (want, have) in [("f", f), ("logits", logits)] where have != want {
            if f != logits, let k = kept.firstIndex(where: { $0.output == have }), !kept.contains(where: { $0.inputs.contains(have) }) {
                kept[k] = GraphNode(name: kept[k].name, op: kept[k].op, inputs: kept[k].inputs, output: want)
            } else {
                kept.append(GraphNode(name: want + ".identity", op: GraphOps.Identity(), inputs: [have], output: want))
            }
        }
        do {
            return try Graph(
                state: state, input: input,
                parameters: parameters.filter(needed.contains).map { ($0, shapes[$0]!.shape) },
                constants: constants.filter { needed.contains($0.name) }, nodes: kept, output: "f", logits: "logits")
        } catch {
            throw fail(error.description)
        }
    }
}
