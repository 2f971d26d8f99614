import Foundation
import PhantomHDF5
import PhantomLinearAlgebra
import PhantomModel
import PhantomModelIO
import PhantomTestSupport
import Testing

/// The files the sweep feeds to the tool: one good checkpoint and data file, and many broken ones.
enum SweepFixture {
    static let folder: String = {
        let folder = makeTemporaryFolder("phantom-sweep")
        func write(_ name: String, _ body: (HDF5Group) throws -> Void) {
            try! HDF5File.write(to: folder + "/" + name) { try body($0.root) }
        }
        var rng = SplitMix64(seed: 3)
        var w = Matrix(rows: 4, columns: 4, elements: (0..<16).map { _ in rng.nextGaussian() })
        BLAS.scal(0.5 / (try! w.spectralNorm()), &w.elements)
        let model = ImplicitModel(
            cell: TanhCell(
                injectionWeight: Matrix(rows: 4, columns: 3, elements: (0..<12).map { _ in rng.nextGaussian() }),
                injectionBias: [0.1, 0, -0.1, 0.2], cellWeight: w),
            head: OutputHead(weight: Matrix(rows: 2, columns: 4, elements: (0..<8).map { _ in rng.nextGaussian() }), bias: [0, 0]))
        try! Checkpoint(model: model, dataset: "data.h5", epoch: 1).save(to: folder + "/good.h5")
        func checkpointVariant(
            _ name: String, cell: String = "tanh", change: (inout [(String, [Int], [Double])]) -> Void = { _ in },
            intTensor: String? = nil
        ) {
            var tensors: [(String, [Int], [Double])] = []
            var offset = 0
            let values = model.cell.parameters + model.head.parameters
            for spec in model.allSpecs {
                let n = spec.shape.reduce(1, *)
                tensors.append((spec.name, spec.shape, Array(values[offset..<(offset + n)])))
                offset += n
            }
            change(&tensors)
            write(name) { root in
                for (k, v) in [
                    ("format", HDF5AttributeValue.string("phantom-checkpoint")), ("version", .integer(1)), ("cell", .string(cell)),
                    ("n_in", .integer(3)), ("d", .integer(4)), ("c", .integer(2))
                ] { try root.setAttribute(k, v) }
                let params = try root.createGroup("params")
                for (n, shape, v) in tensors {
                    if n == intTensor {
                        try params.write(n, HDF5Array(shape: shape, values: v.map { Int64($0 * 100) }))
                    } else {
                        try params.write(n, HDF5Array(shape: shape, values: v))
                    }
                }
            }
        }
        checkpointVariant("missing-tensor.h5") { $0.removeAll { $0.0 == "cell.weight" } }
        checkpointVariant("bad-shape.h5") { t in
            t[t.firstIndex { $0.0 == "cell.weight" }!] = ("cell.weight", [3, 4], Array(repeating: 0.1, count: 12))
        }
        checkpointVariant("nan-weight.h5") { t in t[t.firstIndex { $0.0 == "injection.bias" }!].2[1] = .nan }
        checkpointVariant("inf-weight.h5") { t in t[t.firstIndex { $0.0 == "head.weight" }!].2[0] = .infinity }
        checkpointVariant("unknown-cell.h5", cell: "lstm")
        checkpointVariant("int-tensor.h5", intTensor: "cell.weight")
        checkpointVariant("extra-tensor.h5") { $0.append(("cell.bias", [4], [0, 0, 0, 0])) }
        write("bad-results.h5") { root in
            try root.setAttribute("format", .string("phantom-analysis"))
            try root.setAttribute("version", .integer(1))
            try root.setAttribute("estimators", .string("upg,npg"))
            let axes = try root.createGroup("axes")
            try axes.write("k", vector: [Int64(1), 2])
            try axes.write("lambda", vector: [0.5])
            try axes.write("epoch", vector: [Int64(0)])
            let cells = try root.createGroup("cells")
            try cells.write("cosine", HDF5Array(shape: [1, 1, 1, 1, 3], values: [1.0, 0.9, 0.8]))
        }
        write("data.h5") { root in
            try root.write("x", HDF5Array(shape: [10, 3], values: (0..<30).map { _ in rng.nextGaussian() }))
            try root.write("y", vector: (0..<10).map { Int64($0 % 2) })
            try root.write("split", vector: (0..<10).map { Int64($0 % 2) })
        }
        write("data-5.h5") { root in
            try root.write("x", HDF5Array(shape: [10, 5], values: [Double](repeating: 0, count: 50)))
            try root.write("y", vector: (0..<10).map { Int64($0 % 2) })
        }
        write("data-nan.h5") { root in
            try root.write("x", HDF5Array(shape: [2, 3], values: [0, 1, .nan, 0, 0, 0]))
            try root.write("y", vector: [Int64(0), 1])
        }
        write("data-label.h5") { root in
            try root.write("x", HDF5Array(shape: [2, 3], values: [0, 1, 2, 0, 0, 0]))
            try root.write("y", vector: [Int64(0), 7])
        }
        write("data-regression.h5") { root in
            try root.write("x", HDF5Array(shape: [2, 3], values: [0, 1, 2, 0, 0, 0]))
            try root.write("y", HDF5Array(shape: [2, 5], values: [Double](repeating: 0.5, count: 10)))
        }
        write("data-notest.h5") { root in
            try root.write("x", HDF5Array(shape: [2, 3], values: [0, 1, 2, 0, 0, 0]))
            try root.write("y", vector: [Int64(0), 1])
            try root.write("split", vector: [Int64(0), 0])
        }
        write("data-nolabels.h5") { root in try root.write("x", HDF5Array(shape: [2, 3], values: [0, 1, 2, 0, 0, 0])) }
        write("data-rank.h5") { root in try root.write("x", vector: [1.0, 2, 3]) }
        write("data-extra.h5") { root in
            try root.write("x", HDF5Array(shape: [2, 3], values: [0, 1, 2, 0, 0, 0]))
            try root.write("weights", vector: [1.0, 2])
        }
        let good = try! Data(contentsOf: URL(fileURLWithPath: folder + "/good.h5"))
        try! good.prefix(good.count / 2).write(to: URL(fileURLWithPath: folder + "/truncated.h5"))
        var corrupt = [UInt8](good)
        for i in 8..<48 { corrupt[i] = 0xFF }
        try! Data(corrupt).write(to: URL(fileURLWithPath: folder + "/corrupt.h5"))
        try! "not an HDF5 file".write(toFile: folder + "/text.h5", atomically: true, encoding: .utf8)
        try! Data().write(to: URL(fileURLWithPath: folder + "/empty.safetensors"))
        func raw(_ name: String, _ header: String, data: [UInt8] = [0, 0, 128, 63, 0, 0, 0, 64], length: UInt64? = nil) {
            var bytes: [UInt8] = []
            withUnsafeBytes(of: (length ?? UInt64(header.utf8.count)).littleEndian) { bytes += $0 }
            bytes += Array(header.utf8) + data
            try! Data(bytes).write(to: URL(fileURLWithPath: folder + "/" + name))
        }
        raw("long-header.safetensors", "{}", length: 1 << 40)
        raw("bad-json.safetensors", "{\"a\": ")
        raw("bad-dtype.safetensors", #"{"a":{"dtype":"C64","shape":[1],"data_offsets":[0,8]}}"#)
        raw(
            "overlap.safetensors",
            #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#)
        raw("byte-count.safetensors", #"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#)
        raw("out-of-range.safetensors", #"{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#)
        raw("missing.safetensors", #"{"injection.weight":{"dtype":"F32","shape":[1,2],"data_offsets":[0,8]}}"#)
        try! good.write(to: URL(fileURLWithPath: folder + "/existing.h5"))
        // Hostile checkpoints: sizes a file dictates.
        func attributes(_ root: HDF5Group, n: Int64 = 3, d: Int64 = 4, c: Int64 = 2, cell: String = "tanh", m: Int64? = nil) throws {
            for (k, v) in [
                ("format", HDF5AttributeValue.string("phantom-checkpoint")), ("version", .integer(1)), ("cell", .string(cell)),
                ("n_in", .integer(n)), ("d", .integer(d)), ("c", .integer(c))
            ] { try root.setAttribute(k, v) }
            if let m { try root.setAttribute("m", .integer(m)) }
            _ = try root.createGroup("params")
        }
        write("huge-d.h5") { try attributes($0, d: 1 << 20) }
        write("big-d.h5") { try attributes($0, d: 16_384) }
        write("zero-n.h5") { try attributes($0, n: 0) }
        write("huge-c.h5") { try attributes($0, c: 1 << 20) }
        write("huge-m.h5") { try attributes($0, cell: "resmlp", m: 1 << 40) }
        write("negative-d.h5") { try attributes($0, d: -4) }
        write("max-d.h5") { try attributes($0, d: Int64.max) }
        write("huge-epoch.h5") { root in
            try attributes(root); try root.setAttribute("epoch", .integer(Int64.max))
        }
        // Hostile data files.
        write("data-huge-label.h5") { root in
            try root.write("x", HDF5Array(shape: [2, 3], values: [0, 1, 2, 0, 0, 0]))
            try root.write("y", vector: [Int64(0), 1_048_575])
        }
        write("data-zero-targets.h5") { root in
            try root.write("x", HDF5Array(shape: [2, 3], values: [0, 1, 2, 0, 0, 0]))
            try root.write("y", HDF5Array(shape: [2, 0], values: [Double]()))
        }
        write("data-empty.h5") { root in try root.write("x", HDF5Array(shape: [0, 3], values: [Double]())) }
        write("data-split-length.h5") { root in
            try root.write("x", HDF5Array(shape: [2, 3], values: [0, 1, 2, 0, 0, 0]))
            try root.write("y", vector: [Int64(0), 1])
            try root.write("split", vector: [Int64(0), 1, 1])
        }
        write("data-split-value.h5") { root in
            try root.write("x", HDF5Array(shape: [2, 3], values: [0, 1, 2, 0, 0, 0]))
            try root.write("y", vector: [Int64(0), 1])
            try root.write("split", vector: [Int64(0), 7])
        }
        // Hostile results files: strings that would reach file names and gnuplot.
        func results(_ name: String, estimators: String, cosine: Double = 0.9) {
            write(name) { root in
                try root.setAttribute("format", .string("phantom-analysis"))
                try root.setAttribute("version", .integer(1))
                try root.setAttribute("estimators", .string(estimators))
                let axes = try root.createGroup("axes")
                try axes.write("k", vector: [Int64(1)])
                try axes.write("lambda", vector: [0.5])
                try axes.write("epoch", vector: [Int64(0)])
                let count = estimators.split(separator: ",", omittingEmptySubsequences: false).count
                let cells = try root.createGroup("cells")
                try cells.write("cosine", HDF5Array(shape: [1, count, 1, 1, 2], values: [Double](repeating: cosine, count: 2 * count)))
            }
        }
        results("inject-quote.h5", estimators: #"upg"; system("touch PWNED") #"#)
        results("inject-newline.h5", estimators: "upg\nset output 'x'")
        results("inject-path.h5", estimators: "../../etc/passwd")
        results("inject-space.h5", estimators: "upg,npg x")
        results("inject-upper.h5", estimators: "UPG")
        results("inject-long.h5", estimators: String(repeating: "a", count: 40))
        results("inject-twice.h5", estimators: "upg,upg")
        results("inject-empty.h5", estimators: "")
        write("results-version.h5") { root in
            try root.setAttribute("format", .string("phantom-analysis"))
            try root.setAttribute("version", .integer(99))
        }
        write("results-unknown.h5") { root in
            try root.setAttribute("format", .string("phantom-analysis"))
            try root.setAttribute("version", .integer(1))
            try root.setAttribute("estimators", .string("upg"))
            let axes = try root.createGroup("axes")
            try axes.write("k", vector: [Int64(1)])
            try axes.write("lambda", vector: [0.5])
            try axes.write("epoch", vector: [Int64(0)])
            let cells = try root.createGroup("cells")
            try cells.write("mystery", vector: [1.0])
        }
        // Hostile safetensors: shapes that declare huge or empty models.
        raw(
            "zero-dim.safetensors",
            #"{"injection.weight":{"dtype":"F32","shape":[0,3],"data_offsets":[0,0]},"injection.bias":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},"cell.weight":{"dtype":"F32","shape":[0,0],"data_offsets":[0,0]},"head.weight":{"dtype":"F32","shape":[2,0],"data_offsets":[0,0]},"head.bias":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#
        )
        raw(
            "huge-dim.safetensors",
            #"{"injection.weight":{"dtype":"F32","shape":[1099511627776,0],"data_offsets":[0,0]},"injection.bias":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"cell.weight":{"dtype":"F32","shape":[0,0],"data_offsets":[0,0]},"head.weight":{"dtype":"F32","shape":[2,0],"data_offsets":[0,0]},"head.bias":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}"#,
            data: [UInt8](repeating: 0, count: 16))
        raw("overflow-shape.safetensors", #"{"a":{"dtype":"F64","shape":[4294967296,4294967296,16],"data_offsets":[0,8]}}"#)
        raw("negative-shape.safetensors", #"{"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}"#)
        try! Data([0x50, 0x4B, 0x03, 0x04] + [UInt8](repeating: 7, count: 60)).write(to: URL(fileURLWithPath: folder + "/pickle.pt"))
        try! Data([0x80, 0x02, 0x7D, 0x71, 0x00, 0x2E]).write(to: URL(fileURLWithPath: folder + "/old-pickle.pth"))
        // A run folder to protect, and a device-like target.
        try! FileManager.default.createDirectory(atPath: folder + "/run", withIntermediateDirectories: true)
        try! good.write(to: URL(fileURLWithPath: folder + "/run/epoch-0001.h5"))
        try! FileManager.default.createSymbolicLink(atPath: folder + "/link.h5", withDestinationPath: folder + "/a-file")
        try! FileManager.default.createDirectory(atPath: folder + "/a-folder.h5", withIntermediateDirectories: true)
        try! "x".write(toFile: folder + "/a-file", atomically: true, encoding: .utf8)
        return folder
    }()
}

@Suite("Bad input never crashes the tool")
struct BadInputSweepTests {
    /// Arguments (with {} for the fixture folder) and a fragment the one stderr line must contain.
    static let cases: [([String], String)] = [
        // Unknown commands and options, everywhere.
        (["frobnicate"], "Unexpected argument 'frobnicate'"),
        (["--verbose"], "Unknown option '--verbose'"),
        (["analyze", "{}/good.h5", "--data", "{}/data.h5", "--colour", "red"], "Unknown option '--colour'"),
        (["train", "-o", "{}/run", "--stop-mode", "rel"], "Unknown option '--stop-mode'"),
        (["plot", "{}/good.h5", "--dpi", "300"], "Unknown option '--dpi'"),
        (["import", "{}/x.safetensors", "-o", "{}/o.h5", "--strict"], "Unknown option '--strict'"),
        (["inspect", "{}/good.h5", "--all"], "Unknown option '--all'"),
        (["bench", "grid", "--gpu"], "Unknown option '--gpu'"),
        // Broken checkpoints.
        (["inspect", "{}/missing-file.h5"], "no such file"),
        (["inspect", "{}/text.h5"], "not an HDF5 file"),
        (["inspect", "{}/truncated.h5"], "truncated.h5"),
        (["inspect", "{}/corrupt.h5"], "corrupt.h5"),
        (["inspect", "{}/data.h5"], "not a phantom checkpoint"),
        (["inspect", "{}/missing-tensor.h5"], "params/cell.weight: missing tensor"),
        (["inspect", "{}/bad-shape.h5"], "params/cell.weight: shape [3, 4], expected [4, 4]"),
        (["inspect", "{}/nan-weight.h5"], "params/injection.bias: contains NaN or infinity"),
        (["inspect", "{}/inf-weight.h5"], "params/head.weight: contains NaN or infinity"),
        (["inspect", "{}/unknown-cell.h5"], "unknown cell kind 'lstm'"),
        (["inspect", "{}/int-tensor.h5"], "holds int64 values, expected floating-point"),
        (["inspect", "{}/extra-tensor.h5"], "params/cell.bias: unexpected tensor"),
        (["analyze", "{}/truncated.h5", "--data", "{}/data.h5", "-o", "{}/r.h5"], "truncated.h5"),
        // Broken data.
        (["analyze", "{}/good.h5", "--data", "{}/data-5.h5", "-o", "{}/r.h5"], "x has 5 features, {}/good.h5 expects n_in = 3"),
        (["analyze", "{}/good.h5", "--data", "{}/data-nan.h5", "-o", "{}/r.h5"], "x: contains NaN or infinity"),
        (["analyze", "{}/good.h5", "--data", "{}/data-nolabels.h5", "-o", "{}/r.h5"], "has no targets 'y'"),
        (["analyze", "{}/good.h5", "--data", "{}/data-rank.h5", "-o", "{}/r.h5"], "has rank 1"),
        (["analyze", "{}/good.h5", "--data", "{}/data-extra.h5", "-o", "{}/r.h5"], "unexpected dataset 'weights'"),
        (["analyze", "{}/good.h5", "--data", "{}/nowhere.h5", "-o", "{}/r.h5"], "no such file"),
        (
            ["analyze", "{}/good.h5", "--data", "{}/data-label.h5", "-o", "{}/r.h5"],
            "y: label 7 is out of range for a model with c = 2 outputs"
        ),
        (
            ["analyze", "{}/good.h5", "--data", "{}/data-regression.h5", "-o", "{}/r.h5"],
            "y: 5 regression targets per sample, the model has c = 2 outputs"
        ),
        (["analyze", "{}/good.h5", "--data", "{}/data-notest.h5", "-o", "{}/r.h5"], "the test split (split = 1) holds no samples"),
        (["inspect", "{}/good.h5", "--data", "{}/data-5.h5"], "x has 5 features"),
        // Out-of-range options.
        (["analyze", "{}/good.h5", "--data", "{}/data.h5", "--samples", "0", "-o", "{}/r.h5"], "the number of samples must be at least 1"),
        (["analyze", "{}/good.h5", "--data", "{}/data.h5", "--k", "5...1", "-o", "{}/r.h5"], "'5...1' is invalid for '--k"),
        (["analyze", "{}/good.h5", "--data", "{}/data.h5", "--k", "1,x", "-o", "{}/r.h5"], "'1,x' is invalid for '--k"),
        (["analyze", "{}/good.h5", "--data", "{}/data.h5", "--lambda", "0.5,1.5", "-o", "{}/r.h5"], "every λ must lie in (0, 1], got 1.5"),
        (["analyze", "{}/good.h5", "--data", "{}/data.h5", "--lambda", "nan", "-o", "{}/r.h5"], "every λ must lie in (0, 1]"),
        (["analyze", "{}/good.h5", "--data", "{}/data.h5", "--adjoint", "cg", "-o", "{}/r.h5"], "'cg' is invalid for '--adjoint"),
        (["analyze", "{}/good.h5", "--data", "{}/data.h5", "--solver", "newton", "-o", "{}/r.h5"], "'newton' is invalid for '--solver"),
        (
            ["analyze", "{}/good.h5", "--data", "{}/data.h5", "--tolerance=-1", "-o", "{}/r.h5"],
            "the solver tolerance must be a positive number"
        ),
        (
            ["analyze", "{}/good.h5", "--data", "{}/data.h5", "--max-iterations", "0", "-o", "{}/r.h5"],
            "the solver's iteration limit must lie in 1…"
        ),
        (
            ["analyze", "{}/good.h5", "--data", "{}/data.h5", "--estimators", "shine", "--shine-fallback=-1", "-o", "{}/r.h5"],
            "--shine-fallback must be a number ≥ 0"
        ),
        (
            ["analyze", "{}/good.h5", "--data", "{}/data.h5", "--estimators", "shine", "--shine-fallback", "nan", "-o", "{}/r.h5"],
            "--shine-fallback must be a number ≥ 0"
        ),
        (
            ["analyze", "{}/good.h5", "--data", "{}/data.h5", "--shine-fallback", "1.8", "-o", "{}/r.h5"],
            "--shine-fallback applies to shine only"
        ),
        (
            ["analyze", "{}/good.h5", "--data", "{}/data.h5", "--estimators", "upg,shine", "--solver", "anderson", "-o", "{}/r.h5"],
            "shine needs the forward Broyden solve's history; --solver anderson builds none"
        ),
        (
            ["analyze", "{}/good.h5", "--data", "{}/data.h5", "--estimators", "fp-adjoint", "--truncated-tolerance", "0", "-o", "{}/r.h5"],
            "--truncated-tolerance must be a positive number"
        ),
        (
            ["analyze", "{}/good.h5", "--data", "{}/data.h5", "--truncated-stop", "rel", "-o", "{}/r.h5"],
            "--truncated-stop and --truncated-tolerance apply to fp-adjoint and gmres-adjoint only"
        ),
        (
            ["train", "--data", "{}/data.h5", "--estimator", "fp-adjoint", "--adjoint-budget", "0", "-o", "{}/run"],
            "--adjoint-budget must lie in 1…1000"
        ),
        (
            ["train", "--data", "{}/data.h5", "--adjoint-budget", "40", "-o", "{}/run"],
            "--adjoint-budget applies to fp-adjoint and gmres-adjoint only"
        ),
        (
            ["train", "--data", "{}/data.h5", "--estimator", "shine", "--solver", "fixed-point", "-o", "{}/run"],
            "shine needs the forward Broyden solve's history; --solver fixed-point builds none"
        ),
        (
            ["train", "--data", "{}/data.h5", "--estimator", "shine", "--shine-fallback=-2", "-o", "{}/run"],
            "--shine-fallback must be a number ≥ 0"
        ),
        (["train", "--data", "{}/data.h5", "--epochs=-1", "-o", "{}/run"], "the number of epochs must be ≥ 0"),
        (["train", "--data", "{}/data.h5", "--batch", "0", "-o", "{}/run"], "the batch size must be at least 1"),
        (["train", "--data", "{}/data.h5", "--hidden", "0", "-o", "{}/run"], "hidden (the state dimension d) must lie in 1…4096"),
        (["train", "--data", "{}/data.h5", "--lr=-0.1", "-o", "{}/run"], "the learning rate must be a positive number"),
        (["train", "--data", "{}/data.h5", "--save-every", "0", "-o", "{}/run"], "the save interval (epochs) must be at least 1"),
        (["train", "--data", "{}/data.h5", "--max-norm=-1", "-o", "{}/run"], "the max norm γ must be ≥ 0"),
        (["train", "--data", "{}/data-nan.h5", "-o", "{}/run"], "x: contains NaN or infinity"),
        (["train", "--data", "mnist", "-o", "{}/run"], "data set 'mnist' was not found"),
        (["plot", "{}/good.h5", "--format", "gif", "-o", "{}/figs"], "invalid for '--format <format>': unknown format 'gif'"),
        (["plot", "{}/good.h5", "-o", "{}/figs"], "not a phantom results file"),
        (["plot", "{}/nothing.h5", "-o", "{}/figs"], "no such file or folder"),
        (["plot", "{}/bad-results.h5", "-o", "{}/figs"], "/cells/cosine has shape [1, 1, 1, 1, 3], which does not match the axes"),
        (["bench", "grid", "--d", "0"], "d must lie in 1…8192"),
        (["bench", "train", "--epochs", "0"], "must be at least 1"),
        // Missing, unwritable and existing outputs.
        (
            ["analyze", "{}/good.h5", "--data", "{}/data.h5", "-o", "{}/existing.h5"],
            "already exists; refusing to overwrite it (use --force)"
        ),
        (["analyze", "{}/good.h5", "--data", "{}/data.h5", "-o", "{}/no/such/folder/r.h5"], "does not exist"),
        (["analyze", "{}/good.h5", "--data", "{}/data.h5", "-o", "{}/a-file/r.h5"], "does not exist"),
        (["import", "{}/missing.safetensors", "-o", "{}/existing.h5"], "{}/missing.safetensors"),
        (["train", "--data", "{}/data.h5", "-o", "{}/a-file"], "exists and is not a folder"),
        // Broken safetensors.
        (["import", "{}/empty.safetensors", "-o", "{}/o.h5"], "too short for a safetensors file"),
        (["import", "{}/long-header.safetensors", "-o", "{}/o.h5"], "runs past the end of the file"),
        (["import", "{}/bad-json.safetensors", "-o", "{}/o.h5"], "the header is not valid JSON"),
        (["import", "{}/bad-dtype.safetensors", "-o", "{}/o.h5"], "unsupported dtype 'C64'"),
        (["import", "{}/overlap.safetensors", "-o", "{}/o.h5"], "overlap"),
        (["import", "{}/byte-count.safetensors", "-o", "{}/o.h5"], "needs 12 bytes, data_offsets give 8"),
        (["import", "{}/out-of-range.safetensors", "-o", "{}/o.h5"], "lie outside the data section"),
        (["import", "{}/missing.safetensors", "-o", "{}/o.h5"], "cannot tell the cell kind"),
        (["import", "{}/missing.safetensors", "--cell", "tanh", "-o", "{}/o.h5"], "missing tensor"),
        (["import", "{}/missing.safetensors", "--cell", "gru", "-o", "{}/o.h5"], "'gru' is invalid for '--cell"),
        (["analyze", "{}/bad-json.safetensors", "--data", "{}/data.h5", "-o", "{}/r.h5"], "the header is not valid JSON"),
        (["analyze", "{}/missing.safetensors", "--cell", "tanh", "--data", "{}/data.h5", "-o", "{}/r.h5"], "missing tensor"),
        (["inspect", "{}/missing.safetensors", "--cell", "lstm"], "'lstm' is invalid for '--cell"),
        // Sizes a file dictates: refused before anything is allocated.
        (["inspect", "{}/huge-d.h5"], "attribute 'd' = 1048576 is out of range"),
        (["inspect", "{}/big-d.h5"], "more than the 134217728 a model may have"),
        (["inspect", "{}/zero-n.h5"], "attribute 'n_in' = 0 is out of range"),
        (["inspect", "{}/huge-c.h5"], "attribute 'c' = 1048576 is out of range"),
        (["inspect", "{}/huge-m.h5"], "attribute 'm' = 1099511627776 is out of range"),
        (["inspect", "{}/negative-d.h5"], "attribute 'd' = -4 is out of range"),
        (["inspect", "{}/max-d.h5"], "is out of range"),
        (["inspect", "{}/huge-epoch.h5"], "attribute 'epoch' = 9223372036854775807 is out of range"),
        (["analyze", "{}/good.h5", "--data", "{}/data-huge-label.h5", "-o", "{}/r.h5"], "labels must be integers in 0…16383"),
        (["train", "--data", "{}/data-huge-label.h5", "-o", "{}/run-label"], "labels must be integers in 0…16383"),
        (["analyze", "{}/good.h5", "--data", "{}/data-zero-targets.h5", "-o", "{}/r.h5"], "y: shape [2, 0] does not fit"),
        (["train", "--data", "{}/data-zero-targets.h5", "-o", "{}/run-zero"], "y: shape [2, 0] does not fit"),
        (["analyze", "{}/good.h5", "--data", "{}/data-empty.h5", "-o", "{}/r.h5"], "x: shape [0, 3] is outside"),
        (["analyze", "{}/good.h5", "--data", "{}/data-split-length.h5", "-o", "{}/r.h5"], "split: shape [3] does not fit 2 samples"),
        (["analyze", "{}/good.h5", "--data", "{}/data-split-value.h5", "-o", "{}/r.h5"], "split: entries must be 0 (train) or 1 (test)"),
        (["import", "{}/zero-dim.safetensors", "--cell", "tanh", "-o", "{}/o.h5"], "d = 0 is out of range"),
        (["import", "{}/huge-dim.safetensors", "--cell", "tanh", "-o", "{}/o.h5"], "is out of range"),
        (["inspect", "{}/huge-dim.safetensors", "--cell", "tanh"], "is out of range"),
        (["analyze", "{}/huge-dim.safetensors", "--cell", "tanh", "--data", "{}/data.h5", "-o", "{}/r.h5"], "is out of range"),
        (["import", "{}/overflow-shape.safetensors", "-o", "{}/o.h5"], "is too large"),
        (["import", "{}/negative-shape.safetensors", "-o", "{}/o.h5"], "shape must be a list of non-negative integers"),
        (["import", "{}/pickle.pt", "-o", "{}/o.h5"], "is a PyTorch pickle (torch.save), which phantom never unpickles"),
        (["import", "{}/old-pickle.pth", "-o", "{}/o.h5"], "is a PyTorch pickle"),
        (["analyze", "{}/pickle.pt", "--data", "{}/data.h5", "-o", "{}/r.h5"], "is a PyTorch pickle"),
        (["inspect", "{}/old-pickle.pth"], "is a PyTorch pickle"),
        (["import", "{}/missing.safetensors", "--rename", "nothing", "-o", "{}/o.h5"], "--rename: 'nothing' is not OLD=NEW"),
        // Strings from files that would reach file names or gnuplot: only validated identifiers pass.
        (["plot", "{}/inject-quote.h5", "-o", "{}/figs"], "is not an estimator name"),
        (["plot", "{}/inject-newline.h5", "-o", "{}/figs"], "is not an estimator name"),
        (["plot", "{}/inject-path.h5", "-o", "{}/figs"], "is not an estimator name"),
        (["plot", "{}/inject-space.h5", "-o", "{}/figs"], "is not an estimator name"),
        (["plot", "{}/inject-upper.h5", "-o", "{}/figs"], "is not an estimator name"),
        (["plot", "{}/inject-long.h5", "-o", "{}/figs"], "is not an estimator name"),
        (["plot", "{}/inject-twice.h5", "-o", "{}/figs"], "names an estimator twice"),
        (["plot", "{}/inject-empty.h5", "-o", "{}/figs"], "is not an estimator name"),
        (["plot", "{}/results-version.h5", "-o", "{}/figs"], "unsupported results format version"),
        (["plot", "{}/results-unknown.h5", "-o", "{}/figs"], "unexpected /cells/mystery"),
        (["merge", "{}/inject-quote.h5", "-o", "{}/m.h5"], "is not an estimator name"),
        // Inputs are never destroyed, and only regular files are replaced, even with --force.
        (["analyze", "{}/good.h5", "--data", "{}/data.h5", "-o", "{}/good.h5", "--force"], "is an input of this command"),
        (["analyze", "{}/good.h5", "--data", "{}/data.h5", "-o", "{}/data.h5", "--force"], "is an input of this command"),
        (["analyze", "{}/run", "--data", "{}/data.h5", "-o", "{}/run/epoch-0001.h5", "--force"], "is an input of this command"),
        (["analyze", "{}/good.h5", "--data", "{}/data.h5", "-o", "/dev/null", "--force"], "is not a regular file"),
        (["analyze", "{}/good.h5", "--data", "{}/data.h5", "-o", "{}/link.h5", "--force"], "is a symbolic link"),
        (["analyze", "{}/good.h5", "--data", "{}/data.h5", "-o", "{}/a-folder.h5", "--force"], "is a folder"),
        (["import", "{}/missing.safetensors", "--cell", "tanh", "-o", "/dev/null", "--force"], "missing tensor"),
        (["merge", "{}/existing.h5", "-o", "/dev/null", "--force"], "is not a regular file"),
        // Numbers from options and files are bounded before they are used.
        (["analyze", "{}/good.h5", "--data", "{}/data.h5", "--k", "1...9223372036854775807", "-o", "{}/r.h5"], "is invalid for '--k"),
        (["analyze", "{}/good.h5", "--data", "{}/data.h5", "--k", "1...2000", "-o", "{}/r.h5"], "is invalid for '--k"),
        (["analyze", "{}/good.h5", "--data", "{}/data.h5", "--k", "5000", "-o", "{}/r.h5"], "k is at most 1000"),
        (["analyze", "{}/good.h5", "--data", "{}/data.h5", "--samples=-3", "-o", "{}/r.h5"], "the number of samples must be at least 1"),
        (["analyze", "{}/good.h5", "--data", "{}/data.h5", "--shard", "0/4", "-o", "{}/r.h5"], "1 ≤ I ≤ N"),
        (["analyze", "{}/good.h5", "--data", "{}/data.h5", "--shard", "x", "-o", "{}/r.h5"], "a shard is written I/N"),
        (["bench", "grid", "--d", "100000"], "d must lie in 1…8192"),
        (["bench", "grid", "--repeats", "9223372036854775807"], "repeats must lie in 1…1000"),
        (["bench", "grid", "--k", "1000000"], "K must lie in 1…1000"),
        (
            ["train", "--data", "{}/data.h5", "--hidden", "9223372036854775807", "-o", "{}/run-h"],
            "hidden (the state dimension d) must lie in 1…4096"
        ),
        (["slurm", "--shards", "2", "--time", "1;reboot", "--", "{}/good.h5"], "is not minutes or [D-]HH:MM:SS"),
        (["slurm", "--shards", "2", "--partition", "a'b", "--", "{}/good.h5"], "is not a partition name")
    ]

    @Test("one exit status per class of failure: usage 64, input 65, output 74 (sysexits)")
    func exitStatuses() throws {
        let folder = SweepFixture.folder
        let cases: [([String], Int32)] = [
            (["--verbose"], 64), (["analyze", "{}/good.h5", "--k", "0", "--data", "{}/data.h5"], 64),
            (["train", "--data", "{}/data.h5", "--hidden", "0", "-o", "{}/run-x"], 64), (["plot", "{}/good.h5", "--format", "gif"], 64),
            (["inspect", "{}/missing-file.h5"], 65), (["inspect", "{}/corrupt.h5"], 65),
            (["import", "{}/bad-json.safetensors", "-o", "{}/o.h5"], 65),
            (["analyze", "{}/good.h5", "--data", "{}/data-nan.h5", "-o", "{}/r.h5"], 65),
            (["plot", "{}/inject-quote.h5", "-o", "{}/figs"], 65),
            (["analyze", "{}/good.h5", "--data", "{}/data.h5", "-o", "{}/existing.h5"], 74),
            (["analyze", "{}/good.h5", "--data", "{}/data.h5", "-o", "{}/no/such/folder/r.h5"], 74),
            (["analyze", "{}/good.h5", "--data", "{}/data.h5", "-o", "/dev/null", "--force"], 74)
        ]
        for (template, status) in cases {
            let result = try runProgram(phantomExecutable(), template.map { $0.replacingOccurrences(of: "{}", with: folder) }, in: folder)
            #expect(result.status == status, "\(template): \(result.status) \(result.stderr)")
        }
    }

    /// Names, sizes and modification times of everything in the fixture folder.
    func snapshot(_ folder: String) -> [String: String] {
        var out: [String: String] = [:]
        let enumerator = FileManager.default.enumerator(atPath: folder)
        while let name = enumerator?.nextObject() as? String {
            let attributes = (try? FileManager.default.attributesOfItem(atPath: folder + "/" + name)) ?? [:]
            out[name] = "\(attributes[.size] ?? 0) \(attributes[.modificationDate] ?? "")"
        }
        return out
    }

    @Test("at least 40 malformed inputs: non-zero exit, one line naming the problem, no trace, nothing written")
    func sweep() throws {
        #expect(Self.cases.count >= 40)
        let folder = SweepFixture.folder
        let phantom = phantomExecutable()
        let before = snapshot(folder)
        for (template, fragment) in Self.cases {
            let arguments = template.map { $0.replacingOccurrences(of: "{}", with: folder) }
            let expected = fragment.replacingOccurrences(of: "{}", with: folder)
            let result = try runProgram(phantom, arguments, in: folder)
            let lines = result.stderr.split(separator: "\n", omittingEmptySubsequences: false).filter { !$0.isEmpty }
            #expect(result.status != 0, "\(template)")
            #expect(lines.count == 1, "\(template): \(result.stderr)")
            #expect(result.stderr.hasPrefix("phantom: "), "\(template): \(result.stderr)")
            #expect(result.stderr.contains(expected), "\(template): \(result.stderr)")
            for trace in ["Fatal error", "Stack dump", "Backtrace", "Program crashed", "Illegal instruction"] {
                #expect(!result.stderr.contains(trace), "\(template)")
            }
            #expect(snapshot(folder) == before, "\(template) changed the folder")
        }
    }

    @Test("kill -9 during a long phantom analyze leaves nothing at the output path")
    func killDuringAnalyze() throws {
        let folder = makeTemporaryFolder()
        let output = folder + "/results.h5"
        let reference = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: phantomExecutable())
        process.arguments = [
            "analyze", reference.appendingPathComponent("notebooks-data/reference/tanh-upg").path,
            "--data", reference.appendingPathComponent("notebooks-data/digits.h5").path,
            "--samples", "200", "-o", output
        ]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        Thread.sleep(forTimeInterval: 3)
        #expect(process.isRunning)
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        #expect(process.terminationReason == .uncaughtSignal)
        #expect(!FileManager.default.fileExists(atPath: output))
    }
}
