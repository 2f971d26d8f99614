import Foundation
import PhantomHDF5
import PhantomModelIO
import PhantomResults
import PhantomTestSupport
import Testing

/// A 4-checkpoint run and its data, made once.
enum ShardFixture {
    static let folder: String = {
        let folder = makeTemporaryFolder("phantom-shards")
        try! HDF5File.write(to: folder + "/two.h5") { (file: HDF5File) throws in
            let data = SyntheticData.twoClass(count: 60, inputs: 3, seed: 9)
            try file.root.write("x", HDF5Array(shape: [60, 3], values: data.x.elements))
            if case .labels(let l)? = data.y { try file.root.write("y", vector: l.map { Int64($0) }) }
            try file.root.write("split", vector: data.split!.map { Int64($0) })
        }
        let result = try! runProgram(
            phantomExecutable(),
            [
                "train", "--data", folder + "/two.h5", "--hidden", "5", "--epochs", "3",
                "--save-every", "1", "-o", folder + "/run"
            ])
        precondition(result.status == 0, result.stderr)
        return folder
    }()
    static var analyzeArguments: [String] {
        [folder + "/run", "--data", folder + "/two.h5", "--samples", "6", "--k", "1,3", "--lambda", "0.5,1", "--estimators", "upg,npg,jfb"]
    }

    /// Every array and the series of two results files are the same, bit for bit.
    static func expectSameArrays(_ a: ResultsData, _ b: ResultsData, _ label: String) {
        #expect(
            a.epochs == b.epochs && a.seriesIndices == b.seriesIndices && a.series == b.series && a.sampleRows == b.sampleRows, "\(label)")
        func same<A: ResultsArray>(_ x: [A: HDF5Array<Double>], _ y: [A: HDF5Array<Double>]) {
            #expect(Set(x.keys) == Set(y.keys), "\(label)")
            for (k, v) in x {
                let w = y[k]
                #expect(
                    w?.shape == v.shape
                        && zip(v.values, w?.values ?? []).allSatisfy { $0.bitPattern == $1.bitPattern || ($0.isNaN && $1.isNaN) },
                    "\(label): \(k.path)")
            }
        }
        same(a.samples, b.samples)
        same(a.cells, b.cells)
        same(a.batch, b.batch)
        same(a.frontier, b.frontier)
        for key in ["job_fingerprint", "job_series", "data", "cell", "tool_version"] {
            #expect(a.attributes[key] == b.attributes[key], "\(label): \(key)")
        }
    }
}

@Suite("Sharded analysis: analyze --shard, merge, slurm")
struct ShardTests {
    let phantom = phantomExecutable()

    @Test("three shards merge into a file identical in every array to the unsharded run; faults are named")
    func shardAndMerge() throws {
        let out = makeTemporaryFolder()
        let full = try runProgram(phantom, ["analyze"] + ShardFixture.analyzeArguments + ["-o", out + "/full.h5"])
        #expect(full.status == 0, "\(full.stderr)")
        for i in 1...3 {
            let shard = try runProgram(
                phantom, ["analyze"] + ShardFixture.analyzeArguments + ["--shard", "\(i)/3", "-o", out + "/s\(i).h5"])
            #expect(shard.status == 0, "\(shard.stderr)")
        }
        #expect(try ResultsData.read(out + "/s1.h5").seriesIndices == [0, 3])
        // Shards in any order.
        let merge = try runProgram(phantom, ["merge", out + "/s3.h5", out + "/s1.h5", out + "/s2.h5", "-o", out + "/merged.h5"])
        #expect(merge.status == 0, "\(merge.stderr)")
        ShardFixture.expectSameArrays(try ResultsData.read(out + "/full.h5"), try ResultsData.read(out + "/merged.h5"), "merged")

        let cases: [([String], String)] = [
            (["merge", out + "/s1.h5", out + "/s3.h5", "-o", out + "/m1.h5"], "shard 2/3 missing"),
            (["merge", out + "/s1.h5", out + "/s1.h5", out + "/s2.h5", "-o", out + "/m2.h5"], "is given twice"),
            (["merge", out + "/full.h5", out + "/s1.h5", "-o", out + "/m3.h5"], "not a shard of an analysis job"),
            (["merge", out + "/s1.h5", out + "/s2.h5", out + "/s3.h5", "-o", out + "/s2.h5", "--force"], "is an input of this command"),
            (["analyze"] + ShardFixture.analyzeArguments + ["--shard", "5/3", "-o", out + "/bad.h5"], "1 ≤ I ≤ N"),
            (["analyze"] + ShardFixture.analyzeArguments + ["--shard", "1/9", "-o", out + "/bad.h5"], "at most 4 shards")
        ]
        for (arguments, message) in cases {
            let result = try runProgram(phantom, arguments)
            #expect(result.status != 0 && result.stderr.contains(message), "\(arguments): \(result.stderr)")
        }
        for name in ["m1.h5", "m2.h5", "m3.h5", "bad.h5"] { #expect(!FileManager.default.fileExists(atPath: out + "/" + name)) }

        // Another job (another grid) is refused, naming the shard.
        let other = try runProgram(
            phantom, ["analyze"] + ShardFixture.analyzeArguments + ["--k", "1,2", "--shard", "2/3", "-o", out + "/other.h5"])
        #expect(other.status == 0, "\(other.stderr)")
        let mixed = try runProgram(phantom, ["merge", out + "/s1.h5", out + "/other.h5", out + "/s3.h5", "-o", out + "/m4.h5"])
        #expect(mixed.status != 0 && mixed.stderr.contains("other.h5") && mixed.stderr.contains("another job"), "\(mixed.stderr)")

        // --allow-partial merges what is there and records what is missing.
        let partial = try runProgram(phantom, ["merge", out + "/s1.h5", out + "/s3.h5", "-o", out + "/partial.h5", "--allow-partial"])
        #expect(partial.status == 0, "\(partial.stderr)")
        let p = try ResultsData.read(out + "/partial.h5")
        #expect(p.attributes["missing_shards"] == "2/3" && p.seriesIndices == [0, 2, 3])
    }

    @Test("checkpoints split by samples: shards of their blocks merge into the unsharded run in every array; faults are named")
    func sampleLevelShards() throws {
        let out = makeTemporaryFolder()
        // 12 samples in blocks of 5 (5, 5, 2): three units per checkpoint; the first 7 samples certified, across blocks.
        let grid = [
            "--data", ShardFixture.folder + "/two.h5", "--samples", "12", "--sample-block", "5", "--k", "1,3", "--lambda", "0.5,1",
            "--estimators", "upg,npg,jfb,shine", "--certify-samples", "7"
        ]
        for (name, inputs, shards) in [
            ("one", [ShardFixture.folder + "/run/epoch-0002.h5"], 3), ("series", [ShardFixture.folder + "/run"], 5)
        ] {
            let full = try runProgram(phantom, ["analyze"] + inputs + grid + ["-o", "\(out)/\(name)-full.h5"])
            #expect(full.status == 0, "\(full.stderr)")
            var parts: [String] = []
            for i in 1...shards {
                parts.append("\(out)/\(name)-s\(i).h5")
                let shard = try runProgram(phantom, ["analyze"] + inputs + grid + ["--shard", "\(i)/\(shards)", "-o", parts.last!])
                #expect(shard.status == 0, "\(shard.stderr)")
            }
            let merge = try runProgram(phantom, ["merge"] + parts.reversed() + ["-o", "\(out)/\(name)-merged.h5"])
            #expect(merge.status == 0, "\(merge.stderr)")
            ShardFixture.expectSameArrays(
                try ResultsData.read("\(out)/\(name)-full.h5"), try ResultsData.read("\(out)/\(name)-merged.h5"),
                "\(name), \(shards) shards")
        }
        // One checkpoint has three units, so at most three shards.
        let many = try runProgram(
            phantom, ["analyze", ShardFixture.folder + "/run/epoch-0002.h5"] + grid + ["--shard", "1/4", "-o", out + "/x.h5"])
        #expect(many.status != 0 && many.stderr.contains("at most 3 shards"), "\(many.stderr)")

        // Faults in a shard's blocks' means, each named with the shard and the array; nothing written.
        let shard1 = out + "/one-s1.h5"
        let rest = [out + "/one-s2.h5", out + "/one-s3.h5"]
        func mutated(_ label: String, _ change: (inout HDF5Tree) -> Void) throws -> String {
            var tree = try HDF5Tree(reading: shard1)
            change(&tree)
            let path = "\(out)/\(label).h5"
            try tree.write(to: path)
            return path
        }
        func edit(_ tree: inout HDF5Tree, _ name: String, _ change: (inout HDF5Tree.Dataset) -> Void) {
            let i = tree.datasets.firstIndex { $0.path == "partial/" + name }!
            change(&tree.datasets[i])
        }
        let faults: [(String, (inout HDF5Tree) -> Void, String)] = [
            ("nan", { edit(&$0, "estimates") { $0.doubles![3] = .nan } }, "/partial/estimates holds a non-finite value"),
            (
                "shape",
                {
                    edit(&$0, "defined") { d in
                        d.shape[1] += 1; d.integers! += [Int64](repeating: 0, count: d.shape[0])
                    }
                },
                "/partial/defined has shape"
            ),
            (
                "missing-group",
                {
                    $0.datasets.removeAll { $0.path.hasPrefix("partial/") }; $0.groups.removeAll { $0.path == "partial" }
                },
                "/partial holds blocks []"
            ),
            ("block", { edit(&$0, "block") { $0.integers![0] = 1 } }, "/partial holds blocks"),
            ("count", { edit(&$0, "count") { $0.integers![0] = 4 } }, "/partial/count"),
            ("defined", { edit(&$0, "defined") { $0.integers![0] = 7 } }, "/partial/defined")
        ]
        for (label, change, message) in faults {
            let bad = try mutated(label, change)
            let result = try runProgram(phantom, ["merge", bad] + rest + ["-o", "\(out)/merged-\(label).h5"])
            #expect(result.status == 65, "\(label): \(result.status) \(result.stderr)")
            #expect(result.stderr.contains(bad) && result.stderr.contains(message), "\(label): \(result.stderr)")
            #expect(!FileManager.default.fileExists(atPath: "\(out)/merged-\(label).h5"), "\(label)")
        }
        // A block given twice (the same shard twice) or missing (a shard left out).
        let twice = try runProgram(phantom, ["merge", shard1, shard1] + rest + ["-o", out + "/twice.h5"])
        #expect(twice.status != 0 && twice.stderr.contains("given twice"), "\(twice.stderr)")
        let gap = try runProgram(phantom, ["merge", shard1, rest[1], "-o", out + "/gap.h5"])
        #expect(gap.status != 0 && gap.stderr.contains("2/3 missing"), "\(gap.stderr)")
        // --allow-partial cannot make a checkpoint out of two of its three blocks.
        let none = try runProgram(phantom, ["merge", shard1, rest[1], "-o", out + "/none.h5", "--allow-partial"])
        #expect(none.status == 65 && none.stderr.contains("no checkpoint has all its blocks"), "\(none.stderr)")
        #expect(!FileManager.default.fileExists(atPath: out + "/none.h5"))
    }

    @Test("phantom slurm writes an array, a dependent merge and a submit script that reproduce the unsharded run")
    func slurmScripts() throws {
        let out = makeTemporaryFolder(), job = out + "/job"
        // An argument with a quote and a space must survive the shell.
        let odd = out + "/it's results"
        try FileManager.default.createDirectory(atPath: odd, withIntermediateDirectories: true)
        let written = try runProgram(
            phantom,
            ["slurm", "--shards", "2", "--cpus-per-task", "1", "--time", "10", "--folder", job, "--"]
                + ShardFixture.analyzeArguments + ["-o", odd + "/merged.h5"], in: out)
        #expect(written.status == 0, "\(written.stderr)")
        let analyze = try String(contentsOfFile: job + "/analyze.sbatch", encoding: .utf8)
        let submit = try String(contentsOfFile: job + "/submit.sh", encoding: .utf8)
        #expect(
            analyze.contains("#SBATCH --array=1-2") && analyze.contains("#SBATCH --cpus-per-task=1")
                && analyze.contains("--shard \"${SLURM_ARRAY_TASK_ID}/2\""))
        #expect(submit.contains("--dependency=afterok:${array}"))
        for name in ["analyze.sbatch", "merge.sbatch", "submit.sh"] {
            #expect(try runProgram("/bin/bash", ["-n", job + "/" + name]).status == 0, "\(name)")
        }
        // Run the scripts as Slurm would, without Slurm: each array task, then the merge.
        for task in 1...2 {
            let r = try runProgram(
                "/usr/bin/env", ["SLURM_ARRAY_TASK_ID=\(task)", "SLURM_CPUS_PER_TASK=1", "/bin/bash", job + "/analyze.sbatch"], in: out)
            #expect(r.status == 0, "\(r.stderr)")
        }
        let merged = try runProgram("/bin/bash", [job + "/merge.sbatch"], in: out)
        #expect(merged.status == 0, "\(merged.stderr)")
        let full = try runProgram(phantom, ["analyze"] + ShardFixture.analyzeArguments + ["-o", out + "/full.h5"])
        #expect(full.status == 0)
        ShardFixture.expectSameArrays(try ResultsData.read(out + "/full.h5"), try ResultsData.read(odd + "/merged.h5"), "slurm scripts")
        // Bad Slurm values are refused before anything is written.
        for bad in [["--time", "1h; rm -rf /"], ["--mem", "4G\n#SBATCH --x"], ["--partition", "a b"], ["--shards", "0"]] {
            let r = try runProgram(
                phantom, ["slurm", "--shards", "2", "--folder", out + "/bad"] + bad + ["--"] + ShardFixture.analyzeArguments)
            #expect(r.status != 0, "\(bad)")
        }
        #expect(!FileManager.default.fileExists(atPath: out + "/bad"))
    }
}
