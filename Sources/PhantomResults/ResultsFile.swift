import Foundation
import PhantomAnalysis
import PhantomFileSystem
import PhantomGradients
import PhantomHDF5
import PhantomLinearAlgebra
import PhantomModel

/// Writes the analysis results file (``ResultsSchema``) from a ``ResultsData``.
public enum ResultsFile {
    /// Writes an analysis series atomically; refuses an existing file unless `overwrite`.
    /// - Parameter attributes: further root attributes (command, tool version, time, data, cell, …).
    public static func write(
        _ series: [SeriesEntry], sampleIndices: [Int], seriesIndices: [Int]? = nil, to path: String,
        overwrite: Bool, attributes: [String: String]
    ) throws {
        guard !series.isEmpty else { throw InputError(path: path, message: "nothing to write") }
        try write(
            ResultsData(series: series, sampleRows: sampleIndices, seriesIndices: seriesIndices, attributes: attributes),
            to: path, overwrite: overwrite)
    }

    /// Writes a results file atomically; refuses an existing file unless `overwrite`.
    public static func write(_ data: ResultsData, to path: String, overwrite: Bool) throws {
        let extents = data.extents
        try HDF5File.write(to: path, overwrite: overwrite) { file in
            let root = file.root
            let estimators = data.estimators.map(\.rawValue).joined(separator: ",")
            try root.setAttribute("format", .string(ResultsSchema.format))
            try root.setAttribute("version", .integer(ResultsSchema.version))
            try root.setAttribute("estimators", .string(estimators))
            try root.setAttribute("estimator_axes", .string(data.estimatorAxes.map(\.rawValue).joined(separator: ",")))
            for (key, value) in data.attributes.sorted(by: { $0.key < $1.key }) { try root.setAttribute(key, .string(value)) }

            let axes = try root.createGroup(CoordinateArray.group)
            for coordinate in CoordinateArray.allCases {
                let name = coordinate.rawValue
                switch coordinate {
                case .k: try axes.write(name, vector: data.ks.map { Int64($0) })
                case .lambda: try axes.write(name, vector: data.lambdas)
                case .sample: try axes.write(name, vector: data.sampleRows.map { Int64($0) })
                case .epoch: try axes.write(name, vector: data.epochs.map { Int64($0) })
                case .step: try axes.write(name, vector: data.steps.map { Int64($0) })
                case .seriesIndex: try axes.write(name, vector: data.seriesIndices.map { Int64($0) })
                case .threshold:
                    guard !data.frontier.isEmpty else { continue }
                    try axes.write(name, vector: data.thresholds)
                }
                try axes.setAttribute("axes", .string(ResultsSchema.axesAttribute(coordinate.axes)), on: name)
            }
            try axes.setAttribute("estimator", .string(estimators))

            let seriesGroup = try root.createGroup("series")
            for (index, entry) in data.series.enumerated() {
                let g = try seriesGroup.createGroup("\(index)")
                try g.setAttribute("path", .string(entry.path))
                try g.setAttribute("sha256", .string(entry.sha256))
                try g.setAttribute("epoch", .integer(Int64(entry.epoch ?? -1)))
                try g.setAttribute("step", .integer(Int64(entry.step ?? -1)))
                try g.setAttribute("adjoint_method", .string(entry.adjointMethod))
            }

            /// One array in its schema encoding.
            func write<A: ResultsArray>(_ array: A, _ values: HDF5Array<Double>, in group: HDF5Group) throws {
                let shape = extents.shape(array.axes)
                guard values.shape == shape else {
                    throw InputError(path: path, message: "/\(array.path) has shape \(values.shape), expected \(shape)")
                }
                let options: DatasetOptions = array.compressed ? .compressed : DatasetOptions()
                switch array.encoding {
                case .real: try group.write(array.rawValue, values, options: options)
                case .flag:
                    try group.write(
                        array.rawValue, HDF5Array(shape: shape, values: values.values.map(ResultsSchema.encodeFlag)), options: options)
                case .sign:
                    try group.write(
                        array.rawValue, HDF5Array(shape: shape, values: values.values.map(ResultsSchema.encodeSign)), options: options)
                case .code(let names):
                    try group.write(
                        array.rawValue, HDF5Array(shape: shape, values: values.values.map(ResultsSchema.encodeFlag)), options: options)
                    try group.setAttribute("codes", .string(names.joined(separator: ",")), on: array.rawValue)
                }
                try group.setAttribute("axes", .string(ResultsSchema.axesAttribute(array.axes)), on: array.rawValue)
            }
            let samples = try root.createGroup(SampleArray.group)
            for array in SampleArray.allCases { if let values = data.samples[array] { try write(array, values, in: samples) } }
            let cells = try root.createGroup(CellArray.group)
            for array in CellArray.allCases { if let values = data.cells[array] { try write(array, values, in: cells) } }
            let batch = try root.createGroup(BatchArray.group)
            for array in BatchArray.allCases { if let values = data.batch[array] { try write(array, values, in: batch) } }
            if !data.frontier.isEmpty {
                let frontier = try root.createGroup(FrontierArray.group)
                for array in FrontierArray.allCases { if let values = data.frontier[array] { try write(array, values, in: frontier) } }
            }
            try data.partials?.write(to: root)
        }
    }
}

extension ResultsData {
    /// The results of an analysis series in memory, every array of the schema filled.
    public init(series entries: [SeriesEntry], sampleRows: [Int], seriesIndices: [Int]? = nil, attributes: [String: String]) {
        let first = entries[0].result
        let extents = ResultsSchema.Extents(
            series: entries.count, estimators: first.estimators.count, lambdas: first.lambdas.count,
            ks: first.ks.count, samples: first.sampleCount)
        func table<A: ResultsArray>(_ arrays: [A], _ values: (A, AnalysisResult) -> [Double]) -> [A: HDF5Array<Double>] {
            Dictionary(
                uniqueKeysWithValues: arrays.map { array in
                    (array, HDF5Array(shape: extents.shape(array.axes), values: entries.flatMap { values(array, $0.result) }))
                })
        }
        self.init(
            ks: first.ks, lambdas: first.lambdas, estimators: first.estimators, estimatorAxes: first.estimatorAxes,
            epochs: entries.map { $0.epoch ?? -1 }, steps: entries.map { $0.step ?? -1 },
            series: entries.map {
                SeriesInfo(path: $0.path, sha256: $0.sha256, epoch: $0.epoch, step: $0.step, adjointMethod: $0.result.adjointMethod)
            },
            seriesIndices: seriesIndices, sampleRows: sampleRows, attributes: attributes,
            samples: table(SampleArray.allCases, ResultsFile.values), cells: table(CellArray.allCases) { $0.grid($1).values },
            batch: table(BatchArray.allCases, ResultsFile.values))
        thresholds = Frontier.thresholds
        let frontiers = entries.map(\.result.frontier)
        frontier = Dictionary(
            uniqueKeysWithValues: FrontierArray.allCases.map { array in
                (array, HDF5Array(shape: extents.shape(array.axes), values: frontiers.flatMap { $0.flatMap { $0.map(array.values) } }))
            })
        // A shard's part of a checkpoint: only its blocks' samples hold values; the batch-mean values and the frontier are
        // the merge's to form, from the blocks' means.
        let positions = self.seriesIndices
        for (t, entry) in entries.enumerated() {
            guard let partial = entry.result.partial else { continue }
            let held = Set(partial.blocks)
            let keep = (0..<extents.samples).map { held.contains($0 / partial.blockSize) }
            func mask<A: ResultsArray>(_ arrays: inout [A: HDF5Array<Double>], samples: Bool) {
                for (array, values) in arrays {
                    let stride = values.shape.dropFirst().reduce(1, *)
                    var v = values.values
                    for i in (t * stride)..<((t + 1) * stride) where !samples || !keep[i % extents.samples] { v[i] = .nan }
                    arrays[array] = HDF5Array(shape: values.shape, values: v)
                }
            }
            mask(&self.samples, samples: true)
            mask(&cells, samples: true)
            mask(&batch, samples: false)
            mask(&frontier, samples: false)
        }
        partials = ResultsPartials(entries, seriesIndices: positions)
    }
}

extension ResultsFile {
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
        case .forwardStatus: return r.forwardStatus.map { Double(SolverStatus.allCases.firstIndex(of: $0)!) }
        case .dampedRadius: return r.lambdas.indices.flatMap { l in r.spectra.map { $0.dampedRadius[l] } }
        case .powerNorm: return r.lambdas.indices.flatMap { l in r.ks.indices.flatMap { k in r.spectra.map { $0.powerNorms[l][k] } } }
        case .spectraRoute: return r.spectra.map { $0.route == .iterative ? 1 : 0 }
        case .sigmaMinResidual: return r.spectra.map(\.sigmaMinResidual)
        case .sigmaMaxResidual: return r.spectra.map(\.sigmaMaxResidual)
        case .jacobianNormResidual: return r.spectra.map(\.jacobianNormResidual)
        case .spectralRadiusResidual: return r.spectra.map(\.spectralRadiusResidual)
        case .sigmaMinConverged: return r.spectra.map { $0.sigmaMinConverged ? 1 : 0 }
        case .sigmaMaxConverged: return r.spectra.map { $0.sigmaMaxConverged ? 1 : 0 }
        case .jacobianNormConverged: return r.spectra.map { $0.jacobianNormConverged ? 1 : 0 }
        case .spectralRadiusConverged: return r.spectra.map { $0.spectralRadiusConverged ? 1 : 0 }
        case .sigmaMinStatus: return r.spectra.map(\.sigmaMinStatus.codeIndex)
        case .sigmaMaxStatus: return r.spectra.map(\.sigmaMaxStatus.codeIndex)
        case .jacobianNormStatus: return r.spectra.map(\.jacobianNormStatus.codeIndex)
        case .spectralRadiusStatus: return r.spectra.map(\.spectralRadiusStatus.codeIndex)
        case .powerNormStatus:
            // Not certified: −1 (no status applies).
            return r.lambdas.indices.flatMap { l in
                r.ks.indices.flatMap { k in
                    r.spectra.enumerated().map { s, x in
                        s < r.certifiedSamples ? x.powerNormStatus[l][k].codeIndex : .nan
                    }
                }
            }
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
        case .exactCost: return [r.exactCost]
        }
    }
}

extension AnalysisRun {
    /// Writes the run's results: its series with its sample rows and positions, and its attributes
    /// (``resultAttributes(command:toolVersion:created:)``).
    public func write(_ series: [SeriesEntry], to path: String, overwrite: Bool, command: String, toolVersion: String) throws {
        try ResultsFile.write(
            series, sampleIndices: samples.rows, seriesIndices: selected, to: path, overwrite: overwrite,
            attributes: resultAttributes(command: command, toolVersion: toolVersion))
    }
}
