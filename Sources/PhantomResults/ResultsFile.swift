import Foundation
import PhantomFileSystem
import PhantomAnalysis
import PhantomGradients
import PhantomHDF5
import PhantomModel

/// Writes the analysis results file (``ResultsSchema``).
public enum ResultsFile {
    /// Writes the series atomically; refuses an existing file unless `overwrite`.
    /// - Parameter attributes: further root attributes (command, tool version, time, data, cell).
    public static func write(_ series: [SeriesEntry], sampleIndices: [Int], to path: String, overwrite: Bool,
                             attributes: [String: String]) throws {
        guard let first = series.first?.result else { throw InputError(path: path, message: "nothing to write") }
        let extents = ResultsSchema.Extents(series: series.count, estimators: first.estimators.count, lambdas: first.lambdas.count,
                                            ks: first.ks.count, samples: first.sampleCount)
        try HDF5File.write(to: path, overwrite: overwrite) { file in
            let root = file.root
            let estimators = first.estimators.map(\.rawValue).joined(separator: ",")
            try root.setAttribute("format", .string(ResultsSchema.format))
            try root.setAttribute("version", .integer(ResultsSchema.version))
            try root.setAttribute("estimators", .string(estimators))
            try root.setAttribute("estimator_axes", .string(first.estimatorAxes.map(\.rawValue).joined(separator: ",")))
            for (key, value) in attributes.sorted(by: { $0.key < $1.key }) { try root.setAttribute(key, .string(value)) }

            let axes = try root.createGroup("axes")
            try axes.write("k", vector: first.ks.map { Int64($0) })
            try axes.write("lambda", vector: first.lambdas)
            try axes.write("sample", vector: sampleIndices.map { Int64($0) })
            try axes.write("epoch", vector: series.map { Int64($0.epoch ?? -1) })
            try axes.write("step", vector: series.map { Int64($0.step ?? -1) })
            try axes.setAttribute("estimator", .string(estimators))

            let seriesGroup = try root.createGroup("series")
            for (index, entry) in series.enumerated() {
                let g = try seriesGroup.createGroup("\(index)")
                try g.setAttribute("path", .string(entry.path))
                try g.setAttribute("sha256", .string(entry.sha256))
                try g.setAttribute("epoch", .integer(Int64(entry.epoch ?? -1)))
                try g.setAttribute("step", .integer(Int64(entry.step ?? -1)))
                try g.setAttribute("adjoint_method", .string(entry.result.adjointMethod))
            }

            /// One array, its values concatenated over the series.
            func write<A: ResultsArray>(_ array: A, in group: HDF5Group, _ values: (AnalysisResult) -> [Double]) throws {
                let all = series.flatMap { values($0.result) }
                let options: DatasetOptions = array.compressed ? .compressed : DatasetOptions()
                switch array.encoding {
                case .real: try group.write(array.rawValue, HDF5Array(shape: extents.shape(array.axes), values: all), options: options)
                case .flag: try group.write(array.rawValue, HDF5Array(shape: extents.shape(array.axes), values: all.map(ResultsSchema.encodeFlag)), options: options)
                case .sign: try group.write(array.rawValue, HDF5Array(shape: extents.shape(array.axes), values: all.map(ResultsSchema.encodeSign)), options: options)
                case .code(let names):
                    try group.write(array.rawValue, HDF5Array(shape: extents.shape(array.axes), values: all.map(ResultsSchema.encodeFlag)), options: options)
                    try group.setAttribute("codes", .string(names.joined(separator: ",")), on: array.rawValue)
                }
                try group.setAttribute("axes", .string(ResultsSchema.axesAttribute(array.axes)), on: array.rawValue)
            }

            let samples = try root.createGroup(SampleArray.group)
            for array in SampleArray.allCases { try write(array, in: samples) { Self.values(array, of: $0) } }
            let cells = try root.createGroup(CellArray.group)
            for array in CellArray.allCases { try write(array, in: cells) { array.grid($0).values } }
            let batch = try root.createGroup(BatchArray.group)
            for array in BatchArray.allCases { try write(array, in: batch) { Self.values(array, of: $0) } }
        }
    }

    static func values(_ array: SampleArray, of r: AnalysisResult) -> [Double] {
        switch array {
        case .forwardResidual: return r.forwardResidual
        case .forwardIterations: return r.forwardIterations.map(Double.init)
        case .adjointResidual: return r.adjointResidual
        case .loss: return r.loss
        case .sigmaMin: return r.spectra.map(\.sigmaMin)
        case .sigmaMax: return r.spectra.map(\.sigmaMax)
        case .conditionM: return r.spectra.map(\.conditionNumber)
        case .jacobianNorm: return r.spectra.map(\.jacobianNorm)
        case .spectralRadius: return r.spectra.map(\.spectralRadius)
        case .forwardConverged: return r.forwardConverged.map { $0 ? 1 : 0 }
        case .adjointConverged: return r.adjointConverged.map { $0 ? 1 : 0 }
        case .certified: return (0..<r.sampleCount).map { $0 < r.certifiedSamples ? 1 : 0 }
        case .stable: return r.stable.map { $0 ? 1 : 0 }
        case .forwardMethod: return r.forwardMethod.map { Double(FixedPointStage.allCases.firstIndex(of: $0) ?? -1) }
        case .forwardLastResidual: return r.forwardLastResidual
        case .dampedRadius: return r.lambdas.indices.flatMap { l in r.spectra.map { $0.dampedRadius[l] } }
        case .powerNorm: return r.lambdas.indices.flatMap { l in r.ks.indices.flatMap { k in r.spectra.map { $0.powerNorms[l][k] } } }
        }
    }

    static func values(_ array: BatchArray, of r: AnalysisResult) -> [Double] {
        // The stacked system: NaN (flags −1) for checkpoints where it does not apply.
        let empty = CellGrid(estimators: r.estimators.count, lambdas: r.lambdas.count, ks: r.ks.count, samples: 1)
        let stacked = r.stacked?.certificates
        switch array {
        case .cosine: return r.batch.cosine.values
        case .relativeError: return r.batch.relativeError.values
        case .normRatio: return r.batch.normRatio.values
        case .stackedErrorNorm: return (stacked?.errorNorm ?? empty).values
        case .stackedTheorem1: return (stacked?.theorem1 ?? empty).values
        case .stackedWeakCondition: return (stacked?.weakCondition ?? empty).values
        case .stackedRho: return (stacked?.rho ?? empty).values
        case .stackedRhoStar: return (stacked?.rhoStar ?? empty).values
        case .stackedAscentMargin: return (stacked?.ascentMargin ?? empty).values
        case .stackedSigmaMin: return [r.stacked?.sigmaMin ?? .nan]
        case .stackedSigmaMax: return [r.stacked?.sigmaMax ?? .nan]
        case .headGradientNorm: return [r.headGradientNorm]
        case .exactGradientNorm: return [r.exactGradientNorm]
        }
    }
}

