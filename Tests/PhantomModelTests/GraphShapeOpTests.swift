import Foundation
import PhantomLinearAlgebra
import PhantomModel
import PhantomTestSupport
import Testing

private let shapeCases: [OpCase] = [
    OpCase("Identity", GraphOps.Identity(), [OpCheckInput([3, 5, 7])]),
    OpCase("Identity shared", GraphOps.Identity(), [OpCheckInput([4], shared: true)]),
    OpCase("Reshape [0, -1]", try! GraphOps.Reshape(shape: [0, -1]), [OpCheckInput([3, 5, 7])]),
    OpCase("Flatten axis 2", GraphOps.Flatten(axis: 2), [OpCheckInput([3, 5, 7])]),
    OpCase("Flatten default", GraphOps.Flatten(), [OpCheckInput([3, 5, 7])]),
    OpCase("Squeeze axis -2", GraphOps.Squeeze(axes: [-2]), [OpCheckInput([3, 1, 7])]),
    OpCase("Unsqueeze [0, -1]", try! GraphOps.Unsqueeze(axes: [0, -1]), [OpCheckInput([3, 5])]),
    OpCase("Transpose [2, 0, 1]", GraphOps.Transpose(perm: [2, 0, 1]), [OpCheckInput([3, 5, 7])]),
    OpCase("Transpose parameter, reversed", GraphOps.Transpose(), [OpCheckInput([3, 5, 7], shared: true)]),
    OpCase("Transpose parameter, negative perm", GraphOps.Transpose(perm: [1, -2]), [OpCheckInput([2, 5], shared: true)]),
    OpCase(
        "Concat activation and parameter", GraphOps.Concat(axis: -2),
        [OpCheckInput([3, 2, 7]), OpCheckInput([3, 5, 7], shared: true)]),
    OpCase(
        "Concat three", GraphOps.Concat(axis: 0),
        [OpCheckInput([1, 5]), OpCheckInput([3, 5], shared: true), OpCheckInput([2, 5])]),
    OpCase(
        "Slice steps and negatives", try! GraphOps.Slice(starts: [1, -4], ends: [Int.max, -1], axes: [-1, 1], steps: [2, 1]),
        [OpCheckInput([3, 5, 7])]),
    OpCase("Pad with a crop", GraphOps.Pad(pads: [0, 1, 2, 1, 0, -1]), [OpCheckInput([3, 5, 7])]),
    OpCase("Resize nearest", GraphOps.Resize(.nearest), [OpCheckInput([2, 3, 5])]),
    OpCase("Resize half_pixel", GraphOps.Resize(.bilinearHalfPixel), [OpCheckInput([2, 3, 5])]),
    OpCase("Resize align_corners", GraphOps.Resize(.bilinearAlignCorners), [OpCheckInput([2, 3, 5])]),
    OpCase("Resize shared", GraphOps.Resize(.bilinearHalfPixel), [OpCheckInput([1, 2, 3], shared: true)]),
    OpCase(
        "AveragePool stride 2, padded", try! GraphOps.AveragePool(kernelShape: [3, 2], strides: [2, 2], pads: [1, 0, 1, 1]),
        [OpCheckInput([3, 5, 7])]),
    OpCase(
        "AveragePool count_include_pad",
        try! GraphOps.AveragePool(kernelShape: [3, 3], strides: [2, 1], pads: [1, 1, 1, 1], countIncludePad: true),
        [OpCheckInput([3, 5, 7])]),
    OpCase("GlobalAveragePool", GraphOps.GlobalAveragePool(), [OpCheckInput([3, 5, 7])]),
    OpCase(
        "MaxPool stride 2, padded", try! GraphOps.MaxPool(kernelShape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1]),
        [OpCheckInput([3, 5, 7])]),
    OpCase("MaxPool shared", try! GraphOps.MaxPool(kernelShape: [2, 2]), [OpCheckInput([2, 3, 5], shared: true)]),
    OpCase("ReduceMean [-1, 0]", GraphOps.ReduceMean(axes: [-1, 0]), [OpCheckInput([3, 5, 7])]),
    OpCase("ReduceSum [1] dropped", GraphOps.ReduceSum(axes: [1], keepdims: false), [OpCheckInput([3, 5, 7])]),
    OpCase("ReduceSum all", GraphOps.ReduceSum(keepdims: false), [OpCheckInput([3, 5, 7])])
]

// MARK: - Naive references: explicit indices

/// The row-major offset of a multi-index.
private func offset(_ index: [Int], _ shape: [Int]) -> Int {
    var o = 0
    for (i, n) in zip(index, shape) { o = o * n + i }
    return o
}

/// Every multi-index of a shape, in row-major order.
private func indices(_ shape: [Int]) -> [[Int]] {
    var result: [[Int]] = [[]]
    for n in shape { result = result.flatMap { prefix in (0..<n).map { prefix + [$0] } } }
    return result
}

/// A bound op's output on a random batch of `samples`, with its inputs.
private func run(_ op: any GraphOp, _ shapes: [[Int]], samples: Int = 2, seed: UInt64 = 3) throws -> (x: [Matrix], y: Matrix, shape: [Int])
{
    var rng = SplitMix64(seed: seed)
    let bound = try op.bind(shapes.map { OpInput(shape: $0, shared: false) })
    let x = shapes.map { gaussianMatrix(samples, $0.reduce(1, *), &rng) }
    let y = bound.evaluate(x)
    #expect(y.rows == samples && y.columns == bound.outputShape.reduce(1, *))
    return (x, y, bound.outputShape)
}

/// 1-D linear interpolation of ONNX's reference (onnx/reference/ops/op_resize.py) for scale 2, step by step: the
/// original coordinate, the ratio (1 on an integer coordinate), the two nearest indices of the data padded by one edge
/// value each side (ties to the lower index), coefficients [1 − ratio, ratio].
private func onnxLinear(_ data: [Double], _ o: Int, alignCorners: Bool) -> Double {
    let n = data.count, outputWidth = 2 * n
    let x = alignCorners ? (outputWidth == 1 ? 0 : Double(o) * Double(n - 1) / Double(outputWidth - 1)) : (Double(o) + 0.5) / 2 - 0.5
    let ratio = x == x.rounded(.down) ? 1 : x - x.rounded(.down)
    let padded = [data[0]] + data + [data[n - 1]], xp = x + 1
    let nearest = padded.indices.sorted { (abs(xp - Double($0)), $0) < (abs(xp - Double($1)), $1) }.prefix(2).sorted()
    return (1 - ratio) * padded[nearest[0]] + ratio * padded[nearest[1]]
}

@Suite("Graph ops: shapes, pooling, resizing")
struct GraphShapeOpTests {
    @Test("derivatives through the op protocol", arguments: shapeCases)
    func derivatives(_ c: OpCase) throws {
        GraphOpTests.expectReport(try OpChecks.check(c.op, c.inputs), c.label)
    }

    @Test("reshaping ops keep the elements and give the shapes")
    func reshapes() throws {
        let cases: [(any GraphOp, [Int], [Int])] = [
            (GraphOps.Identity(), [3, 5, 7], [3, 5, 7]),
            (try GraphOps.Reshape(shape: [0, -1]), [3, 5, 7], [3, 35]),
            (try GraphOps.Reshape(shape: [7, 0, 3]), [3, 5, 7], [7, 5, 3]),
            (try GraphOps.Reshape(shape: [-1]), [3, 5, 7], [105]),
            (GraphOps.Flatten(), [3, 5, 7], [105]),
            (GraphOps.Flatten(axis: 1), [3, 5, 7], [3, 35]),
            (GraphOps.Flatten(axis: -1), [3, 5, 7], [15, 7]),
            (GraphOps.Flatten(axis: 3), [3, 5, 7], [105, 1]),
            (GraphOps.Squeeze(), [1, 5, 1, 7], [5, 7]),
            (GraphOps.Squeeze(axes: [-2]), [1, 5, 1, 7], [1, 5, 7]),
            (try GraphOps.Unsqueeze(axes: [-1, 1]), [3, 5], [3, 1, 5, 1])
        ]
        for (op, input, expected) in cases {
            let (x, y, shape) = try run(op, [input])
            #expect(shape == expected, "\(op.type) \(op.attributes)")
            #expect(y.elements == x[0].elements, "\(op.type) \(op.attributes)")
        }
    }

    @Test("Transpose equals a naive permutation, negative axes included")
    func transpose() throws {
        for perm in [[2, 0, 1], [-1, 0, -2], []] {
            let (x, y, shape) = try run(GraphOps.Transpose(perm: perm), [[3, 5, 7]])
            let p = perm.isEmpty ? [2, 1, 0] : perm.map { $0 < 0 ? $0 + 3 : $0 }
            #expect(shape == p.map { [3, 5, 7][$0] })
            for s in 0..<2 {
                for out in indices(shape) {
                    var source = [0, 0, 0]
                    for k in 0..<3 { source[p[k]] = out[k] }
                    #expect(y[s, offset(out, shape)] == x[0][s, offset(source, [3, 5, 7])], "perm \(perm) at \(out)")
                }
            }
        }
    }

    @Test("Concat equals naive joining, a parameter in every sample")
    func concat() throws {
        let shapes = [[3, 2, 7], [3, 5, 7], [3, 1, 7]]
        var rng = SplitMix64(seed: 5)
        let x = [gaussianMatrix(2, 42, &rng), gaussianMatrix(1, 105, &rng), gaussianMatrix(2, 21, &rng)]
        let bound = try GraphOps.Concat(axis: -2).bind(
            [OpInput(shape: shapes[0], shared: false), OpInput(shape: shapes[1], shared: true), OpInput(shape: shapes[2], shared: false)])
        #expect(bound.outputShape == [3, 8, 7])
        let y = bound.evaluate(x)
        for s in 0..<2 {
            for out in indices([3, 8, 7]) {
                let (k, j) = out[1] < 2 ? (0, out[1]) : out[1] < 7 ? (1, out[1] - 2) : (2, out[1] - 7)
                let v = x[k][k == 1 ? 0 : s, offset([out[0], j, out[2]], shapes[k])]
                #expect(y[s, offset(out, [3, 8, 7])] == v, "at \(out)")
            }
        }
    }

    @Test("Slice equals naive strided selection, with negative starts, ends and axes")
    func slice() throws {
        // Axis −1 (7): 1, 3, 5; axis 1 (5): −4 → 1 up to −1 → 4.
        let op = try GraphOps.Slice(starts: [1, -4], ends: [Int.max, -1], axes: [-1, 1], steps: [2, 1])
        let (x, y, shape) = try run(op, [[3, 5, 7]])
        #expect(shape == [3, 3, 3])
        for s in 0..<2 {
            for out in indices(shape) {
                #expect(y[s, offset(out, shape)] == x[0][s, offset([out[0], 1 + out[1], 1 + 2 * out[2]], [3, 5, 7])])
            }
        }
        // Split [3, 5, 7] along axis 1 into 2 + 3.
        let pieces = try GraphOps.Slice.split(axis: 1, sizes: [2, 3])
        let parts = try pieces.map { try $0.bind([OpInput(shape: [3, 5, 7], shared: false)]).evaluate(x) }
        #expect(parts.map(\.columns) == [42, 63])
        for s in 0..<2 {
            for i in indices([3, 5, 7]) {
                let v = i[1] < 2 ? parts[0][s, offset(i, [3, 2, 7])] : parts[1][s, offset([i[0], i[1] - 2, i[2]], [3, 3, 7])]
                #expect(v == x[0][s, offset(i, [3, 5, 7])])
            }
        }
    }

    @Test("Pad equals naive zero padding, a negative pad cropping")
    func pad() throws {
        let pads = [0, 1, 2, 1, 0, -1], input = [3, 5, 7]
        let (x, y, shape) = try run(GraphOps.Pad(pads: pads), [input])
        #expect(shape == [4, 6, 8])
        for s in 0..<2 {
            for out in indices(shape) {
                let source = (0..<3).map { out[$0] - pads[$0] }
                let inside = (0..<3).allSatisfy { source[$0] >= 0 && source[$0] < input[$0] }
                #expect(y[s, offset(out, shape)] == (inside ? x[0][s, offset(source, input)] : 0))
            }
        }
    }

    @Test("Resize equals ONNX's reference: nearest floor, bilinear half_pixel and align_corners")
    func resize() throws {
        let input = [2, 3, 5]
        let (x, nearest, shape) = try run(GraphOps.Resize(.nearest), [input])
        #expect(shape == [2, 6, 10])
        for s in 0..<2 {
            for o in indices(shape) {
                #expect(nearest[s, offset(o, shape)] == x[0][s, offset([o[0], o[1] / 2, o[2] / 2], input)])
            }
        }
        for align in [false, true] {
            let (x, y, _) = try run(GraphOps.Resize(align ? .bilinearAlignCorners : .bilinearHalfPixel), [input])
            for s in 0..<2 {
                for o in indices(shape) {
                    // ONNX's nd interpolation: the inner axis first, then the outer one over those results.
                    let rows = (0..<3).map { h in
                        onnxLinear((0..<5).map { x[0][s, offset([o[0], h, $0], input)] }, o[2], alignCorners: align)
                    }
                    let expected = onnxLinear(rows, o[1], alignCorners: align)
                    #expect(abs(y[s, offset(o, shape)] - expected) < 1e-12, "align_corners \(align) at \(o)")
                }
            }
        }
        // By hand, on [a, b] (one channel, one row): half_pixel reads −0.25, 0.25, 0.75, 1.25; align_corners 0, 1/3, 2/3, 1.
        let ab = Matrix(rows: 1, columns: 2, elements: [1, 5])
        let one = [OpInput(shape: [1, 1, 2], shared: false)]
        let half = try GraphOps.Resize(.bilinearHalfPixel).bind(one).evaluate([ab]).elements
        let corners = try GraphOps.Resize(.bilinearAlignCorners).bind(one).evaluate([ab]).elements
        for (v, e) in zip(half, [1.0, 2, 4, 5, 1, 2, 4, 5]) { #expect(abs(v - e) < 1e-12, "half_pixel \(half)") }
        for (v, e) in zip(corners, [1, 1 + 4.0 / 3, 1 + 8.0 / 3, 5, 1, 1 + 4.0 / 3, 1 + 8.0 / 3, 5]) {
            #expect(abs(v - e) < 1e-12, "align_corners \(corners)")
        }
    }

    /// Naive pooling of one sample: each window's elements inside the input, by explicit bounds checks.
    private func window(
        _ x: Matrix, _ s: Int, _ input: [Int], _ c: Int, _ oh: Int, _ ow: Int, kernel: [Int], strides: [Int], pads: [Int]
    ) -> [Double] {
        var values: [Double] = []
        for kh in 0..<kernel[0] {
            for kw in 0..<kernel[1] {
                let h = oh * strides[0] - pads[0] + kh, w = ow * strides[1] - pads[1] + kw
                if h >= 0 && h < input[1] && w >= 0 && w < input[2] { values.append(x[s, offset([c, h, w], input)]) }
            }
        }
        return values
    }

    @Test("AveragePool and MaxPool equal naive pooling with stride 2 and padding")
    func pooling() throws {
        let input = [3, 5, 7], kernel = [3, 2], strides = [2, 2], pads = [1, 0, 1, 1]
        // OH = (5 + 2 − 3) / 2 + 1 = 3, OW = (7 + 1 − 2) / 2 + 1 = 4.
        for include in [false, true] {
            let op = try GraphOps.AveragePool(kernelShape: kernel, strides: strides, pads: pads, countIncludePad: include)
            let (x, y, shape) = try run(op, [input])
            #expect(shape == [3, 3, 4])
            for s in 0..<2 {
                for o in indices(shape) {
                    let values = window(x[0], s, input, o[0], o[1], o[2], kernel: kernel, strides: strides, pads: pads)
                    let expected = values.reduce(0, +) / Double(include ? 6 : values.count)
                    #expect(abs(y[s, offset(o, shape)] - expected) < 1e-12, "count_include_pad \(include) at \(o)")
                }
            }
        }
        let mk = [3, 3], mp = [1, 1, 1, 1]
        let (x, y, shape) = try run(try GraphOps.MaxPool(kernelShape: mk, strides: strides, pads: mp), [input])
        #expect(shape == [3, 3, 4])
        for s in 0..<2 {
            for o in indices(shape) {
                let values = window(x[0], s, input, o[0], o[1], o[2], kernel: mk, strides: strides, pads: mp)
                #expect(y[s, offset(o, shape)] == values.max()!, "at \(o)")
            }
        }
        let (gx, gy, gShape) = try run(GraphOps.GlobalAveragePool(), [input])
        #expect(gShape == [3, 1, 1])
        for s in 0..<2 {
            for c in 0..<3 {
                var sum = 0.0
                for h in 0..<5 { for w in 0..<7 { sum += gx[0][s, offset([c, h, w], input)] } }
                #expect(abs(gy[s, c] - sum / 35) < 1e-12)
            }
        }
    }

    @Test("MaxPool: padding never wins, ties go to the first in the window's row-major scan")
    func maxPoolTies() throws {
        // All −5 with padding: a zero pad winning would show.
        let padded = try GraphOps.MaxPool(kernelShape: [2, 2], pads: [1, 1, 0, 0]).bind([OpInput(shape: [1, 3, 3], shared: false)])
        let y = padded.evaluate([Matrix(rows: 1, columns: 9, elements: [Double](repeating: -5, count: 9))])
        #expect(padded.outputShape == [1, 3, 3] && y.elements == [Double](repeating: -5, count: 9))
        // Equal values: each window's gradient goes to its top-left element.
        let bound = try GraphOps.MaxPool(kernelShape: [2, 2]).bind([OpInput(shape: [1, 3, 3], shared: false)])
        let (_, point) = bound.linearize([Matrix(zeros: 1, 9)])
        let c = point.vjp(Matrix(rows: 1, columns: 4, elements: [1, 10, 100, 1000]), wanted: [true], sumShared: false)[0]!
        #expect(c.elements == [1, 10, 0, 100, 1000, 0, 0, 0, 0])
        // The JVP reads the same elements.
        let t = Matrix(rows: 1, columns: 9, elements: (0..<9).map(Double.init))
        #expect(point.jvp([t])!.elements == [0, 1, 3, 4])
    }

    @Test("ReduceMean and ReduceSum equal naive reductions, negative axes and keepdims")
    func reductions() throws {
        let input = [3, 5, 7]
        let cases: [(mean: Bool, axes: [Int], keep: Bool, shape: [Int])] = [
            (true, [-1, 0], true, [1, 5, 1]), (false, [1], false, [3, 7]), (true, [], false, []), (false, [], true, [1, 1, 1]),
            (false, [-2, 2], false, [3])
        ]
        for c in cases {
            let op: any GraphOp =
                c.mean ? GraphOps.ReduceMean(axes: c.axes, keepdims: c.keep) : GraphOps.ReduceSum(axes: c.axes, keepdims: c.keep)
            let (x, y, shape) = try run(op, [input])
            #expect(shape == c.shape, "\(op.type) \(op.attributes)")
            let reduced = Set(c.axes.isEmpty ? [0, 1, 2] : c.axes.map { $0 < 0 ? $0 + 3 : $0 })
            let kept = (0..<3).map { reduced.contains($0) ? 1 : input[$0] }
            for s in 0..<2 {
                var sums = [Double](repeating: 0, count: kept.reduce(1, *)), counts = sums
                for i in indices(input) {
                    let o = offset((0..<3).map { reduced.contains($0) ? 0 : i[$0] }, kept)
                    sums[o] += x[0][s, offset(i, input)]
                    counts[o] += 1
                }
                for o in sums.indices {
                    let expected = c.mean ? sums[o] / counts[o] : sums[o]
                    #expect(abs(y[s, o] - expected) < 1e-12, "\(op.type) \(op.attributes) at \(o)")
                }
            }
        }
    }

    @Test("the ops refuse bad attributes and shapes, naming them")
    func refusals() {
        let input = [OpInput(shape: [3, 5, 7], shared: false)]
        #expect(throws: OpProblem("unknown attribute perms")) { try GraphOps.Transpose(attributes: ["perms": .ints([0])]) }
        #expect(throws: OpProblem("unknown attribute allowzero")) {
            try GraphOps.Reshape(attributes: ["shape": .ints([-1]), "allowzero": .int(0)])
        }
        #expect(throws: OpProblem("perm [0, 0, 1] for [3, 5, 7]: axis 0 appears twice")) {
            try GraphOps.Transpose(perm: [0, 0, 1]).bind(input)
        }
        #expect(throws: OpProblem("perm [1, 0] for [3, 5, 7] is not a permutation of 3 axes")) {
            try GraphOps.Transpose(perm: [1, 0]).bind(input)
        }
        #expect(throws: OpProblem("perm [0, 1, 3] for [3, 5, 7]: axis 3 is out of range for rank 3")) {
            try GraphOps.Transpose(perm: [0, 1, 3]).bind(input)
        }
        #expect(throws: OpProblem("axes [1] of [3, 5, 7]: axis 1 has size 5, not 1")) { try GraphOps.Squeeze(axes: [1]).bind(input) }
        #expect(throws: OpProblem("axes [] names no axis to insert")) { try GraphOps.Unsqueeze(axes: []) }
        #expect(throws: OpProblem("axes [5] for [3, 5, 7]: axis 5 is out of range for rank 4")) {
            try GraphOps.Unsqueeze(axes: [5]).bind(input)
        }
        #expect(throws: OpProblem("shape [4, -1] does not fit input [3, 5, 7] (105 elements)")) {
            try GraphOps.Reshape(shape: [4, -1]).bind(input)
        }
        #expect(throws: OpProblem("shape [-1, -1] may hold one -1 and otherwise sizes ≥ 0 (0: copy the input's)")) {
            try GraphOps.Reshape(shape: [-1, -1])
        }
        #expect(throws: OpProblem("axis 4 is out of range for [3, 5, 7] (−3…3)")) { try GraphOps.Flatten(axis: 4).bind(input) }
        #expect(throws: OpProblem("inputs [3, 5, 7] and [3, 5, 6] differ outside axis 0")) {
            try GraphOps.Concat(axis: 0).bind(input + [OpInput(shape: [3, 5, 6], shared: true)])
        }
        #expect(throws: OpProblem("axis -4 of [3, 5, 7]: axis -4 is out of range for rank 3")) { try GraphOps.Concat(axis: -4).bind(input) }
        #expect(throws: OpProblem("takes at least 1 input, got 0")) { try GraphOps.Concat(axis: 0).bind([]) }
        #expect(throws: OpProblem("steps [2, -1]: only positive steps are implemented")) {
            try GraphOps.Slice(starts: [0, 0], ends: [2, 2], steps: [2, -1])
        }
        #expect(throws: OpProblem("steps [0]: only positive steps are implemented")) {
            try GraphOps.Slice(attributes: ["starts": .ints([0]), "ends": .ints([2]), "steps": .ints([0])])
        }
        #expect(throws: OpProblem("starts [4], ends [2] leave nothing of axis 1 of [3, 5, 7] (4..<2)")) {
            try GraphOps.Slice(starts: [4], ends: [2], axes: [1]).bind(input)
        }
        #expect(throws: OpProblem("mode \"reflect\" is not implemented (only \"constant\")")) {
            try GraphOps.Pad(attributes: ["pads": .ints([0, 0, 0, 0, 0, 0]), "mode": .string("reflect")])
        }
        #expect(throws: OpProblem("value 1.5 is not implemented (only 0: zero padding)")) {
            try GraphOps.Pad(attributes: ["pads": .ints([0, 0, 0, 0, 0, 0]), "value": .float(1.5)])
        }
        #expect(throws: OpProblem("pads [1, 1] do not fit [3, 5, 7]: 6 entries, all begins then all ends")) {
            try GraphOps.Pad(pads: [1, 1]).bind(input)
        }
        #expect(throws: OpProblem("pads [0, 0, 0, 1099511627776, 0, 0] leave axis 0 of [3, 5, 7] empty or too large")) {
            try GraphOps.Pad(pads: [0, 0, 0, 1 << 40, 0, 0]).bind(input)
        }
        #expect(throws: OpProblem.self) { try GraphOps.Pad(pads: [Int.max, 0, 0, Int.max, 0, 0]).bind(input) }
        #expect(throws: OpProblem("output shape [3, 32768, 32768] is empty or has more than 268435456 elements")) {
            try GraphOps.Pad(pads: [0, 16384, 16384, 0, 16379, 16377]).bind(input)
        }
        #expect(throws: OpProblem("scale 3 is not implemented (only 2)")) {
            try GraphOps.Resize(attributes: ["mode": .string("linear"), "scale": .int(3)])
        }
        #expect(
            throws: OpProblem("coordinate_transformation_mode \"half_pixel\" is not implemented for mode \"nearest\" (only \"asymmetric\")")
        ) {
            try GraphOps.Resize(attributes: ["mode": .string("nearest"), "scale": .int(2), "nearest_mode": .string("floor")])
        }
        #expect(throws: OpProblem("nearest_mode \"round_prefer_floor\" is not implemented (only \"floor\")")) {
            try GraphOps.Resize(attributes: ["scale": .int(2), "coordinate_transformation_mode": .string("asymmetric")])
        }
        #expect(throws: OpProblem.self) {
            try GraphOps.Resize(attributes: [
                "mode": .string("linear"), "scale": .int(2), "coordinate_transformation_mode": .string("asymmetric")
            ])
        }
        #expect(throws: OpProblem("mode \"cubic\" is not implemented (only \"nearest\", \"linear\")")) {
            try GraphOps.Resize(attributes: ["mode": .string("cubic"), "scale": .int(2)])
        }
        #expect(throws: OpProblem("input [5, 7] is not [C, H, W]")) {
            try GraphOps.Resize(.nearest).bind([OpInput(shape: [5, 7], shared: false)])
        }
        #expect(throws: OpProblem("kernel_shape [6, 3] is larger than the padded input [5, 7] (pads [0, 0, 0, 0])")) {
            try GraphOps.AveragePool(kernelShape: [6, 3]).bind(input)
        }
        #expect(throws: OpProblem("kernel_shape [8, 3] is larger than the padded input [5, 7] (pads [1, 0, 1, 0])")) {
            try GraphOps.MaxPool(kernelShape: [8, 3], pads: [1, 0, 1, 0]).bind(input)
        }
        #expect(throws: OpProblem("pads [2, 0, 0, 0] are not smaller than kernel_shape [2, 2] (a window would lie in the padding)")) {
            try GraphOps.MaxPool(kernelShape: [2, 2], pads: [2, 0, 0, 0])
        }
        #expect(throws: OpProblem("kernel_shape [2, 2, 2] is not [kh, kw] with both ≥ 1")) {
            try GraphOps.AveragePool(attributes: ["kernel_shape": .ints([2, 2, 2])])
        }
        #expect(throws: OpProblem("strides [0, 1] is not [sh, sw] with both ≥ 1")) {
            try GraphOps.MaxPool(attributes: ["kernel_shape": .ints([2, 2]), "strides": .ints([0, 1])])
        }
        #expect(throws: OpProblem("count_include_pad = 2 is not 0 or 1")) {
            try GraphOps.AveragePool(attributes: ["kernel_shape": .ints([2, 2]), "count_include_pad": .int(2)])
        }
        #expect(throws: OpProblem("unknown attribute ceil_mode")) {
            try GraphOps.MaxPool(attributes: ["kernel_shape": .ints([2, 2]), "ceil_mode": .int(0)])
        }
        #expect(throws: OpProblem.self) {
            // A window of 2^40 rows over a padded 5 + 2 (2^40 − 1): an output far past 2^28 elements.
            try GraphOps.AveragePool(kernelShape: [1 << 40, 1], pads: [(1 << 40) - 1, 0, (1 << 40) - 1, 0]).bind(input)
        }
        #expect(throws: OpProblem.self) {
            try GraphOps.MaxPool(kernelShape: [Int.max, 1], pads: [Int.max - 1, 0, Int.max - 1, 0]).bind(input)
        }
        #expect(throws: OpProblem("input [3, 5] is not [C, H, W]")) {
            try GraphOps.MaxPool(kernelShape: [2, 2]).bind([OpInput(shape: [3, 5], shared: false)])
        }
        #expect(throws: OpProblem("input [5] is not [C, H, W] (or [C, spatial…])")) {
            try GraphOps.GlobalAveragePool().bind([OpInput(shape: [5], shared: false)])
        }
        #expect(throws: OpProblem("keepdims = 2 is not 0 or 1")) { try GraphOps.ReduceMean(attributes: ["keepdims": .int(2)]) }
        #expect(throws: OpProblem("axes [0, -3] of [3, 5, 7]: axis 0 appears twice")) {
            try GraphOps.ReduceSum(axes: [0, -3]).bind(input)
        }
        #expect(throws: OpProblem("input shape [3, 0] is empty or has more than 268435456 elements")) {
            try GraphOps.Identity().bind([OpInput(shape: [3, 0], shared: false)])
        }
        #expect(throws: OpProblem.self) { try GraphOps.Flatten().bind([OpInput(shape: [1 << 40, 1 << 40], shared: false)]) }
    }

    @Test("attributes round-trip through init(attributes:)")
    func roundTrip() throws {
        let ops: [any GraphOp] = [
            GraphOps.Identity(), try GraphOps.Reshape(shape: [0, -1]), GraphOps.Flatten(axis: -1), GraphOps.Squeeze(axes: [1]),
            try GraphOps.Unsqueeze(axes: [0]), GraphOps.Transpose(perm: [1, 0]), GraphOps.Concat(axis: -1),
            try GraphOps.Slice(starts: [1], ends: [3]), GraphOps.Pad(pads: [1, 0]), GraphOps.Resize(.bilinearAlignCorners),
            GraphOps.Resize(.nearest), try GraphOps.AveragePool(kernelShape: [2, 2], countIncludePad: true), GraphOps.GlobalAveragePool(),
            try GraphOps.MaxPool(kernelShape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1]), GraphOps.ReduceMean(axes: [-1]),
            GraphOps.ReduceSum(keepdims: false)
        ]
        for op in ops {
            let again = try type(of: op).init(attributes: op.attributes)
            #expect(again.attributes == op.attributes && again.type == op.type, "\(op.type)")
        }
    }
}
