import PhantomLinearAlgebra
import PhantomModel
import PhantomTestSupport
import Testing

/// One op bound to odd input shapes, some inputs shared (parameters) and some batched (activations).
struct OpCase: Sendable, CustomTestStringConvertible {
    let label: String
    let op: any GraphOp
    let inputs: [OpCheckInput]
    var testDescription: String { label }
    init(_ label: String, _ op: any GraphOp, _ inputs: [OpCheckInput]) { (self.label, self.op, self.inputs) = (label, op, inputs) }
}

@Sendable func positive(_ rng: inout SplitMix64) -> Double { 0.5 + rng.nextUniform() }

let elementwiseCases: [OpCase] = [
    OpCase("Neg", GraphOps.Neg(), [OpCheckInput([3, 5])]),
    OpCase("Relu", GraphOps.Relu(), [OpCheckInput([7])]),
    OpCase("LeakyRelu", GraphOps.LeakyRelu(alpha: 0.2), [OpCheckInput([2, 3])]),
    OpCase("Tanh", GraphOps.Tanh(), [OpCheckInput([5])]),
    OpCase("Tanh shared", GraphOps.Tanh(), [OpCheckInput([4], shared: true)]),
    OpCase("Sigmoid", GraphOps.Sigmoid(), [OpCheckInput([3, 2])]),
    OpCase("Softplus", GraphOps.Softplus(), [OpCheckInput([9])]),
    OpCase("Gelu", GraphOps.Gelu(), [OpCheckInput([6])]),
    OpCase("Exp", GraphOps.Exp(), [OpCheckInput([4])]),
    OpCase("Sqrt", GraphOps.Sqrt(), [OpCheckInput([5], draw: positive)]),
    OpCase("Add", GraphOps.Add(), [OpCheckInput([3, 4]), OpCheckInput([3, 4])]),
    OpCase("Add broadcast bias", GraphOps.Add(), [OpCheckInput([3, 2, 2]), OpCheckInput([3, 1, 1], shared: true)]),
    OpCase("Sub broadcast", GraphOps.Sub(), [OpCheckInput([1, 4], shared: true), OpCheckInput([3, 1])]),
    OpCase("Mul gates", GraphOps.Mul(), [OpCheckInput([5]), OpCheckInput([5])]),
    OpCase("Mul by parameter", GraphOps.Mul(), [OpCheckInput([2, 3]), OpCheckInput([3], shared: true)]),
    OpCase("Mul parameters", GraphOps.Mul(), [OpCheckInput([4], shared: true), OpCheckInput([4], shared: true)]),
    OpCase("Div by activation", GraphOps.Div(), [OpCheckInput([3, 3]), OpCheckInput([3, 3], draw: positive)]),
    OpCase("Div by constant", GraphOps.Div(), [OpCheckInput([4]), OpCheckInput([], shared: true, draw: positive)])
]

let linearCases: [OpCase] = [
    OpCase("MatMul linear", GraphOps.MatMul(), [OpCheckInput([5]), OpCheckInput([5, 3], shared: true)]),
    OpCase("MatMul tokens", GraphOps.MatMul(), [OpCheckInput([4, 5]), OpCheckInput([5, 3], shared: true)]),
    OpCase("MatMul activations", GraphOps.MatMul(), [OpCheckInput([4, 5]), OpCheckInput([5, 3])]),
    OpCase("MatMul attention heads", GraphOps.MatMul(), [OpCheckInput([2, 3, 4]), OpCheckInput([2, 4, 3])]),
    OpCase("MatMul broadcast lead", GraphOps.MatMul(), [OpCheckInput([2, 3, 4]), OpCheckInput([4, 5], shared: true)]),
    OpCase("MatMul parameter by activation", GraphOps.MatMul(), [OpCheckInput([3, 4], shared: true), OpCheckInput([4])]),
    OpCase("MatMul parameters", GraphOps.MatMul(), [OpCheckInput([3, 4], shared: true), OpCheckInput([4, 3], shared: true)]),
    OpCase("Gemm linear", GraphOps.Gemm(), [OpCheckInput([5]), OpCheckInput([3, 5], shared: true), OpCheckInput([3], shared: true)]),
    OpCase(
        "Gemm scaled, B not transposed", GraphOps.Gemm(alpha: 0.5, beta: 2, transB: false),
        [OpCheckInput([1, 4]), OpCheckInput([4, 3], shared: true), OpCheckInput([1], shared: true)]),
    OpCase("Gemm without bias", GraphOps.Gemm(), [OpCheckInput([6]), OpCheckInput([2, 6], shared: true)]),
    OpCase("Gemm activation weight", GraphOps.Gemm(), [OpCheckInput([3]), OpCheckInput([2, 3]), OpCheckInput([2])])
]

@Suite("Graph ops: derivatives through the op protocol")
struct GraphOpTests {
    static func expectReport(_ report: OpCheckReport, _ label: String) {
        #expect(report.finiteDifference < 1e-6, "\(label): \(report)")
        #expect(report.adjointness < 1e-12, "\(label): \(report)")
        #expect(report.batching < 1e-12, "\(label): \(report)")
        #expect(report.directions < 1e-12, "\(label): \(report)")
        #expect(report.sharedSums < 1e-12, "\(label): \(report)")
        #expect(report.factors < 1e-12, "\(label): \(report)")
    }

    @Test("element-wise and broadcasting ops", arguments: elementwiseCases)
    func elementwise(_ c: OpCase) throws {
        Self.expectReport(try OpChecks.check(c.op, c.inputs), c.label)
    }

    @Test("matrix products", arguments: linearCases)
    func linear(_ c: OpCase) throws {
        Self.expectReport(try OpChecks.check(c.op, c.inputs), c.label)
    }

    @Test("MatMul and Gemm equal a naive product on odd shapes")
    func naiveProducts() throws {
        var rng = SplitMix64(seed: 7)
        // Per sample: A [2, 3, 4] · B [4, 5] (B broadcast over the leading dimension).
        let a = gaussianMatrix(2, 24, &rng), b = gaussianMatrix(1, 20, &rng)
        let y = try GraphOps.MatMul().bind([OpInput(shape: [2, 3, 4], shared: false), OpInput(shape: [4, 5], shared: true)]).evaluate([a, b]
        )
        #expect(y.rows == 2 && y.columns == 30)
        for s in 0..<2 {
            for l in 0..<2 {
                for i in 0..<3 {
                    for j in 0..<5 {
                        var sum = 0.0
                        for k in 0..<4 { sum += a[s, l * 12 + i * 4 + k] * b[0, k * 5 + j] }
                        #expect(abs(y[s, l * 15 + i * 5 + j] - sum) < 1e-12)
                    }
                }
            }
        }
        // Gemm: y = 0.5 a Wᵀ + 2 c.
        let w = gaussianMatrix(1, 12, &rng), c = gaussianMatrix(1, 3, &rng), x = gaussianMatrix(2, 4, &rng)
        let gemm = try GraphOps.Gemm(alpha: 0.5, beta: 2, transB: true).bind(
            [OpInput(shape: [4], shared: false), OpInput(shape: [3, 4], shared: true), OpInput(shape: [3], shared: true)])
        let z = gemm.evaluate([x, w, c])
        for s in 0..<2 {
            for o in 0..<3 {
                var sum = 0.0
                for k in 0..<4 { sum += x[s, k] * w[0, o * 4 + k] }
                #expect(abs(z[s, o] - (0.5 * sum + 2 * c[0, o])) < 1e-12)
            }
        }
    }

    @Test("ops refuse unsupported attributes and shapes, naming them")
    func refusals() {
        #expect(throws: OpProblem.self) { try GraphOps.Gelu(attributes: ["approximate": .string("tanh")]) }
        #expect(throws: OpProblem("unknown attribute beta")) { try GraphOps.Relu(attributes: ["beta": .int(1)]) }
        #expect(throws: OpProblem("shapes [3, 2] and [4] do not broadcast")) {
            try GraphOps.Add().bind([OpInput(shape: [3, 2], shared: false), OpInput(shape: [4], shared: false)])
        }
        #expect(throws: OpProblem("inner dimensions differ: [3, 4] · [5, 2]")) {
            try GraphOps.MatMul().bind([OpInput(shape: [3, 4], shared: false), OpInput(shape: [5, 2], shared: true)])
        }
        #expect(throws: OpProblem("transA = 1 is not implemented (only 0: samples are rows)")) {
            try GraphOps.Gemm(attributes: ["transA": .int(1)])
        }
        #expect(throws: OpProblem("takes 1 inputs, got 2")) {
            try GraphOps.Tanh().bind([OpInput(shape: [3], shared: false), OpInput(shape: [3], shared: false)])
        }
    }
}
