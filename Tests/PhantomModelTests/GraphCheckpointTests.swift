import Foundation
import PhantomFileSystem
import PhantomHDF5
import PhantomLinearAlgebra
import PhantomModel
import PhantomModelIO
import PhantomTestSupport
import Testing

/// Graph cells in checkpoints: the graph stored as a versioned JSON document in the root attribute `graph`.
@Suite("Graph checkpoints")
struct GraphCheckpointTests {
    @Test("a graph round-trips through its stored form, attributes and constants bit for bit")
    func serialization() throws {
        let graph = try TestGraphs.gated(stateDimension: 5, inputDimension: 3)
        let text = graph.serialized()
        let back = try Graph(serialized: text)
        #expect(back == graph)
        #expect(back.serialized() == text)
        #expect(back.cellLayout == graph.cellLayout)
        // A float attribute that is not a short decimal survives exactly.
        let leaky = try Graph(
            state: ("h", [2]), input: ("x", [2]), parameters: [],
            nodes: [GraphNode(name: "f", op: GraphOps.LeakyRelu(alpha: 0.1 + 0.2), inputs: ["h"], output: "f")])
        let alpha = try Graph(serialized: leaky.serialized()).nodes[0].op.attributes["alpha"]
        #expect(alpha == .float(0.1 + 0.2))
    }

    @Test("a graph cell's checkpoint loads to the same model, and gives the same f")
    func checkpointRoundTrip() throws {
        let model = TestGraphs.gatedModel(d: 5, n: 3, c: 2, seed: 9)
        let path = makeTemporaryFolder() + "/gated.h5"
        try Checkpoint(model: model, dataset: "digits", epoch: 2).save(to: path)
        let loaded = try Checkpoint.load(path)
        #expect(loaded.model.cell.kind == .graph)
        #expect(loaded.model.cell.parameters == model.cell.parameters)
        #expect(loaded.model.head.parameters == model.head.parameters)
        let graph = try #require((loaded.model.cell as? GraphCell)?.graph)
        #expect(graph == (model.cell as! GraphCell).graph)
        var rng = SplitMix64(seed: 1)
        let h = gaussianMatrix(3, 5, &rng), x = gaussianMatrix(3, 3, &rng)
        #expect(loaded.model.cell.forward(state: h, input: x) == model.cell.forward(state: h, input: x))
    }

    /// Writes a gated checkpoint whose `graph` attribute is replaced by `text` (nil: removed), or whose cell is `cell`.
    func damaged(graph text: String?, cell: String = "graph") throws -> String {
        let model = TestGraphs.gatedModel(d: 4, n: 3, c: 2, seed: 2)
        let path = makeTemporaryFolder() + "/bad.h5"
        let values = model.cell.parameters + model.head.parameters
        try HDF5File.write(to: path) { file in
            let attributes: [(String, HDF5AttributeValue)] = [
                ("format", .string("phantom-checkpoint")), ("version", .integer(1)), ("cell", .string(cell)),
                ("n_in", .integer(3)), ("d", .integer(4)), ("c", .integer(2))
            ]
            for (k, v) in attributes { try file.root.setAttribute(k, v) }
            if let text { try file.root.setAttribute("graph", .string(text)) }
            let params = try file.root.createGroup("params")
            var offset = 0
            for spec in model.allSpecs {
                let n = spec.shape.reduce(1, *)
                try params.write(spec.name, HDF5Array(shape: spec.shape, values: Array(values[offset..<(offset + n)])))
                offset += n
            }
        }
        return path
    }

    @Test("bad stored graphs are refused in one line naming the problem")
    func badGraphs() throws {
        let good = try TestGraphs.gated(stateDimension: 4, inputDimension: 3).serialized()
        let cases: [(String?, String, String)] = [
            (String(good.prefix(good.count / 2)), "graph", "attribute 'graph': the stored graph is not valid JSON"),
            (
                good.replacingOccurrences(of: "\"version\":1", with: "\"version\":2"), "graph",
                "unsupported graph version 2 (this tool reads version 1)"
            ),
            (good.replacingOccurrences(of: "\"Sigmoid\"", with: "\"Swish\""), "graph", "unknown op type 'Swish' (supported: "),
            (good.replacingOccurrences(of: "\"format\":", with: "\"extra\":1,\"format\":"), "graph", "graph: unknown key 'extra'"),
            (
                good.replacingOccurrences(of: "\"inputs\":[\"keep\",\"n\"]", with: "\"inputs\":[\"keep\",\"missing\"]"), "graph",
                "node new reads missing, which no input"
            ),
            (
                try TestGraphs.gated(stateDimension: 5, inputDimension: 3).serialized(), "graph",
                "the graph's h has 5 values and x 3, not d = 4"
            ),
            (good.replacingOccurrences(of: "{\"int\":1}", with: "{\"int\":true}"), "tanh", "attribute 'graph' is set, but the cell is tanh")
        ]
        for (text, cell, expected) in cases {
            let path = try damaged(graph: text, cell: cell)
            let error = try #require(throws: InputError.self) { try Checkpoint.load(path) }
            #expect(error.description.hasPrefix(path + ": "))
            #expect(error.description.contains(expected), "\(expected): \(error.description)")
            #expect(!error.description.contains("\n"))
        }
    }

    @Test("a graph's own head: its backward equals finite differences, and it travels through a checkpoint")
    func graphHead() throws {
        let model = TestGraphs.gatedWithHeadModel(d: 5, n: 3, c: 4, seed: 3)
        let head = try #require(model.head.graphHead)
        #expect(model.head.outputDimension == 4 && model.head.layout.names == ["head.P", "head.p", "head.V", "head.v"])
        var rng = SplitMix64(seed: 2)
        let h = gaussianMatrix(3, 5, &rng), g = gaussianMatrix(3, 4, &rng)
        let (dh, dtheta) = head.backward(state: h, logitGradient: g)
        func value(_ m: ImplicitModel, _ h: Matrix) -> Double { BLAS.dot(m.head.logits(h).elements, g.elements) }
        let step = 1e-6
        var fdState: [Double] = []
        for j in 0..<h.elements.count {
            var plus = h, minus = h
            plus.elements[j] += step
            minus.elements[j] -= step
            fdState.append((value(model, plus) - value(model, minus)) / (2 * step))
        }
        #expect(relativeError(dh.elements, fdState) < 1e-8)
        let theta = model.head.parameters
        var fdTheta: [Double] = []
        for k in theta.indices {
            var plus = model, minus = model
            plus.head.parameters[k] += step
            minus.head.parameters[k] -= step
            fdTheta.append((value(plus, h) - value(minus, h)) / (2 * step))
        }
        #expect(relativeError(dtheta, fdTheta) < 1e-8)
        _ = theta
        let path = makeTemporaryFolder() + "/headed.h5"
        try Checkpoint(model: model).save(to: path)
        let loaded = try Checkpoint.load(path)
        #expect(loaded.model.head == model.head)
        #expect(loaded.model.head.logits(h) == model.head.logits(h))
        #expect(loaded.model.allSpecs.map(\.name).suffix(4) == ["head.P", "head.p", "head.V", "head.v"])
    }

    @Test(
        "400 mutants of a stored graph (characters replaced, numbers changed, pieces cut or repeated): each is read or refused, never a crash"
    )
    func storedGraphMutants() throws {
        let good = try TestGraphs.twoResolution(channels: 2, inChannels: 1, size: 4).serialized()
        let bytes = Array(good.utf8)
        var rng = SplitMix64(seed: 77)
        let replacements = Array("0123456789-[]{}\",:.eE\\ ntrufalsx".utf8)
        var refused = 0, read = 0
        for k in 0..<400 {
            var m = bytes
            switch k % 4 {
            case 0:  // characters replaced
                for _ in 0..<(1 + Int(rng.next() % 4)) {
                    m[Int(rng.next() % UInt64(m.count))] = replacements[Int(rng.next() % UInt64(replacements.count))]
                }
            case 1:  // a digit run replaced by a large, negative or zero number
                let digits = m.indices.filter { (48...57).contains(m[$0]) }
                let at = digits[Int(rng.next() % UInt64(digits.count))]
                let number = ["0", "-1", "99999999999", "4294967296", "1e300", "-0"][Int(rng.next() % 6)]
                m.replaceSubrange(at...at, with: Array(number.utf8))
            case 2:  // a piece cut out
                let a = Int(rng.next() % UInt64(m.count)), b = min(m.count, a + 1 + Int(rng.next() % 40))
                m.removeSubrange(a..<b)
            default:  // a piece repeated
                let a = Int(rng.next() % UInt64(m.count)), b = min(m.count, a + 1 + Int(rng.next() % 40))
                m.insert(contentsOf: m[a..<b], at: b)
            }
            do {
                let graph = try Graph(serialized: String(decoding: m, as: UTF8.self))
                // What is read is a valid graph: it evaluates on a batch.
                var cell = GraphCell(graph: graph)
                cell.parameters = [Double](repeating: 0.1, count: cell.layout.count)
                _ = cell.forward(state: Matrix(zeros: 2, graph.stateDimension), input: Matrix(zeros: 2, graph.inputDimension))
                read += 1
            } catch {
                #expect(!"\(error)".contains("\n"))
                refused += 1
            }
        }
        #expect(refused > 200)
        #expect(read + refused == 400)
    }
}
