import ArgumentParser
import Foundation
import PhantomPlots

/// `phantom plot`: the figures of a results file or of training runs, through gnuplot.
struct Plot: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Render the figures of results files (phantom analyze) or run folders (phantom train) with gnuplot.",
        discussion: """
            From a results file: heatmaps of the median cosine over (k, λ) per estimator; cosine vs k per λ with the 10–90% band (UPG \
            and NPG side by side); per-sample cosine histograms for k = 1…5 at λ = 0.5 and 1.0; measured relative error vs the bound \
            ‖E‖/σ_min and Theorem 1's certified fraction vs k; and, for a series of checkpoints, the cosine, ρ(J) and forward iterations \
            along training. From run folders: loss, accuracy and forward/backward time per step. Each figure is written with NAME.gp and \
            NAME.dat beside it, so `gnuplot NAME.gp` in the output folder re-renders it.
            """
    )

    @Argument(help: "Results files (.h5) and/or run folders.") var inputs: [String]
    @Option(name: .shortAndLong, help: "Folder for the figures (created if missing).") var output: String = "plots"
    @Option(
        help: "Formats, comma-separated: \(Terminal.Format.allCases.map(\.rawValue).joined(separator: ", ")).",
        transform: { ListArgument<FormatSyntax>(try FormatSyntax.parse($0) ?? []) })
    var format = ListArgument<FormatSyntax>([.png])
    @Option(name: .customLong("k"), help: "k of the along-training figure.") var trainingK = PlotRun.defaultTrainingK
    @Option(name: .customLong("lambda"), help: "λ of the along-training figure (the nearest in the grid).")
    var trainingLambda = PlotRun.defaultTrainingLambda
    @Flag(help: "Overwrite existing figures.") var force = false

    func validate() throws {
        guard !inputs.isEmpty else { throw ValidationError("give a results file or a run folder") }
        try PlotRun.checkTrainingCell(k: trainingK, lambda: trainingLambda)
    }

    func run() throws {
        var plots = try PlotRun(inputs: inputs)
        (plots.trainingK, plots.trainingLambda) = (trainingK, trainingLambda)
        var drawn = 0
        try plots.write(to: output, formats: format.values, overwrite: force) { outcome, paths in
            switch outcome {
            case .figure:
                drawn += 1
                print("wrote " + paths.filter { !$0.hasSuffix(".dat") && !$0.hasSuffix(".gp") }.joined(separator: ", "))
            case .skipped(let name, let reason):
                print("skipped \(name): \(reason)")
            }
        }
        print("\(drawn) figure\(drawn == 1 ? "" : "s") in \(output)/ (each with its .gp script and .dat data)")
    }
}

/// `--format`'s formats (``Terminal/formats(parsing:)``: each known, none twice).
enum FormatSyntax: ListSyntax {
    static func parse(_ text: String) throws -> [Terminal.Format]? { try Terminal.formats(parsing: text) }
    static func describe(_ values: [Terminal.Format]) -> String { values.map(\.rawValue).joined(separator: ",") }
    static var names: [String] { Terminal.Format.allCases.map(\.rawValue) }
}
