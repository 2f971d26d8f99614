import Foundation
import PhantomAnalysis
import PhantomHDF5

/// One analysed checkpoint of a results file's series.
public struct SeriesEntry: Sendable {
    public let path: String
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

/// The analysis results file (HDF5, format "phantom-analysis", version 1).
///
/// Layout — every array's `axes` attribute names its axes:
///
///     /                      attrs: format, version, command, tool_version, created, estimators, cell, data
///     /axes/k [K]  /axes/lambda [L]  /axes/sample [S] (data row of each sample)  /axes/epoch [T]  /axes/step [T]
///     /series/<t>            attrs: path, sha256, epoch, step   (t = 0 … T−1)
///     /samples/<name>        [T, S]: forward_residual, forward_iterations, forward_converged, adjoint_residual,
///                            adjoint_converged, certified, loss, sigma_min, sigma_max, condition_m, jacobian_norm,
///                            spectral_radius;  damped_radius [T, L, S];  power_norm [T, L, K, S]
///     /cells/<name>          [T, E, L, K, S]: cosine, angle_deg, relative_error, norm_ratio, inner_sign, error_norm,
///                            theorem1, weak_condition, rho, cosine_bound, rho_star, ascent_margin
///     /batch/<name>          [T, E, L, K]: cosine, relative_error, norm_ratio, and for the batch as one stacked
///                            system stacked_error_norm, stacked_theorem1, stacked_weak_condition, stacked_rho,
///                            stacked_rho_star, stacked_ascent_margin;  [T]: head_gradient_norm, exact_gradient_norm,
///                            stacked_sigma_min, stacked_sigma_max
///
/// Booleans are int32 (1 true, 0 false, −1 not computed); values that were not computed are NaN.
public enum ResultsFile {
    public static let format = "phantom-analysis"
    public static let version: Int64 = 1

    /// Writes the series atomically; refuses an existing file unless `overwrite`.
    public static func write(_ series: [SeriesEntry], sampleIndices: [Int], to path: String, overwrite: Bool,
                             attributes: [String: String]) throws {
        guard let first = series.first?.result else { throw OutputErrorMessage("nothing to write") }
        let t = series.count, e = first.estimators.count, l = first.lambdas.count, k = first.ks.count, s = first.sampleCount
        try HDF5File.write(to: path, overwrite: overwrite) { file in
            let root = file.root
            try root.setAttribute("format", .string(format))
            try root.setAttribute("version", .integer(version))
            try root.setAttribute("estimators", .string(first.estimators.map(\.rawValue).joined(separator: ",")))
            for (key, value) in attributes.sorted(by: { $0.key < $1.key }) { try root.setAttribute(key, .string(value)) }

            let axes = try root.createGroup("axes")
            try axes.write("k", vector: first.ks.map { Int64($0) })
            try axes.write("lambda", vector: first.lambdas)
            try axes.write("sample", vector: sampleIndices.map { Int64($0) })
            try axes.write("epoch", vector: series.map { Int64($0.epoch ?? -1) })
            try axes.write("step", vector: series.map { Int64($0.step ?? -1) })
            try axes.setAttribute("estimator", .string(first.estimators.map(\.rawValue).joined(separator: ",")))

            let seriesGroup = try root.createGroup("series")
            for (index, entry) in series.enumerated() {
                let g = try seriesGroup.createGroup("\(index)")
                try g.setAttribute("path", .string(entry.path))
                try g.setAttribute("sha256", .string(entry.sha256))
                try g.setAttribute("epoch", .integer(Int64(entry.epoch ?? -1)))
                try g.setAttribute("step", .integer(Int64(entry.step ?? -1)))
                try g.setAttribute("adjoint_method", .string(entry.result.adjointMethod))
            }

            let samples = try root.createGroup("samples")
            func perSample(_ name: String, _ values: (AnalysisResult) -> [Double]) throws {
                try samples.write(name, HDF5Array(shape: [t, s], values: series.flatMap { values($0.result) }), options: .compressed)
                try samples.setAttribute("axes", .string("series,sample"), on: name)
            }
            try perSample("forward_residual") { $0.forwardResidual }
            try perSample("forward_iterations") { $0.forwardIterations.map(Double.init) }
            try perSample("adjoint_residual") { $0.adjointResidual }
            try perSample("loss") { $0.loss }
            try perSample("sigma_min") { $0.sigmaMin }
            try perSample("sigma_max") { $0.sigmaMax }
            try perSample("condition_m") { zip($0.sigmaMax, $0.sigmaMin).map { $0 / $1 } }
            try perSample("jacobian_norm") { $0.jacobianNorm }
            try perSample("spectral_radius") { $0.spectralRadius }
            for (name, flags) in [("forward_converged", { (r: AnalysisResult) in r.forwardConverged }),
                                  ("adjoint_converged", { (r: AnalysisResult) in r.adjointConverged }),
                                  ("certified", { (r: AnalysisResult) in (0..<r.sampleCount).map { $0 < r.certifiedSamples } })] {
                try samples.write(name, HDF5Array(shape: [t, s], values: series.flatMap { flags($0.result).map { Int32($0 ? 1 : 0) } }))
                try samples.setAttribute("axes", .string("series,sample"), on: name)
            }
            try samples.write("damped_radius", HDF5Array(shape: [t, l, s], values: series.flatMap { $0.result.dampedRadius.flatMap { $0 } }), options: .compressed)
            try samples.setAttribute("axes", .string("series,lambda,sample"), on: "damped_radius")
            try samples.write("power_norm", HDF5Array(shape: [t, l, k, s], values: series.flatMap { $0.result.powerNorm.flatMap { $0.flatMap { $0 } } }), options: .compressed)
            try samples.setAttribute("axes", .string("series,lambda,k,sample"), on: "power_norm")

            let cells = try root.createGroup("cells")
            func cellArray(_ name: String, _ grid: (AnalysisResult) -> CellGrid) throws {
                try cells.write(name, HDF5Array(shape: [t, e, l, k, s], values: series.flatMap { grid($0.result).values }), options: .compressed)
                try cells.setAttribute("axes", .string("series,estimator,lambda,k,sample"), on: name)
            }
            func flagArray(_ name: String, _ grid: (AnalysisResult) -> CellGrid) throws {
                let values = series.flatMap { grid($0.result).values.map { $0.isNaN ? Int32(-1) : Int32($0) } }
                try cells.write(name, HDF5Array(shape: [t, e, l, k, s], values: values), options: .compressed)
                try cells.setAttribute("axes", .string("series,estimator,lambda,k,sample"), on: name)
            }
            try cellArray("cosine") { $0.cosine }
            try cellArray("angle_deg") { r in
                var g = r.cosine
                g.values = g.values.map { acos(max(-1, min(1, $0))) * 180 / .pi }
                return g
            }
            try cellArray("relative_error") { $0.relativeError }
            try cellArray("norm_ratio") { $0.normRatio }
            try flagArray("inner_sign") { r in
                var g = r.inner
                g.values = g.values.map { $0.isNaN ? .nan : ($0 > 0 ? 1 : $0 < 0 ? -1 : 0) }
                return g
            }
            try cellArray("error_norm") { $0.errorNorm }
            try flagArray("theorem1") { $0.theorem1 }
            try flagArray("weak_condition") { $0.weakCondition }
            try cellArray("rho") { $0.rho }
            try cellArray("cosine_bound") { $0.cosineBound }
            try cellArray("rho_star") { $0.rhoStar }
            try cellArray("ascent_margin") { $0.ascentMargin }

            let batch = try root.createGroup("batch")
            for (name, grid) in [("cosine", { (r: AnalysisResult) in r.batchCosine }),
                                 ("relative_error", { (r: AnalysisResult) in r.batchRelativeError }),
                                 ("norm_ratio", { (r: AnalysisResult) in r.batchNormRatio })] {
                try batch.write(name, HDF5Array(shape: [t, e, l, k], values: series.flatMap { grid($0.result).values }))
                try batch.setAttribute("axes", .string("series,estimator,lambda,k"), on: name)
            }
            // The batch as one stacked system: NaN (flags −1) for checkpoints where it does not apply.
            let empty = CellGrid(estimators: e, lambdas: l, ks: k, samples: 1)
            for (name, grid, flag) in [("stacked_error_norm", { (s: StackedCertificates) in s.errorNorm }, false),
                                       ("stacked_theorem1", { (s: StackedCertificates) in s.theorem1 }, true),
                                       ("stacked_weak_condition", { (s: StackedCertificates) in s.weakCondition }, true),
                                       ("stacked_rho", { (s: StackedCertificates) in s.rho }, false),
                                       ("stacked_rho_star", { (s: StackedCertificates) in s.rhoStar }, false),
                                       ("stacked_ascent_margin", { (s: StackedCertificates) in s.ascentMargin }, false)] {
                let values = series.flatMap { entry in (entry.result.stacked.map(grid) ?? empty).values }
                if flag {
                    try batch.write(name, HDF5Array(shape: [t, e, l, k], values: values.map { $0.isNaN ? Int32(-1) : Int32($0) }))
                } else {
                    try batch.write(name, HDF5Array(shape: [t, e, l, k], values: values))
                }
                try batch.setAttribute("axes", .string("series,estimator,lambda,k"), on: name)
            }
            try batch.write("stacked_sigma_min", vector: series.map { $0.result.stacked?.sigmaMin ?? .nan })
            try batch.write("stacked_sigma_max", vector: series.map { $0.result.stacked?.sigmaMax ?? .nan })
            try batch.write("head_gradient_norm", vector: series.map { $0.result.headGradientNorm })
            try batch.write("exact_gradient_norm", vector: series.map { $0.result.exactGradientNorm })
        }
    }
}

/// A plain error message for problems with what is being written.
public struct OutputErrorMessage: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
