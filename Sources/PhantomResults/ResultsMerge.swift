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
        var shards: [(path: String, shard: Shard, data: ResultsData, job: JobFingerprint)] = []
        for path in paths {
            let data = try ResultsData.read(path)
            let (shard, job) = try check(data, path: path)
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
            }
            shards.append((path, shard, data, job))
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

        // Checkpoints in the job's order: (shard, position in the shard).
        let order = shards.indices.flatMap { s in shards[s].data.seriesIndices.indices.map { (s, $0) } }
            .sorted { shards[$0.0].data.seriesIndices[$0.1] < shards[$1.0].data.seriesIndices[$1.1] }
        if missing.isEmpty {
            let hashes = order.map { shards[$0.0].data.series[$0.1].sha256 }
            guard JobFingerprint.checkpoints(hashes) == shards[0].job.checkpoints else {
                throw InputError(
                    "the shards' checkpoints (their sha256, in series order) are not the job's: a shard's series was altered "
                        + "(job_parts 'checkpoints' differs)")
            }
        }
        let first = shards[0].data
        func concatenate<A: ResultsArray>(_ arrays: (ResultsData) -> [A: HDF5Array<Double>]) -> [A: HDF5Array<Double>] {
            var out: [A: HDF5Array<Double>] = [:]
            for (array, values) in arrays(first) {
                let stride = values.shape.dropFirst().reduce(1, *)
                var all: [Double] = []
                all.reserveCapacity(stride * order.count)
                for (s, t) in order {
                    // Present in every shard, with the first shard's shape (checkSameArrays).
                    let part = arrays(shards[s].data)[array]!
                    all += part.values[(t * stride)..<((t + 1) * stride)]
                }
                out[array] = HDF5Array(shape: [order.count] + values.shape.dropFirst(), values: all)
            }
            return out
        }
        var attributes = first.attributes
        for key in ["shard", "command", "created"] { attributes[key] = nil }
        attributes["merged_shards"] = "\(n)"
        if !missing.isEmpty { attributes["missing_shards"] = missing.map { "\($0)/\(n)" }.joined(separator: ",") }
        var merged = ResultsData(
            ks: first.ks, lambdas: first.lambdas, estimators: first.estimators, estimatorAxes: first.estimatorAxes,
            epochs: order.map { shards[$0.0].data.epochs[$0.1] }, steps: order.map { shards[$0.0].data.steps[$0.1] },
            series: order.map { shards[$0.0].data.series[$0.1] },
            seriesIndices: order.map { shards[$0.0].data.seriesIndices[$0.1] }, sampleRows: first.sampleRows,
            attributes: attributes, samples: concatenate(\.samples), cells: concatenate(\.cells), batch: concatenate(\.batch))
        merged.thresholds = first.thresholds
        merged.frontier = concatenate(\.frontier)
        let inputs = merged.series.map(\.path).filter { !$0.isEmpty } + (first.attributes["data"].map { [$0] } ?? [])
        return (merged, Report(shards: n, present: present, missing: missing, checkpoints: order.count, jobInputs: inputs))
    }

    /// A shard's own attributes and axes against its job's fingerprint: its I/N, and the job's parts.
    static func check(_ data: ResultsData, path: String) throws -> (Shard, JobFingerprint) {
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
        guard let series = Int(total), (1...ResultsSchema.maximumSeries).contains(series), series >= shard.count else {
            throw fail(
                "attribute 'job_series' = '\(total.prefix(40))' is not a checkpoint count in \(shard.count)…\(ResultsSchema.maximumSeries) "
                    + "(shard \(shard) needs at least \(shard.count))")
        }
        let positions = shard.positions(inSeriesOf: series)
        guard data.seriesIndices == positions else {
            func show(_ p: [Int]) -> String {
                p.prefix(8).map(String.init).joined(separator: ", ") + (p.count > 8 ? ", … (\(p.count))" : "")
            }
            throw fail(
                "shard \(shard) of a \(series)-checkpoint job should hold positions [\(show(positions))], "
                    + "holds [\(show(data.seriesIndices))]"
            )
        }
        for (name, part, own) in [
            ("k or λ axis", job.grid, JobFingerprint.grid(ks: data.ks, lambdas: data.lambdas)),
            ("estimators", job.estimators, JobFingerprint.estimators(data.estimators)),
            ("sample rows (/axes/sample)", job.rows, JobFingerprint.rows(data.sampleRows))
        ] where part != own {
            throw fail("its \(name) are not the job's (job_parts differs): the file was altered or belongs to another job")
        }
        return (shard, job)
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
