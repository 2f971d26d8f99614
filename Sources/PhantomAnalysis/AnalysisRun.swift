import Foundation
import PhantomFileSystem
import PhantomGradients
import PhantomHDF5
import PhantomInterop
import PhantomLinearAlgebra
import PhantomModel
import PhantomModelIO

/// One analysed checkpoint of a series.
public struct SeriesEntry: Sendable {
    public let path: String
    /// SHA-256 of the file, taken before it was read.
    public let sha256: String
    public let epoch: Int?
    public let step: Int?
    public let result: AnalysisResult

    public init(path: String, sha256: String, epoch: Int?, step: Int?, result: AnalysisResult) {
        self.path = path
        self.sha256 = sha256
        self.epoch = epoch
        self.step = step
        self.result = result
    }
}

/// An analysis from the inputs a user names to its results: the pipeline behind `phantom analyze`.
///
/// Building the run does every check that can be done before the (long) analysis: the inputs expand into a
/// series (a run folder is its `epoch-NNNN.h5` checkpoints, ``RunFolder``; files are taken as given), each
/// file is hashed and then loaded, the data set is resolved (``DataSetResolver``) and checked against every
/// model, and the samples are chosen (the test split first). ``run(progress:)`` then analyses each checkpoint.
public struct AnalysisRun: Sendable {
    /// What the user names.
    public struct Inputs: Sendable {
        /// Checkpoints (.h5, .safetensors) or run folders.
        public var checkpoints: [String]
        /// A data file or bundled name; nil: the data set named in the first checkpoint.
        public var data: String?
        /// How many samples to analyse (from the test split when the data has one).
        public var samples: Int
        /// For .safetensors inputs whose metadata does not say.
        public var cell: CellKind?
        public var prefix: String?
        public var renames: [(String, String)] = []
        /// Analyse only this part of the job (``Shard``); nil: all of it.
        public var shard: Shard?

        public static let defaultSamples = 100

        public init(
            checkpoints: [String], data: String? = nil, samples: Int = defaultSamples, cell: CellKind? = nil, prefix: String? = nil,
            shard: Shard? = nil
        ) {
            self.checkpoints = checkpoints
            self.data = data
            self.samples = samples
            self.cell = cell
            self.prefix = prefix
            self.shard = shard
        }
    }

    /// A checkpoint of the series, loaded.
    public struct Member: Sendable {
        public let path: String
        public let sha256: String
        public let checkpoint: Checkpoint
    }

    public let configuration: AnalysisConfiguration
    public let solver: FixedPointConfiguration
    /// The job's whole series, in order.
    public let members: [Member]
    /// The part of the job this run analyses (nil: all of it), the positions in `members` of the checkpoints it touches,
    /// and of each the blocks it analyses (all of them, `0..<blocksPerCheckpoint`, unless a shard splits it).
    public let shard: Shard?
    public let selected: [Int]
    public let heldBlocks: [[Int]]
    /// Blocks of samples per checkpoint (``SampleBlock/split(_:stateDimension:parameters:samples:)``) and samples per block.
    public let blocksPerCheckpoint: Int
    public let blockSize: Int
    public let dataPath: String
    /// SHA-256 of the data file, taken before it was read.
    public let dataSHA256: String
    /// How .safetensors inputs were read (cell kind and prefix given by the user).
    public let importOptions: String
    /// The analysed samples (their `rows` are the data file's rows).
    public let samples: DataSet
    public let targets: Targets

    /// - Throws: ``InputError`` (or the loaders' errors) naming the file and what is wrong.
    public init(_ inputs: Inputs, configuration: AnalysisConfiguration, solver: FixedPointConfiguration) throws {
        guard !inputs.checkpoints.isEmpty else { throw InputError("give at least one checkpoint") }
        guard inputs.samples >= 1 else { throw InputError("the number of samples must be at least 1, got \(inputs.samples)") }
        try configuration.check(solver: solver)
        var members: [Member] = []
        for argument in inputs.checkpoints {
            guard FileManager.default.fileExists(atPath: argument) else { throw InputError("\(argument): no such file or folder") }
            if !RunFolder.isFolder(argument) {
                members.append(try Self.load(argument, inputs))
                continue
            }
            let series = try RunFolder.checkpoints(in: argument).map { try Self.load($0, inputs) }
                .sorted {
                    ($0.checkpoint.epoch ?? -1, $0.checkpoint.step ?? -1, $0.path) < (
                        $1.checkpoint.epoch ?? -1, $1.checkpoint.step ?? -1, $1.path
                    )
                }
            guard !series.isEmpty else { throw InputError("\(argument): the folder holds no run checkpoints (epoch-NNNN.h5)") }
            members += series
        }
        guard members.count <= Self.maximumSeries else {
            throw InputError("the job has \(members.count) checkpoints; a results file holds at most \(Self.maximumSeries)")
        }
        let first = members[0]
        // One series, one model shape: the results file records one cell, and every checkpoint is compared with
        // the same samples.
        let shape = { (m: Member) in
            "\(m.checkpoint.model.cell.kind.rawValue) n_in = \(m.checkpoint.model.inputDimension), d = "
                + "\(m.checkpoint.model.stateDimension), c = \(m.checkpoint.model.outputDimension)"
        }
        if let other = members.first(where: { shape($0) != shape(first) }) {
            throw InputError(
                path: other.path,
                message: "is a \(shape(other)) model, \(first.path) a \(shape(first)) one; a series holds one kind of model")
        }
        let reference = inputs.data ?? first.checkpoint.dataset
        guard let reference else { throw InputError("\(first.path) names no data set; pass the data file") }
        func read() throws -> (String, FileSnapshot, DataSet) {
            let path = try DataSetResolver.resolve(reference, near: inputs.data == nil ? first.path : nil)
            let snapshot = try FileSnapshot(path)
            return (path, snapshot, try DataSet.load(snapshot))
        }
        let (dataPath, dataSnapshot, dataSet) = try inputs.data == nil ? DataSetResolver.named(by: first.path, reference, read) : read()
        let dataSHA256 = dataSnapshot.sha256
        guard dataSet.y != nil else { throw InputError(path: dataPath, message: "the data file has no targets 'y'; the loss needs them") }
        for member in members {
            try dataSet.checkInputs(
                member.checkpoint.model.inputDimension, image: member.checkpoint.model.cell.inputImageShape, path: dataPath,
                model: member.path)
        }
        let chosen = try dataSet.analysisSamples(inputs.samples, path: dataPath)
        guard let targets = chosen.y else { throw InputError(path: dataPath, message: "no targets") }
        for member in members { try DataSet.checkTargets(targets, outputs: member.checkpoint.model.outputDimension, path: dataPath) }
        // A forced dense route that cannot fit is refused now, not after the forward solves.
        let d = first.checkpoint.model.stateDimension
        let split = try SampleBlock.split(
            configuration, stateDimension: d, parameters: first.checkpoint.model.cell.parameters.count, samples: chosen.count)
        let blocks = split.count
        if let shard = inputs.shard, shard.count > members.count * blocks {
            let units = members.count * blocks, size = split[0].size
            throw InputError(
                "shard \(shard): the job has \(members.count) checkpoint\(members.count == 1 ? "" : "s") × \(blocks) block"
                    + "\(blocks == 1 ? "" : "s") of samples (--sample-block \(size)), so at most \(units) shard\(units == 1 ? "" : "s")")
        }
        self.configuration = configuration
        self.solver = solver
        self.members = members
        self.shard = inputs.shard
        let parts = inputs.shard?.blocks(checkpoints: members.count, blocks: blocks)
        self.selected = parts?.map(\.checkpoint) ?? Array(members.indices)
        self.heldBlocks = parts?.map(\.blocks) ?? members.map { _ in Array(0..<blocks) }
        self.blocksPerCheckpoint = blocks
        self.blockSize = split[0].size
        self.dataPath = dataPath
        self.dataSHA256 = dataSHA256
        self.importOptions =
            "cell \(inputs.cell?.rawValue ?? "-") prefix \(inputs.prefix.map { "'\($0)'" } ?? "-") renames "
            + "\(inputs.renames.map { "'\($0.0)'='\($0.1)'" }.joined(separator: ","))"
        self.samples = chosen
        self.targets = targets
    }

    /// Reads the file once, hashes those bytes and parses the same bytes: the recorded hash covers exactly
    /// what was analysed.
    private static func load(_ path: String, _ inputs: Inputs) throws -> Member {
        let snapshot = try FileSnapshot(path)
        return Member(
            path: path, sha256: snapshot.sha256,
            checkpoint: try ModelFile.load(snapshot, cell: inputs.cell, prefix: inputs.prefix, renames: inputs.renames))
    }

    /// The most checkpoints a job may have: its results file holds one `series/<t>` group per checkpoint, and a group
    /// holds at most ``HDF5Group/maximumChildren`` links — so the reader can read back whatever an analysis writes.
    public static let maximumSeries = HDF5Group.maximumChildren

    /// Every file the analysis reads: its checkpoints and its data file (an output must be none of them).
    public var inputPaths: [String] { members.map(\.path) + [dataPath] }

    /// The cell kind of the series (of its first checkpoint).
    public var cell: CellKind { members[0].checkpoint.model.cell.kind }

    /// Analyses the selected checkpoints of the series (all of them, or the shard's).
    /// - Parameters:
    ///   - progress: (member index, stage, done, in all), from the analysing threads.
    ///   - finished: called with each member's index when its analysis is done.
    public func run(
        progress: (@Sendable (Int, Analyzer.Stage, Int, Int) -> Void)? = nil,
        finished: ((Int) -> Void)? = nil
    ) throws -> [SeriesEntry] {
        try zip(selected, heldBlocks).map { index, blocks in
            let member = members[index]
            let result = try Analyzer(configuration).analyze(
                model: member.checkpoint.model, inputs: samples.x, targets: targets, solver: solver,
                blocks: blocks.count == blocksPerCheckpoint ? nil : blocks,
                progress: progress.map { report in { @Sendable stage, done, total in report(index, stage, done, total) } })
            finished?(index)
            return SeriesEntry(
                path: member.path, sha256: member.sha256, epoch: member.checkpoint.epoch, step: member.checkpoint.step, result: result)
        }
    }

    /// The root attributes a results file of this run records besides the format's own: the command, the tool
    /// version, the time, the data, the cell, the job's fingerprint, its parts and its series length, and the shard.
    public func resultAttributes(command: String, toolVersion: String, created: Date = Date()) -> [String: String] {
        let job = jobFingerprint(toolVersion: toolVersion)
        var attributes = [
            "command": command, "tool_version": toolVersion, "created": ISO8601DateFormatter().string(from: created),
            "data": dataPath, "cell": cell.rawValue, "job_fingerprint": job.fingerprint, "job_parts": job.text,
            "job_series": "\(members.count)"
        ]
        if let shard { attributes["shard"] = shard.description }
        attributes["sample_block"] = "\(blockSize)"
        attributes["adjoint_tolerance"] = "\(configuration.adjoint.tolerance)"
        let s = configuration.estimatorSettings, ids = Set(configuration.estimators.map(\.id))
        if ids.contains(SHINEGradient.id) { attributes["shine_fallback"] = "\(s.shineFallback)" }
        if !ids.isDisjoint(with: [FixedPointAdjoint.id, GMRESAdjoint.id]) {
            attributes["truncated_stop"] = "\(s.truncatedStopMode.rawValue) \(s.truncatedStop.tolerance)"
        }
        return attributes
    }

    /// What makes two runs parts of one job (``JobFingerprint``): the grid, the estimators, the chosen data rows,
    /// every checkpoint's hash in order, and the tool version, the data file's hash and every solver setting.
    public func jobFingerprint(toolVersion: String) -> JobFingerprint {
        func bits(_ x: Double) -> String { String(x.bitPattern, radix: 16) }
        let c = configuration, f = solver
        var lines = ["tool \(toolVersion)", "data \(dataSHA256)"]
        lines.append(
            "adjoint \(c.adjoint.method.rawValue) \(bits(c.adjoint.tolerance)) \(c.adjoint.maxIterations) \(bits(c.adjoint.damping)) "
                + "\(c.adjoint.restart)"
        )
        lines.append(
            "certify \(c.certificateSamples.map(String.init) ?? "default") columns \(c.columnBudget) \(c.preferColumnRoute) stacked "
                + "\(c.stackedLimit)"
        )
        if c.spectra != .auto { lines.append("spectra \(c.spectra.rawValue)") }
        if let block = c.sampleBlock { lines.append("sample-block \(block)") }
        let stopping =
            switch f.stopping {
            case .absolute(let t): "absolute \(bits(t))";
            case .relative(let t): "relative \(bits(t))"
            }
        lines.append(
            "solver \(f.method.rawValue) \(stopping) \(f.maxIterations) \(bits(f.damping)) \(f.andersonMemory) \(bits(f.andersonMixing)) "
                + "\(bits(f.andersonRegularization)) \(f.broydenMemory) \(f.newtonSteps) \(f.denseNewtonLimit)")
        lines.append("import \(importOptions)")
        // Only settings that differ from the defaults, so that a default job's fingerprint is what it was before they existed.
        if c.estimatorSettings != .standard { lines += c.estimatorSettings.lines }
        return JobFingerprint(
            grid: JobFingerprint.grid(ks: c.ks, lambdas: c.lambdas), estimators: JobFingerprint.estimators(c.estimators.map(\.id)),
            rows: JobFingerprint.rows(samples.rows), checkpoints: JobFingerprint.checkpoints(members.map(\.sha256)),
            settings: JobFingerprint.settings(lines))
    }
}
