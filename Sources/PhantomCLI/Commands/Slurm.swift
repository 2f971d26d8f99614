import ArgumentParser
import Foundation
import PhantomAnalysis
import PhantomFileSystem

/// `phantom slurm`: an analyze command as a Slurm job array of shards plus a dependent merge job.
struct Slurm: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write the Slurm scripts that run an analyze command as N shards and merge them.",
        discussion: """
            Usage: phantom slurm --shards N [options] -- CHECKPOINT… [analyze options] -o results.h5. The analyze arguments are checked \
            as phantom analyze would check them. Writes FOLDER/analyze.sbatch (a job array 1-N, one shard each), FOLDER/merge.sbatch \
            (phantom merge into the -o file) and FOLDER/submit.sh, which submits the array and the merge with --dependency=afterok. Run: \
            bash FOLDER/submit.sh. Each task uses SLURM_CPUS_PER_TASK threads.
            """
    )

    @Option(help: "Number of shards (array tasks); at most checkpoints × blocks of samples.") var shards: Int
    @Option(help: "CPUs per task (--cpus-per-task).") var cpusPerTask: Int = 2
    @Option(help: "Time limit per task: minutes or [D-]HH:MM:SS.") var time: String = "01:00:00"
    @Option(help: "Memory per task (--mem), e.g. 4G.") var mem: String = "4G"
    @Option(help: "Slurm partition.") var partition: String?
    @Option(help: "Folder for the scripts, shard files and logs (created).") var folder: String = "slurm-job"
    @Option(help: "The phantom executable the jobs run. Default: this one.") var phantom: String?
    @Flag(help: "Overwrite the scripts of an earlier job in FOLDER.") var force = false
    @Argument(parsing: .postTerminator, help: "The analyze command's arguments, after --.") var analyze: [String] = []

    /// The analyze command these arguments make, checked by its own parser (whose message an error repeats).
    func parsed() throws -> Analyze {
        let parsed: Analyze
        do { parsed = try Analyze.parse(analyze) } catch {
            throw ValidationError("the analyze arguments after --: \(Analyze.message(for: error))")
        }
        guard parsed.shard == nil else { throw ValidationError("the analyze arguments must not contain --shard (phantom slurm adds it)") }
        return parsed
    }

    func job() throws -> SlurmJob {
        var job = SlurmJob(
            phantom: phantom ?? Executable.path, analyzeArguments: SlurmJob.shardArguments(analyze), output: try parsed().output,
            folder: folder, shards: shards, workingDirectory: FileManager.default.currentDirectoryPath)
        (job.cpusPerTask, job.time, job.memory, job.partition) = (cpusPerTask, time, mem, partition)
        return job
    }

    func validate() throws {
        guard !analyze.isEmpty else { throw ValidationError("give the analyze arguments after --") }
        try job().validate()
    }

    func run() throws {
        let job = try job()
        let scripts = try job.scripts()
        // The analysis as a shard would load it: every input checked, at most one shard per checkpoint, and the
        // merged file none of its inputs.
        let analysis = try parsed().analysis()
        try job.check(checkpoints: analysis.members.count, blocks: analysis.blocksPerCheckpoint, inputs: analysis.inputPaths)
        print("wrote \(try job.write(scripts, overwrite: force).joined(separator: ", "))")
        print("submit with: bash \(job.folder)/submit.sh")
    }
}
