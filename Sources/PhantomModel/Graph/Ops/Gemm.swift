import PhantomLinearAlgebra

extension GraphOps {
    /// `Gemm` (a linear layer): y = α a·op(B) + β c per sample, a ∈ R^K the sample's row, op(B) = Bᵀ with `transB` = 1
    /// (PyTorch's Linear: B = W [N, K]) or B [K, N], c ∈ R^N (or one number) optional. `transA` must be 0 (the batch is
    /// the rows of A). Either operand may be a parameter or an activation; with B and c shared it is one GEMM over the
    /// batch, and B's per-sample gradient is the outer product α g ⊗ a (docs/FactoredGradients.md).
    public struct Gemm: GraphOp {
        public static let type = "Gemm"
        public let alpha: Double, beta: Double
        public let transB: Bool

        public init(alpha: Double = 1, beta: Double = 1, transB: Bool = true) {
            (self.alpha, self.beta, self.transB) = (alpha, beta, transB)
        }

        public init(attributes: [String: GraphAttribute]) throws(OpProblem) {
            var reader = AttributeReader(attributes)
            alpha = try reader.float("alpha", default: 1)
            beta = try reader.float("beta", default: 1)
            let transA = try reader.int("transA", default: 0)
            guard transA == 0 else { throw OpProblem("transA = \(transA) is not implemented (only 0: samples are rows)") }
            let t = try reader.int("transB", default: 0)
            guard t == 0 || t == 1 else { throw OpProblem("transB = \(t) is not 0 or 1") }
            transB = t == 1
            try reader.finish()
        }

        public var attributes: [String: GraphAttribute] {
            ["alpha": .float(alpha), "beta": .float(beta), "transA": .int(0), "transB": .int(transB ? 1 : 0)]
        }

        public func bind(_ inputs: [OpInput]) throws(OpProblem) -> any BoundOp {
            try expectInputs(inputs, 2...3)
            let a = inputs[0].shape, b = inputs[1].shape
            guard a.count == 1 || (a.count == 2 && a[0] == 1) else { throw OpProblem("A must be one row per sample, got \(shapeText(a))") }
            guard b.count == 2 else { throw OpProblem("B must be a matrix, got \(shapeText(b))") }
            let k = a[a.count - 1]
            let (kb, n) = transB ? (b[1], b[0]) : (b[0], b[1])
            guard k == kb else { throw OpProblem("A \(shapeText(a)) and B \(shapeText(b)) (transB = \(transB ? 1 : 0)) do not fit") }
            if inputs.count == 3 {
                let c = inputs[2].shape
                guard c.reduce(1, *) == 1 || c == [n] || c == [1, n] else {
                    throw OpProblem("C \(shapeText(c)) is not [\(n)] or one number")
                }
            }
            return BoundGemm(
                op: self, k: k, n: n, outputShape: a.count == 1 ? [n] : [1, n], shared: inputs.map(\.shared),
                cCount: inputs.count == 3 ? inputs[2].count : n)
        }
    }
}

struct BoundGemm: BoundOp, RowLinearBoundOp {
    let op: GraphOps.Gemm
    let k: Int, n: Int
    let outputShape: [Int]
    let shared: [Bool]
    /// The number of values in c (N, or 1 for one number broadcast).
    let cCount: Int

    /// y_r = Σ_k W[r, k] a_k + c_r: row r reads row r of W and c_r alone.
    var isRowLinear: Bool { op.transB && op.alpha == 1 && op.beta == 1 && !shared[0] && cCount == n && outputShape.count == 1 }

    /// α a·op(B) (+ β c).
    func product(_ a: Matrix, _ b: Matrix, _ c: Matrix?) -> Matrix {
        var out = Matrix(zeros: max(a.rows, b.rows), n)
        batchedGemm(
            BlockOperand(matrix: a, rows: 1, columns: k, transposed: false, lead: [0]),
            BlockOperand(matrix: b, rows: op.transB ? n : k, columns: op.transB ? k : n, transposed: op.transB, lead: [0]),
            into: &out, outLead: [0])
        if op.alpha != 1 { out = op.alpha * out }
        if let c { out = addBroadcasting(out, scaledBias(c))! }
        return out
    }

    /// β c as a batch of rows of width N.
    func scaledBias(_ c: Matrix) -> Matrix {
        var c = c.columns == n ? c : Matrix(rows: c.rows, columns: n, elements: c.elements.flatMap { [Double](repeating: $0, count: n) })
        if op.beta != 1 { c = op.beta * c }
        return c
    }

    func evaluate(_ inputs: [Matrix]) -> Matrix { product(inputs[0], inputs[1], inputs.count > 2 ? inputs[2] : nil) }

    func linearize(_ inputs: [Matrix]) -> (value: Matrix, point: any OpPoint) {
        (evaluate(inputs), GemmPoint(bound: self, a: inputs[0], b: inputs[1]))
    }
}

struct GemmPoint: OpPoint {
    let bound: BoundGemm
    let a: Matrix, b: Matrix

    func jvp(_ tangents: [Matrix?]) -> Matrix? {
        var out: Matrix?
        if let da = tangents[0] { out = bound.product(da, b, nil) }
        if let db = tangents[1] { out = addBroadcasting(out, bound.product(a, db, nil)) }
        if tangents.count > 2, let dc = tangents[2] { out = addBroadcasting(out, bound.scaledBias(dc)) }
        return out
    }

    func vjp(_ g: Matrix, wanted: [Bool], sumShared: Bool) -> [Matrix?] {
        let (k, n, op) = (bound.k, bound.n, bound.op)
        let g = op.alpha == 1 ? g : op.alpha * g
        var result = [Matrix?](repeating: nil, count: wanted.count)
        func rows(_ input: Int, _ other: Matrix) -> Int { bound.shared[input] && sumShared ? 1 : max(g.rows, other.rows) }
        if wanted[0] {
            var ca = Matrix(zeros: rows(0, b), k)
            batchedGemm(
                BlockOperand(matrix: g, rows: 1, columns: n, transposed: false, lead: [0]),
                BlockOperand(matrix: b, rows: op.transB ? n : k, columns: op.transB ? k : n, transposed: !op.transB, lead: [0]),
                into: &ca, outLead: [0])
            result[0] = ca
        }
        if wanted[1] {
            var cb = Matrix(zeros: rows(1, a), k * n)
            let gOp = BlockOperand(matrix: g, rows: 1, columns: n, transposed: op.transB, lead: [0])
            let aOp = BlockOperand(matrix: a, rows: 1, columns: k, transposed: !op.transB, lead: [0])
            // B̄ = gᵀ a ([N, K]) with transB, else aᵀ g ([K, N]).
            if op.transB { batchedGemm(gOp, aOp, into: &cb, outLead: [0]) } else { batchedGemm(aOp, gOp, into: &cb, outLead: [0]) }
            result[1] = cb
        }
        if wanted.count > 2 && wanted[2] {
            let gc = op.alpha == 1 ? g : (1 / op.alpha) * g  // c's cotangent is β g, without α
            var c = bound.cCount == n ? gc : Matrix(rows: gc.rows, columns: 1, elements: (0..<gc.rows).map { r in gc.row(r).reduce(0, +) })
            if op.beta != 1 { c = op.beta * c }
            result[2] = finishCotangent(c, shared: bound.shared[2], sumShared: sumShared)
        }
        return result
    }

    func selectingSamples(_ rows: [Int]) -> any OpPoint {
        GemmPoint(bound: bound, a: a.selectingSampleRows(rows), b: b.selectingSampleRows(rows))
    }

    /// B's per-sample gradient: α g ⊗ a ([N, K], transB) or a ⊗ α g ([K, N]).
    func factor(_ g: Matrix, input k: Int) -> ParameterFactors.Part? {
        guard k == 1 else { return nil }
        let g = bound.op.alpha == 1 ? g : bound.op.alpha * g
        let a = self.a.expandingRows(to: g.rows)
        return bound.op.transB ? .outer(delta: g, input: a, bias: false) : .outer(delta: a, input: g, bias: false)
    }
}
