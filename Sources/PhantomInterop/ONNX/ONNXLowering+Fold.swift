import PhantomModel
import PhantomONNX

extension ONNXLowering {
    /// Whether a node is folded: a foldable type whose data inputs are all known (Shape and Size need a shape only,
    /// CastLike its first input only).
    func isFoldable(_ node: ONNXNode) -> Bool {
        guard ONNXConstantFolding.foldable.contains(node.opType) else { return false }
        let data: [String]
        switch node.opType {
        case "Shape", "Size":
            return node.inputs.count == 1 && values[node.inputs[0]].map { if case .partial = $0 { false } else { true } } ?? false
        case "CastLike": data = Array(node.inputs.prefix(1))
        default: data = node.inputs
        }
        return data.allSatisfy { $0.isEmpty || known(values[$0]) != nil }
    }

    /// The ONNX shape of a value (known or graph; the batch dimension is 1).
    func onnxShape(_ name: String) throws(OpProblem) -> [Int] {
        switch values[name] {
        case .known(let t)?: return t.shape
        case .graph(let g)?: return shape(g)
        default: throw OpProblem("input \(name) has no shape")
        }
    }

    /// The folded outputs of a node.
    func fold(_ node: ONNXNode) throws(OpProblem) -> [FoldedTensor] {
        let inputs: [FoldedTensor?] = node.inputs.map { $0.isEmpty ? nil : known(values[$0]) }
        func input(_ k: Int) throws(OpProblem) -> FoldedTensor {
            guard k < inputs.count, let t = inputs[k] else { throw OpProblem("input \(k) is missing") }
            return t
        }
        typealias F = ONNXConstantFolding
        switch node.opType {
        case "Constant": return [try FoldedTensor.constant(node)]
        case "Shape":
            let s = try onnxShape(node.inputs[0])
            let r = s.count
            let start = try ONNXLowering.int(node, "start", default: 0), end = try ONNXLowering.int(node, "end", default: r)
            let (a, b) = (min(max(start < 0 ? start + r : start, 0), r), min(max(end < 0 ? end + r : end, 0), r))
            return [.ints(a < b ? Array(s[a..<b]) : [])]
        case "Size": return [FoldedTensor(shape: [], data: .integer([try onnxShape(node.inputs[0]).reduce(1, *)]))]
        case "Identity": return [try input(0)]
        case "ConstantOfShape":
            let s = try input(0).integers()
            let n = try F.checkedCount(s)
            var fill = FoldedTensor(shape: [], data: .real([0]))
            if let v = node.attribute("value") {
                guard case .tensor(let t) = v, t.count == 1 else { throw OpProblem("attribute value is not a one-element tensor") }
                fill = FoldedTensor(t)
            }
            return [fill.picking([Int](repeating: 0, count: n), shape: s)]
        case "Expand":
            let x = try input(0)
            let out = try F.broadcastShape([x.shape, try input(1).integers()])
            let n = try F.checkedCount(out)
            return [x.picking((0..<n).map { F.broadcastIndex($0, out: out, x.shape) }, shape: out)]
        case "Cast", "CastLike":
            let x = try input(0)
            let toInteger: Bool
            if node.opType == "Cast" {
                let to = try ONNXLowering.int(node, "to", default: -1)
                guard let type = ONNXElementType(rawValue: to) else {
                    throw OpProblem("Cast to \(ONNXElementType.onnxName(to)) is not supported")
                }
                toInteger = !type.isFloatingPoint
                if type == .float, case .real(let v) = x.data {  // float32 rounding, as ONNX computes it
                    return [FoldedTensor(shape: x.shape, data: .real(v.map { Double(Float($0)) }))]
                }
                if type == .bool { return [FoldedTensor(shape: x.shape, data: .integer(x.reals.map { $0 != 0 ? 1 : 0 }))] }
            } else {
                toInteger = known(values[node.inputs[1]])?.isInteger ?? false
            }
            if toInteger, x.isInteger { return [x] }
            if toInteger {
                return [
                    FoldedTensor(
                        shape: x.shape,
                        data: .integer(
                            try x.reals.map { v throws(OpProblem) in
                                guard v.isFinite, abs(v) < 9.2e18 else { throw OpProblem("Cast of \(v) to an integer") }
                                return Int(v.rounded(.towardZero))
                            }))
                ]
            }
            return [FoldedTensor(shape: x.shape, data: .real(x.reals))]
        case "Range":
            let (s, l, d) = (try input(0), try input(1), try input(2))
            guard s.count == 1, l.count == 1, d.count == 1 else { throw OpProblem("start, limit and delta must be scalars") }
            if s.isInteger && l.isInteger && d.isInteger {
                let (a, b, c) = (try s.integers()[0], try l.integers()[0], try d.integers()[0])
                guard c != 0 else { throw OpProblem("delta 0") }
                let span = ((Double(b) - Double(a)) / Double(c)).rounded(.up)
                guard span <= Double(F.maximumElements) else { throw OpProblem("a range of \(span) values") }
                return [.ints((0..<max(0, Int(span))).map { a &+ $0 &* c })]
            }
            let (a, b, c) = (s.reals[0], l.reals[0], d.reals[0])
            guard c != 0, a.isFinite, b.isFinite, c.isFinite else { throw OpProblem("start, limit, delta \(a), \(b), \(c)") }
            let span = ((b - a) / c).rounded(.up)
            guard span <= Double(F.maximumElements) else { throw OpProblem("a range of \(span) values") }
            let n = max(0, Int(span))
            return [FoldedTensor(shape: [n], data: .real((0..<n).map { a + Double($0) * c }))]
        case "Gather":
            let (x, idx) = (try input(0), try input(1))
            let axis = try F.axis(try ONNXLowering.int(node, "axis", default: 0), rank: x.shape.count)
            guard !x.shape.isEmpty else { throw OpProblem("Gather on a scalar") }
            let indices = try idx.integers().map { i throws(OpProblem) in
                let j = i < 0 ? i + x.shape[axis] : i
                guard (0..<x.shape[axis]).contains(j) else { throw OpProblem("index \(i) outside an axis of \(x.shape[axis])") }
                return j
            }
            let outer = x.shape[..<axis].reduce(1, *), inner = x.shape[(axis + 1)...].reduce(1, *), n = x.shape[axis]
            _ = try F.checkedCount([outer, indices.count, inner])
            var positions: [Int] = []
            for o in 0..<outer { for j in indices { for i in 0..<inner { positions.append((o * n + j) * inner + i) } } }
            return [x.picking(positions, shape: Array(x.shape[..<axis]) + idx.shape + Array(x.shape[(axis + 1)...]))]
        case "Concat":
            let parts = try (0..<inputs.count).map { k throws(OpProblem) in try input(k) }
            guard let first = parts.first else { throw OpProblem("Concat of nothing") }
            let axis = try F.axis(try ONNXLowering.int(node, "axis", default: 0), rank: first.shape.count)
            for p in parts
            where p.shape.count != first.shape.count
                || (0..<p.shape.count).contains(where: { $0 != axis && p.shape[$0] != first.shape[$0] })
            {
                throw OpProblem("shapes \(shapeText(first.shape)) and \(shapeText(p.shape)) do not concatenate on axis \(axis)")
            }
            var shape = first.shape
            shape[axis] = parts.reduce(0) { $0 + $1.shape[axis] }
            let outer = first.shape[..<axis].reduce(1, *)
            var reals: [Double] = [], ints: [Int] = []
            let integer = parts.allSatisfy(\.isInteger)
            for o in 0..<outer {
                for p in parts {
                    let block = p.shape[axis...].reduce(1, *)
                    if integer {
                        ints += try p.integers()[(o * block)..<((o + 1) * block)]
                    } else {
                        reals += p.reals[(o * block)..<((o + 1) * block)]
                    }
                }
            }
            return [FoldedTensor(shape: shape, data: integer ? .integer(ints) : .real(reals))]
        case "Slice":
            let x = try input(0)
            let (indices, shape) = try F.sliceIndices(
                shape: x.shape, starts: try input(1).integers(), ends: try input(2).integers(),
                axes: try knownInput(node, 3, "axes")?.integers(), steps: try knownInput(node, 4, "steps")?.integers())
            return [x.picking(indices, shape: shape)]
        case "Unsqueeze", "Squeeze", "Reshape", "Flatten":
            let x = try input(0)
            return [x.reshaped(try reshapedShape(node, x.shape))]
        case "Transpose":
            let x = try input(0)
            let perm = try ONNXLowering.perm(node, rank: x.shape.count)
            let (indices, shape) = F.transposeIndices(shape: x.shape, perm: perm)
            return [x.picking(indices, shape: shape)]
        case "Add": return [try F.elementwise([try input(0), try input(1)], real: { $0[0] + $0[1] }, integer: { $0[0] &+ $0[1] })]
        case "Sub": return [try F.elementwise([try input(0), try input(1)], real: { $0[0] - $0[1] }, integer: { $0[0] &- $0[1] })]
        case "Mul": return [try F.elementwise([try input(0), try input(1)], real: { $0[0] * $0[1] }, integer: { $0[0] &* $0[1] })]
        case "Div":
            return [
                try F.elementwise(
                    [try input(0), try input(1)], real: { $0[0] / $0[1] },
                    integer: { v throws(OpProblem) in
                        guard v[1] != 0, v[0] != Int.min || v[1] != -1 else { throw OpProblem("integer division \(v[0]) / \(v[1])") }
                        return v[0] / v[1]
                    })
            ]
        case "Max":
            return [
                try F.elementwise(
                    try inputs.indices.map { k throws(OpProblem) in try input(k) }, real: { $0.max()! }, integer: { $0.max()! })
            ]
        case "Min":
            return [
                try F.elementwise(
                    try inputs.indices.map { k throws(OpProblem) in try input(k) }, real: { $0.min()! }, integer: { $0.min()! })
            ]
        case "Neg": return [try F.elementwise([try input(0)], real: { -$0[0] }, integer: { 0 &- $0[0] })]
        case "Abs": return [try F.elementwise([try input(0)], real: { abs($0[0]) }, integer: { $0[0] == Int.min ? Int.max : abs($0[0]) })]
        case "Sqrt": return [try F.elementwise([try input(0)], real: { $0[0].squareRoot() }, integer: nil)]
        case "Reciprocal": return [try F.elementwise([try input(0)], real: { 1 / $0[0] }, integer: nil)]
        case "Equal": return [try F.comparison([try input(0), try input(1)]) { $0 == $1 }]
        case "Less": return [try F.comparison([try input(0), try input(1)]) { $0 < $1 }]
        case "Greater": return [try F.comparison([try input(0), try input(1)]) { $0 > $1 }]
        case "Not": return [FoldedTensor(shape: try input(0).shape, data: .integer(try input(0).integers().map { $0 == 0 ? 1 : 0 }))]
        case "Where":
            let (c, a, b) = (try input(0), try input(1), try input(2))
            let integer = a.isInteger && b.isInteger
            return [
                try F.elementwise([c, a, b], real: { $0[0] != 0 ? $0[1] : $0[2] }, integer: integer ? { $0[0] != 0 ? $0[1] : $0[2] } : nil)
            ]
        default: throw OpProblem("cannot be folded")
        }
    }

    /// Output shape of Reshape, Flatten, Squeeze and Unsqueeze on an input of ONNX shape `s` (axes and targets known).
    func reshapedShape(_ node: ONNXNode, _ s: [Int]) throws(OpProblem) -> [Int] {
        typealias F = ONNXConstantFolding
        switch node.opType {
        case "Reshape":
            guard let target = try knownInput(node, 1, "shape")?.integers() else { throw OpProblem("Reshape without a shape") }
            return try F.reshapeTarget(target, input: s, allowZero: try ONNXLowering.int(node, "allowzero", default: 0) != 0)
        case "Flatten":
            let axis = try ONNXLowering.int(node, "axis", default: 1)
            let a = axis < 0 ? axis + s.count : axis
            guard (0...s.count).contains(a) else { throw OpProblem("axis \(axis) is outside a rank-\(s.count) tensor") }
            return [s[..<a].reduce(1, *), s[a...].reduce(1, *)]
        case "Squeeze":
            let axes = try knownInput(node, 1, "axes")?.integers()
            guard let axes else { return s.filter { $0 != 1 } }
            let normalized = Set(try axes.map { a throws(OpProblem) in try F.axis(a, rank: s.count) })
            for a in normalized where s[a] != 1 { throw OpProblem("axis \(a) of \(shapeText(s)) is not 1") }
            return s.enumerated().filter { !normalized.contains($0.offset) }.map(\.element)
        default:  // Unsqueeze
            guard let axes = try knownInput(node, 1, "axes")?.integers() else { throw OpProblem("Unsqueeze without axes") }
            let rank = s.count + axes.count
            let normalized = Set(try axes.map { a throws(OpProblem) in try F.axis(a, rank: rank) })
            guard normalized.count == axes.count else { throw OpProblem("axes \(axes) name an axis twice") }
            var out: [Int] = [], rest = s[...]
            for k in 0..<rank { if normalized.contains(k) { out.append(1) } else { out.append(rest.removeFirst()) } }
            return out
        }
    }

    static func perm(_ node: ONNXNode, rank: Int) throws(OpProblem) -> [Int] {
        switch node.attribute("perm") {
        case nil: return Array((0..<rank).reversed())
        case .ints(let p)?:
            guard p.count == rank, Set(p) == Set(0..<rank) else { throw OpProblem("perm \(p) is not a permutation of \(rank) axes") }
            return p
        default: throw OpProblem("attribute perm is not a list of integers")
        }
    }
}

extension ONNXConstantFolding {
    static func comparison(_ inputs: [FoldedTensor], _ compare: (Double, Double) -> Bool) throws(OpProblem) -> FoldedTensor {
        let r = try elementwise(inputs, real: { compare($0[0], $0[1]) ? 1 : 0 }, integer: nil)
        return FoldedTensor(shape: r.shape, data: .integer(r.reals.map { Int($0) }))
    }
}
