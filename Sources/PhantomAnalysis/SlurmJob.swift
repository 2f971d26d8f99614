import Foundation
import PhantomFileSystem

/// An analysis job as a Slurm job array plus a dependent merge job: the scripts `phantom slurm` writes.
///
/// `analyze.sbatch` runs shard `$SLURM_ARRAY_TASK_ID`/N of the analyze command into `shard-I-of-N.h5` in the job
/// folder (with `--force`, so a re-run shard replaces its file atomically); `merge.sbatch` runs `phantom merge`
/// on all of them into the final results file; `submit.sh` submits the array and then the merge with
/// `--dependency=afterok:<array>`. Every string that reaches a script is either a validated Slurm value or
/// single-quoted for the shell.
public struct SlurmJob: Sendable {
    public var phantom: String
    /// The analyze command's arguments (without -o, --shard and --force).
    public var analyzeArguments: [String]
    /// The merged results file.
    public var output: String
    /// Where the scripts, shard files and logs go.
    public var folder: String
    public var shards: Int
    public var cpusPerTask = 2
    /// `--time`: minutes, or [D-]HH:MM:SS.
    public var time = "01:00:00"
    /// `--mem`: a number with an optional K, M, G or T.
    public var memory = "4G"
    public var partition: String?
    /// The jobs' working directory (relative paths in the analyze arguments resolve there).
    public var workingDirectory: String

    /// Relative paths (the executable, the output, the folder) are taken in `workingDirectory` and written absolute.
    public init(phantom: String, analyzeArguments: [String], output: String, folder: String, shards: Int, workingDirectory: String) {
        func absolute(_ path: String) -> String { path.hasPrefix("/") ? path : workingDirectory + "/" + path }
        self.phantom = absolute(phantom)
        self.analyzeArguments = analyzeArguments
        self.output = absolute(output)
        self.folder = URL(fileURLWithPath: absolute(folder)).standardizedFileURL.path
        self.shards = shards
        self.workingDirectory = workingDirectory
    }

    /// - Throws: ``InputError`` naming the value that is not a valid Slurm setting.
    public func validate() throws {
        guard (1...Shard.maximumCount).contains(shards) else {
            throw InputError("the number of shards must lie in 1…\(Shard.maximumCount), got \(shards)")
        }
        guard (1...1024).contains(cpusPerTask) else { throw InputError("cpus per task must lie in 1…1024, got \(cpusPerTask)") }
        guard time.range(of: #"\A([0-9]{1,6}|([0-9]{1,3}-)?[0-9]{1,2}:[0-9]{2}:[0-9]{2})\z"#, options: .regularExpression) != nil else {
            throw InputError("time '\(time)' is not minutes or [D-]HH:MM:SS")
        }
        guard memory.range(of: #"\A[0-9]{1,9}[KMGT]?\z"#, options: .regularExpression) != nil else {
            throw InputError("memory '\(memory)' is not a number with an optional K, M, G or T")
        }
        for (what, path) in [("the job folder", folder), ("the working directory", workingDirectory)]
        where path.range(of: #"\A[A-Za-z0-9_./+-]{1,1024}\z"#, options: .regularExpression) == nil {
            throw InputError(
                path: path, message: "\(what) must be a path of letters, digits and _ . / + - (it is written into #SBATCH lines)")
        }
        // Every other string is single-quoted for bash, where only NUL cannot be written; a line break in a path
        // is refused too (it would split a log line and is never meant).
        for (what, path) in [("the phantom executable", phantom), ("the results file (-o)", output)]
        where path.isEmpty || path.contains(where: { $0 == "\0" || $0.isNewline }) {
            throw InputError("\(what) '\(path.debugDescription.dropFirst().dropLast())' is empty or holds a line break or NUL")
        }
        if let bad = analyzeArguments.first(where: { $0.contains("\0") }) {
            throw InputError("the analyze argument \(bad.debugDescription) holds a NUL byte")
        }
        // The merge job's output must be none of the job's own files: a shard, a script, the logs folder.
        let target = Self.normalized(output, in: workingDirectory)
        let own = (1...shards).map { shardPath($0) } + ["analyze.sbatch", "merge.sbatch", "submit.sh"].map { folder + "/" + $0 }
        if let clash = own.first(where: { Self.normalized($0, in: workingDirectory) == target })
            ?? (target.hasPrefix(Self.normalized(folder + "/logs", in: workingDirectory) + "/") ? folder + "/logs" : nil)
        {
            throw InputError(path: output, message: "is one of the job's own files (\(clash)); name another results file")
        }
        if let partition, partition.range(of: #"\A[A-Za-z0-9_.-]{1,64}\z"#, options: .regularExpression) == nil {
            throw InputError("partition '\(partition)' is not a partition name")
        }
    }

    /// Checks against the analysis the shards will run: at most one shard per unit (a checkpoint's block of samples,
    /// ``Shard``), and a results file that is none of the job's inputs (the same file by device and inode, however the
    /// path is written).
    /// - Throws: ``InputError`` or ``OutputError`` naming the count or the input.
    public func check(checkpoints: Int, blocks: Int = 1, inputs: [String]) throws {
        let units = checkpoints * blocks
        guard shards <= units else {
            throw InputError(
                "--shards \(shards): the job has \(checkpoints) checkpoint\(checkpoints == 1 ? "" : "s") × \(blocks) block"
                    + "\(blocks == 1 ? "" : "s") of samples, so at most \(units) shard\(units == 1 ? "" : "s") (--sample-block splits the "
                    + "samples into more)")
        }
        let target = Self.normalized(output, in: workingDirectory)
        if let input = inputs.first(where: { Self.normalized($0, in: workingDirectory) == target }) {
            throw OutputError(path: output, message: "is an input of the job (\(input)); the merge must not replace it")
        }
        try AtomicOutput.refuseReplacing(inputs, with: output)
    }

    /// An analyze command's arguments without what each shard sets itself: `-o`/`--output` with its value
    /// (also `--output=…` and `-oFILE`) and `--force`.
    public static func shardArguments(_ analyze: [String]) -> [String] {
        var kept: [String] = [], i = 0
        while i < analyze.count {
            let a = analyze[i]
            if a == "-o" || a == "--output" { i += 2; continue }
            if !(a.hasPrefix("--output=") || a == "--force" || (a.hasPrefix("-o") && !a.hasPrefix("--"))) { kept.append(a) }
            i += 1
        }
        return kept
    }

    public func shardPath(_ index: Int) -> String { "\(folder)/shard-\(index)-of-\(shards).h5" }

    /// The three scripts: file name → text.
    public func scripts() throws -> [(name: String, text: String)] {
        try validate()
        func header(_ name: String, log: String) -> [String] {
            [
                "#!/bin/bash", "# Written by phantom slurm.", "#SBATCH --job-name=\(name)", "#SBATCH --cpus-per-task=\(cpusPerTask)",
                "#SBATCH --time=\(time)", "#SBATCH --mem=\(memory)", "#SBATCH --chdir=\(workingDirectory)",
                "#SBATCH --output=\(folder)/logs/\(log)"
            ] + (partition.map { ["#SBATCH --partition=\($0)"] } ?? [])
        }
        let analyze =
            header("phantom-analyze", log: "analyze-%a.out") + [
                "#SBATCH --array=1-\(shards)", "set -euo pipefail",
                "exec \(Self.quoted(phantom)) analyze \(analyzeArguments.map(Self.quoted).joined(separator: " ")) "
                    + "--shard \"${SLURM_ARRAY_TASK_ID}/\(shards)\" -o "
                    + "\(Self.quoted(folder + "/shard-"))\"${SLURM_ARRAY_TASK_ID}\"\(Self.quoted("-of-\(shards).h5")) --force"
            ]
        let merge =
            header("phantom-merge", log: "merge.out") + [
                "set -euo pipefail",
                "exec \(Self.quoted(phantom)) merge \((1...shards).map { Self.quoted(shardPath($0)) }.joined(separator: " ")) -o "
                    + "\(Self.quoted(output)) --force"
            ]
        let submit = [
            "#!/bin/bash", "# Written by phantom slurm: submits the analysis array, then the merge once every shard succeeded.",
            "set -euo pipefail",
            "array=$(sbatch --parsable \(Self.quoted(folder + "/analyze.sbatch")))", "array=${array%%;*}",
            "merge=$(sbatch --parsable --dependency=afterok:${array} \(Self.quoted(folder + "/merge.sbatch")))", "merge=${merge%%;*}",
            "echo \"analysis array job ${array} (\(shards) shards), merge job ${merge}\""
        ]
        return [
            ("analyze.sbatch", analyze.joined(separator: "\n") + "\n"), ("merge.sbatch", merge.joined(separator: "\n") + "\n"),
            ("submit.sh", submit.joined(separator: "\n") + "\n")
        ]
    }

    /// An absolute, standardised path (`.` and `..` resolved lexically) for comparing paths that may not exist yet.
    static func normalized(_ path: String, in directory: String) -> String {
        URL(fileURLWithPath: path.hasPrefix("/") ? path : directory + "/" + path).standardizedFileURL.path
    }

    /// Creates the job folder and its logs folder and writes `scripts` into it, each atomically; returns their paths.
    /// - Throws: ``OutputError`` naming the folder or script that cannot be written.
    public func write(_ scripts: [(name: String, text: String)], overwrite: Bool) throws -> [String] {
        try AtomicOutput.createFolder(folder + "/logs")
        return try scripts.map { script in
            try AtomicOutput.write(Data(script.text.utf8), to: folder + "/" + script.name, overwrite: overwrite)
            return folder + "/" + script.name
        }
    }

    /// A string as one single-quoted shell word.
    public static func quoted(_ text: String) -> String { "'" + text.replacingOccurrences(of: "'", with: #"'\''"#) + "'" }
}
