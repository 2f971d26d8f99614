import Foundation
import PhantomFileSystem
import PhantomGradients
import PhantomLinearAlgebra
import PhantomModelIO
import PhantomResults
import PhantomTraining

/// The figures of results files and run folders: the pipeline behind `phantom plot`.
///
/// Building the run reads every input first (results files through ``ResultsData``, run folders through their
/// last checkpoint's history), so a bad input fails before anything is drawn. ``outcomes`` lists every figure
/// (with a suffix per results file when there are several) and the figures that cannot be drawn, with why;
/// ``write(to:formats:overwrite:)`` creates the folder if needed and writes each figure.
public struct PlotRun: Sendable {
    /// Figure options: the (k, λ) of the along-training figure (λ: the nearest in the grid).
    public var trainingK = defaultTrainingK
    public var trainingLambda = defaultTrainingLambda
    public static let defaultTrainingK = 5
    public static let defaultTrainingLambda = 0.5

    /// - Throws: ``ConfigurationError`` for a k below 1 or a λ outside (0, 1] (the along-training figure's).
    public static func checkTrainingCell(k: Int, lambda: Double) throws(ConfigurationError) {
        guard k >= 1 else { throw ConfigurationError("the along-training figure's k must be at least 1, got \(k)") }
        guard lambda > 0, lambda <= 1 else { throw ConfigurationError("the along-training figure's λ must lie in (0, 1], got \(lambda)") }
    }
    public let results: [ResultsData]
    /// The input files (results files and run folders' checkpoints): no figure file may replace one.
    public let inputFiles: [String]
    /// (label, history) of each run folder.
    public let runs: [(label: String, history: [EpochRecord])]

    /// - Throws: ``InputError`` for a missing input or a folder without run checkpoints; the readers' errors.
    public init(inputs: [String]) throws {
        guard !inputs.isEmpty else { throw InputError("give a results file or a run folder") }
        var results: [ResultsData] = []
        var runs: [(label: String, history: [EpochRecord])] = []
        var files: [String] = []
        for input in inputs {
            guard FileManager.default.fileExists(atPath: input) else { throw InputError("\(input): no such file or folder") }
            if RunFolder.isFolder(input) {
                let checkpoints = RunFolder.checkpoints(in: input)
                guard let last = checkpoints.last else { throw InputError("\(input): the folder holds no training checkpoints") }
                let checkpoint = try Checkpoint.load(last)
                // A label from a folder name and a file: reduced to safe characters before it reaches gnuplot.
                let estimator = checkpoint.estimator.flatMap(EstimatorID.init(rawValue:))?.rawValue ?? "?"
                runs.append(
                    (
                        Gnuplot.safeLabel("\(URL(fileURLWithPath: input).lastPathComponent) (\(estimator))"),
                        TrainingRun.history(of: checkpoint)
                    ))
                files += checkpoints
            } else {
                results.append(try ResultsData.read(input))
                files.append(input)
            }
        }
        self.results = results
        self.runs = runs
        self.inputFiles = files
    }

    /// Every figure in a fixed order, or why it is skipped.
    public var outcomes: [ResultsFigures.Outcome] {
        var outcomes: [ResultsFigures.Outcome] = []
        for (i, data) in results.enumerated() {
            let figures = ResultsFigures(data: data, trainingK: trainingK, trainingLambda: trainingLambda).all()
            outcomes += results.count == 1 ? figures : figures.map { $0.renamed(suffix: "_\(i + 1)") }
        }
        if !runs.isEmpty { outcomes.append(RunFigures.curves(runs: runs)) }
        return outcomes
    }

    /// Creates `folder` if needed and writes the whole set of figures, or nothing: every figure is rendered into
    /// a hidden staging folder beside the targets, each image is checked for completeness (a PNG ends with its
    /// IEND chunk, an SVG with `</svg>`, a PDF with `%%EOF`), every target is checked (not an input, not an
    /// existing file unless `overwrite`), and only then are the files moved into place. A figure gnuplot cannot
    /// draw is reported as skipped, with gnuplot's message. `report` sees each outcome and the paths written.
    public func write(
        to folder: String, formats: [Terminal.Format], overwrite: Bool,
        report: (ResultsFigures.Outcome, [String]) -> Void
    ) throws {
        try AtomicOutput.createFolder(folder)
        let staging = try AtomicOutput.temporaryFolder(in: folder, prefix: "plot-staging")
        defer { AtomicOutput.discardFolder(staging) }

        let stager = FigureWriter(folder: staging, formats: formats.map(\.rawValue), overwrite: false)
        let target = FigureWriter(folder: folder, formats: formats.map(\.rawValue), overwrite: overwrite)
        var results: [(ResultsFigures.Outcome, [String])] = []
        var moves: [(from: String, to: String)] = []
        for outcome in outcomes {
            guard case .figure(let figure) = outcome else { results.append((outcome, [])); continue }
            do {
                let staged = try stager.write(figure)
                for file in staged where !file.hasSuffix(".dat") && !file.hasSuffix(".gp") { try Self.checkComplete(file) }
                let targets = target.files(of: figure)
                moves += zip(staged, targets).map { ($0, $1) }
                results.append((outcome, targets))
            } catch let error as GnuplotError {
                if case .notInstalled = error { throw error }
                results.append((.skipped(name: figure.name, reason: "gnuplot could not draw it: \(error)"), []))
            }
        }
        // Every target is checked before the first one is replaced.
        for move in moves {
            try AtomicOutput.refuseReplacing(inputFiles, with: move.to)
            try AtomicOutput.checkTarget(move.to, overwrite: overwrite)
        }
        for move in moves { try AtomicOutput.publish(move.from, to: move.to, overwrite: overwrite) }
        for (outcome, paths) in results { report(outcome, paths) }
    }

    /// Whether a rendered image is complete: gnuplot can exit 0 with a truncated file on a full disk.
    static func checkComplete(_ path: String) throws {
        guard let data = FileManager.default.contents(atPath: path), !data.isEmpty else {
            throw GnuplotError.noOutput(path: path)
        }
        let tail = String(decoding: data.suffix(64), as: UTF8.self)
        let complete: Bool
        switch URL(fileURLWithPath: path).pathExtension {
        case "png":
            complete =
                data.prefix(8) == Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
                && data.suffix(12).prefix(8).suffix(4) == Data("IEND".utf8)
        case "svg": complete = tail.contains("</svg>")
        case "pdf": complete = data.prefix(5) == Data("%PDF-".utf8) && tail.contains("%%EOF")
        default: complete = true
        }
        guard complete else { throw GnuplotError.noOutput(path: path) }
    }
}

extension ResultsFigures.Outcome {
    /// The same figure under NAME + suffix (its script reads the renamed data file).
    func renamed(suffix: String) -> ResultsFigures.Outcome {
        switch self {
        case .figure(let f):
            return .figure(
                Figure(
                    name: f.name + suffix, title: f.title, blocks: f.blocks,
                    body: f.body.replacingOccurrences(of: "'\(f.name).dat'", with: "'\(f.name + suffix).dat'"),
                    width: f.width, height: f.height))
        case .skipped(let name, let reason):
            return .skipped(name: name + suffix, reason: reason)
        }
    }
}
