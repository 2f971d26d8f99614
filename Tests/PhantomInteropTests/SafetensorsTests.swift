import Foundation
import PhantomInterop
import PhantomLinearAlgebra
import PhantomModel
import PhantomModelIO
import PhantomSafetensors
import PhantomTestSupport
import Testing

/// Builds a raw safetensors file from a header string and data bytes.
func rawFile(_ header: String, data: [UInt8] = [], declaredLength: UInt64? = nil) throws -> String {
    let path = makeTemporaryFolder() + "/raw.safetensors"
    let json = Array(header.utf8)
    var bytes: [UInt8] = []
    withUnsafeBytes(of: (declaredLength ?? UInt64(json.count)).littleEndian) { bytes += $0 }
    bytes += json + data
    try Data(bytes).write(to: URL(fileURLWithPath: path))
    return path
}

func littleEndian(_ values: [Float]) -> [UInt8] { values.flatMap { v in withUnsafeBytes(of: v.bitPattern.littleEndian) { Array($0) } } }

@Suite("safetensors")
struct SafetensorsTests {
    func model(_ kind: CellKind) -> ImplicitModel {
        var rng = SplitMix64(seed: 8)
        func g(_ r: Int, _ c: Int) -> Matrix { Matrix(rows: r, columns: c, elements: (0..<(r * c)).map { _ in rng.nextGaussian() }) }
        switch kind {
        case .tanh:
            return ImplicitModel(
                cell: TanhCell(injectionWeight: g(4, 3), injectionBias: g(1, 4).elements, cellWeight: g(4, 4)),
                head: OutputHead(weight: g(2, 4), bias: [0.5, -0.5]))
        case .resmlp:
            var cell = ResMLPCell(stateDimension: 4, inputDimension: 3, hiddenWidth: 5)
            cell.parameters = g(1, cell.layout.count).elements
            return ImplicitModel(cell: cell, head: OutputHead(weight: g(2, 4), bias: [0.5, -0.5]))
        case .mdeq:
            return RandomModels.mdeq(
                MDEQCell.Geometry(channels: 4, inChannels: 2, height: 3, width: 5, expansion: 2, groups: 2), c: 2, seed: 8)
        case .graph: preconditionFailure("built-in kinds only")
        }
    }

    @Test("HDF5 → safetensors → HDF5 is bitwise identical", arguments: CellKind.builtins)
    func roundTrip(kind: CellKind) throws {
        let folder = makeTemporaryFolder()
        let original = Checkpoint(model: model(kind), dataset: "digits")
        try original.save(to: folder + "/a.h5")
        try SafetensorsExporter.export(try Checkpoint.load(folder + "/a.h5"), to: folder + "/a.safetensors")
        let imported = try SafetensorsImporter().importCheckpoint(folder + "/a.safetensors")
        #expect(imported.model.cell.kind == kind)
        #expect(imported.model.cell.parameters == original.model.cell.parameters)
        #expect(imported.model.head == original.model.head)
        #expect(imported.dataset == "digits")
        try imported.save(to: folder + "/b.h5")
        #expect(try Checkpoint.load(folder + "/b.h5").model.cell.parameters == original.model.cell.parameters)
    }

    @Test("F32, F16 and BF16 convert exactly where representable")
    func conversions() throws {
        let folder = makeTemporaryFolder()
        let exact: [Double] = [0, -0.0, 0.5, -2, 1.0 / 1024, 65504, 0x1p-24, 0x1p-14, 3.140625, -0x1p-16]
        let bf16: [Double] = [0, 1, -2.5, 0x1p-100, 3.0e38.rounded(), 1.0 / 128]
        for (dtype, values) in [(SafetensorsDType.f32, exact), (.f16, exact), (.bf16, bf16), (.f64, exact + [Double.pi])] {
            let path = folder + "/\(dtype.rawValue).safetensors"
            let stored = dtype == .bf16 ? values.map { Double(Float(bitPattern: Float($0).bitPattern & 0xFFFF_0000)) } : values
            try Safetensors.write([("t", SafetensorsTensor(dtype: dtype, shape: [stored.count], values: stored))], to: path)
            let read = try Safetensors.read(path).tensors["t"]
            #expect(
                read?.values.map(\.bitPattern) == stored.map { dtype == .f64 ? $0.bitPattern : Double(Float($0)).bitPattern }, "\(dtype)")
        }
        #expect(
            Safetensors.halfToDouble(0x7C00) == .infinity && Safetensors.halfToDouble(0x3C00) == 1
                && Safetensors.halfToDouble(0x0001) == 0x1p-24)
        #expect(Safetensors.halfToDouble(0x7E00).isNaN && Safetensors.halfToDouble(0xC000) == -2)
    }

    @Test("weight-norm and spectral-norm parametrisations fold to hand-computed weights; prefixes are stripped")
    func folding() throws {
        // injection: weight norm, g = (2, 3), v = [[3, 4], [1, 0]] → [[1.2, 1.6], [3, 0]].
        // cell: spectral norm, W = [[2, 0], [0, 1]], u = (1, 0), v = (1, 0) → σ = 2 → [[1, 0], [0, 0.5]].
        let tensors: [(String, SafetensorsTensor)] = [
            ("module.model.injection.weight_g", .init(dtype: .f32, shape: [2, 1], values: [2, 3])),
            ("module.model.injection.weight_v", .init(dtype: .f32, shape: [2, 2], values: [3, 4, 1, 0])),
            ("module.model.injection.bias", .init(dtype: .f32, shape: [2], values: [0.25, -0.25])),
            ("module.model.cell.weight_orig", .init(dtype: .f32, shape: [2, 2], values: [2, 0, 0, 1])),
            ("module.model.cell.weight_u", .init(dtype: .f32, shape: [2], values: [1, 0])),
            ("module.model.cell.weight_v", .init(dtype: .f32, shape: [2], values: [1, 0])),
            ("module.model.head.weight", .init(dtype: .f32, shape: [3, 2], values: [1, 2, 3, 4, 5, 6])),
            ("module.model.head.bias", .init(dtype: .f32, shape: [3], values: [0, 0, 0]))
        ]
        let path = makeTemporaryFolder() + "/wn.safetensors"
        try Safetensors.write(tensors.map { ($0.0, $0.1) }, to: path)
        let checkpoint = try SafetensorsImporter().importCheckpoint(path)
        let cell = try #require(checkpoint.model.cell as? TanhCell)
        #expect(relativeError(cell.injectionWeight.elements, [1.2, 1.6, 3, 0]) <= 1e-7)
        #expect(cell.cellWeight.elements == [1, 0, 0, 0.5])
        #expect(cell.injectionBias == [0.25, -0.25])
    }

    @Test(
        "malformed files are errors naming the problem",
        arguments: [
            ("empty", "too short for a safetensors file"),
            ("length past end", "header length 4096 runs past the end of the file"),
            ("invalid JSON", "the header is not valid JSON"),
            ("unknown dtype", "unsupported dtype 'I8'"),
            ("out of range", "lie outside the data section"),
            ("overlap", "overlap"),
            ("byte count", "needs 16 bytes, data_offsets give 12"),
            ("not an object", "the header is not a JSON object"),
            ("unknown key", "unknown key 'strides'")
        ])
    func malformed(label: String, expected: String) throws {
        let eight = littleEndian([1, 2])
        let path: String
        switch label {
        case "empty":
            path = try rawFile("", declaredLength: 0).replacingOccurrences(of: "raw", with: "raw");
            try Data().write(to: URL(fileURLWithPath: path))
        case "length past end": path = try rawFile("{}", declaredLength: 4096)
        case "invalid JSON": path = try rawFile("{\"a\": [1, 2", data: eight)
        case "unknown dtype": path = try rawFile(#"{"a":{"dtype":"I8","shape":[2],"data_offsets":[0,2]}}"#, data: eight)
        case "out of range": path = try rawFile(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#, data: eight)
        case "overlap":
            path = try rawFile(
                #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, data: eight
            )
        case "byte count": path = try rawFile(#"{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,12]}}"#, data: eight + littleEndian([3]))
        case "not an object": path = try rawFile("[1, 2]", data: eight)
        case "unknown key": path = try rawFile(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"strides":[1]}}"#, data: eight)
        default: Issue.record("case \(label)"); return
        }
        let error = try #require(throws: SafetensorsError.self) { try Safetensors.read(path) }
        #expect(error.description.hasPrefix(path + ": "))
        #expect(error.description.contains(expected), "\(label): \(error)")
    }

    @Test("missing and unused tensors are listed; an ambiguous cell asks for the cell kind")
    func mapping() throws {
        let folder = makeTemporaryFolder()
        let t = SafetensorsTensor(dtype: .f32, shape: [2, 2], values: [1, 0, 0, 1])
        try Safetensors.write(
            [("injection.weight", t), ("cell.weight", t), ("head.weight", t), ("extra.weight", t)], to: folder + "/partial.safetensors")
        let error = try #require(throws: SafetensorsError.self) {
            try SafetensorsImporter().importCheckpoint(folder + "/partial.safetensors")
        }
        #expect(error.description.contains("missing tensors: injection.bias") && error.description.contains("unused tensors: extra.weight"))
        try Safetensors.write([("injection.weight", t), ("head.weight", t)], to: folder + "/neither.safetensors")
        let ambiguous = try #require(throws: SafetensorsError.self) {
            try SafetensorsImporter().importCheckpoint(folder + "/neither.safetensors")
        }
        #expect(ambiguous.description.contains("cannot tell the cell kind") && ambiguous.description.contains("name the cell kind"))
        try Safetensors.write([("injection.weight", t)], metadata: ["phantom.cells": "tanh"], to: folder + "/meta.safetensors")
        #expect(throws: SafetensorsError.self) { try SafetensorsImporter().importCheckpoint(folder + "/meta.safetensors") }
    }

    @Test(
        "a file written by numpy + safetensors reads here",
        .enabled(if: pythonHasSafetensors, "python3 with numpy and safetensors is not installed (pip install safetensors)"))
    func writtenByPython() throws {
        let path = makeTemporaryFolder() + "/py.safetensors"
        let script = """
            import numpy as np
            from safetensors.numpy import save_file
            rng = np.random.default_rng(0)
            d, n, c = 4, 3, 2
            t = {"injection.weight": rng.normal(size=(d, n)).astype(np.float32), "injection.bias": np.zeros(d, np.float32),
                 "cell.weight": (0.1 * np.eye(d)).astype(np.float16), "head.weight": rng.normal(size=(c, d)),
                 "head.bias": np.array([1.5, -0.25])}
            save_file(t, '\(path)', metadata={"phantom.cell": "tanh", "phantom.dataset": "digits"})
            print(float(t["injection.weight"][1, 2]))
            """
        let result = try runProgram("/usr/bin/env", ["python3", "-c", script])
        #expect(result.status == 0, "\(result.stderr)")
        let checkpoint = try SafetensorsImporter().importCheckpoint(path)
        let cell = try #require(checkpoint.model.cell as? TanhCell)
        #expect(cell.injectionWeight[1, 2] == Double(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(cell.cellWeight[0, 0] == Double(Float16Bits.tenth))
        #expect(checkpoint.model.head.bias == [1.5, -0.25] && checkpoint.dataset == "digits")
    }
}

/// 0.1 rounded to binary16 and widened: 0x2E66 = 0.0999755859375.
enum Float16Bits { static let tenth = 0.0999755859375 }

let pythonHasSafetensors: Bool = (try? runProgram("/usr/bin/env", ["python3", "-c", "import numpy, safetensors"]))?.status == 0

@Suite("mdeq state dicts from PyTorch")
struct MDEQImportTests {
    let geometry = MDEQCell.Geometry(channels: 4, inChannels: 2, height: 3, width: 5, expansion: 2, groups: 2)

    /// ‖v‖ over every axis but 0, per output channel (PyTorch's _norm_except_dim(v, 2, 0)).
    func channelNorms(_ v: [Double], outChannels: Int) -> [Double] {
        let per = v.count / outChannels
        return (0..<outChannels).map { o in v[(o * per)..<((o + 1) * per)].reduce(0) { $0 + $1 * $1 }.squareRoot() }
    }

    @Test("TorchDEQ weight-norm pairs on the convolutions (weight_g/weight_v and parametrizations), under module., fold to g·v/‖v‖")
    func weightNormFolded() throws {
        let model = RandomModels.mdeq(geometry, c: 3, seed: 12)
        var rng = SplitMix64(seed: 13)
        var tensors: [(name: String, tensor: SafetensorsTensor)] = []
        var expected: [String: [Double]] = [:]
        let values = model.cell.parameters + model.head.parameters
        var offset = 0
        for spec in model.allSpecs {
            let count = spec.shape.reduce(1, *)
            let w = Array(values[offset..<(offset + count)])
            offset += count
            guard spec.shape.count == 4 else {
                tensors.append(("module." + spec.name, SafetensorsTensor(dtype: .f64, shape: spec.shape, values: w)))
                continue
            }
            // v: a rescaled copy of the weight; g: per-channel gains; the effective weight is g·v/‖v‖.
            let out = spec.shape[0]
            let v = w.map { 1.7 * $0 + 0.01 * rng.nextGaussian() }
            let g = (0..<out).map { _ in 0.5 + rng.nextUniform() }
            let norms = channelNorms(v, outChannels: out)
            let per = v.count / out
            var folded = [Double](repeating: 0, count: v.count)
            for i in v.indices { folded[i] = g[i / per] * v[i] / norms[i / per] }
            expected[spec.name] = folded
            let module = String(spec.name.dropLast(".weight".count))
            let (gName, vName) =
                spec.name == "cell.conv2.weight"
                ? ("\(module).parametrizations.weight.original0", "\(module).parametrizations.weight.original1")
                : ("\(spec.name)_g", "\(spec.name)_v")
            tensors.append(("module." + gName, SafetensorsTensor(dtype: .f64, shape: [out, 1, 1, 1], values: g)))
            tensors.append(("module." + vName, SafetensorsTensor(dtype: .f64, shape: spec.shape, values: v)))
        }
        let metadata = ["phantom.groups": "2", "phantom.height": "3", "phantom.width": "5"]
        let path = makeTemporaryFolder() + "/mdeq.safetensors"
        try Data(try Safetensors.encode(tensors, metadata: metadata)).write(to: URL(fileURLWithPath: path))
        let imported = try SafetensorsImporter().importCheckpoint(path)
        let cell = try #require(imported.model.cell as? MDEQCell)
        #expect(cell.geometry == geometry)
        for (name, folded) in expected {
            #expect(relativeError(cell.graphCell.tensor(name), folded) <= 1e-13, "\(name)")
        }
        #expect(cell.graphCell.tensor("cell.gn2.weight") == (model.cell as! MDEQCell).graphCell.tensor("cell.gn2.weight"))
    }

    @Test(
        "what a state dict cannot tell, or gets wrong, is an error naming it",
        arguments: [
            ("no groups", "metadata phantom.groups is missing"),
            ("groups do not divide", "groups = 3 does not divide channels = 4"),
            ("not square", "d/channels = 15 is not a square"),
            ("wrong kernel", "tensor 'cell.conv1.weight' has shape [8, 4, 5, 5], expected [8, 4, 3, 3]"),
            ("wrong channels", "tensor 'cell.conv2.weight' has shape [4, 6, 3, 3], expected [4, 8, 3, 3]"),
            ("d mismatch", "channels·height·width = 4·3·4 = 48 is not d = 60")
        ])
    func badStateDicts(label: String, message: String) throws {
        let model = RandomModels.mdeq(geometry, c: 3, seed: 12)
        let values = model.cell.parameters + model.head.parameters
        var offset = 0
        var tensors: [(name: String, tensor: SafetensorsTensor)] = []
        for spec in model.allSpecs {
            let count = spec.shape.reduce(1, *)
            var shape = spec.shape, v = Array(values[offset..<(offset + count)])
            offset += count
            if label == "wrong kernel", spec.name == "cell.conv1.weight" { shape = [8, 4, 5, 5]; v = [Double](repeating: 0.1, count: 800) }
            if label == "wrong channels", spec.name == "cell.conv2.weight" {
                shape = [4, 6, 3, 3]; v = [Double](repeating: 0.1, count: 216)
            }
            tensors.append((spec.name, SafetensorsTensor(dtype: .f64, shape: shape, values: v)))
        }
        var metadata = ["phantom.cell": "mdeq", "phantom.groups": "2", "phantom.height": "3", "phantom.width": "5"]
        switch label {
        case "no groups": metadata["phantom.groups"] = nil
        case "groups do not divide": metadata["phantom.groups"] = "3"
        case "not square": metadata["phantom.height"] = nil
        case "d mismatch": metadata["phantom.width"] = "4"
        default: break
        }
        let path = makeTemporaryFolder() + "/bad.safetensors"
        try Data(try Safetensors.encode(tensors, metadata: metadata)).write(to: URL(fileURLWithPath: path))
        #expect { _ = try SafetensorsImporter().importCheckpoint(path) } throws: { error in
            "\(error)".contains(message) && "\(error)".contains(path)
        }
    }
}

@Suite("safetensors files that start like a pickle")
struct PickleLookalikeTests {
    @Test("a header of 896 bytes (length 0x380: bytes 80 03, pickle protocol 3's opening) is a safetensors file, not a pickle")
    func headerLengthLooksLikePickle() throws {
        var header = #"{"t":{"dtype":"F64","shape":[1],"data_offsets":[0,8]}}"#
        header += String(repeating: " ", count: 896 - header.utf8.count)
        let path = try rawFile(header, data: withUnsafeBytes(of: (2.5).bitPattern.littleEndian) { Array($0) })
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        #expect(bytes[0] == 0x80 && bytes[1] == 0x03)
        let (tensors, _) = try Safetensors.read(bytes: bytes, path: path)
        #expect(tensors["t"]?.values == [2.5])
    }
}
