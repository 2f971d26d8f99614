import ArgumentParser
import Foundation
import PhantomAnalysis
import PhantomFileSystem
import PhantomModel
import PhantomModelIO
import PhantomResults

/// `phantom analyze`: exact vs phantom gradients, Theorem 1 and its certificates, written to HDF5.
struct Analyze: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Compare phantom gradients with the exact gradient on checkpoints; check Theorem 1 per sample.",
        discussion: """
        For each checkpoint (files, or run folders whose .h5 checkpoints form a series), solves the fixed points \
        of the first --samples test samples, computes the exact implicit gradient (with its adjoint residual) \
        and every estimator on the (k, λ) grid, and per sample: σ(M), ‖J‖₂, ρ(J), ρ(B), ‖B^k‖₂, ‖E‖₂, \
        Theorem 1's condition, ρ = ‖E‖/σ_min, ρ*, the ascent margin, and the measured cosine, relative error \
        and norm ratio. Writes one HDF5 results file (see the README for its layout) and prints a summary.
        """
    )

    @Argument(help: "Checkpoints (.h5), or run folders holding a series of them.")
    var checkpoints: [String]

    @Option(help: "HDF5 data file (x, y, optional split). Default: the data set named in the checkpoint, looked up as notebooks-data/NAME.h5.")
    var data: String?

    @Option(help: "How many samples to analyse (from the test split when the data has one).")
    var samples: Int = 100

    @OptionGroup var grid: GridOptions
    @OptionGroup var solverOptions: SolverOptions
    @OptionGroup var safetensorsOptions: SafetensorsOptions

    @Option(name: .shortAndLong, help: "The results file to write.")
    var output: String = "results.h5"

    @Flag(help: "Print the summary as JSON.")
    var json = false

    @Flag(help: "Overwrite an existing results file.")
    var force = false

    func validate() throws {
        guard samples >= 1 else { throw ValidationError("--samples must be at least 1, got \(samples)") }
        guard !checkpoints.isEmpty else { throw ValidationError("give at least one checkpoint") }
    }

    func run() throws {
        // Everything that can be checked is checked before the (long) analysis starts.
        _ = try AtomicOutput.temporaryPath(for: output, overwrite: force)
        let configuration = try grid.configuration()
        let solver = try solverOptions.configuration()
        let loaded = try CheckpointSeries.load(checkpoints, safetensors: safetensorsOptions)
        let dataPath = try data ?? DataLocator.path(for: loaded[0].1, checkpointPath: loaded[0].0)
        let dataSet = try DataSet.load(dataPath)
        guard case .some = dataSet.y else { throw ValidationError("\(dataPath): the data file has no targets 'y'; the loss needs them") }
        for (path, checkpoint) in loaded where checkpoint.model.inputDimension != dataSet.x.columns {
            throw ValidationError("\(dataPath): x has \(dataSet.x.columns) features, \(path) expects n_in = \(checkpoint.model.inputDimension)")
        }
        let chosen = dataSet.part(1).prefix(samples)
        guard chosen.count > 0 else { throw ValidationError("\(dataPath): the test split (split = 1) holds no samples") }
        guard let targets = chosen.y else { throw ValidationError("\(dataPath): no targets") }
        for (_, checkpoint) in loaded { try DataSet.checkTargets(targets, outputs: checkpoint.model.outputDimension, path: dataPath) }

        let progress = ProgressReporter(enabled: true)
        var series: [SeriesEntry] = []
        for (index, (path, checkpoint)) in loaded.enumerated() {
            let label = "[\(index + 1)/\(loaded.count)] \(path)"
            let result = Analyzer(configuration).analyze(model: checkpoint.model, inputs: chosen.x, targets: targets, solver: solver) { stage, done, total in
                progress.update(label + " " + stage, done, total)
            }
            progress.finish(label)
            series.append(SeriesEntry(path: path, sha256: try SHA256.hex(ofFile: path), epoch: checkpoint.epoch,
                                      step: checkpoint.step, result: result))
        }
        let formatter = ISO8601DateFormatter()
        try ResultsFile.write(series, sampleIndices: chosen.rows, to: output, overwrite: force, attributes: [
            "command": CommandLine.arguments.joined(separator: " "),
            "tool_version": Phantom.version,
            "created": formatter.string(from: Date()),
            "data": dataPath,
            "cell": loaded[0].1.model.cell.kind.rawValue,
        ])
        let summary = AnalysisSummary(series: series, output: output)
        if json { print(try summary.json()) } else { print(summary.text()) }
    }
}

/// Loads the checkpoints named on the command line, each once; run folders expand into their checkpoints,
/// ordered by (epoch, step, name).
enum CheckpointSeries {
    static func load(_ arguments: [String], safetensors: SafetensorsOptions) throws -> [(path: String, checkpoint: Checkpoint)] {
        var loaded: [(path: String, checkpoint: Checkpoint)] = []
        for argument in arguments {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: argument, isDirectory: &isDirectory) else {
                throw ValidationError("\(argument): no such file or folder")
            }
            if !isDirectory.boolValue {
                loaded.append((argument, try ModelFile.load(argument, safetensors: safetensors)))
                continue
            }
            let names = try FileManager.default.contentsOfDirectory(atPath: argument).filter { $0.hasSuffix(".h5") && !$0.hasPrefix(".") }
            let folder = argument.hasSuffix("/") ? String(argument.dropLast()) : argument
            let ordered = try names.map { name in (path: folder + "/" + name, checkpoint: try Checkpoint.load(folder + "/" + name)) }
                .sorted { ($0.checkpoint.epoch ?? -1, $0.checkpoint.step ?? -1, $0.path) < ($1.checkpoint.epoch ?? -1, $1.checkpoint.step ?? -1, $1.path) }
            guard !ordered.isEmpty else { throw ValidationError("\(argument): the folder holds no .h5 checkpoints") }
            loaded += ordered
        }
        return loaded
    }
}

/// Where a checkpoint's data set lives.
enum DataLocator {
    static func path(for checkpoint: Checkpoint, checkpointPath: String) throws -> String {
        guard let name = checkpoint.dataset else {
            throw ValidationError("\(checkpointPath) names no data set; pass --data FILE")
        }
        let folder = URL(fileURLWithPath: checkpointPath).deletingLastPathComponent().path
        let candidates = name.hasSuffix(".h5") ? [name, folder + "/" + name] : ["notebooks-data/\(name).h5", folder + "/\(name).h5"]
        if let found = candidates.first(where: { FileManager.default.fileExists(atPath: $0) }) { return found }
        throw ValidationError("\(checkpointPath) names data set '\(name)', but \(candidates[0]) does not exist; pass --data FILE")
    }
}

/// Progress on stderr: a bar on a terminal, a line per quarter otherwise.
final class ProgressReporter: @unchecked Sendable {
    private let lock = NSLock()
    private let terminal = isatty(STDERR_FILENO) == 1
    private var lastQuarter = -1
    private var lastLabel = ""
    let enabled: Bool
    init(enabled: Bool) { self.enabled = enabled }

    func update(_ label: String, _ done: Int, _ total: Int) {
        guard enabled else { return }
        lock.lock(); defer { lock.unlock() }
        if terminal {
            let width = 30, filled = done * width / max(total, 1)
            FileHandle.standardError.write(Data("\r\u{1B}[2K\(label) [\(String(repeating: "#", count: filled))\(String(repeating: " ", count: width - filled))] \(done)/\(total)".utf8))
        } else {
            let quarter = done * 4 / max(total, 1)
            if label != lastLabel || quarter != lastQuarter {
                lastQuarter = quarter
                lastLabel = label
                FileHandle.standardError.write(Data("\(label): \(done)/\(total)\n".utf8))
            }
        }
    }

    func finish(_ label: String) {
        guard enabled else { return }
        lock.lock(); defer { lock.unlock() }
        if terminal { FileHandle.standardError.write(Data("\n".utf8)) }
        lastQuarter = -1
    }
}
