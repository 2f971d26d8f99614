import Foundation
import PhantomAnalysis
import PhantomFileSystem
import PhantomGradients
import PhantomHDF5

/// One checkpoint of a results file's series: where it came from.
public struct SeriesInfo: Sendable, Equatable {
    public var path: String
    public var sha256: String
    public var epoch: Int?
    public var step: Int?
    public var adjointMethod: String

    public init(path: String, sha256: String, epoch: Int?, step: Int?, adjointMethod: String) {
        self.path = path
        self.sha256 = sha256
        self.epoch = epoch
        self.step = step
        self.adjointMethod = adjointMethod
    }
}

/// A results file in memory, typed: its axes, its estimators, its series and every array of
/// ``ResultsSchema`` (flags decoded: not computed → NaN). ``ResultsFile`` writes one, ``read(_:)`` reads one
/// back, so an analysis, a merge of shards and a round trip all go through the same writer.
public struct ResultsData: Sendable {
    /// The file it was read from ("" for one built in memory).
    public var path: String
    public var ks: [Int]
    public var lambdas: [Double]
    public var estimators: [EstimatorID]
    /// The grid axes each estimator depends on (from the file; for files without `estimator_axes`, from the
    /// built-in families, else k and λ).
    public var estimatorAxes: [EstimatorAxes]
    /// Per checkpoint of the series: epoch and step (−1 unknown), where it came from, and its index in the whole
    /// job's series (a shard holds some of them; see ``ResultsShard``).
    public var epochs: [Int]
    public var steps: [Int]
    public var series: [SeriesInfo]
    public var seriesIndices: [Int]
    /// The data row of each sample.
    public var sampleRows: [Int]
    /// Free-form root attributes (command, tool_version, created, data, cell, job_fingerprint, shard, …).
    public var attributes: [String: String]
    public var samples: [SampleArray: HDF5Array<Double>]
    public var cells: [CellArray: HDF5Array<Double>]
    public var batch: [BatchArray: HDF5Array<Double>]
    /// The frontier's thresholds (`axes/threshold`) and arrays; empty in files written before it.
    public var thresholds: [Double] = []
    public var frontier: [FrontierArray: HDF5Array<Double>] = [:]
    /// A shard's batch means of the blocks of checkpoints it holds in part (``ResultsPartials``); nil otherwise.
    public var partials: ResultsPartials? = nil

    public init(
        path: String = "", ks: [Int], lambdas: [Double], estimators: [EstimatorID], estimatorAxes: [EstimatorAxes],
        epochs: [Int], steps: [Int]? = nil, series: [SeriesInfo]? = nil, seriesIndices: [Int]? = nil, sampleRows: [Int] = [],
        attributes: [String: String] = [:], samples: [SampleArray: HDF5Array<Double>], cells: [CellArray: HDF5Array<Double>],
        batch: [BatchArray: HDF5Array<Double>]
    ) {
        self.path = path
        self.ks = ks
        self.lambdas = lambdas
        self.estimators = estimators
        self.estimatorAxes = estimatorAxes
        self.epochs = epochs
        self.steps = steps ?? epochs.map { _ in -1 }
        self.series = series ?? epochs.map { SeriesInfo(path: "", sha256: "", epoch: $0 >= 0 ? $0 : nil, step: nil, adjointMethod: "") }
        self.seriesIndices = seriesIndices ?? Array(epochs.indices)
        self.sampleRows = sampleRows
        self.attributes = attributes
        self.samples = samples
        self.cells = cells
        self.batch = batch
    }

    /// The number of checkpoints in the series.
    public var seriesCount: Int { epochs.count }
    /// The number of samples per checkpoint.
    public var sampleCount: Int { cells[.cosine]?.shape.last ?? samples[.forwardResidual]?.shape.last ?? 0 }
    /// The length of every axis, as the arrays' shapes must follow it.
    var extents: ResultsSchema.Extents {
        var extents = ResultsSchema.Extents(
            series: seriesCount, estimators: estimators.count, lambdas: lambdas.count, ks: ks.count, samples: sampleCount)
        extents.thresholds = thresholds.count
        return extents
    }

    /// Reads a results file written by ``ResultsFile/write(_:to:overwrite:)`` (format version 1 or 2).
    /// - Throws: ``HDF5Error``, or ``InputError`` naming what is missing, unknown or of the wrong shape.
    public static func read(_ path: String) throws -> ResultsData {
        try HDF5File.withFile(at: path) { file in
            let root = file.root
            func fail(_ message: String) -> InputError { InputError(path: path, message: message) }
            guard root.hasAttribute("format"), try root.attribute("format") == .string(ResultsSchema.format) else {
                throw fail("not a phantom results file (format attribute is not '\(ResultsSchema.format)')")
            }
            guard case .integer(let version)? = try? root.attribute("version"), ResultsSchema.readableVersions.contains(version) else {
                throw fail(
                    "unsupported results format version (this build reads versions "
                        + "\(ResultsSchema.readableVersions.sorted().map(String.init).joined(separator: " and ")))"
                )
            }
            guard case .string(let names)? = try? root.attribute("estimators") else { throw fail("attribute 'estimators' is missing") }
            var estimators: [EstimatorID] = []
            for name in names.split(separator: ",", omittingEmptySubsequences: false).map(String.init) {
                guard let id = EstimatorID(rawValue: name) else { throw fail("attribute 'estimators': '\(name)' is not an estimator name") }
                estimators.append(id)
            }
            guard Set(estimators).count == estimators.count else { throw fail("attribute 'estimators' names an estimator twice") }
            let axes: [EstimatorAxes]
            if case .string(let text)? = try? root.attribute("estimator_axes") {
                let parsed = text.split(separator: ",", omittingEmptySubsequences: false).map { EstimatorAxes(rawValue: String($0)) }
                guard parsed.count == estimators.count, parsed.allSatisfy({ $0 != nil }) else {
                    throw fail("attribute 'estimator_axes' does not match 'estimators'")
                }
                axes = parsed.compactMap { $0 }
            } else {
                axes = estimators.map { id in (try? Estimators.family(id))?.axes ?? .kAndLambda }
            }
            let ks = try root.readIntegers("axes/k", rank: 1).values.map { Int(clamping: $0) }
            let lambdas = try root.readDoubles("axes/lambda", rank: 1).values
            let epochs = try root.readIntegers("axes/epoch", rank: 1).values.map { Int(clamping: $0) }
            func optionalIntegers(_ name: String) throws -> [Int]? {
                guard root.kind(of: name) == .dataset else { return nil }
                return try root.readIntegers(name, rank: 1).values.map { Int(clamping: $0) }
            }
            let steps = try optionalIntegers("axes/step") ?? epochs.map { _ in -1 }
            let seriesIndices = try optionalIntegers("axes/series_index") ?? Array(epochs.indices)
            let sampleRows = try optionalIntegers("axes/sample") ?? []
            guard steps.count == epochs.count, seriesIndices.count == epochs.count else {
                throw fail("/axes/step or /axes/series_index does not match /axes/epoch")
            }
            // The axes are bounded before anything loops over them: a figure visits λ × k per estimator.
            try ResultsSchema.checkAxes(ks: ks, lambdas: lambdas, series: epochs.count, sampleRows: sampleRows, fail)
            guard seriesIndices.allSatisfy({ (0..<ResultsSchema.maximumSeries).contains($0) }) else {
                throw fail("/axes/series_index holds a position outside 0…\(ResultsSchema.maximumSeries - 1)")
            }
            var attributes: [String: String] = [:]
            for name in try root.attributeNames() where !["format", "version", "estimators", "estimator_axes"].contains(name) {
                if case .string(let value) = try root.attribute(name) { attributes[name] = value }
            }
            var series: [SeriesInfo] = []
            for t in epochs.indices {
                let group = "series/\(t)"
                func string(_ name: String) -> String {
                    if case .string(let value)? = try? root.attribute(name, of: group) { return value }
                    return ""
                }
                func integer(_ name: String) -> Int? {
                    guard let value = (try? root.attribute(name, of: group))?.integerValue, value >= 0 else { return nil }
                    return Int(clamping: value)
                }
                series.append(
                    SeriesInfo(
                        path: string("path"), sha256: string("sha256"), epoch: integer("epoch"), step: integer("step"),
                        adjointMethod: string("adjoint_method")))
            }

            func read<A: ResultsArray>(_ type: A.Type) throws -> [A: HDF5Array<Double>] {
                guard root.kind(of: A.group) == .group else { return [:] }
                let g = try root.group(A.group)
                var out: [A: HDF5Array<Double>] = [:]
                for child in try g.children() {
                    guard child.kind == .dataset, let array = A(rawValue: child.name) else {
                        throw fail("unexpected /\(A.group)/\(child.name) (not part of the results format)")
                    }
                    switch array.encoding {
                    case .real: out[array] = try g.readDoubles(child.name)
                    case .flag:
                        let a = try g.readIntegers(child.name)
                        out[array] = HDF5Array(shape: a.shape, values: a.values.map(ResultsSchema.decodeFlag))
                    case .sign:
                        let a = try g.readIntegers(child.name)
                        out[array] = HDF5Array(shape: a.shape, values: a.values.map(ResultsSchema.decodeSign))
                    case .code(let names):
                        guard case .string(names.joined(separator: ","))? = try? g.attribute("codes", of: child.name) else {
                            throw fail("/\(array.path): attribute 'codes' is not '\(names.joined(separator: ","))'")
                        }
                        let a = try g.readIntegers(child.name)
                        out[array] = HDF5Array(
                            shape: a.shape, values: a.values.map { (0..<Int64(names.count)).contains($0) ? Double($0) : .nan })
                    }
                }
                return out
            }
            var data = ResultsData(
                path: path, ks: ks, lambdas: lambdas, estimators: estimators, estimatorAxes: axes, epochs: epochs,
                steps: steps, series: series, seriesIndices: seriesIndices, sampleRows: sampleRows, attributes: attributes,
                samples: try read(SampleArray.self), cells: try read(CellArray.self), batch: try read(BatchArray.self))
            if root.kind(of: "axes/threshold") == .dataset {
                data.thresholds = try root.readDoubles("axes/threshold", rank: 1).values
                guard data.thresholds.count <= AnalysisConfiguration.maximumLambdas, data.thresholds.allSatisfy(\.isFinite) else {
                    throw fail("/axes/threshold must hold at most \(AnalysisConfiguration.maximumLambdas) finite values")
                }
            }
            data.frontier = try read(FrontierArray.self)
            // Every array must have the shape its axes promise, so that no figure indexes out of range.
            let extents = data.extents
            func check<A: ResultsArray>(_ arrays: [A: HDF5Array<Double>]) throws {
                for (array, values) in arrays where values.shape != extents.shape(array.axes) {
                    throw fail(
                        "/\(array.path) has shape \(values.shape), which does not match the axes (series \(extents.series), estimators "
                            + "\(extents.estimators), λ \(extents.lambdas), k \(extents.ks), samples \(extents.samples))"
                    )
                }
            }
            try check(data.samples)
            try check(data.cells)
            try check(data.batch)
            try check(data.frontier)
            guard data.sampleCount >= 1 else {
                throw fail("holds no samples (/cells/cosine and /samples/forward_residual are empty or missing)")
            }
            guard sampleRows.isEmpty || sampleRows.count == data.sampleCount else {
                throw fail("/axes/sample has \(sampleRows.count) rows, the arrays \(data.sampleCount) samples")
            }
            if root.kind(of: ResultsPartials.group) == .group {
                data.partials = try ResultsPartials.read(try root.group(ResultsPartials.group), extents: extents, fail)
            }
            return data
        }
    }

    /// Values of a [series, estimator, λ, k, sample] array for one cell, or nil when the array is absent.
    public func cell(_ array: CellArray, series t: Int, estimator e: Int, lambda l: Int, k: Int) -> [Double]? {
        guard let a = cells[array] else { return nil }
        let s = a.shape[4]
        let start = ((((t * a.shape[1]) + e) * a.shape[2] + l) * a.shape[3] + k) * s
        return Array(a.values[start..<(start + s)])
    }

    /// Values of a [series, sample] array.
    public func perSample(_ array: SampleArray, series t: Int) -> [Double]? {
        guard let a = samples[array], a.shape.count == 2 else { return nil }
        return Array(a.values[(t * a.shape[1])..<((t + 1) * a.shape[1])])
    }

    /// True for samples whose forward and adjoint solves converged at an attractive fixed point whose ρ(J) met its
    /// tolerance (each flag counts as true when the file lacks it: version 1 files have no pedigree arrays, files
    /// before version 1's `stable` no stability flag). The rule of ``AnalysisResult/reliable``.
    public func reliable(series t: Int) -> [Bool] {
        Self.reliable(count: sampleCount) { perSample($0, series: t) }
    }

    /// The rule of ``reliable(series:)`` on one checkpoint's per-sample flag arrays (`flags` nil: the array is absent).
    static func reliable(count: Int, flags: (SampleArray) -> [Double]?) -> [Bool] {
        let flags = [SampleArray.forwardConverged, .adjointConverged, .stable, .spectralRadiusConverged].map(flags)
        return (0..<count).map { s in flags.allSatisfy { ($0?[s] ?? 1) == 1 } }
    }

    /// The estimator's index, or nil.
    public func index(of id: EstimatorID) -> Int? { estimators.firstIndex(of: id) }
}

/// `/partial/<name>`: in a shard file, the batch means of every block of the checkpoints the shard holds in part
/// (``PhantomAnalysis/PartialBatch``), one row per block u, from which a merge forms those checkpoints' batch-mean values:
///
///     series [U]  block [U]  count [U]     the checkpoint's position in the job, the block's index, its samples
///     exact [U, p]  head [U, q]            (1/B_b) Σ ∇_i and the head gradient's mean
///     estimates [U, E, L, K, p]            each family's cell means (0 where `defined` is 0)
///     defined [U, E]                       1 where the family returned its means, 0 where it has none
public struct ResultsPartials: Sendable {
    public static let group = "partial"
    public static let names = ["series", "block", "count", "exact", "head", "estimates", "defined"]
    public var series: [Int]
    public var blocks: [Int]
    public var counts: [Int]
    public var exact: HDF5Array<Double>
    public var head: HDF5Array<Double>
    public var estimates: HDF5Array<Double>
    public var defined: HDF5Array<Double>

    public var count: Int { series.count }

    /// The rows of `entries` whose results are partial, each held block a row.
    init?(_ entries: [SeriesEntry], seriesIndices: [Int]) {
        let rows = zip(entries, seriesIndices).flatMap { entry, t in
            entry.result.partial.map { p in zip(p.blocks, p.means).map { (t, $0.0, $0.1) } } ?? []
        }
        guard let first = rows.first?.2, let r = entries.first?.result else { return nil }
        let (e, l, k, p) = (r.estimators.count, r.lambdas.count, r.ks.count, first.exact.count)
        series = rows.map(\.0)
        blocks = rows.map(\.1)
        counts = rows.map(\.2.count)
        exact = HDF5Array(shape: [rows.count, p], values: rows.flatMap(\.2.exact))
        head = HDF5Array(shape: [rows.count, first.head.count], values: rows.flatMap(\.2.head))
        let zeros = [Double](repeating: 0, count: l * k * p)
        estimates = HDF5Array(
            shape: [rows.count, e, l, k, p],
            values: rows.flatMap { row in row.2.families.flatMap { $0.map { $0.flatMap { $0.flatMap { $0 } } } ?? zeros } })
        defined = HDF5Array(shape: [rows.count, e], values: rows.flatMap { row in row.2.families.map { $0 == nil ? 0 : 1 } })
    }

    /// Row u as a block's means.
    public func means(_ u: Int, estimators e: Int, lambdas l: Int, ks k: Int) -> BatchMeans {
        let p = exact.shape[1], q = head.shape[1]
        let families = (0..<e).map { f -> [[[Double]]]? in
            guard defined.values[u * e + f] == 1 else { return nil }
            return (0..<l).map { li in
                (0..<k).map { ki in
                    let start = (((u * e + f) * l + li) * k + ki) * p
                    return Array(estimates.values[start..<(start + p)])
                }
            }
        }
        return BatchMeans(
            count: counts[u], exact: Array(exact.values[(u * p)..<((u + 1) * p)]), head: Array(head.values[(u * q)..<((u + 1) * q)]),
            families: families)
    }

    func write(to root: HDF5Group) throws {
        let g = try root.createGroup(Self.group)
        try g.write("series", vector: series.map { Int64($0) })
        try g.write("block", vector: blocks.map { Int64($0) })
        try g.write("count", vector: counts.map { Int64($0) })
        try g.write("exact", exact)
        try g.write("head", head)
        try g.write("estimates", estimates, options: .compressed)
        try g.write("defined", HDF5Array(shape: defined.shape, values: defined.values.map(ResultsSchema.encodeFlag)))
    }

    /// Reads and checks `/partial`: known names only, one length U for every row array, the shapes the file's axes and
    /// p, q give, positive counts, flags 0/1, finite means.
    static func read(_ g: HDF5Group, extents: ResultsSchema.Extents, _ fail: (String) -> InputError) throws -> ResultsPartials {
        for child in try g.children() where !names.contains(child.name) || child.kind != .dataset {
            throw fail("unexpected /\(group)/\(child.name) (not part of the results format)")
        }
        for name in names where g.kind(of: name) != .dataset { throw fail("/\(group)/\(name) is missing") }
        func integers(_ name: String) throws -> [Int] { try g.readIntegers(name, rank: 1).values.map { Int(clamping: $0) } }
        let (series, blocks, counts) = (try integers("series"), try integers("block"), try integers("count"))
        let u = series.count
        guard u >= 1, blocks.count == u, counts.count == u else {
            throw fail("/\(group)/series, block and count must have one common length ≥ 1 (\(u), \(blocks.count), \(counts.count))")
        }
        guard series.allSatisfy({ (0..<ResultsSchema.maximumSeries).contains($0) }), blocks.allSatisfy({ $0 >= 0 }),
            counts.allSatisfy({ (1...InputLimits.maximumSamples).contains($0) })
        else {
            throw fail("/\(group)/series, block or count holds a value out of range")
        }
        let exact = try g.readDoubles("exact", rank: 2), head = try g.readDoubles("head", rank: 2)
        let estimates = try g.readDoubles("estimates", rank: 5)
        let definedFlags = try g.readIntegers("defined", rank: 2)
        let p = exact.shape[1]
        let expected: [(String, [Int], [Int])] = [
            ("exact", exact.shape, [u, p]), ("head", head.shape, [u, head.shape[1]]),
            ("estimates", estimates.shape, [u, extents.estimators, extents.lambdas, extents.ks, p]),
            ("defined", definedFlags.shape, [u, extents.estimators])
        ]
        for (name, shape, want) in expected where shape != want || p < 1 {
            throw fail("/\(group)/\(name) has shape \(shape), expected \(want) (U = \(u) blocks, p = \(p))")
        }
        for (name, array) in [("exact", exact), ("head", head), ("estimates", estimates)] where !array.values.allSatisfy(\.isFinite) {
            throw fail("/\(group)/\(name) holds a non-finite value (a block's batch mean must be finite)")
        }
        guard definedFlags.values.allSatisfy({ $0 == 0 || $0 == 1 }) else {
            throw fail("/\(group)/defined holds a value other than 0 and 1")
        }
        return ResultsPartials(
            series: series, blocks: blocks, counts: counts, exact: exact, head: head, estimates: estimates,
            defined: HDF5Array(shape: definedFlags.shape, values: definedFlags.values.map(Double.init)))
    }

    init(
        series: [Int], blocks: [Int], counts: [Int], exact: HDF5Array<Double>, head: HDF5Array<Double>, estimates: HDF5Array<Double>,
        defined: HDF5Array<Double>
    ) {
        (self.series, self.blocks, self.counts, self.exact, self.head, self.estimates, self.defined) =
            (series, blocks, counts, exact, head, estimates, defined)
    }
}
