import PhantomModel
import PhantomONNX

extension ONNXLowering {
    /// The ONNX op types lowered to graph ops (besides the folded shape-only ones).
    static let lowered: [String] = [
        "Add", "AveragePool", "BatchNormalization", "Cast", "CastLike", "Concat", "Conv", "Div", "Erf", "Exp", "Expand", "Flatten",
        "Gelu", "Gemm", "GlobalAveragePool", "GroupNormalization", "Identity", "InstanceNormalization", "LayerNormalization",
        "LeakyRelu", "MatMul", "MaxPool", "Mul", "Neg", "Pad", "ReduceMean", "ReduceSum", "Relu", "Reshape", "Resize", "Sigmoid",
        "Slice", "Softmax", "Softplus", "Split", "Sqrt", "Squeeze", "Sub", "Tanh", "Transpose", "Unsqueeze"
    ]
    /// Inputs an op cannot do without (1 when not listed).
    static let requiredInputs: [String: Int] = [
        "Constant": 0, "Add": 2, "Sub": 2, "Mul": 2, "Div": 2, "MatMul": 2, "Gemm": 2, "Conv": 2, "LayerNormalization": 2,
        "GroupNormalization": 3, "InstanceNormalization": 3, "BatchNormalization": 5, "Reshape": 2, "Expand": 2, "Slice": 3,
        "Where": 3, "Range": 3, "Gather": 2, "Equal": 2, "Less": 2, "Greater": 2, "CastLike": 2, "Pad": 2, "Max": 1, "Min": 1,
        "Erf": 1
    ]
    /// Ops that exist only from an opset on.
    static let introduced: [String: Int] = ["LayerNormalization": 17, "GroupNormalization": 18, "Gelu": 20]

    /// Lowers one node whose inputs are all defined; sets its outputs' values.
    mutating func lower(_ node: ONNXNode, consumed: Set<String>) throws(OpProblem) {
        let required = ONNXLowering.requiredInputs[node.opType] ?? 1
        guard node.inputs.count >= required, node.inputs.prefix(required).allSatisfy({ !$0.isEmpty }) else {
            throw OpProblem("has \(node.inputs.filter { !$0.isEmpty }.count) inputs; it needs at least \(required)")
        }
        if isFoldable(node) {
            let outputs = try fold(node)
            for (name, t) in zip(node.outputs, outputs) where !name.isEmpty { values[name] = .known(t) }
            return
        }
        if let since = ONNXLowering.introduced[node.opType], opset < since {
            throw OpProblem("\(node.opType) does not exist before opset \(since)")
        }
        // Optional extra outputs (LayerNormalization's mean, MaxPool's indices, …) must be unused.
        let single = ["Split"].contains(node.opType) ? node.outputs.count : 1
        for extra in node.outputs.dropFirst(single) where !extra.isEmpty && consumed.contains(extra) {
            throw OpProblem("output \(extra) (an optional output) is used; only the first output is supported")
        }
        guard let out = node.outputs.first, !out.isEmpty else { throw OpProblem("has no output") }
        let hint = out
        func set(_ name: String) { values[out] = .graph(name) }
        func make(_ type: String, _ attributes: [String: GraphAttribute]) throws(OpProblem) -> any GraphOp {
            try GraphOps.make(type: type, attributes: attributes)
        }
        let inputs = node.inputs
        switch node.opType {
        case "Identity": values[out] = values[inputs[0]]
        case "Cast", "CastLike":
            if node.opType == "Cast" {
                let to = try ONNXLowering.int(node, "to", default: -1)
                guard ONNXElementType(rawValue: to)?.isFloatingPoint == true else {
                    throw OpProblem("Cast of a value that depends on h, x or a parameter to \(ONNXElementType.onnxName(to))")
                }
            }
            values[out] = values[inputs[0]]
        case "Relu", "Tanh", "Sigmoid", "Softplus", "Exp", "Sqrt", "Neg", "LeakyRelu", "Gelu", "Softmax", "LayerNormalization", "Gemm",
            "MatMul", "Concat", "Transpose":
            // The graph ops take ONNX's attributes and defaults (Softmax's axis −1 from opset 13 on).
            let operands = try inputs.filter { !$0.isEmpty }.map { n throws(OpProblem) in try operand(n) }
            set(try emit(try make(node.opType, try ONNXLowering.graphAttributes(node)), operands, hint))
        case "Add", "Sub", "Mul", "Div": try lowerArithmetic(node, hint)
        case "Erf":
            guard let s = scaled[try operand(inputs[0])], abs(s.factor - 0.5.squareRoot()) < 1e-6 else {
                throw OpProblem("Erf is supported only inside GELU's erf form 0.5·x·(1 + erf(x/√2))")
            }
            values[out] = .partial(.erf(s.x))
        case "Reshape", "Flatten", "Squeeze", "Unsqueeze":
            let x = try operand(inputs[0])
            let target = try reshapedShape(node, shape(x))
            if node.opType == "Reshape", let norm = instanceNormOf[x], shape(norm.source) == target {
                // The GroupNorm pattern: Reshape → InstanceNormalization(1, 0) → Reshape back.
                let c = target[1]
                let ones = try constant(hint + ".scale", [c], 1), zeros = try constant(hint + ".bias", [c], 0)
                let y = try batchLayout(
                    GraphOps.GroupNormalization(numGroups: norm.groups, epsilon: norm.epsilon), [norm.source, ones, zeros], hint)
                plainGroupNorm[y] = norm
                set(y)
            } else {
                let y = try reshape(x, to: target, hint)
                if y != x { reshapeSource[y] = x }
                set(y)
            }
        case "Expand":
            let x = try operand(inputs[0])
            guard let target = try knownInput(node, 1, "shape")?.integers() else { throw OpProblem("Expand without a shape") }
            let s = try ONNXConstantFolding.broadcastShape([shape(x), target])
            if s == shape(x) {
                set(x)
            } else {
                set(try emit(GraphOps.Add(), [x, try constant(hint + ".zeros", s, 0)], hint))
            }
        case "Slice":
            let x = try operand(inputs[0])
            guard let starts = try knownInput(node, 1, "starts")?.integers(), let ends = try knownInput(node, 2, "ends")?.integers() else {
                throw OpProblem("Slice without starts and ends")
            }
            let op = try GraphOps.Slice(
                starts: starts, ends: ends, axes: try knownInput(node, 3, "axes")?.integers(),
                steps: try knownInput(node, 4, "steps")?.integers())
            set(try emit(op, [x], hint))
        case "Split": try lowerSplit(node)
        case "ReduceSum", "ReduceMean":
            let x = try operand(inputs[0])
            var attributes = try ONNXLowering.graphAttributes(node, dropping: ["noop_with_empty_axes"])
            let axesAreInput = node.opType == "ReduceSum" || opset >= 18
            if axesAreInput, let axes = try knownInput(node, 1, "axes")?.integers() { attributes["axes"] = .ints(axes) }
            if attributes["axes"].map({ $0 == .ints([]) }) ?? true, try ONNXLowering.int(node, "noop_with_empty_axes", default: 0) == 1 {
                set(x)
                return
            }
            set(try emit(try make(node.opType, attributes), [x], hint))
        case "Pad":
            let x = try operand(inputs[0])
            let mode: String
            switch node.attribute("mode") {
            case nil: mode = "constant"
            case .string(let s)?: mode = s
            default: throw OpProblem("attribute mode is not a string")
            }
            guard var pads = try knownInput(node, 1, "pads")?.integers() else { throw OpProblem("Pad without pads") }
            if let value = try knownInput(node, 2, "constant_value"), value.reals.contains(where: { $0 != 0 }) {
                throw OpProblem("constant_value \(value.reals) is not supported (only zeros)")
            }
            let rank = shape(x).count
            if let axes = try knownInput(node, 3, "axes")?.integers() {
                guard pads.count == 2 * axes.count else { throw OpProblem("pads \(pads) do not fit axes \(axes)") }
                var full = [Int](repeating: 0, count: 2 * rank)
                for (k, a) in axes.enumerated() {
                    let r = try ONNXConstantFolding.axis(a, rank: rank)
                    (full[r], full[r + rank]) = (pads[k], pads[k + axes.count])
                }
                pads = full
            }
            set(try emit(try make("Pad", ["pads": .ints(pads), "mode": .string(mode)]), [x], hint))
        case "Conv", "AveragePool", "MaxPool", "GlobalAveragePool", "BatchNormalization", "InstanceNormalization", "GroupNormalization":
            try lowerChannelsFirst(node, hint)
        case "Resize": try lowerResize(node, hint)
        default:
            throw OpProblem("is not supported")
        }
    }

    mutating func constant(_ hint: String, _ shape: [Int], _ value: Double) throws(OpProblem) -> String {
        _ = try ONNXConstantFolding.checkedCount(shape)
        let name = fresh(hint)
        constants.append((name, shape, [Double](repeating: value, count: shape.reduce(1, *))))
        shapes[name] = (shape, true)
        return name
    }

    /// Add, Sub, Mul, Div, with the GELU and GroupNorm patterns.
    mutating func lowerArithmetic(_ node: ONNXNode, _ hint: String) throws(OpProblem) {
        let (a, b) = (values[node.inputs[0]], values[node.inputs[1]])
        let out = node.outputs[0]
        func scalar(_ v: Value?) -> Double? { known(v).flatMap { $0.count == 1 ? $0.reals[0] : nil } }
        // GELU's erf form, in any order of its products.
        if node.opType == "Add" || node.opType == "Mul" {
            for (p, q) in [(a, b), (b, a)] {
                guard case .partial(let partial)? = p else { continue }
                switch (node.opType, partial, scalar(q)) {
                case ("Add", .erf(let x), 1?): values[out] = .partial(.onePlusErf(x, 1)); return
                case ("Mul", .onePlusErf(let x, 1), 0.5?): values[out] = .partial(.onePlusErf(x, 0.5)); return
                case ("Mul", .xOnePlusErf(let x), 0.5?): values[out] = .graph(try emit(GraphOps.Gelu(), [x], hint)); return
                case ("Mul", .onePlusErf(let x, let c), nil):
                    guard case .graph(let y)? = q else { break }
                    if y == x && c == 0.5 || scaled[y].map({ $0.x == x && $0.factor == 0.5 }) == true && c == 1 {
                        values[out] = .graph(try emit(GraphOps.Gelu(), [x], hint))
                        return
                    }
                    if y == x && c == 1 { values[out] = .partial(.xOnePlusErf(x)); return }
                default: break
                }
                throw OpProblem("Erf is supported only inside GELU's erf form 0.5·x·(1 + erf(x/√2))")
            }
        }
        let (x, y) = (try operand(node.inputs[0]), try operand(node.inputs[1]))
        // GroupNorm's affine part: Mul γ, then Add β, per channel.
        if node.opType == "Add" {
            for (p, q) in [(x, y), (y, x)] {
                guard let g = scaledGroupNorm[p], isPerChannel(q, of: g.source) else { continue }
                let c = shape(g.source)[1]
                let gamma = try reshape(g.gamma, to: [c], hint + ".scale"), beta = try reshape(q, to: [c], hint + ".bias")
                values[out] = .graph(
                    try batchLayout(GraphOps.GroupNormalization(numGroups: g.groups, epsilon: g.epsilon), [g.source, gamma, beta], hint))
                return
            }
        }
        let result = try emit(try GraphOps.make(type: node.opType, attributes: [:]), [x, y], hint)
        values[out] = .graph(result)
        if node.opType == "Mul" {
            for (p, q) in [(x, y), (y, x)] {
                if let g = plainGroupNorm[p], isPerChannel(q, of: g.source) { scaledGroupNorm[result] = (g.source, g.groups, g.epsilon, q) }
            }
        }
        // x/√2 and 0.5·x, for the GELU pattern.
        if let c = scalar(b), c != 0, !shapes[x]!.shared {
            if node.opType == "Div" { scaled[result] = (x, 1 / c) } else if node.opType == "Mul" { scaled[result] = (x, c) }
        } else if let c = scalar(a), node.opType == "Mul", !shapes[y]!.shared {
            scaled[result] = (y, c)
        }
    }

    /// A shared value that scales each channel of `source` ([1, C, …]) alike: shape [C, 1, …] right-aligned.
    func isPerChannel(_ v: String, of source: String) -> Bool {
        let (s, x) = (shape(v), shape(source))
        guard shapes[v]!.shared, x.count >= 2, s.count <= x.count else { return false }
        let padded = [Int](repeating: 1, count: x.count - s.count) + s
        return padded.enumerated().allSatisfy { $0.offset == 1 ? $0.element == x[1] : $0.element == 1 }
    }

    mutating func lowerSplit(_ node: ONNXNode) throws(OpProblem) {
        let x = try operand(node.inputs[0])
        let s = shape(x)
        let axis = try ONNXConstantFolding.axis(try ONNXLowering.int(node, "axis", default: 0), rank: s.count)
        var sizes = try knownInput(node, 1, "split")?.integers()
        if sizes == nil {
            let parts = try ONNXLowering.int(node, "num_outputs", default: node.outputs.count)
            guard parts == node.outputs.count, parts >= 1 else { throw OpProblem("num_outputs \(parts) ≠ \(node.outputs.count) outputs") }
            let piece = (s[axis] + parts - 1) / parts
            sizes = (0..<parts).map { min(piece, max(0, s[axis] - $0 * piece)) }
        }
        guard let sizes, sizes.count == node.outputs.count, sizes.reduce(0, +) == s[axis], sizes.allSatisfy({ $0 > 0 }) else {
            throw OpProblem("split sizes do not fit axis \(axis) of \(shapeText(s)) with \(node.outputs.count) outputs")
        }
        for (slice, name) in zip(try GraphOps.Slice.split(axis: axis, sizes: sizes), node.outputs) where !name.isEmpty {
            values[name] = .graph(try emit(slice, [x], name))
        }
    }

    /// Conv, pooling and the channel normalisations: ONNX's [N, C, …] layout around the per-sample op.
    mutating func lowerChannelsFirst(_ node: ONNXNode, _ hint: String) throws(OpProblem) {
        var operands = try node.inputs.filter { !$0.isEmpty }.map { n throws(OpProblem) in try operand(n) }
        var attributes = try ONNXLowering.graphAttributes(node)
        switch node.opType {
        case "InstanceNormalization":
            let x = operands[0]
            if let source = reshapeSource[x], let s = known(values[node.inputs[1]]), let b = known(values[node.inputs[2]]),
                s.reals.allSatisfy({ $0 == 1 }), b.reals.allSatisfy({ $0 == 0 }), shape(x).count >= 2, shape(source).count >= 3,
                shape(source)[0] == 1, shape(source)[1] % shape(x)[1] == 0
            {
                let epsilon: Double
                if case .float(let e)? = attributes["epsilon"] { epsilon = e } else { epsilon = 1e-5 }
                let y = try batchLayout(try GraphOps.make(type: node.opType, attributes: attributes), operands, hint)
                instanceNormOf[y] = (source, shape(x)[1], epsilon)
                values[node.outputs[0]] = .graph(y)
                return
            }
        case "GroupNormalization" where opset < 21:
            // Opset 18–20: scale and bias per group; phantom's (opset 21's) are per channel.
            guard case .int(let groups)? = attributes["num_groups"], shape(operands[0]).count >= 2 else { break }
            let c = shape(operands[0])[1]
            if groups != c {
                for k in 1...2 {
                    guard let t = known(values[node.inputs[k]]), t.count == groups, c % groups == 0 else {
                        throw OpProblem(
                            "GroupNormalization-18's per-group scale and bias are supported as constants only; export with opset 21")
                    }
                    let name = fresh(hint + (k == 1 ? ".scale" : ".bias"))
                    constants.append((name, [c], (0..<c).map { t.reals[$0 / (c / groups)] }))
                    shapes[name] = ([c], true)
                    operands[k] = name
                }
            }
        case "BatchNormalization":
            attributes["training_mode"] = attributes["training_mode"] ?? .int(0)
        case "AveragePool", "MaxPool":
            // ONNX's defaults, which the graph op does not take as attributes.
            let defaults: [String: GraphAttribute] = [
                "auto_pad": .string("NOTSET"), "ceil_mode": .int(0), "dilations": .ints([1, 1]), "storage_order": .int(0)
            ]
            for (key, value) in defaults {
                guard let given = attributes.removeValue(forKey: key) else { continue }
                if given != value { throw OpProblem("attribute \(key) = \(given) is not supported (only \(value))") }
            }
        default: break
        }
        let op = try GraphOps.make(type: node.opType, attributes: attributes)
        values[node.outputs[0]] = .graph(try batchLayout(op, operands, hint))
    }

    /// Resize by 2 in H and W (scales [1, 1, 2, 2] or sizes [N, C, 2H, 2W]).
    mutating func lowerResize(_ node: ONNXNode, _ hint: String) throws(OpProblem) {
        let x = try operand(node.inputs[0])
        let s = shape(x)
        guard s.count == 4 else { throw OpProblem("input \(shapeText(s)) is not [N, C, H, W]") }
        if let roi = try knownInput(node, 1, "roi"), roi.count > 0 { throw OpProblem("roi is not supported") }
        let scales = try knownInput(node, 2, "scales").flatMap { $0.count > 0 ? $0 : nil }
        let sizes = try knownInput(node, 3, "sizes")?.integers()
        let twice = scales.map { $0.reals == [1, 1, 2, 2] } ?? (sizes == [s[0], s[1], 2 * s[2], 2 * s[3]])
        guard twice else {
            throw OpProblem(
                "only 2× upsampling of H and W is supported (scales [1, 1, 2, 2]), got scales \(scales?.reals ?? []) sizes \(sizes ?? [])")
        }
        var attributes = try ONNXLowering.graphAttributes(node)
        let defaults: [String: GraphAttribute] = [
            "antialias": .int(0), "exclude_outside": .int(0), "extrapolation_value": .float(0),
            "keep_aspect_ratio_policy": .string("stretch"),
            "cubic_coeff_a": .float(-0.75)
        ]
        for (key, value) in defaults {
            guard let given = attributes.removeValue(forKey: key) else { continue }
            if key != "cubic_coeff_a" && given != value { throw OpProblem("attribute \(key) = \(given) is not supported") }
        }
        if let axes = attributes.removeValue(forKey: "axes"), axes != .ints([0, 1, 2, 3]) {
            throw OpProblem("attribute axes is not supported")
        }
        attributes["scale"] = .int(2)
        values[node.outputs[0]] = .graph(try batchLayout(try GraphOps.make(type: "Resize", attributes: attributes), [x], hint))
    }
}
