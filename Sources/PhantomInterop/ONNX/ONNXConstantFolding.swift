import PhantomModel
import PhantomONNX

/// A tensor known when the model is imported: an integer initializer, a `Constant`, or what the shape-only
/// subgraphs PyTorch's exporter writes (Shape, Expand, Range, Gather, Concat, … on shapes) compute from them.
struct FoldedTensor: Sendable {
    var shape: [Int]
    var data: ONNXTensorData

    var count: Int { shape.reduce(1, *) }
    var isInteger: Bool { if case .integer = data { true } else { false } }
    var reals: [Double] {
        switch data {
        case .real(let v): v
        case .integer(let v): v.map(Double.init)
        }
    }
    /// The values as integers (reals must be whole numbers).
    func integers() throws(OpProblem) -> [Int] {
        switch data {
        case .integer(let v): return v
        case .real(let v):
            return try v.map { x throws(OpProblem) in
                guard x.rounded() == x, abs(x) < 9.2e18 else { throw OpProblem("the value \(x) is not an integer") }
                return Int(x)
            }
        }
    }

    init(shape: [Int], data: ONNXTensorData) { (self.shape, self.data) = (shape, data) }
    init(_ t: ONNXTensor) { (shape, data) = (t.dims, t.data) }
    static func ints(_ v: [Int], shape: [Int]? = nil) -> FoldedTensor { FoldedTensor(shape: shape ?? [v.count], data: .integer(v)) }

    func reshaped(_ s: [Int]) -> FoldedTensor { FoldedTensor(shape: s, data: data) }
    /// The elements at `indices` (row-major positions), same kind.
    func picking(_ indices: [Int], shape s: [Int]) -> FoldedTensor {
        switch data {
        case .real(let v): FoldedTensor(shape: s, data: .real(indices.map { v[$0] }))
        case .integer(let v): FoldedTensor(shape: s, data: .integer(indices.map { v[$0] }))
        }
    }
}

/// Evaluates shape-only nodes whose inputs are all known (``FoldedTensor``), in the ONNX semantics of the opsets
/// ``ONNXImporter`` accepts. Integer arithmetic stays integer (Div truncates toward zero, as ONNX's integer Div).
enum ONNXConstantFolding {
    /// The op types folded when every data input is known (Shape and CastLike need only their input's shape or type).
    static let foldable: Set<String> = [
        "Constant", "Shape", "Size", "ConstantOfShape", "Expand", "Cast", "CastLike", "Range", "Gather", "Concat", "Slice",
        "Unsqueeze", "Squeeze", "Reshape", "Identity", "Add", "Sub", "Mul", "Div", "Neg", "Equal", "Where", "Transpose", "Sqrt",
        "Reciprocal", "Flatten", "Not", "Less", "Greater", "Max", "Min", "Abs"
    ]

    static let maximumElements = 1 << 24

    static func broadcastShape(_ shapes: [[Int]]) throws(OpProblem) -> [Int] {
        let rank = shapes.map(\.count).max() ?? 0
        var out = [Int](repeating: 1, count: rank)
        for s in shapes {
            for (k, n) in s.enumerated() {
                let j = rank - s.count + k
                if out[j] == 1 {
                    out[j] = n
                } else if n != 1 && n != out[j] {
                    throw OpProblem("shapes \(shapes.map(shapeText).joined(separator: " and ")) do not broadcast")
                }
            }
        }
        return out
    }

    /// Row-major index of `shape`'s element at the broadcast output's position `i` of shape `out`.
    static func broadcastIndex(_ i: Int, out: [Int], _ shape: [Int]) -> Int {
        var rest = i, index = 0, step = 1
        var strides = [Int](repeating: 0, count: shape.count)
        for k in stride(from: shape.count - 1, through: 0, by: -1) {
            strides[k] = shape[k] == 1 ? 0 : step
            step *= shape[k]
        }
        for k in stride(from: out.count - 1, through: 0, by: -1) {
            let coordinate = rest % out[k]
            rest /= out[k]
            let j = k - (out.count - shape.count)
            if j >= 0 { index += coordinate * strides[j] }
        }
        return index
    }

    static func checkedCount(_ shape: [Int]) throws(OpProblem) -> Int {
        var total = 1
        for n in shape {
            guard n >= 0 else { throw OpProblem("dimension \(n) is negative") }
            let (p, o) = total.multipliedReportingOverflow(by: n)
            guard !o, p <= maximumElements else { throw OpProblem("a constant of shape \(shapeText(shape)) is too large") }
            total = p
        }
        return total
    }

    static func elementwise(
        _ inputs: [FoldedTensor], real: ([Double]) -> Double, integer: (([Int]) throws(OpProblem) -> Int)?
    ) throws(OpProblem) -> FoldedTensor {
        let out = try broadcastShape(inputs.map(\.shape))
        let n = try checkedCount(out)
        let indices = inputs.map { t in (0..<n).map { broadcastIndex($0, out: out, t.shape) } }
        if let integer, inputs.allSatisfy(\.isInteger) {
            let values = try inputs.map { t throws(OpProblem) in try t.integers() }
            var result: [Int] = []
            for i in 0..<n { result.append(try integer(values.indices.map { values[$0][indices[$0][i]] })) }
            return FoldedTensor(shape: out, data: .integer(result))
        }
        let values = inputs.map(\.reals)
        return FoldedTensor(shape: out, data: .real((0..<n).map { i in real(values.indices.map { values[$0][indices[$0][i]] }) }))
    }

    static func axis(_ a: Int, rank: Int) throws(OpProblem) -> Int {
        let r = a < 0 ? a + rank : a
        guard (0..<max(rank, 1)).contains(r) else { throw OpProblem("axis \(a) is outside a rank-\(rank) tensor") }
        return r
    }

    /// ONNX Reshape's target: 0 copies the input's dimension (unless `allowZero`), one −1 is inferred.
    static func reshapeTarget(_ target: [Int], input: [Int], allowZero: Bool) throws(OpProblem) -> [Int] {
        var out = target
        for (k, t) in target.enumerated() where t == 0 && !allowZero {
            guard k < input.count else { throw OpProblem("shape \(target) copies dimension \(k) of \(shapeText(input))") }
            out[k] = input[k]
        }
        let count = input.reduce(1, *)
        let unknown = out.indices.filter { out[$0] == -1 }
        guard unknown.count <= 1, out.allSatisfy({ $0 >= -1 && $0 <= maximumElements }), out.count <= 16 else {
            throw OpProblem("shape \(target) is not a valid Reshape target for \(shapeText(input))")
        }
        if let u = unknown.first {
            let known = try checkedCount(out.enumerated().filter { $0.offset != u }.map(\.element))
            guard known > 0, count % known == 0 else { throw OpProblem("shape \(target) does not fit \(shapeText(input))") }
            out[u] = count / known
        }
        guard try checkedCount(out) == count else { throw OpProblem("shape \(target) does not fit \(shapeText(input)) (\(count) values)") }
        return out
    }

    /// ONNX Slice's per-axis ranges (starts, ends clamped as ONNX does; positive or negative steps).
    static func sliceIndices(
        shape: [Int], starts: [Int], ends: [Int], axes: [Int]?, steps: [Int]?
    ) throws(OpProblem) -> (indices: [Int], shape: [Int]) {
        let axes = try (axes ?? Array(starts.indices)).map { a throws(OpProblem) in try axis(a, rank: shape.count) }
        let steps = steps ?? starts.map { _ in 1 }
        guard starts.count == ends.count, axes.count == starts.count, steps.count == starts.count, Set(axes).count == axes.count else {
            throw OpProblem("starts, ends, axes and steps disagree")
        }
        var ranges = shape.map { Array(0..<$0) }
        for (k, a) in axes.enumerated() {
            let n = shape[a], step = steps[k]
            guard step != 0 else { throw OpProblem("a step of 0") }
            func clamp(_ v: Int, _ low: Int, _ high: Int) -> Int { min(max(v < 0 ? v &+ n : v, low), high) }
            if step > 0 {
                let (s, e) = (clamp(starts[k], 0, n), clamp(ends[k], 0, n))
                ranges[a] = s < e ? Array(stride(from: s, to: e, by: step)) : []
            } else {
                let (s, e) = (clamp(starts[k], -1, n - 1), clamp(ends[k], -1, n - 1))
                ranges[a] = s > e ? Array(stride(from: s, to: e, by: step)) : []
            }
        }
        return (gatherIndices(shape: shape, ranges: ranges), ranges.map(\.count))
    }

    /// Row-major positions of the elements whose coordinates are in `ranges` (one list per axis).
    static func gatherIndices(shape: [Int], ranges: [[Int]]) -> [Int] {
        var strides = [Int](repeating: 1, count: shape.count)
        for k in stride(from: shape.count - 2, through: 0, by: -1) { strides[k] = strides[k + 1] * shape[k + 1] }
        var out = [0]
        for (k, r) in ranges.enumerated() { out = out.flatMap { base in r.map { base + $0 * strides[k] } } }
        return out
    }

    static func transposeIndices(shape: [Int], perm: [Int]) -> (indices: [Int], shape: [Int]) {
        let outShape = perm.map { shape[$0] }
        var strides = [Int](repeating: 1, count: shape.count)
        for k in stride(from: shape.count - 2, through: 0, by: -1) { strides[k] = strides[k + 1] * shape[k + 1] }
        var out = [0]
        for p in perm { out = out.flatMap { base in (0..<shape[p]).map { base + $0 * strides[p] } } }
        return (out, outShape)
    }
}

/// A tensor attribute or a scalar/list attribute of `Constant` as a tensor.
extension FoldedTensor {
    static func constant(_ node: ONNXNode) throws(OpProblem) -> FoldedTensor {
        guard node.attributes.count == 1, let (name, value) = node.attributes.first else {
            throw OpProblem("a Constant needs exactly one value attribute")
        }
        switch (name, value) {
        case ("value", .tensor(let t)): return FoldedTensor(t)
        case ("value_float", .float(let f)): return FoldedTensor(shape: [], data: .real([f]))
        case ("value_floats", .floats(let v)): return FoldedTensor(shape: [v.count], data: .real(v))
        case ("value_int", .int(let i)): return FoldedTensor(shape: [], data: .integer([i]))
        case ("value_ints", .ints(let v)): return FoldedTensor(shape: [v.count], data: .integer(v))
        default: throw OpProblem("Constant attribute \(name) is not supported (value, value_float(s) or value_int(s))")
        }
    }
}
