import Foundation
import PhantomFileSystem
import PhantomInterop
import PhantomLinearAlgebra
import PhantomModel
import PhantomModelIO
import PhantomONNX
import PhantomTestSupport
import Testing

/// Hostile and broken ONNX files: each is read or refused with one line naming the file, never a crash.
@Suite("ONNX files that are broken or hostile")
struct ONNXHostileTests {
    static func folder() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("phantom-onnx-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// Loads `path`; a refusal must be an InputError of one line that names the file.
    static func readOrRefuse(_ path: String) -> String? {
        do {
            let model = try ModelFile.load(path).model
            _ = model.cell.forward(state: Matrix(zeros: 1, model.stateDimension), input: Matrix(zeros: 1, model.inputDimension))
            return nil
        } catch let error as InputError {
            #expect(!error.description.contains("\n") && error.description.hasPrefix(path), "\(error)")
            return error.description
        } catch {
            Issue.record("\(path): not an InputError: \(error)")
            return "\(error)"
        }
    }

    static func write(_ model: ONNXModel, _ url: URL) throws -> String {
        try Data(ONNXFile.encode(model)).write(to: url)
        return url.path
    }

    @Test("≥ 300 mutants (bytes flipped, lengths lied, truncations, fields dropped, sidecar truncated): read or refused in one line")
    func mutants() throws {
        let dir = try ONNXHostileTests.folder()
        defer { try? FileManager.default.removeItem(at: dir) }
        var rng = SplitMix64(seed: 26)
        var refused = 0, read = 0
        func check(_ path: String) { if ONNXHostileTests.readOrRefuse(path) == nil { read += 1 } else { refused += 1 } }
        for name in ["mdeq2", "attention"] {
            let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: ONNXFixtures.path("\(name).onnx"))))
            for k in 0..<80 {  // flipped bytes, in the first kilobytes (structure) and anywhere
                var b = bytes
                for _ in 0..<(1 + k % 4) {
                    let i = Int(rng.next() % UInt64(k % 2 == 0 ? min(4096, b.count) : b.count))
                    b[i] ^= UInt8(truncatingIfNeeded: 1 + rng.next() % 255)
                }
                let url = dir.appendingPathComponent("\(name)-flip\(k).onnx")
                try Data(b).write(to: url)
                check(url.path)
            }
            for k in 0..<30 {  // truncated
                let url = dir.appendingPathComponent("\(name)-cut\(k).onnx")
                try Data(bytes.prefix(Int(rng.next() % UInt64(bytes.count)))).write(to: url)
                check(url.path)
            }
            for k in 0..<20 {  // a length byte that lies: a varint after a length-delimited tag made huge
                var b = bytes
                let i = 2 + Int(rng.next() % UInt64(min(2000, b.count - 8)))
                b[i] = 0xFF
                b[i + 1] = 0xFF
                b[i + 2] = 0x7F
                let url = dir.appendingPathComponent("\(name)-lie\(k).onnx")
                try Data(b).write(to: url)
                check(url.path)
            }
        }
        // Fields dropped: a node, an initializer, an input, an output, an attribute.
        let model = try ONNXFile.read(ONNXFixtures.path("mdeq2.onnx"))
        for k in 0..<60 {
            var m = model
            switch k % 5 {
            case 0: m.graph.nodes.remove(at: Int(rng.next() % UInt64(m.graph.nodes.count)))
            case 1: m.graph.initializers.remove(at: Int(rng.next() % UInt64(m.graph.initializers.count)))
            case 2: m.graph.inputs.remove(at: Int(rng.next() % UInt64(m.graph.inputs.count)))
            case 3: m.graph.outputs.remove(at: Int(rng.next() % UInt64(m.graph.outputs.count)))
            default:
                let candidates = m.graph.nodes.indices.filter { !m.graph.nodes[$0].attributes.isEmpty }
                let n = candidates[Int(rng.next() % UInt64(candidates.count))]
                m.graph.nodes[n].attributes.removeFirst()
            }
            check(try ONNXHostileTests.write(m, dir.appendingPathComponent("drop\(k).onnx")))
        }
        // The sidecar truncated or its bytes flipped.
        let sidecar = [UInt8](try Data(contentsOf: URL(fileURLWithPath: ONNXFixtures.path("gated-external.onnx.data"))))
        let external = try Data(contentsOf: URL(fileURLWithPath: ONNXFixtures.path("gated-external.onnx")))
        for k in 0..<20 {
            let sub = dir.appendingPathComponent("sidecar\(k)")
            try FileManager.default.createDirectory(at: sub, withIntermediateDirectories: true)
            try external.write(to: sub.appendingPathComponent("gated-external.onnx"))
            let cut = k < 10 ? Array(sidecar.prefix(Int(rng.next() % UInt64(sidecar.count)))) : sidecar.map { $0 ^ UInt8(k) }
            try Data(cut).write(to: sub.appendingPathComponent("gated-external.onnx.data"))
            check(sub.appendingPathComponent("gated-external.onnx").path)
        }
        #expect(read + refused >= 300)
        #expect(refused > 100)
    }

    @Test("external data outside the folder, through a symlink, beyond the file's end or missing is refused, naming the tensor")
    func externalDataRefusals() throws {
        let dir = try ONNXHostileTests.folder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = try ONNXFile.read(ONNXFixtures.path("gated-external.onnx"))
        let data = try Data(contentsOf: URL(fileURLWithPath: ONNXFixtures.path("gated-external.onnx.data")))
        // The decoded model holds the values; write it with one tensor made external again by hand.
        let sub = dir.appendingPathComponent("m")
        try FileManager.default.createDirectory(at: sub, withIntermediateDirectories: true)
        try data.write(to: dir.appendingPathComponent("outside.data"))
        try data.write(to: sub.appendingPathComponent("inside.data"))
        try FileManager.default.createSymbolicLink(
            at: sub.appendingPathComponent("link.data"), withDestinationURL: dir.appendingPathComponent("outside.data"))
        let bytes = try ONNXFile.encode(model)
        let cases: [(String, String)] = [
            ("../outside.data", "not a plain relative path"), ("/etc/passwd", "not a relative path"), ("link.data", "symbolic link"),
            ("missing.data", "does not exist"), ("inside.data", "beyond its end")
        ]
        for (location, why) in cases {
            let path = sub.appendingPathComponent("m.onnx").path
            try Data(ONNXHostileTests.pointing(bytes, at: location, offset: location == "inside.data" ? data.count - 8 : 0)).write(
                to: URL(fileURLWithPath: path))
            let message = try #require(ONNXHostileTests.readOrRefuse(path))
            #expect(message.contains(why), "\(location): \(message)")
        }
    }

    /// The model's first initializer rewritten as external data at `location`.
    static func pointing(_ bytes: [UInt8], at location: String, offset: Int) throws -> [UInt8] {
        var model = try ONNXFile.read(FileSnapshot(path: "x.onnx", bytes: bytes))
        let first = model.graph.initializers.removeFirst()
        var proto = try ONNXFile.encode(model)
        // Append the tensor as an external one through the raw encoding (field 5 of GraphProto inside field 7).
        let tensor = ExternalTensorBytes.encode(
            name: first.name, dims: first.dims, location: location, offset: offset, length: first.count * 8)
        model.graph.initializers.insert(first, at: 0)
        proto = try ExternalTensorBytes.appendInitializer(tensor, to: proto)
        return proto
    }

    @Test("unsupported ops, subgraphs, wrong inputs, dynamic dimensions and shared initializers are refused in one line")
    func badModels() throws {
        let dir = try ONNXHostileTests.folder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let base = try ONNXFile.read(ONNXFixtures.path("gated.onnx"))
        func refusal(_ edit: (inout ONNXModel) -> Void) throws -> String {
            var m = base
            edit(&m)
            let path = try ONNXHostileTests.write(m, dir.appendingPathComponent("bad.onnx"))
            return try #require(ONNXHostileTests.readOrRefuse(path))
        }
        let tanh = base.graph.nodes.firstIndex { $0.opType == "Tanh" }!
        var message = try refusal { $0.graph.nodes[tanh].opType = "Hardmax" }
        #expect(
            message.contains("Hardmax") && message.contains("opset 20") && message.contains("supported ops") && message.contains("Conv"))
        message = try refusal {
            $0.graph.nodes[tanh].opType = "If"; $0.graph.nodes[tanh].attributes = [("then_branch", .unsupported(kind: "graph"))]
        }
        #expect(message.contains("If"))
        message = try refusal { $0.graph.nodes[tanh].attributes = [("unknown_thing", .int(3))] }
        #expect(message.contains("unknown attribute unknown_thing"), "\(message)")
        message = try refusal { $0.graph.inputs.removeLast() }
        #expect(message.contains("exactly h"))
        message = try refusal { $0.graph.outputs.append(ONNXValueInfo(name: "extra", elementType: 11, dims: nil)) }
        #expect(message.contains("exactly f"))
        message = try refusal { $0.graph.inputs[0].dims = [.symbolic("batch"), .symbolic("width")] }
        #expect(message.contains("only the batch dimension"))
        message = try refusal { $0.opsets = ["": 11] }
        #expect(message.contains("opset 11"))
        // One initializer used by the cell and the head.
        let w = ONNXTensor(name: "W", dims: [2, 2], doubles: [0.5, 0, 0, 0.5])
        let shared = ONNXModel(
            graph: ONNXGraph(
                nodes: [
                    ONNXNode(name: "a", opType: "Gemm", inputs: ["h", "W"], outputs: ["a"]),
                    ONNXNode(name: "b", opType: "Add", inputs: ["a", "x"], outputs: ["b"]),
                    ONNXNode(name: "f", opType: "Tanh", inputs: ["b"], outputs: ["f"]),
                    ONNXNode(name: "logits", opType: "Gemm", inputs: ["h", "W"], outputs: ["logits"])
                ], initializers: [w],
                inputs: ["h", "x"].map { ONNXValueInfo(name: $0, elementType: 11, dims: [.fixed(1), .fixed(2)]) },
                outputs: ["f", "logits"].map { ONNXValueInfo(name: $0, elementType: 11, dims: [.fixed(1), .fixed(2)]) }))
        message = try #require(ONNXHostileTests.readOrRefuse(try ONNXHostileTests.write(shared, dir.appendingPathComponent("shared.onnx"))))
        #expect(message.contains("parameter W is used by both the cell (f) and the head (logits)"), "\(message)")
        message = try refusal { m in  // what torch.onnx.export(..., optimize=True) writes: folded parameters renamed val_NN
            m.producerName = "pytorch"
            m.graph.initializers[0].name = "val_12"
            for k in m.graph.nodes.indices {
                m.graph.nodes[k].inputs = m.graph.nodes[k].inputs.map { $0 == base.graph.initializers[0].name ? "val_12" : $0 }
            }
        }
        #expect(message.contains("val_12") && message.contains("optimize=False"), "\(message)")
        message = try refusal { $0.graph.nodes[tanh].inputs[0] = "nowhere" }
        #expect(message.contains("nowhere"))
        message = try refusal { m in  // a cycle: Tanh reads its own consumer's output
            m.graph.nodes[tanh].inputs[0] = m.graph.nodes.first { $0.inputs.contains(m.graph.nodes[tanh].outputs[0]) }!.outputs[0]
        }
        #expect(message.contains("cycle"))
        message = try refusal { $0.graph.initializers[0].dims = [1 << 15, 1 << 15] }
        #expect(message.contains("holds more than") || message.contains("values"))
        let garbage = dir.appendingPathComponent("garbage.onnx")
        try Data((0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 7) }).write(to: garbage)
        #expect(ONNXHostileTests.readOrRefuse(garbage.path) != nil)
    }
}

/// Raw protobuf bytes for the external-data cases (the value types cannot express external data on purpose).
enum ExternalTensorBytes {
    static func varint(_ v: Int) -> [UInt8] {
        var v = UInt64(v), out: [UInt8] = []
        while v >= 0x80 {
            out.append(UInt8(v & 0x7F) | 0x80)
            v >>= 7
        }
        return out + [UInt8(v)]
    }
    static func field(_ number: Int, _ bytes: [UInt8]) -> [UInt8] { varint(number << 3 | 2) + varint(bytes.count) + bytes }
    static func entry(_ key: String, _ value: String) -> [UInt8] { field(1, Array(key.utf8)) + field(2, Array(value.utf8)) }

    static func encode(name: String, dims: [Int], location: String, offset: Int, length: Int) -> [UInt8] {
        var t: [UInt8] = []
        for d in dims { t += varint(1 << 3) + varint(d) }
        t += varint(2 << 3) + varint(11)
        t += field(8, Array(name.utf8))
        t += field(13, entry("location", location)) + field(13, entry("offset", "\(offset)")) + field(13, entry("length", "\(length)"))
        t += varint(14 << 3) + varint(1)
        return t
    }

    /// Appends `tensor` as an initializer: a second occurrence of ModelProto.graph (field 7) merges into the first.
    static func appendInitializer(_ tensor: [UInt8], to model: [UInt8]) throws -> [UInt8] {
        model + field(7, field(5, tensor))
    }
}
