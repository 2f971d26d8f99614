import Foundation
import PhantomHDF5
import PhantomInterop
import PhantomLinearAlgebra
import PhantomModel
import PhantomModelIO
import PhantomTestSupport
import Testing

@Suite("The phantom executable")
struct CLITests {
    let phantom = phantomExecutable()

    @Test("--version prints the version; --help names the tool and its purpose")
    func versionAndHelp() throws {
        let version = try runProgram(phantom, ["--version"])
        #expect(version.status == 0)
        #expect(version.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "0.1.0")
        let help = try runProgram(phantom, ["--help"])
        #expect(help.status == 0)
        #expect(help.stdout.contains("USAGE: phantom"))
        #expect(help.stdout.contains("phantom gradients"))
    }

    @Test(
        "an unknown option is one line on stderr and a non-zero exit",
        arguments: [
            ["--frobnicate"], ["plot", "--bogus", "1"], ["no-such-command"]
        ])
    func unknownOption(arguments: [String]) throws {
        let result = try runProgram(phantom, arguments)
        #expect(result.status != 0)
        let lines = result.stderr.split(separator: "\n")
        #expect(lines.count == 1, "stderr: \(result.stderr)")
        #expect(lines.first?.hasPrefix("phantom: ") == true)
        #expect(result.stdout.isEmpty)
    }
}

@Suite("phantom inspect")
struct InspectCommandTests {
    let phantom = phantomExecutable()

    /// A small tanh checkpoint and data files, written through the built tool's own format by h5py-free means.
    func fixture() throws -> (folder: String, checkpoint: String) {
        let folder = makeTemporaryFolder()
        // An HDF5 file that is not a checkpoint.
        try HDF5File.write(to: folder + "/unused.h5") { file in
            try file.root.write("sigma", vector: [3.0, 2.0, 1.0])
        }
        return (folder, folder + "/unused.h5")
    }

    @Test("bad input: a missing file, a non-checkpoint, out-of-range options — one line, non-zero exit")
    func badInput() throws {
        let (folder, notCheckpoint) = try fixture()
        let cases: [([String], String)] = [
            (["inspect", folder + "/missing.h5"], "no such file"),
            (["inspect", notCheckpoint], "not a phantom checkpoint"),
            (["inspect", notCheckpoint, "--samples", "0"], "the number of samples must be at least 1"),
            (["inspect", notCheckpoint, "--solver", "newton"], "'newton' is invalid for '--solver"),
            (["inspect", notCheckpoint, "--tolerance=-1"], "the solver tolerance must be a positive number"),
            (["inspect"], "Missing expected argument")
        ]
        for (arguments, expected) in cases {
            let result = try runProgram(phantom, arguments)
            #expect(result.status != 0, "\(arguments)")
            #expect(result.stderr.split(separator: "\n").count == 1, "\(arguments): \(result.stderr)")
            #expect(result.stderr.contains(expected), "\(arguments): \(result.stderr)")
            #expect(result.stdout.isEmpty, "\(arguments)")
        }
    }
}

extension InspectCommandTests {
    @Test("inspect prints the tensors, and with --data the per-sample solves and diagnostics")
    func inspectWithData() throws {
        let folder = makeTemporaryFolder()
        var rng = SplitMix64(seed: 50)
        let d = 6, n = 3
        var w = Matrix(rows: d, columns: d, elements: (0..<(d * d)).map { _ in rng.nextGaussian() })
        BLAS.scal(0.8 / (try w.spectralNorm()), &w.elements)
        let cell = TanhCell(
            injectionWeight: Matrix(rows: d, columns: n, elements: (0..<(d * n)).map { _ in rng.nextGaussian() }),
            injectionBias: [Double](repeating: 0.1, count: d), cellWeight: w)
        let checkpoint = Checkpoint(
            model: ImplicitModel(cell: cell, head: OutputHead(classes: 2, stateDimension: d)),
            dataset: "synthetic", epoch: 2)
        try checkpoint.save(to: folder + "/model.h5")
        try HDF5File.write(to: folder + "/data.h5") { file in
            try file.root.write("x", HDF5Array(shape: [4, n], values: (0..<(4 * n)).map { _ in rng.nextGaussian() }))
        }
        try HDF5File.write(to: folder + "/wide.h5") { file in
            try file.root.write("x", HDF5Array(shape: [2, 5], values: [Double](repeating: 0, count: 10)))
        }
        let result = try runProgram(phantom, ["inspect", folder + "/model.h5", "--data", folder + "/data.h5", "--samples", "2"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("cell        tanh (n_in = 3, d = 6, c = 2)"))
        #expect(result.stdout.contains("cell.weight             [6, 6]"))
        let rows = result.stdout.split(separator: "\n").filter { $0.hasSuffix("converged") }
        #expect(rows.count == 2)
        let wide = try runProgram(phantom, ["inspect", folder + "/model.h5", "--data", folder + "/wide.h5"])
        #expect(wide.status != 0 && wide.stdout.isEmpty)
        #expect(wide.stderr == "phantom: \(folder)/wide.h5: x has 5 features, the checkpoint expects n_in = 3\n")
    }
}

@Suite("phantom train and analyze: bad input")
struct TrainAnalyzeBadInputTests {
    let phantom = phantomExecutable()

    @Test("each bad input is one line on stderr, a non-zero exit and nothing written")
    func badInputs() throws {
        let folder = makeTemporaryFolder()
        try HDF5File.write(to: folder + "/five.h5") { (file: HDF5File) throws in
            try file.root.write("x", HDF5Array(shape: [10, 5], values: [Double](repeating: 0.5, count: 50)))
            try file.root.write("y", vector: (0..<10).map { Int64($0 % 2) })
        }
        try HDF5File.write(to: folder + "/images.h5") { (file: HDF5File) throws in
            try file.root.write("x", HDF5Array(shape: [2, 1, 4, 16], values: [Double](repeating: 0.5, count: 128)))
            try file.root.write("y", vector: [Int64(0), 1])
        }
        // A finished run to collide with.
        let run = folder + "/run"
        let first = try runProgram(phantom, ["train", "--data", folder + "/five.h5", "--hidden", "4", "--epochs", "1", "-o", run])
        #expect(first.status == 0, "\(first.stderr)")
        let before = try FileManager.default.contentsOfDirectory(atPath: run).sorted()
        let cases: [([String], String)] = [
            (["train", "--data", "no-such-set", "-o", folder + "/r1"], "data set 'no-such-set' was not found"),
            (["train", "--data", folder + "/five.h5", "--lambda", "1.5", "-o", folder + "/r2"], "the damping λ must lie in (0, 1]"),
            (["train", "--data", folder + "/five.h5", "--k", "0", "-o", folder + "/r3"], "the steps k must lie in 1…1000"),
            (["train", "--data", folder + "/five.h5", "--lr", "0", "-o", folder + "/r4"], "the learning rate must be a positive number"),
            (["train", "--data", folder + "/five.h5", "--estimator", "magic", "-o", folder + "/r5"], "unknown estimator 'magic'"),
            (["train", "--data", folder + "/five.h5", "-o", run], "holds another run's checkpoints"),
            (["train", "--resume", "--lr", "0.1", "-o", run], "drop --lr"),
            (["train", "--resume", "-o", folder + "/nothing"], "no checkpoints to resume from"),
            (
                ["analyze", run + "/epoch-0001.h5", "--data", folder + "/five.h5", "--k", "0", "-o", folder + "/a.h5"],
                "every k must be at least 1"
            ),
            (
                ["analyze", run + "/epoch-0001.h5", "--data", folder + "/five.h5", "--lambda", "0", "-o", folder + "/a.h5"],
                "every λ must lie in (0, 1]"
            ),
            (
                ["analyze", run + "/epoch-0001.h5", "--data", folder + "/five.h5", "--estimators", "upg,xyz", "-o", folder + "/a.h5"],
                "'upg,xyz' is invalid"
            ),
            (["analyze", run + "/epoch-0001.h5", "--data", folder + "/five.h5", "-o", folder + "/no/such/dir/a.h5"], "does not exist"),
            (["analyze", run + "/epoch-0001.h5", "--data", folder + "/five.h5", "-o", run + "/epoch-0000.h5"], "already exists"),
            (["analyze", folder + "/missing.h5", "-o", folder + "/a.h5"], "no such file"),
            (["train", "--cell", "mdeq", "--groups", "3", "-o", folder + "/r6"], "the groups G must divide the channels C = 8, got 3"),
            (["train", "--cell", "tanh", "--channels", "8", "-o", folder + "/r6"], "--channels does not apply to the tanh cell"),
            (["train", "--cell", "mdeq", "--hidden", "8", "-o", folder + "/r6"], "--hidden does not apply to the mdeq cell"),
            (
                ["train", "--cell", "mdeq", "--data", folder + "/five.h5", "-o", folder + "/r6"],
                "the mdeq cell needs image inputs: store x as [N, C_in, H, W] (x has 5 features per sample, not a square)"
            ),
            (
                [
                    "analyze", repositoryPath("notebooks-data/reference/mdeq-upg/epoch-0030.h5"), "--data", folder + "/images.h5", "-o",
                    folder + "/a.h5"
                ],
                "x holds images of shape [1, 4, 16] (C_in, H, W), " + repositoryPath("notebooks-data/reference/mdeq-upg/epoch-0030.h5")
                    + " expects [1, 8, 8]"
            )
        ]
        for (arguments, expected) in cases {
            let result = try runProgram(phantom, arguments)
            #expect(result.status != 0, "\(arguments)")
            #expect(result.stderr.split(separator: "\n").count == 1, "\(arguments): \(result.stderr)")
            #expect(result.stderr.contains(expected), "\(arguments): \(result.stderr)")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: run).sorted() == before)
        for r in ["r1", "r2", "r3", "r4", "r5", "r6", "a.h5"] { #expect(!FileManager.default.fileExists(atPath: folder + "/" + r), "\(r)") }
    }

    @Test("train, resume and analyze a small run end to end; the results file has the documented layout")
    func endToEnd() throws {
        let folder = makeTemporaryFolder()
        try HDF5File.write(to: folder + "/two.h5") { (file: HDF5File) throws in
            let data = SyntheticData.twoClass(count: 60, inputs: 3, seed: 9)
            try file.root.write("x", HDF5Array(shape: [60, 3], values: data.x.elements))
            if case .labels(let l)? = data.y { try file.root.write("y", vector: l.map { Int64($0) }) }
            try file.root.write("split", vector: data.split!.map { Int64($0) })
        }
        let run = folder + "/run"
        #expect(
            try runProgram(
                phantom, ["train", "--data", folder + "/two.h5", "--hidden", "5", "--epochs", "2", "--save-every", "1", "-o", run]
            ).status == 0)
        let resumed = try runProgram(phantom, ["train", "--resume", "--epochs", "3", "-o", run])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(
            try FileManager.default.contentsOfDirectory(atPath: run).sorted() == [
                "epoch-0000.h5", "epoch-0001.h5", "epoch-0002.h5", "epoch-0003.h5"
            ])
        let results = folder + "/results.h5"
        let analysis = try runProgram(
            phantom,
            [
                "analyze", run, "--data", folder + "/two.h5", "--samples", "5", "--k", "1,3",
                "--lambda", "0.5,1", "--estimators", "upg,npg,jfb,rbp", "-o", results, "--json"
            ])
        #expect(analysis.status == 0, "\(analysis.stderr)")
        #expect(analysis.stdout.contains("\"medianCosine\""))
        try HDF5File.withFile(at: results) { (file: HDF5File) throws in
            let root = file.root
            #expect(try root.attribute("format") == .string("phantom-analysis"))
            #expect(try root.datasetInfo("cells/cosine").shape == [4, 4, 2, 2, 5])  // series × estimator × λ × k × sample
            #expect(try root.attribute("axes", of: "cells/cosine") == .string("series,estimator,lambda,k,sample"))
            #expect(try root.readIntegers("axes/epoch").values == [0, 1, 2, 3])
            #expect(try root.readIntegers("samples/forward_converged", rank: 2).values.allSatisfy { $0 == 1 })
            #expect(try root.group("series/3").attribute("sha256").stringValue?.count == 64)
        }
    }
}

@Suite("phantom with safetensors inputs")
struct SafetensorsCommandTests {
    @Test("analyze and import read a .safetensors model; the imported checkpoint equals the original")
    func analyzeAndImport() throws {
        let folder = makeTemporaryFolder()
        let model = RandomModels.tanh(d: 4, n: 3, c: 2, norm: 0.7, injectionScale: 0.5, biasScale: 0.1, seed: 4)
        try Checkpoint(model: model, dataset: "data.h5").save(to: folder + "/model.h5")
        try SafetensorsExporter.export(try Checkpoint.load(folder + "/model.h5"), to: folder + "/model.safetensors")
        try HDF5File.write(to: folder + "/data.h5") { (file: HDF5File) throws in
            try file.root.write("x", HDF5Array(shape: [6, 3], values: (0..<18).map { Double($0 % 5) / 5 }))
            try file.root.write("y", vector: (0..<6).map { Int64($0 % 2) })
        }
        let phantom = phantomExecutable()
        let analysis = try runProgram(
            phantom,
            [
                "analyze", folder + "/model.safetensors", "--data", folder + "/data.h5",
                "--samples", "3", "--k", "1,2", "--lambda", "1", "-o", folder + "/r.h5"
            ])
        #expect(analysis.status == 0, "\(analysis.stderr)")
        let imported = try runProgram(phantom, ["import", folder + "/model.safetensors", "-o", folder + "/imported.h5"])
        #expect(imported.status == 0, "\(imported.stderr)")
        #expect(try Checkpoint.load(folder + "/imported.h5").model.cell.parameters == model.cell.parameters)
    }

    @Test(
        "phantom export then phantom import gives the checkpoint back exactly (resmlp with its LayerNorm ε); export never replaces its input"
    )
    func exportRoundTrip() throws {
        let folder = makeTemporaryFolder()
        var model = RandomModels.resmlp(d: 4, n: 3, m: 6, c: 2, normCenter: 0.2, seed: 9)
        var cell = try #require(model.cell as? ResMLPCell)
        cell.normEpsilon = 3e-4
        model.cell = cell
        try Checkpoint(model: model, dataset: "digits").save(to: folder + "/model.h5")
        let phantom = phantomExecutable()
        let exported = try runProgram(phantom, ["export", folder + "/model.h5", "-o", folder + "/model.safetensors"])
        #expect(exported.status == 0, "\(exported.stderr)")
        let imported = try runProgram(phantom, ["import", folder + "/model.safetensors", "-o", folder + "/back.h5"])
        #expect(imported.status == 0, "\(imported.stderr)")
        let back = try Checkpoint.load(folder + "/back.h5")
        #expect(back.model.cell.parameters == model.cell.parameters && back.model.head == model.head)
        #expect((back.model.cell as? ResMLPCell)?.normEpsilon == 3e-4 && back.dataset == "digits")
        let refused = try runProgram(phantom, ["export", folder + "/model.h5", "-o", folder + "/model.h5", "--force"])
        #expect(refused.status == 74 && refused.stderr.contains("is an input"), "\(refused.stderr)")
    }
}
