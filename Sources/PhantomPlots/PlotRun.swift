import Foundation
import PhantomFileSystem
import PhantomFileSystem
import PhantomGradients
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
    /// Figure options: the (k, λ) of the along-training figure.
    public var trainingK = 5
    public var trainingLambda = 0.5
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
                guard let last = RunFolder.checkpoints(in: input).last else { throw InputError("\(input): the folder holds no training checkpoints") }
                let checkpoint = try Checkpoint.load(last)
                // A label from a folder name and a file: reduced to safe characters before it reaches gnuplot.
                let estimator = checkpoint.estimator.flatMap(EstimatorID.init(rawValue:))?.rawValue ?? "?"
                runs.append((Gnuplot.safeLabel("\(URL(fileURLWithPath: input).lastPathComponent) (\(estimator))"), TrainingRun.history(of: checkpoint)))
                files += RunFolder.checkpoints(in: input)
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

    /// Creates `folder` if needed and writes every figure; `report` sees each outcome and the paths written.
    public func write(to folder: String, formats: [String], overwrite: Bool,
                      report: (ResultsFigures.Outcome, [String]) -> Void) throws {
        if !FileManager.default.fileExists(atPath: folder) {
            do { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) }
            catch { throw InputError("\(folder): cannot create the folder") }
        } else if !RunFolder.isFolder(folder) {
            throw InputError("\(folder): exists and is not a folder")
        }
        let writer = FigureWriter(folder: folder, formats: formats, overwrite: overwrite)
        for outcome in outcomes {
            switch outcome {
            case .figure(let figure):
                for file in writer.files(of: figure) { try AtomicOutput.refuseReplacing(inputFiles, with: file) }
                report(outcome, try writer.write(figure))
            case .skipped: report(outcome, [])
            }
        }
    }
}

extension ResultsFigures.Outcome {
    /// The same figure under NAME + suffix (its script reads the renamed data file).
    func renamed(suffix: String) -> ResultsFigures.Outcome {
        switch self {
        case .figure(let f):
            return .figure(Figure(name: f.name + suffix, title: f.title, blocks: f.blocks,
                                  body: f.body.replacingOccurrences(of: "'\(f.name).dat'", with: "'\(f.name + suffix).dat'"),
                                  width: f.width, height: f.height))
        case .skipped(let name, let reason):
            return .skipped(name: name + suffix, reason: reason)
        }
    }
}

