import PhantomLinearAlgebra

// The shared machinery of the shape, pooling and resizing ops (Identity, Reshape, Flatten, Squeeze, Unsqueeze,
// Transpose, Concat, Slice, Pad, Resize, AveragePool, GlobalAveragePool, MaxPool, ReduceSum, ReduceMean): every one is a
// fixed sparse linear map from its inputs' per-sample elements to its output's (MaxPool: its candidate windows), worked
// out once at bind time as an ``IndexMap``; evaluating, the JVP and the VJP only apply it or its transpose.

// MARK: - Shapes and axes

/// The most elements an op's output, or terms its precomputed map, may have (as for any graph value: 2^28).
let opElementLimit = Graph.maxElements

/// The element count of `shape`, nil when a dimension is negative or the count passes ``opElementLimit``.
func boundedCount(_ shape: [Int]) -> Int? {
    var total = 1
    for d in shape {
        guard d >= 0 else { return nil }
        let (product, overflow) = total.multipliedReportingOverflow(by: d)
        guard !overflow, product <= opElementLimit else { return nil }
        total = product
    }
    return total
}

/// Refuses an input shape with a dimension below 1 or more than 2^28 elements (a graph never binds one; a direct caller
/// might).
func checkInputShapes(_ inputs: [OpInput]) throws(OpProblem) {
    for input in inputs where input.shape.contains(where: { $0 < 1 }) || boundedCount(input.shape) == nil {
        throw OpProblem("input shape \(shapeText(input.shape)) is empty or has more than \(opElementLimit) elements")
    }
}

/// The element count of an output shape, refusing a dimension below 1 or more than 2^28 elements.
func checkedOutputCount(_ shape: [Int]) throws(OpProblem) -> Int {
    guard shape.allSatisfy({ $0 > 0 }), let count = boundedCount(shape) else {
        throw OpProblem("output shape \(shapeText(shape)) is empty or has more than \(opElementLimit) elements")
    }
    return count
}

/// Axis `axis` of a rank-`rank` shape, a negative one counting from the end (−1: the last); `what` names the attribute
/// and the shape for the message.
func normalizedAxis(_ axis: Int, rank: Int, _ what: @autoclosure () -> String) throws(OpProblem) -> Int {
    guard axis >= -rank && axis < rank else { throw OpProblem("\(what()): axis \(axis) is out of range for rank \(rank)") }
    return axis < 0 ? axis + rank : axis
}

/// ``normalizedAxis(_:rank:_:)`` of each, refusing an axis named twice.
func normalizedAxes(_ axes: [Int], rank: Int, _ what: @autoclosure () -> String) throws(OpProblem) -> [Int] {
    var seen = [Bool](repeating: false, count: rank), result: [Int] = []
    for a in axes {
        let n = try normalizedAxis(a, rank: rank, what())
        guard !seen[n] else { throw OpProblem("\(what()): axis \(n) appears twice") }
        seen[n] = true
        result.append(n)
    }
    return result
}

/// Row-major strides of a (bounded) shape.
func rowMajorStrides(_ shape: [Int]) -> [Int] {
    var strides = [Int](repeating: 1, count: shape.count), s = 1
    for k in stride(from: shape.count - 1, through: 0, by: -1) {
        strides[k] = s
        s *= shape[k]
    }
    return strides
}

/// Refuses a separable map (``SparseRows/product(_:)``) of more than 2^28 outputs or terms; each axis counts at least
/// once, so that every partial product is bounded too.
func checkSeparableSize(outputs: [Int], terms: [Int], _ what: @autoclosure () -> String) throws(OpProblem) {
    guard boundedCount(outputs) != nil, boundedCount(terms.map { max($0, 1) }) != nil else {
        throw OpProblem("\(what()) needs more than \(opElementLimit) terms")
    }
}

// MARK: - Separable maps

/// One axis of a separable map: for each output coordinate o along the axis, the input offsets it reads (an input
/// coordinate times the input's stride on that axis) and their weights.
struct AxisMap: Sendable {
    private(set) var offsets = [0]
    private(set) var offset: [Int] = []
    private(set) var weight: [Double] = []

    init() {}

    var outputs: Int { offsets.count - 1 }
    var terms: Int { offset.count }

    /// Adds a term to the current output coordinate.
    mutating func add(_ offset: Int, weight: Double = 1) {
        self.offset.append(offset)
        self.weight.append(weight)
    }

    /// Closes the current output coordinate (one without terms reads nothing: a zero).
    mutating func close() { offsets.append(offset.count) }

    /// Output coordinate i reads input coordinate i.
    static func identity(_ size: Int, stride: Int) -> AxisMap {
        var map = AxisMap()
        map.offset.reserveCapacity(size)
        for i in 0..<size {
            map.add(i * stride)
            map.close()
        }
        return map
    }
}

/// A sparse map in compressed rows: output element j is Σ weight[e] · x[index[e]] over e in offsets[j]..<offsets[j+1].
struct SparseRows: Sendable {
    var offsets: [Int]
    var index: [Int]
    var weight: [Double]

    var outputs: Int { offsets.count - 1 }

    /// The separable product of one map per output axis: output (o₀, …, o_{n−1}) (row-major) has one term per choice of
    /// a term of each axis, at the sum of their offsets with the product of their weights, in row-major order of the
    /// axes' terms (a pooling window is scanned row by row). No axes: one output reading element 0.
    static func product(_ axes: [AxisMap]) throws(OpProblem) -> SparseRows {
        try checkSeparableSize(outputs: axes.map(\.outputs), terms: axes.map(\.terms), "the map")
        var offsets = [0, 1], index = [0], weight = [1.0]
        for axis in axes {
            let outputs = (offsets.count - 1) * axis.outputs
            var nextOffsets = [0], nextIndex: [Int] = [], nextWeight: [Double] = []
            nextOffsets.reserveCapacity(outputs + 1)
            nextIndex.reserveCapacity(index.count * axis.terms)
            nextWeight.reserveCapacity(index.count * axis.terms)
            for p in 0..<(offsets.count - 1) {
                for o in 0..<axis.outputs {
                    for e in offsets[p]..<offsets[p + 1] {
                        for a in axis.offsets[o]..<axis.offsets[o + 1] {
                            nextIndex.append(index[e] + axis.offset[a])
                            nextWeight.append(weight[e] * axis.weight[a])
                        }
                    }
                    nextOffsets.append(nextIndex.count)
                }
            }
            (offsets, index, weight) = (nextOffsets, nextIndex, nextWeight)
        }
        return SparseRows(offsets: offsets, index: index, weight: weight)
    }

    /// The cheapest ``IndexMap/Part`` for this map from an input of `inputCount` elements: the input itself, a gather
    /// (at most one term of weight 1 per output), or the general sum.
    func part(inputCount: Int) -> IndexMap.Part {
        let n = outputs
        var gather = true, everyOutputOnce = true
        for j in 0..<n {
            let c = offsets[j + 1] - offsets[j]
            if c > 1 {
                gather = false
                break
            }
            if c == 0 { everyOutputOnce = false }
        }
        let unit = weight.allSatisfy { $0 == 1 }
        guard gather && unit else { return .sum(offsets: offsets, index: index, weight: unit ? nil : weight) }
        if everyOutputOnce && inputCount == n && index.elementsEqual(0..<n) { return .same }
        var g = [Int](repeating: -1, count: n)
        for j in 0..<n where offsets[j + 1] > offsets[j] { g[j] = index[offsets[j]] }
        return .gather(g)
    }
}

// MARK: - The map and its derivatives

/// A linear map y = Σ_k A_k x_k from the per-sample elements of an op's inputs to its output's, precomputed at bind
/// time (one ``Part`` per input). It applies to batches with the row rules of ``BoundOp`` and ``OpPoint``: every
/// present input has R rows or one (the same for every row), and the result has R rows (one when all have one).
struct IndexMap: Sendable {
    /// How one input reaches the output.
    enum Part: Sendable {
        /// Output element j is the input's element j: a reshape, passed on without a copy when it is the only term.
        case same
        /// Output element j is the input's element index[j]; nothing of this input when index[j] < 0.
        case gather([Int])
        /// Output element j is Σ weight[e] · x[index[e]] over e in offsets[j]..<offsets[j+1] (weight nil: all 1).
        case sum(offsets: [Int], index: [Int], weight: [Double]?)
    }

    let inputCounts: [Int]
    let outputCount: Int
    let parts: [Part]

    /// y = Σ_k A_k x_k, a nil x_k being zero; nil when every x_k is nil.
    func apply(_ xs: [Matrix?]) -> Matrix? {
        precondition(xs.count == parts.count, "IndexMap: \(xs.count) inputs for \(parts.count)")
        var rows = 0, present = 0, last = 0
        for (k, x) in xs.enumerated() {
            guard let x else { continue }
            precondition(x.columns == inputCounts[k], "IndexMap: input \(k) has \(x.columns) columns, not \(inputCounts[k])")
            rows = present == 0 ? x.rows : max(rows, x.rows)
            present += 1
            last = k
        }
        guard present > 0 else { return nil }
        if present == 1, case .same = parts[last] { return xs[last] }
        let n = outputCount
        var out = [Double](repeating: 0, count: rows * n)
        out.withUnsafeMutableBufferPointer { o in
            // The one-row inputs once, into row 0, copied to every row; then the batched inputs row by row.
            var oneRow = false
            for (k, x) in xs.enumerated() {
                guard let x, x.rows == 1 else { continue }
                accumulate(k, x, rows: 0..<1, into: o)
                oneRow = true
            }
            if oneRow && rows > 1 {
                for r in 1..<rows {
                    for j in 0..<n { o[r * n + j] = o[j] }
                }
            }
            for (k, x) in xs.enumerated() {
                guard let x, x.rows != 1 else { continue }
                precondition(x.rows == rows, "IndexMap: input \(k) has \(x.rows) rows, not 1 or \(rows)")
                accumulate(k, x, rows: 0..<rows, into: o)
            }
        }
        return Matrix(rows: rows, columns: n, elements: out)
    }

    /// Adds A_k x to rows `rows` of `o` (row r of x, or its only row).
    private func accumulate(_ k: Int, _ x: Matrix, rows: Range<Int>, into o: UnsafeMutableBufferPointer<Double>) {
        let m = inputCounts[k], n = outputCount, step = x.rows == 1 ? 0 : m
        x.elements.withUnsafeBufferPointer { xb in
            switch parts[k] {
            case .same:
                for r in rows {
                    let (s, d) = (r * step, r * n)
                    for j in 0..<n { o[d + j] += xb[s + j] }
                }
            case .gather(let index):
                index.withUnsafeBufferPointer { ib in
                    for r in rows {
                        let (s, d) = (r * step, r * n)
                        for j in 0..<n where ib[j] >= 0 { o[d + j] += xb[s + ib[j]] }
                    }
                }
            case .sum(let offsets, let index, let weight):
                offsets.withUnsafeBufferPointer { ob in
                    index.withUnsafeBufferPointer { ib in
                        for r in rows {
                            let (s, d) = (r * step, r * n)
                            for j in 0..<n {
                                var acc = 0.0
                                if let weight {
                                    for e in ob[j]..<ob[j + 1] { acc += weight[e] * xb[s + ib[e]] }
                                } else {
                                    for e in ob[j]..<ob[j + 1] { acc += xb[s + ib[e]] }
                                }
                                o[d + j] += acc
                            }
                        }
                    }
                }
            }
        }
    }

    /// Input k's cotangent A_kᵀ g (scatter-add), per row of g; for a shared input in a summed pass, A_kᵀ (Σ_rows g) once.
    func adjoint(_ g: Matrix, input k: Int, shared: Bool, sumShared: Bool) -> Matrix {
        precondition(g.columns == outputCount, "IndexMap: cotangent has \(g.columns) columns, not \(outputCount)")
        let g = shared && sumShared ? g.rowSum : g
        let m = inputCounts[k], n = outputCount
        if case .same = parts[k] { return finishCotangent(g, shared: shared, sumShared: sumShared) }
        var c = [Double](repeating: 0, count: g.rows * m)
        c.withUnsafeMutableBufferPointer { cb in
            g.elements.withUnsafeBufferPointer { gb in
                switch parts[k] {
                case .same:
                    break
                case .gather(let index):
                    index.withUnsafeBufferPointer { ib in
                        for r in 0..<g.rows {
                            let (s, d) = (r * m, r * n)
                            for j in 0..<n where ib[j] >= 0 { cb[s + ib[j]] += gb[d + j] }
                        }
                    }
                case .sum(let offsets, let index, let weight):
                    offsets.withUnsafeBufferPointer { ob in
                        index.withUnsafeBufferPointer { ib in
                            for r in 0..<g.rows {
                                let (s, d) = (r * m, r * n)
                                for j in 0..<n {
                                    let v = gb[d + j]
                                    if let weight {
                                        for e in ob[j]..<ob[j + 1] { cb[s + ib[e]] += weight[e] * v }
                                    } else {
                                        for e in ob[j]..<ob[j + 1] { cb[s + ib[e]] += v }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return finishCotangent(Matrix(rows: g.rows, columns: m, elements: c), shared: shared, sumShared: sumShared)
    }
}

/// An op bound as a fixed linear map of its inputs.
struct BoundIndexMap: BoundOp {
    let outputShape: [Int]
    let map: IndexMap
    let shared: [Bool]

    /// The map from `inputs` (shapes already checked) whose parts are the given separable maps, one list per input.
    init(_ inputs: [OpInput], outputShape: [Int], axes: [[AxisMap]]) throws(OpProblem) {
        var parts: [IndexMap.Part] = []
        for (input, axes) in zip(inputs, axes) { parts.append(try SparseRows.product(axes).part(inputCount: input.count)) }
        self.init(inputs, outputShape: outputShape, parts: parts)
    }

    /// The one input, element for element, under another shape (no data change, no copy).
    init(reshaping input: OpInput, to outputShape: [Int]) {
        self.init([input], outputShape: outputShape, parts: [.same])
    }

    init(_ inputs: [OpInput], outputShape: [Int], parts: [IndexMap.Part]) {
        self.outputShape = outputShape
        map = IndexMap(inputCounts: inputs.map(\.count), outputCount: outputShape.reduce(1, *), parts: parts)
        shared = inputs.map(\.shared)
    }

    func evaluate(_ inputs: [Matrix]) -> Matrix { map.apply(inputs.map { Optional($0) })! }

    func linearize(_ inputs: [Matrix]) -> (value: Matrix, point: any OpPoint) {
        (evaluate(inputs), IndexMapPoint(map: map, shared: shared))
    }
}

/// The derivative of a linear op is the op itself: JVP applies the map, VJP its transpose. Nothing depends on the
/// samples.
struct IndexMapPoint: OpPoint {
    let map: IndexMap
    let shared: [Bool]

    func jvp(_ tangents: [Matrix?]) -> Matrix? { map.apply(tangents) }

    func vjp(_ g: Matrix, wanted: [Bool], sumShared: Bool) -> [Matrix?] {
        shared.indices.map { k in wanted[k] ? map.adjoint(g, input: k, shared: shared[k], sumShared: sumShared) : nil }
    }

    func selectingSamples(_ rows: [Int]) -> any OpPoint { self }
}

// MARK: - Pooling windows

/// The windows of a 2-D pooling op (AveragePool, MaxPool) on a per-sample [C, H, W]: attributes `kernel_shape`
/// [kh, kw], `strides` [sh, sw] (default [1, 1]) and `pads` [top, left, bottom, right] (ONNX's layout: all begins, then
/// all ends; default 0). Output [C, OH, OW] with OH = ⌊(H + top + bottom − kh) / sh⌋ + 1 (ONNX's `ceil_mode` 0);
/// window (oh, ow) covers rows oh·sh − top ..< oh·sh − top + kh and columns likewise. Each pad must be smaller than
/// the kernel along its axis, so that every window holds at least one element of the input.
struct PoolWindows: Sendable, Equatable {
    let kernel: [Int]
    let strides: [Int]
    let pads: [Int]

    init(kernel: [Int], strides: [Int] = [1, 1], pads: [Int] = [0, 0, 0, 0]) throws(OpProblem) {
        guard kernel.count == 2, kernel.allSatisfy({ $0 >= 1 }) else {
            throw OpProblem("kernel_shape \(shapeText(kernel)) is not [kh, kw] with both ≥ 1")
        }
        guard strides.count == 2, strides.allSatisfy({ $0 >= 1 }) else {
            throw OpProblem("strides \(shapeText(strides)) is not [sh, sw] with both ≥ 1")
        }
        guard pads.count == 4, pads.allSatisfy({ $0 >= 0 }) else {
            throw OpProblem("pads \(shapeText(pads)) is not [top, left, bottom, right] with all ≥ 0")
        }
        guard pads[0] < kernel[0], pads[2] < kernel[0], pads[1] < kernel[1], pads[3] < kernel[1] else {
            throw OpProblem(
                "pads \(shapeText(pads)) are not smaller than kernel_shape \(shapeText(kernel)) (a window would lie in the padding)")
        }
        (self.kernel, self.strides, self.pads) = (kernel, strides, pads)
    }

    /// Reads `kernel_shape`, `strides` and `pads`.
    init(_ reader: inout AttributeReader) throws(OpProblem) {
        try self.init(
            kernel: reader.ints("kernel_shape"), strides: reader.ints("strides", default: [1, 1]),
            pads: reader.ints("pads", default: [0, 0, 0, 0]))
    }

    var attributes: [String: GraphAttribute] { ["kernel_shape": .ints(kernel), "strides": .ints(strides), "pads": .ints(pads)] }

    /// How a window's terms are weighted.
    enum Weights {
        /// 1 (MaxPool's candidates).
        case one
        /// 1 / (kh · kw): padding counts (`count_include_pad` 1).
        case kernel
        /// 1 / (the window's elements inside the input) (`count_include_pad` 0).
        case inside
    }

    /// The output shape and the separable window map: C one to one, H and W by windows.
    func map(_ input: OpInput, weights: Weights) throws(OpProblem) -> (outputShape: [Int], axes: [AxisMap]) {
        let shape = input.shape
        guard shape.count == 3 else { throw OpProblem("input \(shapeText(shape)) is not [C, H, W]") }
        var out = [shape[0]]
        for d in 0..<2 {
            let (a, o1) = shape[d + 1].addingReportingOverflow(pads[d])
            let (padded, o2) = a.addingReportingOverflow(pads[d + 2])
            guard !o1, !o2 else { throw OpProblem("pads \(shapeText(pads)) are too large") }
            guard padded >= kernel[d] else {
                let input = shapeText(Array(shape[1...]))
                throw OpProblem("kernel_shape \(shapeText(kernel)) is larger than the padded input \(input) (pads \(shapeText(pads)))")
            }
            out.append((padded - kernel[d]) / strides[d] + 1)
        }
        _ = try checkedOutputCount(out)
        // The terms, counted before anything is allocated.
        func window(_ d: Int, _ o: Int) -> Range<Int> {
            let start = o * strides[d] - pads[d]
            return max(start, 0)..<min(start + kernel[d], shape[d + 1])
        }
        var terms = [shape[0]]
        for d in 0..<2 {
            var total = 0
            for o in 0..<out[d + 1] {
                total += window(d, o).count
                if total > opElementLimit { break }
            }
            terms.append(total)
        }
        try checkSeparableSize(
            outputs: out, terms: terms, "kernel_shape \(shapeText(kernel)) over output \(shapeText(out)) from \(shapeText(shape))")
        let inputStrides = rowMajorStrides(shape)
        var axes = [AxisMap.identity(shape[0], stride: inputStrides[0])]
        for d in 0..<2 {
            var axis = AxisMap()
            for o in 0..<out[d + 1] {
                let w = window(d, o)
                let weight =
                    switch weights {
                    case .one: 1.0
                    case .kernel: 1 / Double(kernel[d])
                    case .inside: 1 / Double(w.count)
                    }
                for i in w { axis.add(i * inputStrides[d + 1], weight: weight) }
                axis.close()
            }
            axes.append(axis)
        }
        return (out, axes)
    }
}

// MARK: - Reductions

/// ReduceSum and ReduceMean over per-sample axes: y = Σ x (or its mean) over the axes in `axes` (negative ones count
/// from the end; empty: every axis, as ONNX without axes), each reduced axis kept with size 1 (`keepdims` 1, the
/// default) or removed (`keepdims` 0; every axis removed leaves a scalar, shape []). Linear: ẏ is the same reduction of
/// ẋ, and x̄ spreads ȳ back over each reduced group (times 1/n for the mean).
public protocol ReductionOp: GraphOp {
    /// True for the mean (each term weighted 1/n, n the reduced group's size), false for the sum.
    static var averages: Bool { get }
    var axes: [Int] { get }
    var keepdims: Bool { get }
    init(axes: [Int], keepdims: Bool)
}

extension ReductionOp {
    public var attributes: [String: GraphAttribute] { ["axes": .ints(axes), "keepdims": .int(keepdims ? 1 : 0)] }

    public init(attributes: [String: GraphAttribute]) throws(OpProblem) {
        var reader = AttributeReader(attributes)
        let axes = try reader.ints("axes", default: [])
        let keep = try reader.int("keepdims", default: 1)
        try reader.finish()
        guard keep == 0 || keep == 1 else { throw OpProblem("keepdims = \(keep) is not 0 or 1") }
        self.init(axes: axes, keepdims: keep == 1)
    }

    public func bind(_ inputs: [OpInput]) throws(OpProblem) -> any BoundOp {
        try expectInputs(inputs, 1...1)
        try checkInputShapes(inputs)
        let shape = inputs[0].shape
        let reduced = Set(
            axes.isEmpty
                ? Array(shape.indices) : try normalizedAxes(axes, rank: shape.count, "axes \(shapeText(axes)) of \(shapeText(shape))"))
        let strides = rowMajorStrides(shape)
        var out: [Int] = [], maps: [AxisMap] = []
        for (d, n) in shape.enumerated() {
            guard reduced.contains(d) else {
                out.append(n)
                maps.append(.identity(n, stride: strides[d]))
                continue
            }
            if keepdims { out.append(1) }
            var axis = AxisMap()
            for i in 0..<n { axis.add(i * strides[d], weight: Self.averages ? 1 / Double(n) : 1) }
            axis.close()
            maps.append(axis)
        }
        return try BoundIndexMap(inputs, outputShape: out, axes: [maps])
    }
}
