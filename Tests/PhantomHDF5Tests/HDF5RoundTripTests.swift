import Foundation
import PhantomFileSystem
import PhantomHDF5
import PhantomTestSupport
import Testing

/// Values with a recognisable pattern for each dtype and shape.
private func pattern<T: HDF5Element>(_ count: Int, _ make: (Int) -> T) -> [T] { (0..<count).map(make) }

private let shapes: [[Int]] = [[], [5], [3, 4], [2, 3, 5], [2, 1, 3, 4], [0, 3]]

@Suite("HDF5 round trips")
struct HDF5RoundTripTests {
    @Test("every dtype and rank 0–4 reads back bit for bit, plain and compressed", arguments: [false, true])
    func roundTrip(compressed: Bool) throws {
        let folder = makeTemporaryFolder()
        let path = folder + "/round.h5"
        let options = DatasetOptions(compressed: compressed)
        try HDF5File.write(to: path) { (file: HDF5File) throws in
            let g = try file.root.createGroup("arrays")
            for (i, shape) in shapes.enumerated() {
                let n = shape.reduce(1, *)
                try g.write(
                    "f64_\(i)", HDF5Array(shape: shape, values: pattern(n) { Double($0) * 0.1 - 1e300 * Double($0 % 2) }), options: options)
                try g.write("f32_\(i)", HDF5Array(shape: shape, values: pattern(n) { Float($0) / 3 }), options: options)
                try g.write("i64_\(i)", HDF5Array(shape: shape, values: pattern(n) { Int64($0) - Int64.max / 2 }), options: options)
                try g.write("i32_\(i)", HDF5Array(shape: shape, values: pattern(n) { Int32($0) - 7 }), options: options)
            }
        }
        try HDF5File.withFile(at: path) { (file: HDF5File) throws in
            let g = try file.root.group("arrays")
            for (i, shape) in shapes.enumerated() {
                let n = shape.reduce(1, *)
                let f64 = try g.read("f64_\(i)", as: Double.self, rank: shape.count)
                #expect(f64.shape == shape && f64.values == pattern(n) { Double($0) * 0.1 - 1e300 * Double($0 % 2) })
                let f32 = try g.read("f32_\(i)", as: Float.self)
                #expect(f32.shape == shape && f32.values == pattern(n) { Float($0) / 3 })
                #expect(try g.readDoubles("f32_\(i)").values == pattern(n) { Double(Float($0) / 3) })
                #expect(try g.read("i64_\(i)", as: Int64.self).values == pattern(n) { Int64($0) - Int64.max / 2 })
                #expect(try g.read("i32_\(i)", as: Int32.self).values == pattern(n) { Int32($0) - 7 })
                #expect(try g.readIntegers("i32_\(i)").values == pattern(n) { Int64($0) - 7 })
                #expect(try g.datasetInfo("i32_\(i)") == DatasetInfo(shape: shape, elementType: .int32))
            }
            let names = try g.children().map(\.name)
            #expect(names.count == 4 * shapes.count && names == names.sorted())
            #expect(try file.root.children().map(\.name) == ["arrays"])
            #expect(try file.root.children().first?.kind == .group)
        }
    }

    @Test("attributes: strings, numbers and numeric arrays on groups and datasets")
    func attributes() throws {
        let path = makeTemporaryFolder() + "/attrs.h5"
        try HDF5File.write(to: path) { (file: HDF5File) throws in
            let root = file.root
            try root.setAttribute("format", .string("phantom-test ✓"))
            try root.setAttribute("version", .integer(1))
            try root.setAttribute("lambda", .double(0.5))
            try root.setAttribute("ks", .integers([1, 2, 5]))
            try root.setAttribute("lambdas", .doubles([0.1, 0.5, 1]))
            try root.setAttribute("version", .integer(2))  // replaces
            try root.write("cosine", HDF5Array(shape: [2, 2], values: [1.0, 0.9, 0.8, 0.7]))
            try root.setAttribute("axes", .string("k,sample"), on: "cosine")
            _ = try root.createGroup("deep/inside/group")
            try root.setAttribute("note", .string(""), on: "deep/inside")
        }
        try HDF5File.withFile(at: path) { (file: HDF5File) throws in
            let root = file.root
            #expect(try root.attribute("format") == .string("phantom-test ✓"))
            #expect(try root.attribute("version") == .integer(2))
            #expect(try root.attribute("lambda").doubleValue == 0.5)
            #expect(try root.attribute("ks") == .integers([1, 2, 5]))
            #expect(try root.attribute("lambdas") == .doubles([0.1, 0.5, 1]))
            #expect(try root.attributeNames() == ["format", "ks", "lambda", "lambdas", "version"])
            #expect(try root.attribute("axes", of: "cosine") == .string("k,sample"))
            #expect(try root.attribute("note", of: "deep/inside") == .string(""))
            #expect(root.kind(of: "deep/inside/group") == .group)
            #expect(!root.contains("deep/nothing"))
            #expect(throws: HDF5Error.self) { try root.attribute("missing") }
        }
    }

    @Test(
        "a file written by h5py reads here, and ours reads in h5py",
        .enabled(if: h5pyAvailable, "python3 with h5py is not installed (pip install h5py)"))
    func h5pyInterop() throws {
        let folder = makeTemporaryFolder()
        let ours = folder + "/ours.h5"
        try HDF5File.write(to: ours) { (file: HDF5File) throws in
            try file.root.setAttribute("format", .string("phantom-test"))
            try file.root.write("x", HDF5Array(shape: [2, 3], values: [1.0, 2, 3, 4, 5, 6]))
            try file.root.write("n", HDF5Array(shape: [3], values: [Int32(7), 8, 9]))
        }
        let theirs = folder + "/theirs.h5"
        let script = """
            import h5py, numpy as np
            with h5py.File('\(ours)', 'r') as f:
                assert f.attrs['format'] == 'phantom-test', f.attrs['format']
                assert f['x'].shape == (2, 3) and f['x'].dtype == np.float64 and f['x'][1, 2] == 6.0
                assert list(f['n'][:]) == [7, 8, 9] and f['n'].dtype == np.int32
            with h5py.File('\(theirs)', 'w') as f:
                f.attrs['cell'] = 'tanh'
                f.attrs['d'] = np.int64(4)
                f.attrs['fixed'] = np.bytes_(b'fixed-length')
                f.create_dataset('w', data=np.arange(12, dtype=np.float32).reshape(3, 4), compression='gzip', shuffle=True)
            print('ok')
            """
        let output = try runProcess("/usr/bin/env", ["python3", "-c", script])
        #expect(output.status == 0, "h5py side failed: \(output.stderr)")
        try HDF5File.withFile(at: theirs) { (file: HDF5File) throws in
            #expect(try file.root.attribute("cell") == .string("tanh"))
            #expect(try file.root.attribute("d").integerValue == 4)
            #expect(try file.root.attribute("fixed") == .string("fixed-length"))
            let w = try file.root.readDoubles("w", rank: 2)
            #expect(w.shape == [3, 4] && w.values == (0..<12).map(Double.init))
        }
    }
}

// MARK: - Helpers

/// True when `python3 -c "import h5py"` succeeds.
let h5pyAvailable: Bool = (try? runProcess("/usr/bin/env", ["python3", "-c", "import h5py"]))?.status == 0

struct ProcessOutput { let status: Int32; let stdout: String; let stderr: String }

func runProcess(_ executable: String, _ arguments: [String]) throws -> ProcessOutput {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    let o = out.fileHandleForReading.readDataToEndOfFile()
    let e = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return ProcessOutput(
        status: process.terminationStatus, stdout: String(decoding: o, as: UTF8.self),
        stderr: String(decoding: e, as: UTF8.self))
}
