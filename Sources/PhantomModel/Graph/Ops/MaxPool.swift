import PhantomLinearAlgebra

extension GraphOps {
    /// `MaxPool` on a per-sample [C, H, W]: y[c, oh, ow] = max x[c, h, w] over the window's (h, w) inside the input
    /// (padding never wins: it is −∞, and every window holds an element of the input). Piecewise linear: the point
    /// records, per sample and output, the argmax a (the first maximum in the window's row-major scan — top row first,
    /// left to right — on ties); ẏ[c, oh, ow] = ẋ[a] (a gather) and x̄[a] += ȳ[c, oh, ow] (a scatter).
    ///
    /// Attributes: `kernel_shape` [kh, kw] (required), `strides` [sh, sw] (default [1, 1]) and `pads` [top, left,
    /// bottom, right] (default 0; each smaller than the kernel along its axis); the window geometry is ``PoolWindows``
    /// (ONNX's `ceil_mode` 0, no `dilations`, `storage_order` or `auto_pad`).
    public struct MaxPool: GraphOp {
        public static let type = "MaxPool"
        let windows: PoolWindows

        public var kernelShape: [Int] { windows.kernel }
        public var strides: [Int] { windows.strides }
        public var pads: [Int] { windows.pads }

        public init(kernelShape: [Int], strides: [Int] = [1, 1], pads: [Int] = [0, 0, 0, 0]) throws(OpProblem) {
            windows = try PoolWindows(kernel: kernelShape, strides: strides, pads: pads)
        }

        public init(attributes: [String: GraphAttribute]) throws(OpProblem) {
            var reader = AttributeReader(attributes)
            windows = try PoolWindows(&reader)
            try reader.finish()
        }

        public var attributes: [String: GraphAttribute] { windows.attributes }

        public func bind(_ inputs: [OpInput]) throws(OpProblem) -> any BoundOp {
            try expectInputs(inputs, 1...1)
            try checkInputShapes(inputs)
            let (out, maps) = try windows.map(inputs[0], weights: .one)
            var candidates = try SparseRows.product(maps)
            candidates.weight = []  // all 1, unused
            return BoundMaxPool(outputShape: out, windows: candidates, inputCount: inputs[0].count, shared: inputs[0].shared)
        }
    }
}

struct BoundMaxPool: BoundOp {
    let outputShape: [Int]
    /// Each output's candidates (the window inside the input), in scan order; every window has at least one.
    let windows: SparseRows
    let inputCount: Int
    let shared: Bool

    func linearize(_ inputs: [Matrix]) -> (value: Matrix, point: any OpPoint) {
        let x = inputs[0], m = inputCount, n = windows.outputs
        precondition(x.columns == m, "MaxPool: input has \(x.columns) columns, not \(m)")
        var y = [Double](repeating: 0, count: x.rows * n), argmax = [Int](repeating: 0, count: x.rows * n)
        y.withUnsafeMutableBufferPointer { yb in
            argmax.withUnsafeMutableBufferPointer { ab in
                x.elements.withUnsafeBufferPointer { xb in
                    windows.offsets.withUnsafeBufferPointer { ob in
                        windows.index.withUnsafeBufferPointer { ib in
                            for r in 0..<x.rows {
                                let s = r * m
                                for j in 0..<n {
                                    var best = ib[ob[j]], value = xb[s + best]
                                    for e in (ob[j] + 1)..<ob[j + 1] where xb[s + ib[e]] > value {
                                        best = ib[e]
                                        value = xb[s + best]
                                    }
                                    yb[r * n + j] = value
                                    ab[r * n + j] = best
                                }
                            }
                        }
                    }
                }
            }
        }
        let point = MaxPoolPoint(argmax: argmax, rows: x.rows, inputCount: m, outputCount: n, shared: shared)
        return (Matrix(rows: x.rows, columns: n, elements: y), point)
    }
}

/// MaxPool's derivative at a batch: a gather of each sample's argmaxes (one row of them for a shared input).
struct MaxPoolPoint: OpPoint {
    /// rows × outputCount input indices.
    let argmax: [Int]
    let rows: Int
    let inputCount: Int
    let outputCount: Int
    let shared: Bool

    func jvp(_ tangents: [Matrix?]) -> Matrix? {
        guard let t = tangents[0] else { return nil }
        let (m, n) = (inputCount, outputCount), r = max(t.rows, rows)
        precondition(t.columns == m && (t.rows == 1 || t.rows == r) && (rows == 1 || rows == r), "MaxPool: tangent \(t.rows)×\(t.columns)")
        let tStep = t.rows == 1 ? 0 : m, aStep = rows == 1 ? 0 : n
        var out = [Double](repeating: 0, count: r * n)
        out.withUnsafeMutableBufferPointer { o in
            t.elements.withUnsafeBufferPointer { tb in
                argmax.withUnsafeBufferPointer { ab in
                    for q in 0..<r {
                        for j in 0..<n { o[q * n + j] = tb[q * tStep + ab[q * aStep + j]] }
                    }
                }
            }
        }
        return Matrix(rows: r, columns: n, elements: out)
    }

    func vjp(_ g: Matrix, wanted: [Bool], sumShared: Bool) -> [Matrix?] {
        guard wanted[0] else { return [nil] }
        // A shared input has one row of argmaxes: sum the cotangent's rows first, then scatter once.
        let g = shared && sumShared && rows == 1 ? g.rowSum : g
        let (m, n) = (inputCount, outputCount), r = max(g.rows, rows)
        precondition(
            g.columns == n && (g.rows == 1 || g.rows == r) && (rows == 1 || rows == r), "MaxPool: cotangent \(g.rows)×\(g.columns)")
        let gStep = g.rows == 1 ? 0 : n, aStep = rows == 1 ? 0 : n
        var c = [Double](repeating: 0, count: r * m)
        c.withUnsafeMutableBufferPointer { cb in
            g.elements.withUnsafeBufferPointer { gb in
                argmax.withUnsafeBufferPointer { ab in
                    for q in 0..<r {
                        for j in 0..<n { cb[q * m + ab[q * aStep + j]] += gb[q * gStep + j] }
                    }
                }
            }
        }
        return [finishCotangent(Matrix(rows: r, columns: m, elements: c), shared: shared, sumShared: sumShared)]
    }

    func selectingSamples(_ rows: [Int]) -> any OpPoint {
        guard self.rows > 1 else { return self }
        var selected: [Int] = []
        selected.reserveCapacity(rows.count * outputCount)
        for r in rows { selected += argmax[(r * outputCount)..<((r + 1) * outputCount)] }
        return MaxPoolPoint(argmax: selected, rows: rows.count, inputCount: inputCount, outputCount: outputCount, shared: shared)
    }
}
