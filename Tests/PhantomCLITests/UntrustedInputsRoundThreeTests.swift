import Foundation
import PhantomAnalysis
import PhantomBenchmarks
import PhantomFileSystem
import PhantomGradients
import PhantomHDF5
import PhantomInterop
import PhantomLinearAlgebra
import PhantomModel
import PhantomModelIO
import PhantomPlots
import PhantomResults
import PhantomSafetensors
import PhantomTestSupport
import Testing

/// Results files of the shard fixture's run, made once: the unsharded run and its two shards.
enum RoundThreeFixture {
    static let folder: String = {
        let folder = makeTemporaryFolder("phantom-round3")
        for (name, shard) in [("full.h5", nil), ("s1.h5", "1/2"), ("s2.h5", "2/2")] as [(String, String?)] {
            let result = try! runProgram(
                phantomExecutable(),
                ["analyze"] + ShardFixture.analyzeArguments + (shard.map { ["--shard", $0] } ?? []) + ["-o", folder + "/" + name])
            precondition(result.status == 0, result.stderr)
        }
        return folder
    }()
    static let rootAttributes = [
        "format", "version", "estimators", "estimator_axes", "shard", "job_series", "job_fingerprint", "job_parts", "data", "cell"
    ]
}

/// The classes of the third hostile corpus: crashes, destroyed inputs, unbounded work, silent acceptance and unclear
/// errors — one test per class, each case a representative of what the class fix closes.
@Suite("Untrusted inputs, round three: every value from a file or the environment is checked before use")
struct UntrustedInputsRoundThreeTests {
    let phantom = phantomExecutable()

    /// One line on stderr, starting with "phantom: ", containing `fragment`, and the exit status.
    func expectRefused(_ result: ProcessResult, _ status: Int32, _ fragment: String, _ label: String) {
        #expect(!result.crashed, "\(label) crashed")
        #expect(result.status == status, "\(label): status \(result.status): \(result.stderr)")
        let lines = result.stderr.split(separator: "\n")
        #expect(lines.count == 1 && result.stderr.hasPrefix("phantom: "), "\(label): \(result.stderr)")
        #expect(result.stderr.contains(fragment), "\(label): \(result.stderr)")
        for leak in ["CommandError", "NSCocoaErrorDomain", "Fatal error", "(null)"] {
            #expect(!result.stderr.contains(leak), "\(label): \(result.stderr)")
        }
    }

    /// The CLI refuses what the library refused: exit 65 with one line, no crash, `output` not written; its peak RSS.
    func refusedByCLI(_ arguments: [String], output: String, _ label: String) throws -> Int {
        let cli = try runProgramMeasured(phantom, arguments + [output])
        #expect(
            !cli.result.crashed && cli.result.status == 65 && cli.result.stderr.split(separator: "\n").count == 1,
            "\(label): \(cli.result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: output))
        return cli.peakBytes
    }

    @Test("values that used to trap are refused: a scalar weight_v, results with no samples, huge limits, odd channels")
    func crashesBecomeErrors() throws {
        let folder = makeTemporaryFolder()
        // A weight-norm pair whose v is a scalar (and one without g).
        for g in [nil, SafetensorsTensor(dtype: .f64, shape: [], values: [2])] as [SafetensorsTensor?] {
            let path = folder + "/wn\(g == nil ? 0 : 1).safetensors"
            var tensors: [(name: String, tensor: SafetensorsTensor)] = [
                ("injection.weight", SafetensorsTensor(dtype: .f64, shape: [2, 2], values: [1, 0, 0, 1])),
                ("injection.bias", SafetensorsTensor(dtype: .f64, shape: [2], values: [0, 0])),
                ("cell.weight_v", SafetensorsTensor(dtype: .f64, shape: [], values: [0.5])),
                ("head.weight", SafetensorsTensor(dtype: .f64, shape: [2, 2], values: [1, 0, 0, 1])),
                ("head.bias", SafetensorsTensor(dtype: .f64, shape: [2], values: [0, 0]))
            ]
            if let g { tensors.append(("cell.weight_g", g)) }
            try Safetensors.write(tensors, metadata: ["phantom.cell": "tanh"], to: path)
            #expect(throws: SafetensorsError.self) { _ = try SafetensorsImporter().importCheckpoint(path) }
            expectRefused(try runProgram(phantom, ["inspect", path]), 65, "weight", "scalar weight_v")
        }
        // A results file whose arrays hold no samples, and one with no checkpoints.
        var tree = try HDF5Tree(reading: RoundThreeFixture.folder + "/full.h5")
        for i in tree.datasets.indices where !tree.datasets[i].path.hasPrefix("axes/") && tree.datasets[i].shape.last != nil {
            tree.datasets[i].shape[tree.datasets[i].shape.count - 1] = 0
            (tree.datasets[i].doubles, tree.datasets[i].integers) = (
                tree.datasets[i].doubles.map { _ in [] }, tree.datasets[i].integers.map { _ in [] }
            )
        }
        tree.datasets.removeAll { $0.path == "axes/sample" }
        try tree.write(to: folder + "/empty.h5")
        #expect(throws: InputError.self) { _ = try ResultsData.read(folder + "/empty.h5") }
        expectRefused(try runProgram(phantom, ["plot", folder + "/empty.h5", "-o", folder + "/plots"]), 65, "empty.h5: ", "no samples")
        #expect(!FileManager.default.fileExists(atPath: folder + "/plots"))
        // Arithmetic on user numbers: the iteration limit, Anderson's memory.
        #expect(throws: ConfigurationError.self) { _ = try FixedPointConfiguration(maxIterations: Int.max) }
        #expect(throws: ConfigurationError.self) { _ = try FixedPointConfiguration(andersonMemory: 1 << 40) }
        expectRefused(
            try runProgram(
                phantom, ["analyze"] + ShardFixture.analyzeArguments + ["--max-iterations", "\(Int.max)", "-o", folder + "/r.h5"]), 64,
            "iteration limit", "max-iterations")
        // The dense route's memory is bounded before it is allocated: forced dense refuses, auto switches.
        let c = try AnalysisConfiguration(adjoint: try AdjointSolver(), spectra: .dense)
        #expect(throws: ConfigurationError.self) { _ = try c.spectraRoute(stateDimension: 65_536, samples: 8) }
        let auto = try AnalysisConfiguration(adjoint: try AdjointSolver())
        #expect(try auto.spectraRoute(stateDimension: 256, samples: 32) == .dense)
        #expect(try auto.spectraRoute(stateDimension: 512, samples: 1 << 20) == .iterative)
        // bench cell: groups that do not divide the channels, and a size beyond its memory bound.
        for (channels, size, batch) in [(3, 8, 4), (1, 8, 4), (512, 64, 1024)] {
            var bench = CellBenchmark()
            (bench.channels, bench.sizes, bench.batch) = (channels, [size], batch)
            #expect(throws: ConfigurationError.self, "C = \(channels)") { try bench.validate() }
        }
        expectRefused(try runProgram(phantom, ["bench", "cell", "--channels", "3"]), 64, "does not divide", "bench cell C = 3")
    }

    @Test("no command replaces or removes a file it did not write: slurm's merge output, train --force")
    func inputsAreNeverDestroyed() throws {
        let folder = makeTemporaryFolder()
        let run = ShardFixture.folder + "/run"
        let checkpoint = run + "/epoch-0001.h5"
        let before = try Data(contentsOf: URL(fileURLWithPath: checkpoint))
        for output in [checkpoint, ShardFixture.folder + "/two.h5"] {
            let result = try runProgram(
                phantom,
                ["slurm", "--shards", "2", "--folder", folder + "/job", "--"] + ShardFixture.analyzeArguments + ["-o", output], in: folder)
            expectRefused(result, 74, "input of the job", "slurm -o \(output)")
        }
        let ownFile = try runProgram(
            phantom,
            ["slurm", "--shards", "2", "--folder", folder + "/job", "--"] + ShardFixture.analyzeArguments + [
                "-o", folder + "/job/shard-1-of-2.h5"
            ])
        expectRefused(ownFile, 64, "one of the job's own files", "slurm -o a shard")
        #expect(!FileManager.default.fileExists(atPath: folder + "/job"))
        #expect(try Data(contentsOf: URL(fileURLWithPath: checkpoint)) == before)

        // A folder holding the user's files under checkpoint names: nothing is removed.
        let user = folder + "/mine"
        try FileManager.default.createDirectory(atPath: user + "/epoch-0001.h5", withIntermediateDirectories: true)
        try Data("notes".utf8).write(to: URL(fileURLWithPath: user + "/epoch-0001.h5/notes.txt"))
        try Data("not hdf5".utf8).write(to: URL(fileURLWithPath: user + "/epoch-0002.h5"))
        try Data("keep".utf8).write(to: URL(fileURLWithPath: user + "/keep.txt"))
        let train = try runProgram(
            phantom, ["train", "--data", ShardFixture.folder + "/two.h5", "--hidden", "3", "--epochs", "0", "--force", "-o", user])
        expectRefused(train, 74, "nothing was removed", "train --force on the user's folder")
        for name in ["epoch-0001.h5/notes.txt", "epoch-0002.h5", "keep.txt"] {
            #expect(FileManager.default.fileExists(atPath: user + "/" + name), "\(name) was removed")
        }
        // A run folder of the tool's own is still started over with --force.
        let own = folder + "/own"
        for _ in 0..<2 {
            let result = try runProgram(
                phantom, ["train", "--data", ShardFixture.folder + "/two.h5", "--hidden", "3", "--epochs", "0", "--force", "-o", own])
            #expect(result.status == 0, "\(result.stderr)")
        }
    }

    @Test("work and memory are bounded before they start: forced solvers stall out, traversals and job series are capped")
    func boundedWork() throws {
        // f(h) = 3 − h oscillates between 1 and 2 forever: the forced method stops on the stall rule, not after 100,000 steps.
        let solver = FixedPointSolver(try FixedPointConfiguration(method: .fixedPoint, maxIterations: 100_000))
        let ones = Matrix(rows: 2, columns: 3, elements: [Double](repeating: 1, count: 6))
        let solution = solver.solve(initial: ones) { h in Matrix(rows: h.rows, columns: h.columns, elements: h.elements.map { 3 - $0 }) }
        #expect(solution.iterations.allSatisfy { $0 <= FixedPointSolver.stallWindow + 2 }, "\(solution.iterations)")
        #expect(solution.statuses.allSatisfy { $0 == .stagnation }, "\(solution.statuses) \(solution.iterations)")
        // The environment: SLURM_CPUS_PER_TASK at most the cores, and refused when it is not a number.
        #expect(try Parallel.slurmCPUs(in: ["SLURM_CPUS_PER_TASK": "4096"], cores: 2) == 2)
        #expect(try Parallel.slurmCPUs(in: [:], cores: 2) == nil)
        #expect(throws: ConfigurationError.self) { _ = try Parallel.slurmCPUs(in: ["SLURM_CPUS_PER_TASK": "lots"], cores: 2) }
        // Never-written datasets that declare 3 · 2^27 elements: the isolated traversal stops at its budget.
        let lazy = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/hostile-lazy-datasets.h5").path
        let started = Date()
        let inspect = try runProgramMeasured(phantom, ["inspect", lazy])
        expectRefused(inspect.result, 65, "elements in all", "lazily allocated datasets")
        #expect(Date().timeIntervalSince(started) < 30)
        // A group of more links than a group may hold (listing 100,000 took minutes): refused at its size.
        let wide = makeTemporaryFolder() + "/wide.h5"
        try HDF5File.write(to: wide) { file in
            let group = try file.root.createGroup("wide")
            for i in 0...HDF5Group.maximumChildren { _ = try group.createGroup("g\(i)") }
        }
        expectRefused(try runProgram(phantom, ["inspect", wide]), 65, "a group may hold", "a group of 4097 links")
        // A shard claiming a series of 10^12 checkpoints.
        let folder = makeTemporaryFolder()
        var tree = try HDF5Tree(reading: RoundThreeFixture.folder + "/s1.h5")
        tree.rootAttributes = tree.rootAttributes.map { $0.0 == "job_series" ? ($0.0, .string("1000000000000")) : $0 }
        try tree.write(to: folder + "/huge.h5")
        let merge = try runProgramMeasured(
            phantom, ["merge", folder + "/huge.h5", RoundThreeFixture.folder + "/s2.h5", "-o", folder + "/m.h5"])
        expectRefused(merge.result, 65, "job_series", "job_series 10^12")
        #expect(merge.peakBytes < 512 << 20, "merge peak \(merge.peakBytes >> 20) MB")
    }

    @Test("what used to be accepted silently is refused: a key twice, forged shard axes, line breaks in Slurm values, too many shards")
    func silentAcceptanceIsRefused() throws {
        let folder = makeTemporaryFolder()
        // A safetensors header naming a tensor twice.
        let header = #"{"a":{"dtype":"F64","shape":[1],"data_offsets":[0,8]},"a":{"dtype":"F64","shape":[1],"data_offsets":[0,8]}}"#
        var bytes = withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian) { Array($0) } + Array(header.utf8)
        bytes += [UInt8](repeating: 0, count: 8)
        #expect(throws: SafetensorsError.self) { _ = try Safetensors.read(bytes: bytes, path: "twice.safetensors") }
        // Forged shards: altered k values, a missing array, an altered estimator list.
        for (label, edit) in [
            (
                "k or λ axis",
                { (t: inout HDF5Tree) in
                    t.datasets = t.datasets.map { d in
                        var d = d; if d.path == "axes/k" { d.integers = [1, 2] }; return d
                    }
                }
            ),
            ("but not the other", { (t: inout HDF5Tree) in t.datasets.removeAll { $0.path == "cells/cosine" } }),
            (
                "estimators",
                { (t: inout HDF5Tree) in
                    t.rootAttributes = t.rootAttributes.map { $0.0 == "estimators" ? ($0.0, .string("npg,upg,jfb")) : $0 }
                }
            )
        ] as [(String, (inout HDF5Tree) -> Void)] {
            var tree = try HDF5Tree(reading: RoundThreeFixture.folder + "/s2.h5")
            edit(&tree)
            try tree.write(to: folder + "/forged.h5")
            let result = try runProgram(
                phantom, ["merge", RoundThreeFixture.folder + "/s1.h5", folder + "/forged.h5", "-o", folder + "/m.h5"])
            #expect(result.status == 65 && result.stderr.contains(label), "\(label): \(result.stderr)")
            #expect(!FileManager.default.fileExists(atPath: folder + "/m.h5"))
        }
        // Slurm values with a trailing line break, and more shards than checkpoints.
        for extra in [["--time", "01:00:00\n"], ["--mem", "4G\n"], ["--partition", "debug\n"], ["--folder", folder + "/job\n"]] {
            let result = try runProgram(
                phantom, ["slurm", "--shards", "2"] + extra + ["--"] + ShardFixture.analyzeArguments + ["-o", folder + "/r.h5"])
            #expect(result.status != 0 && !result.crashed && result.stderr.split(separator: "\n").count == 1, "\(extra): \(result.stderr)")
        }
        let many = try runProgram(
            phantom,
            ["slurm", "--shards", "5", "--folder", folder + "/job", "--"] + ShardFixture.analyzeArguments + ["-o", folder + "/r.h5"])
        expectRefused(many, 65, "at most 4 shards", "5 shards of 4 checkpoints")
        #expect(!FileManager.default.fileExists(atPath: folder + "/job"))
        // A writer never writes what its reader refuses.
        let big = ModelShape(kind: .tanh, inputDimension: 2, stateDimension: 1 << 17, outputDimension: 2)
        #expect(big.limitProblem?.contains("d = 131072") == true)
        #expect(
            ModelShape(of: RandomModels.tanh(d: 4, n: 3, c: 2, norm: 0.5, injectionScale: 1, biasScale: 0.1, seed: 1)).limitProblem == nil)
    }

    @Test("errors are sentences naming the path and the option or attribute; signals remove staging folders")
    func errorsNameTheirOrigin() throws {
        let folder = makeTemporaryFolder()
        // slurm's folder is a file, or under a read-only folder.
        try Data("x".utf8).write(to: URL(fileURLWithPath: folder + "/afile"))
        let asFile = try runProgram(
            phantom,
            ["slurm", "--shards", "2", "--folder", folder + "/afile", "--"] + ShardFixture.analyzeArguments + ["-o", folder + "/r.h5"])
        expectRefused(asFile, 74, "is not a folder", "slurm --folder a file")
        // A bad analyze option after --: the parser's own message.
        let bad = try runProgram(
            phantom, ["slurm", "--shards", "2", "--"] + ShardFixture.analyzeArguments + ["--bogus", "-o", folder + "/r.h5"])
        expectRefused(bad, 64, "--bogus", "slurm with a bad analyze option")
        // A checkpoint whose dataset attribute names a device: the checkpoint and the attribute are named.
        var tree = try HDF5Tree(reading: ShardFixture.folder + "/run/epoch-0001.h5")
        tree.rootAttributes = tree.rootAttributes.filter { $0.0 != "dataset" } + [("dataset", .string("/dev/zero"))]
        try tree.write(to: folder + "/devzero.h5")
        let analyze = try runProgram(phantom, ["analyze", folder + "/devzero.h5", "--samples", "2", "-o", folder + "/r.h5"])
        expectRefused(analyze, 65, "devzero.h5: attribute 'dataset' = '/dev/zero'", "dataset = /dev/zero")
        // SIGTERM while plot renders: exit 143 and no staging folder left.
        let out = folder + "/plots"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: phantom)
        process.arguments = ["plot", RoundThreeFixture.folder + "/full.h5", "-o", out]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(20)
        func staging() -> [String] {
            ((try? FileManager.default.contentsOfDirectory(atPath: out)) ?? []).filter { $0.hasPrefix(".plot-staging") }
        }
        while staging().isEmpty && process.isRunning && Date() < deadline { usleep(2_000) }
        let sawStaging = !staging().isEmpty
        process.terminate()
        process.waitUntilExit()
        if sawStaging { #expect(process.terminationStatus == 143, "status \(process.terminationStatus)") }
        #expect(staging().isEmpty, "left \(staging())")
    }

    @Test("320 structured mutants of a results file: read or refused in one line, figures never trap (CLI cross-check)")
    func resultsMutantsThroughPlot() throws {
        let folder = makeTemporaryFolder()
        let good = try HDF5Tree(reading: RoundThreeFixture.folder + "/full.h5")
        var rng = SplitMix64(seed: 2029)
        var refused = 0, drawn = 0, peak = 0
        for i in 0..<320 {
            let path = folder + "/m\(i).h5"
            try good.mutant(&rng, attributeNames: RoundThreeFixture.rootAttributes).write(to: path)
            do {
                _ = try ResultsData.read(path)
                let outcomes = try PlotRun(inputs: [path]).outcomes
                drawn += outcomes.count
            } catch {
                refused += 1
                #expect(!"\(error)".contains("\n"), "mutant \(i): \(error)")
                if i % 8 == 0 { peak = max(peak, try refusedByCLI(["plot", path, "-o"], output: folder + "/p\(i)", "mutant \(i)")) }
            }
        }
        print("results mutants: \(refused) of 320 refused, \(drawn) figures computed from the rest; CLI peak \(peak >> 20) MB")
        #expect(refused > 100)
        #expect(peak < 512 << 20)
    }

    @Test("320 structured mutants of a shard set through merge: merged or refused in one line, never a crash")
    func shardMutantsThroughMerge() throws {
        let folder = makeTemporaryFolder()
        let shards = [
            try HDF5Tree(reading: RoundThreeFixture.folder + "/s1.h5"), try HDF5Tree(reading: RoundThreeFixture.folder + "/s2.h5")
        ]
        let full = try ResultsData.read(RoundThreeFixture.folder + "/full.h5")
        var rng = SplitMix64(seed: 3029)
        var refused = 0, merged = 0, peak = 0
        for i in 0..<320 {
            let which = Int(rng.next() % 2)
            let paths = [folder + "/a\(i).h5", folder + "/b\(i).h5"]
            try shards[0].write(to: paths[0])
            try shards[1].write(to: paths[1])
            try shards[which].mutant(&rng, attributeNames: RoundThreeFixture.rootAttributes).write(to: paths[which])
            do {
                let (data, _) = try ResultsMerge.merge(paths)
                merged += 1
                // What merges has the unsharded file's axes and series.
                #expect(data.ks == full.ks && data.lambdas == full.lambdas && data.seriesIndices == full.seriesIndices, "mutant \(i)")
            } catch {
                refused += 1
                #expect(!"\(error)".contains("\n"), "mutant \(i): \(error)")
                if i % 8 == 0 {
                    peak = max(peak, try refusedByCLI(["merge"] + paths + ["-o"], output: folder + "/m\(i).h5", "mutant \(i)"))
                }
            }
        }
        print("shard mutants: \(refused) of 320 refused, \(merged) merged; CLI peak \(peak >> 20) MB")
        #expect(refused > 100)
        #expect(peak < 512 << 20)
    }

    @Test("300 structured mutants each of a checkpoint (resmlp, mdeq) and a data file through the loaders and a short analysis")
    func checkpointAndDataMutants() throws {
        let folder = makeTemporaryFolder()
        let data = ShardFixture.folder + "/two.h5"
        let resmlp = folder + "/resmlp.h5", mdeq = folder + "/mdeq.h5"
        try Checkpoint(model: RandomModels.resmlp(d: 4, n: 3, m: 5, c: 2, normCenter: 0.7, seed: 3), dataset: data, epoch: 1)
            .save(to: resmlp)
        try Checkpoint(
            model: RandomModels.mdeq(
                MDEQCell.Geometry(channels: 2, inChannels: 1, height: 3, width: 1, expansion: 2, groups: 2), c: 2, seed: 3),
            dataset: data, epoch: 1
        ).save(to: mdeq)
        let names = [
            "format", "version", "cell", "n_in", "d", "c", "m", "channels", "in_channels", "height", "width", "expansion",
            "groups", "norm_eps", "dataset", "epoch", "step"
        ]
        let configuration = try AnalysisConfiguration(ks: [1, 2], lambdas: [0.5], adjoint: try AdjointSolver())
        let solver = try FixedPointConfiguration(maxIterations: 50)
        var rng = SplitMix64(seed: 4029)
        var refused = 0, analysed = 0
        for (label, good) in [("resmlp", resmlp), ("mdeq", mdeq), ("data", data)] {
            let tree = try HDF5Tree(reading: good)
            for i in 0..<100 {
                let path = folder + "/\(label)-\(i).h5"
                try tree.mutant(&rng, attributeNames: label == "data" ? ["format", "version"] : names).write(to: path)
                do {
                    let checkpoint = label == "data" ? resmlp : path
                    var inputs = AnalysisRun.Inputs(checkpoints: [checkpoint], data: label == "data" ? path : nil, samples: 3)
                    inputs.renames = []
                    let run = try AnalysisRun(inputs, configuration: configuration, solver: solver)
                    _ = try run.run()
                    analysed += 1
                } catch {
                    refused += 1
                    #expect(!"\(error)".contains("\n"), "\(label) mutant \(i): \(error)")
                }
            }
        }
        // (Run once with 1,000 per kind and another seed: 1,732 of 3,000 refused, 1,268 analysed, no crash.)
        print("checkpoint and data mutants: \(refused) of 300 refused, \(analysed) analysed")
        #expect(refused > 100)
    }
}
