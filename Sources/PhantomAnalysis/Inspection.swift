import Foundation
import PhantomFileSystem
import PhantomGradients
import PhantomInterop
import PhantomLinearAlgebra
import PhantomModel
import PhantomModelIO

/// What `phantom inspect` shows: a checkpoint (or imported safetensors file) and, with data, for the samples
/// `analyze` would take (the test split first), the forward solve, ‖J‖₂ and ρ(J) at the fixed point, the
/// predicted class and the loss — what a user needs to check an import against their own forward pass.
public struct Inspection: Sendable {
    public let path: String
    public let checkpoint: Checkpoint
    /// Per sample, with data: the forward solve and the diagnostics at h*.
    public struct Sample: Sendable {
        public let iterations: Int
        /// The best residual (at the returned h*) and the one after the last evaluation of f.
        public let residual: Double
        public let lastResidual: Double
        /// The method that produced h*.
        public let method: FixedPointStage
        public let status: SolverStatus
        public let diagnostics: FixedPointDiagnostics
        /// The sample's row in the data file.
        public let row: Int
        /// argmax of the logits (the predicted class), and the sample's loss when the data has targets.
        public let prediction: Int
        public let loss: Double?
    }
    public let samples: [Sample]

    public static let defaultSamples = 5

    /// Loads the model, and with `data` solves the first `samples` fixed points. Everything is checked before
    /// anything is solved.
    public init(
        _ path: String, cell: CellKind? = nil, prefix: String? = nil, renames: [(String, String)] = [], data: String? = nil,
        samples: Int = defaultSamples, solver: FixedPointConfiguration
    ) throws {
        guard samples >= 1 else { throw InputError("the number of samples must be at least 1, got \(samples)") }
        let checkpoint = try ModelFile.load(path, cell: cell, prefix: prefix, renames: renames)
        let model = checkpoint.model
        var rows: [Sample] = []
        if let data {
            let dataPath = try DataSetResolver.resolve(data)
            let set = try DataSet.load(dataPath)
            try set.checkInputs(model.inputDimension, image: model.cell.inputImageShape, path: dataPath, model: "the checkpoint")
            let batch = try set.analysisSamples(samples, path: dataPath)  // the samples analyze takes
            if let y = batch.y { try DataSet.checkTargets(y, outputs: model.outputDimension, path: dataPath) }
            let solution = model.solve(batch.x, solver)
            let diagnostics = FixedPointDiagnostics.compute(model: model, states: solution.states, inputs: batch.x)
            let logits = model.head.logits(solution.states)
            let losses = batch.y.map { GradientProblem.lossCotangents(model: model, states: solution.states, targets: $0).losses }
            rows = (0..<batch.count).map { i in
                let row = logits.row(i)
                let prediction = row.indices.max { row[$0] < row[$1] } ?? 0
                return Sample(
                    iterations: solution.iterations[i], residual: solution.residuals[i], lastResidual: solution.lastResiduals[i],
                    method: solution.methods[i], status: solution.statuses[i], diagnostics: diagnostics[i],
                    row: batch.rows[i], prediction: prediction, loss: losses?[i])
            }
        }
        self.path = path
        self.checkpoint = checkpoint
        self.samples = rows
    }
}
