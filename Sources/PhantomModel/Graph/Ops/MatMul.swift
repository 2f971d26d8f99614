import PhantomLinearAlgebra

extension GraphOps {
    /// `MatMul`: NumPy's matmul of two per-sample tensors A [..., m, k] and B [..., k, n] (leading dimensions broadcast;
    /// a rank-1 A is a row [1, k] and a rank-1 B a column [k, 1], their unit dimension dropped from the output). Either
    /// operand may be an activation or a parameter. dC = dA·B + A·dB; Ā = G·Bᵀ, B̄ = Aᵀ·G (summed over broadcast
    /// leading dimensions). A linear layer (A batched, B a parameter, no leading dimensions) is one GEMM over the batch.
    public struct MatMul: PlainOp {
        public static let type = "MatMul"
        public init() {}

        public func bind(_ inputs: [OpInput]) throws(OpProblem) -> any BoundOp {
            try expectInputs(inputs, 2...2)
            let (a, b) = (inputs[0].shape, inputs[1].shape)
            guard !a.isEmpty, !b.isEmpty else { throw OpProblem("operands must have rank ≥ 1, got \(shapeText(a)) and \(shapeText(b))") }
            let am = a.count == 1 ? [1] + a : a, bm = b.count == 1 ? b + [1] : b
            let (m, k) = (am[am.count - 2], am[am.count - 1]), (k2, n) = (bm[bm.count - 2], bm[bm.count - 1])
            guard k == k2 else { throw OpProblem("inner dimensions differ: \(shapeText(a)) · \(shapeText(b))") }
            let leadA = Array(am.dropLast(2)), leadB = Array(bm.dropLast(2))
            let lead = try Broadcast(leadA, leadB)
            let count = lead.outputShape.reduce(1, *)
            var out = lead.outputShape
            if a.count > 1 { out.append(m) }
            if b.count > 1 { out.append(n) }
            return BoundMatMul(
                m: m, k: k, n: n, outputShape: out, leadA: lead.indexA ?? Array(0..<count),
                leadB: lead.indexB ?? Array(0..<count), blocksA: leadA.reduce(1, *), blocksB: leadB.reduce(1, *),
                shared: [inputs[0].shared, inputs[1].shared], factorable: a.count == 1 && b.count == 2)
        }
    }
}

struct BoundMatMul: BoundOp {
    let m: Int, k: Int, n: Int
    let outputShape: [Int]
    let leadA: [Int], leadB: [Int]
    let blocksA: Int, blocksB: Int
    let shared: [Bool]
    /// A rank-1 A and a rank-2 B: B's per-sample gradient is the outer product a ⊗ g.
    let factorable: Bool

    var outCount: Int { leadA.count * m * n }
    var identity: [Int] { Array(0..<leadA.count) }

    func product(_ a: Matrix, _ b: Matrix) -> Matrix {
        var out = Matrix(zeros: max(a.rows, b.rows), outCount)
        batchedGemm(
            BlockOperand(matrix: a, rows: m, columns: k, transposed: false, lead: leadA),
            BlockOperand(matrix: b, rows: k, columns: n, transposed: false, lead: leadB), into: &out, outLead: identity)
        return out
    }

    func evaluate(_ inputs: [Matrix]) -> Matrix { product(inputs[0], inputs[1]) }

    func linearize(_ inputs: [Matrix]) -> (value: Matrix, point: any OpPoint) {
        (product(inputs[0], inputs[1]), MatMulPoint(bound: self, a: inputs[0], b: inputs[1]))
    }
}

struct MatMulPoint: OpPoint {
    let bound: BoundMatMul
    let a: Matrix, b: Matrix

    func jvp(_ tangents: [Matrix?]) -> Matrix? {
        var out: Matrix?
        if let da = tangents[0] { out = bound.product(da, b) }
        if let db = tangents[1] { out = addBroadcasting(out, bound.product(a, db)) }
        return out
    }

    func vjp(_ g: Matrix, wanted: [Bool], sumShared: Bool) -> [Matrix?] {
        let (m, k, n) = (bound.m, bound.k, bound.n)
        let gBlocks = BlockOperand(matrix: g, rows: m, columns: n, transposed: false, lead: bound.identity)
        var result: [Matrix?] = [nil, nil]
        if wanted[0] {
            // Ā = G·Bᵀ, accumulated into A's blocks.
            var ca = Matrix(zeros: bound.shared[0] && sumShared ? 1 : max(g.rows, b.rows), bound.blocksA * m * k)
            batchedGemm(
                gBlocks, BlockOperand(matrix: b, rows: k, columns: n, transposed: true, lead: bound.leadB), into: &ca, outLead: bound.leadA)
            result[0] = ca
        }
        if wanted[1] {
            // B̄ = Aᵀ·G, accumulated into B's blocks.
            var cb = Matrix(zeros: bound.shared[1] && sumShared ? 1 : max(g.rows, a.rows), bound.blocksB * k * n)
            batchedGemm(
                BlockOperand(matrix: a, rows: m, columns: k, transposed: true, lead: bound.leadA), gBlocks, into: &cb, outLead: bound.leadB)
            result[1] = cb
        }
        return result
    }

    func selectingSamples(_ rows: [Int]) -> any OpPoint {
        MatMulPoint(bound: bound, a: a.selectingSampleRows(rows), b: b.selectingSampleRows(rows))
    }

    /// B's per-sample gradient a_i ⊗ g_i when A is a row vector per sample.
    func factor(_ g: Matrix, input k: Int) -> ParameterFactors.Part? {
        guard k == 1, bound.factorable else { return nil }
        return .outer(delta: a.expandingRows(to: g.rows), input: g, bias: false)
    }
}
