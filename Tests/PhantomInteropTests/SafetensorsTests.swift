import Foundation
import Testing
import PhantomInterop
import PhantomLinearAlgebra
import PhantomModel
import PhantomModelIO
import PhantomSafetensors
import PhantomTestSupport

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
            return ImplicitModel(cell: TanhCell(injectionWeight: g(4, 3), injectionBias: g(1, 4).elements, cellWeight: g(4, 4)),
                                 head: OutputHead(weight: g(2, 4), bias: [0.5, -0.5]))
        case .resmlp:
            var cell = ResMLPCell(stateDimension: 4, inputDimension: 3, hiddenWidth: 5)
            cell.parameters = g(1, cell.layout.count).elements
            return ImplicitModel(cell: cell, head: OutputHead(weight: g(2, 4), bias: [0.5, -0.5]))
        }
    }

    @Test("HDF5 → safetensors → HDF5 is bitwise identical", arguments: CellKind.allCases)
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
            #expect(read?.values.map(\.bitPattern) == stored.map { dtype == .f64 ? $0.bitPattern : Double(Float($0)).bitPattern }, "\(dtype)")
        }
        #expect(Safetensors.halfToDouble(0x7C00) == .infinity && Safetensors.halfToDouble(0x3C00) == 1 && Safetensors.halfToDouble(0x0001) == 0x1p-24)
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
            ("module.model.head.bias", .init(dtype: .f32, shape: [3], values: [0, 0, 0])),
        ]
        let path = makeTemporaryFolder() + "/wn.safetensors"
        try Safetensors.write(tensors.map { ($0.0, $0.1) }, to: path)
        let checkpoint = try SafetensorsImporter().importCheckpoint(path)
        let cell = try #require(checkpoint.model.cell as? TanhCell)
        #expect(relativeError(cell.injectionWeight.elements, [1.2, 1.6, 3, 0]) <= 1e-7)
        #expect(cell.cellWeight.elements == [1, 0, 0, 0.5])
        #expect(cell.injectionBias == [0.25, -0.25])
    }

    @Test("malformed files are errors naming the problem", arguments: [
        ("empty", "too short for a safetensors file"),
        ("length past end", "header length 4096 runs past the end of the file"),
        ("invalid JSON", "the header is not valid JSON"),
        ("unknown dtype", "unsupported dtype 'I8'"),
        ("out of range", "lie outside the data section"),
        ("overlap", "overlap"),
        ("byte count", "needs 16 bytes, data_offsets give 12"),
        ("not an object", "the header is not a JSON object"),
        ("unknown key", "unknown key 'strides'"),
    ])
    func malformed(label: String, expected: String) throws {
        let eight = littleEndian([1, 2])
        let path: String
        switch label {
        case "empty": path = try rawFile("", declaredLength: 0).replacingOccurrences(of: "raw", with: "raw"); try Data().write(to: URL(fileURLWithPath: path))
        case "length past end": path = try rawFile("{}", declaredLength: 4096)
        case "invalid JSON": path = try rawFile("{\"a\": [1, 2", data: eight)
        case "unknown dtype": path = try rawFile(#"{"a":{"dtype":"I8","shape":[2],"data_offsets":[0,2]}}"#, data: eight)
        case "out of range": path = try rawFile(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#, data: eight)
        case "overlap": path = try rawFile(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, data: eight)
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
        try Safetensors.write([("injection.weight", t), ("cell.weight", t), ("head.weight", t), ("extra.weight", t)], to: folder + "/partial.safetensors")
        let error = try #require(throws: SafetensorsError.self) { try SafetensorsImporter().importCheckpoint(folder + "/partial.safetensors") }
        #expect(error.description.contains("missing tensors: injection.bias") && error.description.contains("unused tensors: extra.weight"))
        try Safetensors.write([("injection.weight", t), ("head.weight", t)], to: folder + "/neither.safetensors")
        let ambiguous = try #require(throws: SafetensorsError.self) { try SafetensorsImporter().importCheckpoint(folder + "/neither.safetensors") }
        #expect(ambiguous.description.contains("cannot tell the cell kind") && ambiguous.description.contains("name the cell kind"))
        try Safetensors.write([("injection.weight", t)], metadata: ["phantom.cells": "tanh"], to: folder + "/meta.safetensors")
        #expect(throws: SafetensorsError.self) { try SafetensorsImporter().importCheckpoint(folder + "/meta.safetensors") }
    }

    @Test("a file written by numpy + safetensors reads here", .enabled(if: pythonHasSafetensors, "python3 with numpy and safetensors is not installed (pip install safetensors)"))
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
