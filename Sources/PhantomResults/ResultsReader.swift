import Foundation
import PhantomHDF5

/// A results file read back: its axes and every array, by path ("cells/cosine"), as Doubles.
public struct ResultsData: Sendable {
    public let path: String
    public let ks: [Int]
    public let lambdas: [Double]
    public let estimators: [String]
    public let epochs: [Int]
    public let arrays: [String: HDF5Array<Double>]

    public init(path: String, ks: [Int], lambdas: [Double], estimators: [String], epochs: [Int], arrays: [String: HDF5Array<Double>]) {
        self.path = path
        self.ks = ks
        self.lambdas = lambdas
        self.estimators = estimators
        self.epochs = epochs
        self.arrays = arrays
    }

    /// The number of checkpoints in the series.
    public var seriesCount: Int { epochs.count }

    /// Reads a results file written by ``ResultsFile/write(_:sampleIndices:to:overwrite:attributes:)``.
    /// - Throws: ``HDF5Error`` or an error naming what is missing when the file is not a results file.
    public static func read(_ path: String) throws -> ResultsData {
        try HDF5File.withFile(at: path) { file in
            let root = file.root
            guard root.hasAttribute("format"), try root.attribute("format") == .string(ResultsFile.format) else {
                throw OutputErrorMessage("\(path): not a phantom results file (format attribute is not '\(ResultsFile.format)')")
            }
            guard case .string(let names)? = try? root.attribute("estimators") else {
                throw OutputErrorMessage("\(path): attribute 'estimators' is missing")
            }
            let ks = try root.readIntegers("axes/k", rank: 1).values.map { Int($0) }
            let lambdas = try root.readDoubles("axes/lambda", rank: 1).values
            let epochs = try root.readIntegers("axes/epoch", rank: 1).values.map { Int($0) }
            var arrays: [String: HDF5Array<Double>] = [:]
            for group in ["cells", "samples", "batch"] where root.kind(of: group) == .group {
                let g = try root.group(group)
                for child in try g.children() where child.kind == .dataset {
                    let info = try g.datasetInfo(child.name)
                    if info.elementType == .int32 || info.elementType == .int64 {
                        let a = try g.readIntegers(child.name)
                        arrays["\(group)/\(child.name)"] = HDF5Array(shape: a.shape, values: a.values.map(Double.init))
                    } else {
                        arrays["\(group)/\(child.name)"] = try g.readDoubles(child.name)
                    }
                }
            }
            let estimators = names.split(separator: ",").map(String.init)
            // Every array must have the shape its group promises, so that no figure indexes out of range.
            let t = epochs.count, e = estimators.count, l = lambdas.count, k = ks.count
            let samples = arrays["cells/cosine"]?.shape.last ?? arrays["samples/forward_residual"]?.shape.last ?? 0
            for (name, array) in arrays {
                let allowed: [[Int]]
                if name.hasPrefix("cells/") { allowed = [[t, e, l, k, samples]] }
                else if name.hasPrefix("samples/") { allowed = [[t, samples], [t, l, samples], [t, l, k, samples]] }
                else { allowed = [[t, e, l, k], [t]] }
                guard allowed.contains(array.shape) else {
                    throw OutputErrorMessage("\(path): /\(name) has shape \(array.shape), which does not match the axes (series \(t), estimators \(e), λ \(l), k \(k), samples \(samples))")
                }
            }
            return ResultsData(path: path, ks: ks, lambdas: lambdas, estimators: estimators, epochs: epochs, arrays: arrays)
        }
    }

    /// Values of a [series, estimator, λ, k, sample] array for one cell, or nil when the array is absent.
    public func cell(_ name: String, series t: Int, estimator e: Int, lambda l: Int, k: Int) -> [Double]? {
        guard let a = arrays["cells/\(name)"], a.shape.count == 5 else { return nil }
        let s = a.shape[4]
        let start = ((((t * a.shape[1]) + e) * a.shape[2] + l) * a.shape[3] + k) * s
        return Array(a.values[start..<(start + s)])
    }

    /// Values of a [series, sample] array.
    public func perSample(_ name: String, series t: Int) -> [Double]? {
        guard let a = arrays["samples/\(name)"], a.shape.count == 2 else { return nil }
        return Array(a.values[(t * a.shape[1])..<((t + 1) * a.shape[1])])
    }

    /// True for samples whose forward and adjoint solves converged (all true when the flags are absent).
    public func reliable(series t: Int) -> [Bool] {
        let forward = perSample("forward_converged", series: t), adjoint = perSample("adjoint_converged", series: t)
        let count = forward?.count ?? adjoint?.count ?? 0
        return (0..<count).map { (forward?[$0] ?? 1) == 1 && (adjoint?[$0] ?? 1) == 1 }
    }
}

/// Order statistics for figures and summaries.
public enum Quantile {
    /// The q-quantile (linear interpolation) of the finite values, or NaN when there are none.
    public static func of(_ values: [Double], _ q: Double) -> Double {
        let sorted = values.filter(\.isFinite).sorted()
        guard !sorted.isEmpty else { return .nan }
        let position = q * Double(sorted.count - 1)
        let low = Int(position.rounded(.down)), high = min(low + 1, sorted.count - 1)
        return sorted[low] + (position - Double(low)) * (sorted[high] - sorted[low])
    }
}
