import Foundation
import PhantomAnalysis
import PhantomFileSystem
import PhantomHDF5

/// Puts the shards of one analysis job (`analyze --shard I/N`, ``Shard``) back together: one results file whose
/// arrays are those of the unsharded run.
///
/// Every shard must carry the job's fingerprint (``AnalysisRun/fingerprint(toolVersion:)``: the tool version,
/// the inputs' hashes, the grid and the solver settings), its `shard` I/N and the job's series length; shards of
/// another job, another N or another tool version are refused, as are a shard given twice and gaps (each an
/// error naming the shard files), unless `allowPartial`, which merges what is there and records the missing
/// shards in the attribute `missing_shards`.
public enum ResultsMerge {
    public struct Report: Sendable {
        public let shards: Int
        public let present: [Int]
        public let missing: [Int]
        public let checkpoints: Int
    }

    /// The merged results (not yet written) and what went into them.
    public static func merge(_ paths: [String], allowPartial: Bool = false) throws -> (ResultsData, Report) {
        guard !paths.isEmpty else { throw InputError("give the shard files to merge") }
        var shards: [(path: String, shard: Shard, data: ResultsData)] = []
        for path in paths {
            let data = try ResultsData.read(path)
            guard let text = data.attributes["shard"], let fingerprint = data.attributes["job_fingerprint"], !fingerprint.isEmpty,
                let total = data.attributes["job_series"].flatMap({ Int($0) })
            else {
                throw InputError(path: path, message: "not a shard of an analysis job (no shard, job_fingerprint or job_series attribute)")
            }
            let shard: Shard
            do { shard = try Shard(parsing: text) } catch { throw InputError(path: path, message: "attribute 'shard': \(error)") }
            guard total >= shard.count, data.seriesIndices == shard.positions(inSeriesOf: total) else {
                throw InputError(
                    path: path,
                    message:
                        "shard \(shard) of a \(total)-checkpoint job should hold positions \(shard.positions(inSeriesOf: total)), holds "
                        + "\(data.seriesIndices)"
                )
            }
            if let first = shards.first {
                guard fingerprint == first.data.attributes["job_fingerprint"] else {
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
            }
            shards.append((path, shard, data))
        }
        let n = shards[0].shard.count
        let present = shards.map(\.shard.index).sorted()
        let missing = (1...n).filter { !present.contains($0) }
        if !missing.isEmpty && !allowPartial {
            throw InputError(
                "shard\(missing.count == 1 ? "" : "s") \(missing.map { "\($0)/\(n)" }.joined(separator: ", ")) missing (merge what is "
                    + "there with --allow-partial)"
            )
        }

        // Checkpoints in the job's order: (shard, position in the shard).
        let order = shards.indices.flatMap { s in shards[s].data.seriesIndices.indices.map { (s, $0) } }
            .sorted { shards[$0.0].data.seriesIndices[$0.1] < shards[$1.0].data.seriesIndices[$1.1] }
        let first = shards[0].data
        func concatenate<A: ResultsArray>(_ arrays: (ResultsData) -> [A: HDF5Array<Double>]) -> [A: HDF5Array<Double>] {
            var out: [A: HDF5Array<Double>] = [:]
            for (array, values) in arrays(first) {
                let stride = values.shape.dropFirst().reduce(1, *)
                var all: [Double] = []
                all.reserveCapacity(stride * order.count)
                for (s, t) in order {
                    guard let part = arrays(shards[s].data)[array] else { continue }
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
        return (merged, Report(shards: n, present: present, missing: missing, checkpoints: order.count))
    }
}
