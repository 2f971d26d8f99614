import ArgumentParser
import Foundation
import PhantomAnalysis
import PhantomFileSystem
import PhantomModel
import PhantomResults

/// `phantom analyze`: exact vs phantom gradients, Theorem 1 and its certificates, written to HDF5. The
/// pipeline is ``AnalysisRun``; this command parses, reports progress and formats the summary.
struct Analyze: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Compare phantom gradients with the exact gradient on checkpoints; check Theorem 1 per sample.",
        discussion: """
            For each checkpoint (files, or run folders whose epoch-NNNN.h5 checkpoints form a series), solves the \
            fixed points of the first --samples test samples, computes the exact implicit gradient (with its adjoint \
            residual) and every estimator on the (k, λ) grid, and per sample: σ(M), ‖J‖₂, ρ(J), ρ(B), ‖B^k‖₂, ‖E‖₂, \
            Theorem 1's condition, ρ = ‖E‖/σ_min, ρ*, the ascent margin, and the measured cosine, relative error \
            and norm ratio. Writes one HDF5 results file (see the README for its layout) and prints a summary.
            """
    )

    @Argument(help: "Checkpoints (.h5, .safetensors), or run folders holding a series of them.") var checkpoints: [String]
    @Option(help: "HDF5 data file (x, y, optional split) or a bundled name. Default: the checkpoint's data set.") var data: String?
    @Option(help: "How many samples to analyse (from the test split if the data has one).") var samples = AnalysisRun.Inputs.defaultSamples
    @OptionGroup var grid: GridOptions
    @OptionGroup var solverOptions: SolverOptions
    @OptionGroup var safetensorsOptions: SafetensorsOptions
    @Option(name: .shortAndLong, help: "The results file to write.") var output: String = "results.h5"
    @Option(
        help: "Analyse only part I of N of the job (its units — checkpoints' blocks of samples — I−1, I−1+N, …; see merge, slurm).",
        transform: { try Shard(parsing: $0) })
    var shard: Shard?
    @Flag(help: "Print the summary as JSON.") var json = false
    @Flag(help: "Overwrite an existing results file.") var force = false

    /// The analysis these arguments ask for, every input loaded and checked (also what `phantom slurm` checks).
    func analysis() throws -> AnalysisRun {
        var inputs = AnalysisRun.Inputs(
            checkpoints: checkpoints, data: data, samples: samples, cell: safetensorsOptions.cell,
            prefix: safetensorsOptions.prefix, shard: shard)
        inputs.renames = try safetensorsOptions.renames
        return try AnalysisRun(inputs, configuration: try grid.configuration(), solver: try solverOptions.configuration())
    }

    func run() throws {
        // Everything that can be checked is checked before the (long) analysis starts.
        try AtomicOutput.checkTarget(output, overwrite: force)
        let analysis = try analysis()
        try AtomicOutput.refuseReplacing(analysis.inputPaths, with: output)
        let progress = ProgressReporter()
        let count = analysis.members.count
        let labels = analysis.members.enumerated().map { "[\($0.offset + 1)/\(count)] \($0.element.path)" }
        let series = try analysis.run(
            progress: { index, stage, done, total in
                progress.update(labels[index] + " " + stage.rawValue, done, total)
            }, finished: { progress.finish(labels[$0]) })
        try analysis.write(
            series, to: output, overwrite: force, command: CommandLine.arguments.joined(separator: " "), toolVersion: Phantom.version)
        let summary = AnalysisSummary(series: series, output: output)
        print(json ? try summary.json() : summary.text())
    }
}
