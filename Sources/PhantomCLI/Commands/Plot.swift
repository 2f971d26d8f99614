import ArgumentParser
import Foundation
import PhantomModel
import PhantomModelIO
import PhantomPlots
import PhantomResults
import PhantomTraining

/// `phantom plot`: the figures of a results file or of training runs, through gnuplot.
struct Plot: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Render the figures of results files (phantom analyze) or run folders (phantom train) with gnuplot.",
        discussion: """
        From a results file: heatmaps of the median cosine over (k, λ) per estimator; cosine vs k per λ with \
        the 10–90% band (UPG and NPG side by side); per-sample cosine histograms for k = 1…5 at λ = 0.5 and \
        1.0; measured relative error vs the bound ‖E‖/σ_min and Theorem 1's certified fraction vs k; and, for \
        a series of checkpoints, the cosine, ρ(J) and forward iterations along training. From run folders: \
        loss, accuracy and forward/backward time per step. Each figure is written with NAME.gp and NAME.dat \
        beside it, so `gnuplot NAME.gp` in the output folder re-renders it.
        """
    )

    @Argument(help: "Results files (.h5) and/or run folders.")
    var inputs: [String]

    @Option(name: .shortAndLong, help: "Folder for the figures (created if missing).")
    var output: String = "plots"

    @Option(help: "Formats, comma-separated: png, svg, pdf.")
    var format: String = "png"

    @Option(name: .customLong("k"), help: "k of the along-training figure.")
    var trainingK: Int = 5

    @Option(name: .customLong("lambda"), help: "λ of the along-training figure (the nearest in the grid).")
    var trainingLambda: Double = 0.5

    @Flag(help: "Overwrite existing figures.")
    var force = false

    var formats: [String] { format.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).lowercased() } }

    func validate() throws {
        guard !inputs.isEmpty else { throw ValidationError("give a results file or a run folder") }
        if let bad = formats.first(where: { Terminal(format: $0) == nil }) {
            throw ValidationError("--format: unknown format '\(bad)' (known: png, svg, pdf)")
        }
        guard !formats.isEmpty else { throw ValidationError("--format: no format given") }
        guard trainingK >= 1 else { throw ValidationError("--k must be at least 1, got \(trainingK)") }
        guard trainingLambda > 0, trainingLambda <= 1 else { throw ValidationError("--lambda must lie in (0, 1], got \(trainingLambda)") }
    }

    func run() throws {
        // Read every input before drawing anything.
        var results: [ResultsData] = []
        var runs: [(label: String, history: [EpochRecord])] = []
        for input in inputs {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: input, isDirectory: &isDirectory) else {
                throw ValidationError("\(input): no such file or folder")
            }
            if isDirectory.boolValue {
                guard let last = RunFolder.checkpoints(in: input).last else { throw ValidationError("\(input): the folder holds no training checkpoints") }
                let checkpoint = try Checkpoint.load(last)
                runs.append(("\(URL(fileURLWithPath: input).lastPathComponent) (\(checkpoint.estimator ?? "?"))", TrainingRun.history(of: checkpoint)))
            } else {
                results.append(try ResultsData.read(input))
            }
        }
        var isDirectory: ObjCBool = false
        if !FileManager.default.fileExists(atPath: output, isDirectory: &isDirectory) {
            do { try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true) }
            catch { throw ValidationError("\(output): cannot create the folder") }
        } else if !isDirectory.boolValue {
            throw ValidationError("\(output): exists and is not a folder")
        }
        let writer = FigureWriter(folder: output, formats: formats, overwrite: force)
        var outcomes: [ResultsFigures.Outcome] = []
        for (i, data) in results.enumerated() {
            let figures = ResultsFigures(data: data, trainingK: trainingK, trainingLambda: trainingLambda).all()
            outcomes += results.count == 1 ? figures : figures.map { renamed($0, suffix: "_\(i + 1)") }
        }
        if !runs.isEmpty { outcomes.append(RunFigures.curves(runs: runs)) }
        var drawn = 0
        for outcome in outcomes {
            switch outcome {
            case .figure(let figure):
                let paths = try writer.write(figure)
                drawn += 1
                print("wrote " + paths.filter { !$0.hasSuffix(".dat") && !$0.hasSuffix(".gp") }.joined(separator: ", "))
            case .skipped(let name, let reason):
                print("skipped \(name): \(reason)")
            }
        }
        print("\(drawn) figures in \(output)/ (each with its .gp script and .dat data)")
    }

    private func renamed(_ outcome: ResultsFigures.Outcome, suffix: String) -> ResultsFigures.Outcome {
        switch outcome {
        case .figure(let f):
            return .figure(Figure(name: f.name + suffix, title: f.title, blocks: f.blocks,
                                  body: f.body.replacingOccurrences(of: "'\(f.name).dat'", with: "'\(f.name + suffix).dat'"),
                                  width: f.width, height: f.height))
        case .skipped(let name, let reason):
            return .skipped(name: name + suffix, reason: reason)
        }
    }
}
