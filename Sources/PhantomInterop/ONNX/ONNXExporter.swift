import Foundation
import PhantomFileSystem
import PhantomModel
import PhantomModelIO
import PhantomONNX

/// A phantom model → an ONNX model with inputs h, x and outputs f, logits (docs/ONNX.md), float64, opset 21.
///
/// Two routes:
/// - **From the original file** (``export(_:template:)``): a model imported from ONNX is written back as that file's
///   graph with the checkpoint's parameters as new initializers (same names, shapes and element types), so that the
///   graph is exactly the one the user exported.
/// - **From the graph** (``export(_:)``): every cell, built-ins included, as ONNX nodes. A value that depends on h or
///   x gets ONNX's leading batch dimension (1); shared values (parameters, constants and functions of them) keep their
///   shapes; per-sample axes shift by one (perm, axes, pads), and attributes that ONNX takes as inputs (Reshape's
///   shape, Slice's ranges, Pad's pads, Reduce axes, Resize's scales) become int64/float64 initializers.
public enum ONNXExporter {
    public static let opset = 21

    /// The original ONNX model's graph with the checkpoint's parameters as its initializers.
    public static func export(_ model: ImplicitModel, template: ONNXModel, templatePath: String) throws -> ONNXModel {
        var out = template
        let values = parameterValues(model)
        var written = Set<String>()
        for (k, t) in template.graph.initializers.enumerated() where t.elementType.isFloatingPoint {
            guard let v = values[t.name] else { continue }
            guard v.count == t.count else {
                throw InputError(
                    path: templatePath, message: "initializer \(t.name) has \(t.count) values, the checkpoint's tensor \(v.count)")
            }
            out.graph.initializers[k].data = .real(t.elementType == .float ? v.map { Double(Float($0)) } : v)
            written.insert(t.name)
        }
        if let missing = values.keys.sorted().first(where: { !written.contains($0) }) {
            throw InputError(path: templatePath, message: "has no floating-point initializer \(missing); it is not the model's ONNX file")
        }
        return out
    }

    static func parameterValues(_ model: ImplicitModel) -> [String: [Double]] {
        var out: [String: [Double]] = [:]
        var offset = 0
        let all = model.cell.parameters + model.head.parameters
        for spec in model.allSpecs {
            let count = spec.shape.reduce(1, *)
            out[spec.name] = Array(all[offset..<(offset + count)])
            offset += count
        }
        return out
    }

    /// The model's graph (a built-in cell's too) as ONNX nodes.
    public static func export(_ model: ImplicitModel) throws -> ONNXModel {
        guard let graph = graph(of: model) else {
            throw InputError("the model's cell has no graph to export")
        }
        var writer = Writer(graph: graph)
        let values = parameterValues(model)
        // A built-in model's head is OutputHead (logits = W h + b) outside its graph.
        let headGraph = graph.logitsValue == nil
        try writer.run(headGraph ? ("head.weight", "head.bias") : nil)
        var initializers = writer.initializers
        for spec in model.allSpecs {
            initializers.append(ONNXTensor(name: spec.name, dims: spec.shape, doubles: values[spec.name]!))
        }
        let inputs = [graph.state, graph.input].map { v in
            ONNXValueInfo(name: v.name == graph.state.name ? "h" : "x", elementType: 11, dims: ([1] + v.shape).map(ONNXDimension.fixed))
        }
        let outputs = [("f", [1] + graph.state.shape), ("logits", [1, model.outputDimension])].map {
            ONNXValueInfo(name: $0.0, elementType: 11, dims: $0.1.map(ONNXDimension.fixed))
        }
        return ONNXModel(
            irVersion: 10, opsets: ["": opset], producerName: "phantom", producerVersion: "1",
            graph: ONNXGraph(name: "phantom", nodes: writer.nodes, initializers: initializers, inputs: inputs, outputs: outputs))
    }

    /// A graph cell's graph, or the graph a built-in cell wraps.
    static func graph(of model: ImplicitModel) -> Graph? {
        (model.cell as? GraphCell)?.graph ?? (model.cell as? any GraphBackedCell)?.graphCell.graph
    }
}

extension ONNXExporter {
    /// Graph nodes → ONNX nodes, adding the batch dimension to every value that depends on h or x.
    struct Writer {
        let graph: Graph
        var nodes: [ONNXNode] = []
        var initializers: [ONNXTensor] = []
        var index: [String: Int] = [:]
        var counter = 0

        init(graph: Graph) {
            self.graph = graph
            for (k, v) in graph.values.enumerated() { index[v.name] = k }
        }

        func batched(_ name: String) -> Bool { !graph.isShared(index[name]!) }
        func shape(_ name: String) -> [Int] { graph.values[index[name]!].shape }

        /// The ONNX name of a graph value (h, x, f and logits by their ONNX names).
        func onnx(_ name: String) -> String {
            if name == graph.state.name { return "h" }
            if name == graph.input.name { return "x" }
            if name == graph.outputValue.name { return "f" }
            if let l = graph.logitsValue, name == l.name { return "logits" }
            return name
        }

        mutating func fresh(_ hint: String) -> String {
            counter += 1
            return "\(hint)__\(counter)"
        }

        mutating func ints(_ values: [Int], _ hint: String) -> String {
            let name = fresh(hint)
            initializers.append(ONNXTensor(name: name, dims: [values.count], elementType: .int64, data: .integer(values)))
            return name
        }

        mutating func add(_ type: String, _ inputs: [String], _ output: String, _ attributes: [(String, ONNXAttribute)] = []) {
            nodes.append(
                ONNXNode(
                    name: output + "_" + type, opType: type, inputs: inputs, outputs: [output],
                    attributes: attributes.map { (name: $0.0, value: $0.1) }))
        }

        static func attributes(_ op: any GraphOp, dropping: Set<String> = []) -> [(String, ONNXAttribute)] {
            op.attributes.sorted { $0.key < $1.key }.filter { !dropping.contains($0.key) }.map { key, value in
                switch value {
                case .int(let i): (key, .int(i))
                case .ints(let v): (key, .ints(v))
                case .float(let f): (key, .float(f))
                case .string(let s): (key, .string(s))
                }
            }
        }

        mutating func run(_ linearHead: (weight: String, bias: String)?) throws {
            for (name, values) in graph.values.filter({ $0.role == .constant }).map({ ($0.name, graph.constant(named: $0.name)!) }) {
                initializers.append(ONNXTensor(name: name, dims: shape(name), doubles: values))
            }
            for node in graph.nodes { try translate(node) }
            if let (weight, bias) = linearHead {
                let d = graph.stateDimension
                let flat = fresh("h_flat")
                add("Reshape", ["h", ints([1, d], "head_shape")], flat)
                add("Gemm", [flat, weight, bias], "logits", [("transB", .int(1))])
            }
        }

        mutating func translate(_ node: GraphNode) throws {
            let op = node.op
            let out = onnx(node.output)
            let lift = batched(node.output)
            let shift = lift ? 1 : 0
            var inputs = node.inputs.map(onnx)
            let outShape = shape(node.output)
            func axis(_ a: Int, rank: Int) -> Int { (a < 0 ? a + rank : a) + shift }
            func refuse(_ why: String) -> InputError { InputError("export to ONNX: node \(node.name) (\(op.type)): \(why)") }
            switch op.type {
            case "Add", "Sub", "Mul", "Div":
                // A shared operand of the output's full per-sample rank, when no batched operand has that rank, would
                // take the place of the batch dimension: it gets a leading 1.
                let batchedRank = node.inputs.filter(batched).map { shape($0).count }.max() ?? 0
                if lift && batchedRank < outShape.count {
                    for (k, v) in node.inputs.enumerated() where !batched(v) && shape(v).count == outShape.count {
                        let u = fresh(inputs[k] + "_batch")
                        add("Unsqueeze", [inputs[k], ints([0], "axes")], u)
                        inputs[k] = u
                    }
                }
                add(op.type, inputs, out)
            case "MatMul":
                if lift, node.inputs.count == 2, batched(node.inputs[1]),
                    shape(node.inputs[1]).count == 1 || shape(node.inputs[0]).count == 1
                {
                    throw refuse("a product with a batched vector operand has no ONNX form with a batch dimension")
                }
                add(op.type, inputs, out)
            case "Gemm":
                let a = shape(node.inputs[0])
                if lift && a.count == 2 {
                    let flat = fresh(inputs[0] + "_rows"), product = fresh(out + "_rows")
                    add("Reshape", [inputs[0], ints([1, a[1]], "shape")], flat)
                    add("Gemm", [flat] + inputs.dropFirst(), product, Writer.attributes(op))
                    add("Reshape", [product, ints([1] + outShape, "shape")], out)
                } else {
                    add("Gemm", inputs, out, Writer.attributes(op))
                }
            case "Softmax", "LayerNormalization", "Concat":
                var attributes = Writer.attributes(op, dropping: ["axis"])
                if case .int(let a)? = op.attributes["axis"] {
                    let rank = op.type == "Concat" ? outShape.count : shape(node.inputs[0]).count
                    attributes.append(("axis", .int(a < 0 ? a : axis(a, rank: rank))))
                }
                add(op.type, inputs, out, attributes)
            case "Transpose":
                var perm = Array((0..<outShape.count).reversed())
                if case .ints(let p)? = op.attributes["perm"], !p.isEmpty { perm = p }
                add("Transpose", inputs, out, [("perm", .ints(lift ? [0] + perm.map { $0 + 1 } : perm))])
            case "Reshape", "Flatten", "Squeeze", "Unsqueeze":
                add("Reshape", [inputs[0], ints((lift ? [1] : []) + outShape, "shape")], out)
            case "Slice":
                let rank = shape(node.inputs[0]).count
                guard case .ints(let starts)? = op.attributes["starts"], case .ints(let ends)? = op.attributes["ends"] else {
                    throw refuse("no starts and ends")
                }
                var axes = Array(starts.indices)
                if case .ints(let a)? = op.attributes["axes"] { axes = a }
                var steps = starts.map { _ in 1 }
                if case .ints(let s)? = op.attributes["steps"] { steps = s }
                add(
                    "Slice",
                    [
                        inputs[0], ints(starts, "starts"), ints(ends, "ends"), ints(axes.map { axis($0, rank: rank) }, "axes"),
                        ints(steps, "steps")
                    ], out)
            case "Pad":
                guard case .ints(let pads)? = op.attributes["pads"] else { throw refuse("no pads") }
                let r = pads.count / 2
                let full = lift ? [0] + pads[..<r] + [0] + pads[r...] : pads
                add("Pad", [inputs[0], ints(Array(full), "pads")], out, Writer.attributes(op, dropping: ["pads", "value"]))
            case "ReduceSum", "ReduceMean":
                let rank = shape(node.inputs[0]).count
                var axes: [Int] = []
                if case .ints(let a)? = op.attributes["axes"] { axes = a }
                if axes.isEmpty { axes = Array(0..<rank) }
                add(op.type, [inputs[0], ints(axes.map { axis($0, rank: rank) }, "axes")], out, Writer.attributes(op, dropping: ["axes"]))
            case "Resize":
                guard lift else { throw refuse("a Resize of parameters has no batch dimension") }
                let scales = fresh("scales")
                initializers.append(ONNXTensor(name: scales, dims: [4], elementType: .float, data: .real([1, 1, 2, 2])))
                add("Resize", [inputs[0], "", scales], out, Writer.attributes(op, dropping: ["scale"]))
            case "Conv", "AveragePool", "MaxPool", "GlobalAveragePool", "BatchNormalization", "InstanceNormalization", "GroupNormalization":
                guard lift else { throw refuse("an op on [C, H, W] of parameters has no ONNX form") }
                add(op.type, inputs, out, Writer.attributes(op))
            default:
                add(op.type, inputs, out, Writer.attributes(op))
            }
        }
    }
}
