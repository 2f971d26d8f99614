import Foundation
import PhantomAnalysis
import PhantomFileSystem
import PhantomHDF5

/// Puts the shards of one analysis job (`analyze --shard I/N`, ``Shard``) back together: one results file whose
/// arrays are those of the unsharded run.
///
/// Every shard must carry the job's fingerprint and its parts (``JobFingerprint``: grid, estimators, sample rows,
/// checkpoints, settings), its `shard` I/N and the job's series length. Before any array is combined, each shard is
/// checked against them: its parts must hash to its fingerprint, its own k, λ, estimators and sample rows must hash
/// to the parts, it must hold exactly the positions shard I of N has in a series of that length, and it must hold
/// the same arrays as the first shard (axes of equal length make their shapes equal). Shards of another job, another
/// N or another tool version are refused, as are a shard given twice and gaps (each an error naming the shard
/// files), unless `allowPartial`, which merges what is there and records the missing shards in the attribute
/// `missing_shards`. With every shard present the checkpoints' hashes, in series order, must hash to the
/// checkpoint part too.
public enum ResultsMerge {
    public struct Report: Sendable, CustomStringConvertible {
        public let shards: Int
        public let present: [Int]
        public let missing: [Int]
        public let checkpoints: Int
        /// The files the job read (checkpoints and data, as the shards record them): a merge must not replace them.
        public let jobInputs: [String]

        /// "2 of 3 shards (4 checkpoints); missing: 2/3".
        public var description: String {
            "\(present.count) of \(shards) shards (\(checkpoints) checkpoint\(checkpoints == 1 ? "" : "s"))"
                + (missing.isEmpty ? "" : "; missing: \(missing.map { "\($0)/\(shards)" }.joined(separator: ", "))")
        }
    }

    /// The merged results (not yet written) and what went into them.
    public static func merge(_ paths: [String], allowPartial: Bool = false) throws -> (ResultsData, Report) {
        guard !paths.isEmpty else { throw InputError("give the shard files to merge") }
        guard paths.count <= Shard.maximumCount else { throw InputError("at most \(Shard.maximumCount) shard files, got \(paths.count)") }
        var shards: [(path: String, shard: Shard, data: ResultsData, job: JobFingerprint, layout: Layout)] = []
        for path in paths {
            let data = try ResultsData.read(path)
            let (shard, job, layout) = try check(data, path: path)
            if let first = shards.first {
                guard job == first.job else {
                    throw InputError(
                        path: path,
                        message:
                            "belongs to another job than \(first.path) (different inputs, settings or tool version: job_fingerprint "
                            + "differs)"
                    )
                }
                guard shard.count == first.shard.count else {
                    throw InputError(
                        path: path, message: "is shard \(shard), \(first.path) is shard \(first.shard): the job was split differently")
                }
                if let twin = shards.first(where: { $0.shard.index == shard.index }) {
                    throw InputError(path: path, message: "shard \(shard) is given twice (also \(twin.path))")
                }
                try checkSameArrays(data, path: path, as: first.data, firstPath: first.path)
                guard layout == first.layout else {
                    throw InputError(
                        path: path,
                        message: "attribute 'sample_block' differs from \(first.path)'s: the job's samples were split differently")
                }
                if let mine = data.partials, let theirs = shards.lazy.compactMap(\.data.partials).first,
                    mine.exact.shape[1] != theirs.exact.shape[1] || mine.head.shape[1] != theirs.head.shape[1]
                {
                    throw InputError(
                        path: path,
                        message:
                            "/partial/exact or /partial/head has \(mine.exact.shape[1]), \(mine.head.shape[1]) parameters, another shard's "
                            + "\(theirs.exact.shape[1]), \(theirs.head.shape[1])")
                }
            }
            shards.append((path, shard, data, job, layout))
        }
        let n = shards[0].shard.count
        let present = shards.map(\.shard.index).sorted()
        let missing = (1...n).filter { !present.contains($0) }
        if !missing.isEmpty && !allowPartial {
            throw InputError(
                "shard\(missing.count == 1 ? "" : "s") \(missing.prefix(20).map { "\($0)/\(n)" }.joined(separator: ", "))"
                    + "\(missing.count > 20 ? " and \(missing.count - 20) more" : "") missing (merge what is there with --allow-partial)"
            )
        }

        // Every checkpoint of the job whose blocks are all present, in the job's order; for each, its holders (shard, row).
        let blocks = shards[0].layout.blocks
        var holders: [Int: [(shard: Int, row: Int, blocks: [Int])]] = [:]
        for (s, shard) in shards.enumerated() {
            for (row, part) in shard.layout.parts.enumerated() { holders[part.checkpoint, default: []].append((s, row, part.blocks)) }
        }
        let complete = holders.keys.sorted().filter { t in holders[t]!.reduce(0) { $0 + $1.blocks.count } == blocks }
        if missing.isEmpty {
            let hashes = complete.map { t in shards[holders[t]![0].shard].data.series[holders[t]![0].row].sha256 }
            guard complete.count == shards[0].layout.checkpoints, JobFingerprint.checkpoints(hashes) == shards[0].job.checkpoints else {
                throw InputError(
                    "the shards' checkpoints (their sha256, in series order) are not the job's: a shard's series was altered "
                        + "(job_parts 'checkpoints' differs)")
            }
        }
        guard !complete.isEmpty else {
            throw InputError(
                "no checkpoint has all its blocks of samples in the shards given (each is split across shards, and some are missing)")
        }
        for t in complete {
            let hold = holders[t]!
            let first = shards[hold[0].shard].data.series[hold[0].row]
            if let other = hold.dropFirst().first(where: { shards[$0.shard].data.series[$0.row] != first }) {
                throw InputError(
                    path: shards[other.shard].path,
                    message: "its checkpoint \(t) (\(first.path)) differs from \(shards[hold[0].shard].path)'s (path, sha256 or epoch)")
            }
        }
        let first = shards[0].data
        let extents = ResultsSchema.Extents(
            series: complete.count, estimators: first.estimators.count, lambdas: first.lambdas.count, ks: first.ks.count,
            samples: first.sampleCount)
        let rows = try complete.map { t in
            try row(t, holders: holders[t]!, shards: shards.map { ($0.path, $0.data) }, blockSize: shards[0].layout.blockSize)
        }
        func stack<A: ResultsArray>(_ pick: (MergedRow) -> [A: [Double]], _ arrays: [A: HDF5Array<Double>]) -> [A: HDF5Array<Double>] {
            Dictionary(
                uniqueKeysWithValues: arrays.keys.map { array in
                    (array, HDF5Array(shape: extents.shape(array.axes), values: rows.flatMap { pick($0)[array]! }))
                })
        }
        var attributes = first.attributes
        for key in ["shard", "command", "created"] { attributes[key] = nil }
        attributes["merged_shards"] = "\(n)"
        if !missing.isEmpty { attributes["missing_shards"] = missing.map { "\($0)/\(n)" }.joined(separator: ",") }
        let series = complete.map { t in shards[holders[t]![0].shard].data.series[holders[t]![0].row] }
        var merged = ResultsData(
            ks: first.ks, lambdas: first.lambdas, estimators: first.estimators, estimatorAxes: first.estimatorAxes,
            epochs: complete.map { t in shards[holders[t]![0].shard].data.epochs[holders[t]![0].row] },
            steps: complete.map { t in shards[holders[t]![0].shard].data.steps[holders[t]![0].row] }, series: series,
            seriesIndices: complete, sampleRows: first.sampleRows, attributes: attributes, samples: stack(\.samples, first.samples),
            cells: stack(\.cells, first.cells), batch: stack(\.batch, first.batch))
        merged.thresholds = first.thresholds
        merged.frontier = stack(\.frontier, first.frontier)
        let inputs = merged.series.map(\.path).filter { !$0.isEmpty } + (first.attributes["data"].map { [$0] } ?? [])
        return (merged, Report(shards: n, present: present, missing: missing, checkpoints: complete.count, jobInputs: inputs))
    }

    /// One checkpoint's values in every array.
    struct MergedRow {
        var samples: [SampleArray: [Double]] = [:]
        var cells: [CellArray: [Double]] = [:]
        var batch: [BatchArray: [Double]] = [:]
        var frontier: [FrontierArray: [Double]] = [:]
    }

    /// Checkpoint t's row: copied from the one shard that holds it whole; else each block's samples from its shard, and the
    /// batch-mean values, the exact gradient's cost and the frontier formed from them and the blocks' means, added in block
    /// order — the unsharded run's arithmetic (``PhantomAnalysis/BatchMeanSums``, ``PhantomAnalysis/Frontier``).
    static func row(
        _ t: Int, holders: [(shard: Int, row: Int, blocks: [Int])], shards: [(path: String, data: ResultsData)], blockSize: Int
    ) throws -> MergedRow {
        func slice<A: ResultsArray>(_ arrays: [A: HDF5Array<Double>], _ r: Int) -> [A: [Double]] {
            arrays.mapValues { a in
                let stride = a.shape.dropFirst().reduce(1, *)
                return Array(a.values[(r * stride)..<((r + 1) * stride)])
            }
        }
        var out = MergedRow()
        if holders.count == 1, shards[holders[0].shard].data.partials.map({ !$0.series.contains(t) }) ?? true {
            let (data, r) = (shards[holders[0].shard].data, holders[0].row)
            (out.samples, out.cells, out.batch, out.frontier) = (
                slice(data.samples, r), slice(data.cells, r), slice(data.batch, r), slice(data.frontier, r)
            )
            return out
        }
        let first = shards[0].data, samples = first.sampleCount
        // Per-sample values: each block's samples from the shard that analysed it.
        func assemble<A: ResultsArray>(_ arrays: (ResultsData) -> [A: HDF5Array<Double>]) -> [A: [Double]] {
            var merged: [A: [Double]] = [:]
            for holder in holders {
                let blocks = Set(holder.blocks)
                for (array, values) in slice(arrays(shards[holder.shard].data), holder.row) {
                    var target = merged[array] ?? [Double](repeating: .nan, count: values.count)
                    for i in values.indices where blocks.contains((i % samples) / blockSize) { target[i] = values[i] }
                    merged[array] = target
                }
            }
            return merged
        }
        out.samples = assemble(\.samples)
        out.cells = assemble(\.cells)
        // The blocks' means, in block order.
        let (e, l, k) = (first.estimators.count, first.lambdas.count, first.ks.count)
        var means: [Int: BatchMeans] = [:]
        for holder in holders {
            let data = shards[holder.shard].data
            guard let partials = data.partials else {
                throw InputError(path: shards[holder.shard].path, message: "/partial is missing (it holds part of checkpoint \(t))")
            }
            for u in 0..<partials.count where partials.series[u] == t {
                means[partials.blocks[u]] = partials.means(u, estimators: e, lambdas: l, ks: k)
            }
        }
        var sums = BatchMeanSums()
        for b in means.keys.sorted() { sums.add(means[b]!) }
        let metrics = sums.metrics(estimators: e, lambdas: l, ks: k)
        guard let tolerance = first.attributes["adjoint_tolerance"].flatMap(Double.init), tolerance > 0, tolerance < 1 else {
            throw InputError(path: shards[0].path, message: "attribute 'adjoint_tolerance' is missing or not a number in (0, 1)")
        }
        let reliable = ResultsData.reliable(count: samples) { out.samples[$0] }
        let radius = out.samples[.spectralRadius] ?? []
        let exactCost = Frontier.exactCost(spectralRadius: radius, reliable: reliable, tolerance: tolerance)
        func cell(_ array: CellArray) -> (Int, Int, Int) -> [Double] {
            let values = out.cells[array] ?? []
            return { f, li, ki in
                let start = ((f * l + li) * k + ki) * samples
                return values.isEmpty ? [Double](repeating: .nan, count: samples) : Array(values[start..<(start + samples)])
            }
        }
        let frontier = Frontier.cells(
            ks: first.ks, lambdas: first.lambdas, estimators: e, reliable: reliable, exactCost: exactCost, cosine: cell(.cosine),
            vjps: cell(.vjps))
        let nan = [Double](repeating: .nan, count: e * l * k)
        for array in first.batch.keys {
            switch array {
            case .cosine: out.batch[array] = metrics.cosine.values
            case .relativeError: out.batch[array] = metrics.relativeError.values
            case .normRatio: out.batch[array] = metrics.normRatio.values
            case .headGradientNorm: out.batch[array] = [sums.headGradientNorm]
            case .exactGradientNorm: out.batch[array] = [sums.exactGradientNorm]
            case .exactCost: out.batch[array] = [exactCost]
            case .stackedSigmaMin, .stackedSigmaMax: out.batch[array] = [.nan]
            default: out.batch[array] = nan  // a batch of several blocks has no stacked system
            }
        }
        for array in first.frontier.keys { out.frontier[array] = frontier.flatMap { $0.map(array.values) } }
        return out
    }

    /// How a shard's job is split: T checkpoints of n_B blocks of `blockSize` samples, and the shard's part of it.
    struct Layout: Equatable {
        let checkpoints: Int
        let blocks: Int
        let blockSize: Int
        let parts: [(checkpoint: Int, blocks: [Int])]
        static func == (a: Layout, b: Layout) -> Bool {
            (a.checkpoints, a.blocks, a.blockSize) == (b.checkpoints, b.blocks, b.blockSize)
        }
    }

    /// A shard's own attributes and axes against its job's fingerprint: its I/N, the job's parts, and the units shard I of
    /// N holds (``PhantomAnalysis/Shard``): its checkpoints, and for those it holds in part exactly their blocks' means in
    /// `/partial`, each with its block's sample count.
    static func check(_ data: ResultsData, path: String) throws -> (Shard, JobFingerprint, Layout) {
        func fail(_ message: String) -> InputError { InputError(path: path, message: message) }
        guard let text = data.attributes["shard"], let fingerprint = data.attributes["job_fingerprint"],
            let total = data.attributes["job_series"]
        else {
            throw fail("not a shard of an analysis job (no shard, job_fingerprint or job_series attribute)")
        }
        guard let partsText = data.attributes["job_parts"], let job = JobFingerprint(parsing: partsText) else {
            throw fail("attribute 'job_parts' is missing or malformed (a shard written by another phantom version? run the shards again)")
        }
        guard job.fingerprint == fingerprint else {
            throw fail("attribute 'job_fingerprint' does not match 'job_parts' (the file was altered)")
        }
        let shard: Shard
        do { shard = try Shard(parsing: text) } catch { throw fail("attribute 'shard': \(error)") }
        guard let blockText = data.attributes["sample_block"], let blockSize = Int(blockText),
            (1...AnalysisConfiguration.maximumSampleBlock).contains(blockSize)
        else {
            throw fail(
                "attribute 'sample_block' is missing or not in 1…\(AnalysisConfiguration.maximumSampleBlock) (a shard written by another "
                    + "phantom version? run the shards again)")
        }
        let samples = data.sampleCount, blocks = (samples + blockSize - 1) / blockSize
        guard let series = Int(total), (1...ResultsSchema.maximumSeries).contains(series), series * blocks >= shard.count else {
            throw fail(
                "attribute 'job_series' = '\(total.prefix(40))' is not a checkpoint count in 1…\(ResultsSchema.maximumSeries) "
                    + "giving shard \(shard) a part (\(blocks) block\(blocks == 1 ? "" : "s") per checkpoint)")
        }
        let parts = shard.blocks(checkpoints: series, blocks: blocks)
        let positions = parts.map(\.checkpoint)
        guard data.seriesIndices == positions else {
            func show(_ p: [Int]) -> String {
                p.prefix(8).map(String.init).joined(separator: ", ") + (p.count > 8 ? ", … (\(p.count))" : "")
            }
            throw fail(
                "shard \(shard) of a \(series)-checkpoint job of \(blocks) block\(blocks == 1 ? "" : "s") each should hold checkpoints "
                    + "[\(show(positions))], holds [\(show(data.seriesIndices))]"
            )
        }
        // Its blocks' means: one /partial row per block of each checkpoint it holds in part, in order.
        let expected = parts.filter { $0.blocks.count < blocks }.flatMap { part in part.blocks.map { (part.checkpoint, $0) } }
        let rows = data.partials.map { p in zip(p.series, p.blocks).map { ($0, $1) } } ?? []
        guard rows.count == expected.count, zip(rows, expected).allSatisfy({ $0.0 == $1.0 && $0.1 == $1.1 }) else {
            throw fail(
                "/partial holds blocks \(rows.prefix(6).map { "\($0.0):\($0.1)" }) but shard \(shard) analysed "
                    + "\(expected.prefix(6).map { "\($0.0):\($0.1)" }) (checkpoint:block) of the checkpoints it holds in part")
        }
        if let p = data.partials {
            for u in 0..<p.count where p.counts[u] != min(blockSize, samples - p.blocks[u] * blockSize) {
                throw fail(
                    "/partial/count: block \(p.blocks[u]) of checkpoint \(p.series[u]) holds \(p.counts[u]) samples, not its block's")
            }
        }
        for (name, part, own) in [
            ("k or λ axis", job.grid, JobFingerprint.grid(ks: data.ks, lambdas: data.lambdas)),
            ("estimators", job.estimators, JobFingerprint.estimators(data.estimators)),
            ("sample rows (/axes/sample)", job.rows, JobFingerprint.rows(data.sampleRows))
        ] where part != own {
            throw fail("its \(name) are not the job's (job_parts differs): the file was altered or belongs to another job")
        }
        return (shard, job, Layout(checkpoints: series, blocks: blocks, blockSize: blockSize, parts: parts))
    }

    /// The same arrays as the first shard: every group's names and the estimator axes and thresholds (with equal
    /// axes the shapes are then equal, as the reader checked each array against its axes).
    static func checkSameArrays(_ data: ResultsData, path: String, as first: ResultsData, firstPath: String) throws {
        func names(_ d: ResultsData) -> Set<String> {
            Set(d.samples.keys.map(\.path) + d.cells.keys.map(\.path) + d.batch.keys.map(\.path) + d.frontier.keys.map(\.path))
        }
        let own = names(data), theirs = names(first)
        if let extra = own.subtracting(theirs).sorted().first ?? theirs.subtracting(own).sorted().first {
            throw InputError(
                path: path,
                message: "/\(extra) is in one of this shard and \(firstPath) but not the other: the shards were not written alike")
        }
        guard data.estimatorAxes == first.estimatorAxes, data.thresholds == first.thresholds else {
            throw InputError(path: path, message: "its estimator_axes or /axes/threshold differ from \(firstPath)'s")
        }
    }
}
