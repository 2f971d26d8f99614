import PhantomLinearAlgebra
import PhantomModel
import Testing

/// Every bad graph is refused once, at construction, with one error naming the node or value.
@Suite("Graph validation")
struct GraphValidationTests {
    static func node(_ output: String, _ op: any GraphOp, _ inputs: [String], name: String? = nil) -> GraphNode {
        GraphNode(name: name ?? output, op: op, inputs: inputs, output: output)
    }

    static func graph(
        nodes: [GraphNode], parameters: [(name: String, shape: [Int])] = [("W", [3, 3])], state: [Int] = [3],
        logits: String? = nil, constants: [(name: String, shape: [Int], values: [Double])] = []
    ) throws(GraphError) -> Graph {
        try Graph(state: ("h", state), input: ("x", [2]), parameters: parameters, constants: constants, nodes: nodes, logits: logits)
    }

    @Test("a valid graph orders its nodes and classifies its parameters")
    func valid() throws {
        // Given out of order: f reads z, z reads h.
        let g = try Self.graph(
            nodes: [
                Self.node("f", GraphOps.Tanh(), ["z"]), Self.node("z", GraphOps.Gemm(), ["h", "W"]),
                Self.node("logits", GraphOps.Gemm(), ["h", "V"])
            ],
            parameters: [("W", [3, 3]), ("V", [4, 3])], logits: "logits")
        #expect(g.nodes.map(\.name) == ["z", "f", "logits"])
        #expect(g.cellLayout.names == ["W"])
        #expect(g.headLayout.names == ["V"])
        #expect(g.stateDimension == 3 && g.inputDimension == 2)
    }

    @Test("bad graphs are refused, naming the node or value")
    func refusals() {
        func refused(_ expected: GraphError, _ build: () throws -> Graph) {
            #expect(throws: expected) { try build() }
        }
        refused(.cycle(nodes: ["a", "b"])) {
            try Self.graph(nodes: [
                Self.node("a", GraphOps.Tanh(), ["b"]), Self.node("b", GraphOps.Gemm(), ["a", "W"]), Self.node("f", GraphOps.Tanh(), ["h"])
            ])
        }
        refused(.cycle(nodes: ["f"])) { try Self.graph(nodes: [Self.node("f", GraphOps.Add(), ["f", "h"])], parameters: []) }
        refused(.undefinedValue(node: "f", value: "y")) {
            try Self.graph(nodes: [Self.node("f", GraphOps.Add(), ["h", "y"])], parameters: [])
        }
        refused(.op(node: "z", type: "Gemm", problem: OpProblem("A [2] and B [3, 3] (transB = 1) do not fit"))) {
            try Self.graph(nodes: [Self.node("z", GraphOps.Gemm(), ["x", "W"]), Self.node("f", GraphOps.Tanh(), ["z"])])
        }
        refused(.op(node: "f", type: "Add", problem: OpProblem("shapes [3] and [2] do not broadcast"))) {
            try Self.graph(nodes: [Self.node("f", GraphOps.Add(), ["h", "x"])], parameters: [])
        }
        refused(.outputShape(output: "f", shape: [3, 3], state: [3])) {
            try Self.graph(nodes: [Self.node("f", GraphOps.Mul(), ["h", "W"])])
        }
        refused(.op(node: "f", type: "Tanh", problem: OpProblem("takes 1 inputs, got 2"))) {
            try Self.graph(nodes: [Self.node("f", GraphOps.Tanh(), ["h", "h"])], parameters: [])
        }
        refused(.parameterSharedByCellAndHead("W")) {
            try Self.graph(
                nodes: [Self.node("f", GraphOps.Gemm(), ["h", "W"]), Self.node("logits", GraphOps.Gemm(), ["h", "W"])], logits: "logits")
        }
        refused(.unusedParameter("V")) {
            try Self.graph(nodes: [Self.node("f", GraphOps.Gemm(), ["h", "W"])], parameters: [("W", [3, 3]), ("V", [2])])
        }
        refused(.headDependsOnInput("x")) {
            try Self.graph(
                nodes: [Self.node("f", GraphOps.Tanh(), ["h"]), Self.node("logits", GraphOps.Gemm(), ["x", "V"])],
                parameters: [("V", [4, 2])], logits: "logits")
        }
        refused(.duplicateName("h")) { try Self.graph(nodes: [Self.node("h", GraphOps.Tanh(), ["x"])], parameters: []) }
        refused(.duplicateName("z")) {
            try Self.graph(
                nodes: [
                    Self.node("z", GraphOps.Tanh(), ["h"]), Self.node("z", GraphOps.Tanh(), ["h"], name: "other"),
                    Self.node("f", GraphOps.Tanh(), ["z"])
                ],
                parameters: [])
        }
        refused(.missingOutput("f")) { try Self.graph(nodes: [Self.node("g", GraphOps.Tanh(), ["h"])], parameters: []) }
        refused(.missingOutput("logits")) {
            try Self.graph(nodes: [Self.node("f", GraphOps.Tanh(), ["h"])], parameters: [], logits: "logits")
        }
        refused(.badName("a b")) { try Self.graph(nodes: [Self.node("f", GraphOps.Tanh(), ["h"], name: "a b")], parameters: []) }
        refused(.badShape(value: "W", shape: [3, 0])) {
            try Self.graph(nodes: [Self.node("f", GraphOps.Tanh(), ["h"])], parameters: [("W", [3, 0])])
        }
        refused(.tooLarge("value W of shape [65536, 65536]")) {
            try Self.graph(nodes: [Self.node("f", GraphOps.Tanh(), ["h"])], parameters: [("W", [65536, 65536])])
        }
        // Values of one sample beyond 2²⁶ numbers in all (here 2¹⁴ nodes of 2¹³ each, with h): refused when built.
        refused(.tooLarge("the graph (its values hold 67117056 numbers per sample, at most 67108864)")) {
            let big = (0..<8192).map { Self.node("v\($0)", GraphOps.Tanh(), ["h"]) }
            return try Self.graph(nodes: big + [Self.node("f", GraphOps.Tanh(), ["h"])], parameters: [], state: [8191])
        }
        refused(.constantSize(value: "c", shape: [2], count: 3)) {
            try Self.graph(nodes: [Self.node("f", GraphOps.Tanh(), ["h"])], parameters: [], constants: [("c", [2], [1, 2, 3])])
        }
    }

    @Test("errors are one line naming the node, the op and the shapes")
    func messages() {
        let error = GraphError.op(node: "fuse", type: "Add", problem: OpProblem("shapes [4, 8, 8] and [4, 4, 4] do not broadcast"))
        #expect(error.description == "node fuse (Add): shapes [4, 8, 8] and [4, 4, 4] do not broadcast")
        #expect(!GraphError.cycle(nodes: ["a", "b"]).description.contains("\n"))
    }
}
