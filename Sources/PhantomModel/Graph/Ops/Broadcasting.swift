import PhantomLinearAlgebra

/// NumPy (ONNX multidirectional) broadcasting of two per-sample shapes: aligned from the right, each dimension equal
/// or 1. The index maps give, for each output element, the element of each input it reads (nil: the same index).
struct Broadcast: Sendable {
    let outputShape: [Int]
    let indexA: [Int]?
    let indexB: [Int]?

    init(_ a: [Int], _ b: [Int]) throws(OpProblem) {
        let rank = max(a.count, b.count)
        let pa = [Int](repeating: 1, count: rank - a.count) + a, pb = [Int](repeating: 1, count: rank - b.count) + b
        var out: [Int] = []
        for (x, y) in zip(pa, pb) {
            guard x == y || x == 1 || y == 1 else {
                throw OpProblem("shapes \(shapeText(a)) and \(shapeText(b)) do not broadcast")
            }
            out.append(max(x, y))
        }
        outputShape = out
        indexA = pa == out ? nil : Broadcast.indexMap(pa, out)
        indexB = pb == out ? nil : Broadcast.indexMap(pb, out)
    }

    /// For each output element (row-major over `out`), the row-major index into `shape` (dimensions of 1 repeat).
    static func indexMap(_ shape: [Int], _ out: [Int]) -> [Int] {
        let count = out.reduce(1, *)
        var strides = [Int](repeating: 0, count: shape.count)
        var s = 1
        for k in stride(from: shape.count - 1, through: 0, by: -1) {
            strides[k] = shape[k] == 1 ? 0 : s
            s *= shape[k]
        }
        var map = [Int](repeating: 0, count: count)
        var coordinate = [Int](repeating: 0, count: out.count)
        for j in 0..<count {
            var idx = 0
            for k in 0..<out.count { idx += coordinate[k] * strides[k] }
            map[j] = idx
            var k = out.count - 1
            while k >= 0 {
                coordinate[k] += 1
                if coordinate[k] < out[k] { break }
                coordinate[k] = 0
                k -= 1
            }
        }
        return map
    }
}

extension Matrix {
    /// Columns gathered: column j of the result is column index[j] of self (nil: self).
    func gatheringColumns(_ index: [Int]?) -> Matrix {
        guard let index else { return self }
        var out = [Double](repeating: 0, count: rows * index.count)
        elements.withUnsafeBufferPointer { e in
            for r in 0..<rows {
                let base = r * columns, to = r * index.count
                for (j, i) in index.enumerated() { out[to + j] = e[base + i] }
            }
        }
        return Matrix(rows: rows, columns: index.count, elements: out)
    }

    /// The adjoint of ``gatheringColumns(_:)``: column index[j] of the result accumulates column j of self; with
    /// `sumRows`, every row into one, in one running sum per column over (row, j) in order — the order a convolution's
    /// bias gradient sums in (``Conv2d``), so a bias added after a sum has the same gradient to the last bit.
    func scatteringColumns(_ index: [Int]?, count: Int, sumRows: Bool = false) -> Matrix {
        guard let index else { return sumRows ? rowSum : self }
        let outRows = sumRows ? 1 : rows
        var out = [Double](repeating: 0, count: outRows * count)
        elements.withUnsafeBufferPointer { e in
            for r in 0..<rows {
                let base = r * columns, to = sumRows ? 0 : r * count
                for (j, i) in index.enumerated() { out[to + i] += e[base + j] }
            }
        }
        return Matrix(rows: outRows, columns: count, elements: out)
    }

    /// Selects rows of a batch, leaving a one-row (shared) matrix as it is.
    func selectingSampleRows(_ rows: [Int]) -> Matrix { self.rows == 1 ? self : selectingRows(rows) }
}

/// The partial derivative of a binary element-wise op with respect to one operand.
public enum BinaryPartial: Sendable {
    case one
    case minusOne
    /// Per output element (row-broadcast).
    case values(Matrix)

    func times(_ t: Matrix) -> Matrix {
        switch self {
        case .one: t
        case .minusOne: -1 * t
        case .values(let m): multiplyBroadcasting(t, m)
        }
    }

    func selectingSamples(_ rows: [Int]) -> BinaryPartial {
        if case .values(let m) = self { return .values(m.selectingSampleRows(rows)) }
        return self
    }
}

/// A binary element-wise op with broadcasting (Add, Sub, Mul, Div): it gives the value and the two partials for
/// operands already broadcast to the output's shape; binding, JVP and VJP come from here.
public protocol BinaryElementwiseOp: GraphOp {
    /// y = a ∘ b and ∂y/∂a, ∂y/∂b, element by element (a and b of the output's columns; rows 1 or B).
    func combine(_ a: Matrix, _ b: Matrix) -> (value: Matrix, da: BinaryPartial, db: BinaryPartial)
    /// Whether y = a + b (the structure analysis looks through sums).
    static var isSum: Bool { get }
}

extension BinaryElementwiseOp {
    public static var isSum: Bool { false }

    public func bind(_ inputs: [OpInput]) throws(OpProblem) -> any BoundOp {
        try expectInputs(inputs, 2...2)
        return BoundBinary(
            op: self, broadcast: try Broadcast(inputs[0].shape, inputs[1].shape),
            counts: [inputs[0].count, inputs[1].count], shared: [inputs[0].shared, inputs[1].shared])
    }
}

struct BoundBinary<Op: BinaryElementwiseOp>: BoundOp, AdditiveBoundOp {
    let op: Op
    let broadcast: Broadcast
    let counts: [Int]
    let shared: [Bool]
    var outputShape: [Int] { broadcast.outputShape }
    /// An Add whose operands have the output's shape.
    var isPlainSum: Bool { Op.isSum && broadcast.indexA == nil && broadcast.indexB == nil }

    private func operands(_ inputs: [Matrix]) -> (Matrix, Matrix) {
        let r = max(inputs[0].rows, inputs[1].rows)
        var a = inputs[0].gatheringColumns(broadcast.indexA), b = inputs[1].gatheringColumns(broadcast.indexB)
        // Rows are broadcast by the partial products; the value needs both at r rows unless they agree.
        if a.rows != b.rows { (a, b) = (a.expandingRows(to: r), b.expandingRows(to: r)) }
        return (a, b)
    }

    func evaluate(_ inputs: [Matrix]) -> Matrix {
        let (a, b) = operands(inputs)
        return op.combine(a, b).value
    }

    func linearize(_ inputs: [Matrix]) -> (value: Matrix, point: any OpPoint) {
        let (a, b) = operands(inputs)
        let (y, da, db) = op.combine(a, b)
        return (y, BinaryPoint(bound: self, partials: [da, db]))
    }
}

struct BinaryPoint<Op: BinaryElementwiseOp>: OpPoint {
    let bound: BoundBinary<Op>
    let partials: [BinaryPartial]

    private var indices: [[Int]?] { [bound.broadcast.indexA, bound.broadcast.indexB] }

    func jvp(_ tangents: [Matrix?]) -> Matrix? {
        var out: Matrix?
        for k in 0..<2 {
            guard let t = tangents[k] else { continue }
            out = addBroadcasting(out, partials[k].times(t.gatheringColumns(indices[k])))
        }
        return out
    }

    func vjp(_ g: Matrix, wanted: [Bool], sumShared: Bool) -> [Matrix?] {
        (0..<2).map { k in
            guard wanted[k] else { return nil }
            let sum = bound.shared[k] && sumShared
            return partials[k].times(g).scatteringColumns(indices[k], count: bound.counts[k], sumRows: sum)
        }
    }

    func selectingSamples(_ rows: [Int]) -> any OpPoint {
        BinaryPoint(bound: bound, partials: partials.map { $0.selectingSamples(rows) })
    }
}
