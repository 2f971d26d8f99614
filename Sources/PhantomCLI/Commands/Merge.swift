import ArgumentParser
import Foundation
import PhantomFileSystem
import PhantomResults

/// `phantom merge`: the shards of one analysis job into one results file.
struct Merge: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Merge the shard files of one analysis job (analyze --shard I/N) into one results file.",
        discussion: """
            Checks that the shards belong to one job (same fingerprint: tool version, inputs, grid, solver settings), \
            that no shard is given twice and none is missing, and writes one results file whose arrays are those of \
            the unsharded run (the root attributes command and created differ; shard is dropped, merged_shards added). \
            --allow-partial merges what is there and records missing_shards.
            """
    )

    @Argument(help: "The shard files (.h5).") var shards: [String]
    @Option(name: .shortAndLong, help: "The merged results file.") var output: String
    @Flag(help: "Merge the shards that are there; record the missing ones in the attribute missing_shards.") var allowPartial = false
    @Flag(help: "Overwrite an existing results file.") var force = false

    func run() throws {
        try AtomicOutput.checkTarget(output, overwrite: force)
        try AtomicOutput.refuseReplacing(shards, with: output)
        var (data, report) = try ResultsMerge.merge(shards, allowPartial: allowPartial)
        try AtomicOutput.refuseReplacing(report.jobInputs, with: output)
        data.attributes["command"] = CommandLine.arguments.joined(separator: " ")
        data.attributes["created"] = ISO8601DateFormatter().string(from: Date())
        try ResultsFile.write(data, to: output, overwrite: force)
        print("merged \(report) into \(output)")
    }
}
