import Foundation
import PhantomGradients
import PhantomLinearAlgebra
import PhantomModel

/// Runs the analysis of THEORY.md §3 on one batch of samples of one model.
///
/// Steps: forward fixed points (with their pedigree), the exact gradient (adjoint solve with its residual),
/// every family's measured metrics on the (λ, k) grid (``GridEstimator/measure(_:)``), and per sample the
/// spectra of J, B and M and every family's certificates (``GridEstimator/certify(_:)``); when it applies, the
/// batch as one stacked system. Samples whose forward or adjoint solve did not converge are kept and flagged
/// (``AnalysisResult/reliable``), never dropped.
public struct Analyzer: Sendable {
    public let configuration: AnalysisConfiguration

    public init(_ configuration: AnalysisConfiguration) {
        self.configuration = configuration
    }

    /// The stages `analyze` reports progress for.
    public enum Stage: String, Sendable {
        /// The families' measurements; UPG counts its λ values.
        case measuring
        /// The per-sample spectra and (dense route) certificates; counts samples.
        case certifying
        /// The matrix-free route's certificates; counts (block of samples, family) steps.
        case certificates
    }

    /// - Parameter progress: called with (stage, done, in all), from the analysing threads.
    /// - Throws: an error of a family's measurement (none is expected for a valid configuration); never for
    ///   a sample that fails to converge, which is flagged instead.
    ///
    /// Determinism: OpenBLAS may split a GEMM or SYRK over threads in ways that change its last bits (measured:
    /// the stacked system's Gram at 1 and 2 threads). The analysis therefore runs its BLAS calls single-threaded
    /// and gets its parallelism from ``Parallel/map(_:_:)`` over samples, so a results file is bit-identical at
    /// any thread count — which also lets shards run with other CPU counts than the unsharded run.
    public func analyze(model: ImplicitModel, inputs: Matrix, targets: Targets, solver: FixedPointConfiguration,
                        progress: (@Sendable (Stage, Int, Int) -> Void)? = nil) throws -> AnalysisResult {
        try BLASInfo.withThreads(1) { try analyzeSingleThreadedBLAS(model: model, inputs: inputs, targets: targets, solver: solver, progress: progress) }
    }

    private func analyzeSingleThreadedBLAS(model: ImplicitModel, inputs: Matrix, targets: Targets, solver: FixedPointConfiguration,
                                           progress: (@Sendable (Stage, Int, Int) -> Void)?) throws -> AnalysisResult {
        let c = configuration
        let problem = GradientProblem(model: model, inputs: inputs, targets: targets, solver: solver)
        let b = problem.batchSize
        // The batch mean and w* (the per-sample gradients M_iᵀw*_i are read in factored form: no B × p array).
        let exact = ExactGradient(solver: c.adjoint).estimate(problem, perSample: false)
        let adjoint = exact.adjoint!
        // The spectra route decides whether any d×d matrix is formed: the dense route's Grams G_M = M Mᵀ serve the NPG
        // grid and the certificates; the matrix-free route has none (the grid reads factored parameter VJPs).
        let route = c.spectra.resolved(stateDimension: problem.stateDimension)
        let grams = route == .dense ? (0..<b).map { ParameterGram.compute(problem.linearization, sample: $0) } : []
        let (e, l, k) = (c.estimators.count, c.lambdas.count, c.ks.count)

        // Measured metrics, family by family.
        var metrics = MetricGrids(estimators: e, lambdas: l, ks: k, samples: b)
        var batch = MetricGrids(estimators: e, lambdas: l, ks: k, samples: 1)
        let measurement = GridMeasurement(problem: problem, exact: exact, grams: grams, ks: c.ks, lambdas: c.lambdas,
                                          progress: progress.map { report in { @Sendable done, total in report(.measuring, done, total) } })
        for (index, family) in c.estimators.enumerated() {
            let grid = try family.type.measure(measurement)
            for s in 0..<b { metrics.store(grid.perSample[s], estimator: index, sample: s) }
            if let table = grid.batch { batch.store(table, estimator: index, sample: 0) }
        }

        // Spectra and certificates, per sample, over both cores: dense (d×d, with certificates) or matrix-free.
        let certified = c.certifiedCount(batch: b, stateDimension: problem.stateDimension)
        let counter = ProgressCounter(total: b, report: progress.map { report in { @Sendable done, total in report(.certifying, done, total) } })
        let perSample = Parallel.map(b) { s -> (SampleSpectra, [[[Certificate]]]) in
            defer { counter.increment() }
            guard route == .dense else {
                return (SampleSpectra(iterative: problem, sample: s, lambdas: c.lambdas, ks: c.ks.count), [])
            }
            let sample = SampleCertification(problem: problem, sample: s, gram: grams[s].matrix, ks: c.ks, lambdas: c.lambdas,
                                             columnBudget: c.columnBudget, preferColumnRoute: c.preferColumnRoute)
            let spectra = SampleSpectra(sample, certify: s < certified)
            let tables = s < certified ? c.estimators.map { $0.type.certify(sample) } : []
            return (spectra, tables)
        }
        var certificates = CertificateGrids(estimators: e, lambdas: l, ks: k, samples: b)
        var spectra = perSample.map(\.0)
        for (s, (_, tables)) in perSample.enumerated() {
            for (index, table) in tables.enumerated() { certificates.store(table, estimator: index, sample: s) }
        }
        // The matrix-free route: every family's certificates and ‖B^k‖₂ by Lanczos, the certified samples in blocks
        // (``MatrixFreeCertification/blocks(_:)``: Lanczos bases and unrolls held for one block at a time), the blocks
        // over the cores. The split does not depend on the core count, so neither do the results.
        var unconvergedCertificates = 0
        if route == .iterative, certified > 0 {
            let blocks = MatrixFreeCertification.blocks(certified)
            // Progress in (block, family) steps, ‖B^k‖₂ counting as one family.
            let done = ProgressCounter(total: blocks.count * (c.estimators.count + 1),
                                       report: progress.map { report in { @Sendable done, total in report(.certificates, done, total) } })
            let outcomes = Parallel.map(blocks.count) { index -> (tables: [[[[Certificate]]]?], powerNorms: [[[Double]]], unconverged: Int) in
                let samples = blocks[index]
                let matrixFree = MatrixFreeCertification(problem: problem, samples: samples, ks: c.ks, lambdas: c.lambdas,
                                                         sigmaMin: samples.map { perSample[$0].0.sigmaMin },
                                                         sigmaMax: samples.map { perSample[$0].0.sigmaMax })
                let tables = c.estimators.map { family in
                    defer { done.increment() }
                    return family.type.certifyMatrixFree(matrixFree)
                }
                // ‖B^k‖₂ of the certified samples, as on the dense route.
                let norms = matrixFree.powerNorms()
                done.increment()
                return (tables, norms, matrixFree.unconverged)
            }
            for (block, outcome) in zip(blocks, outcomes) {
                for (index, tables) in outcome.tables.enumerated() {
                    guard let tables else { continue }
                    for (i, table) in tables.enumerated() { certificates.store(table, estimator: index, sample: block[i]) }
                }
                for (i, norms) in outcome.powerNorms.enumerated() { spectra[block[i]].powerNorms = norms }
                unconvergedCertificates += outcome.unconverged
            }
        }

        var stacked: StackedCertificates?
        // The batch as one system only when every sample is sound: an unconverged solve or a repelling fixed point
        // (I − J singular or worse) would make the stacked certificates meaningless.
        let sound = (0..<b).allSatisfy {
            AnalysisResult.isReliable(forwardConverged: problem.forward.converged[$0], adjointConverged: adjoint.converged[$0], spectra: perSample[$0].0)
        }
        if route == .dense, c.stackedLimit > 0, sound, StackedCertification.applies(problem, limit: c.stackedLimit) {
            let system = StackedCertification(problem: problem, ks: c.ks, lambdas: c.lambdas)
            var grids = CertificateGrids(estimators: e, lambdas: l, ks: k, samples: 1)
            for (index, family) in c.estimators.enumerated() {
                if let table = family.type.certifyStacked(system) { grids.store(table, estimator: index, sample: 0) }
            }
            stacked = StackedCertificates(sigmaMin: system.sigmaMin, sigmaMax: system.sigmaMax, certificates: grids)
        }
        return AnalysisResult(
            ks: c.ks, lambdas: c.lambdas, estimators: c.estimators.map(\.id), estimatorAxes: c.estimators.map(\.axes),
            sampleCount: b, certifiedSamples: certified,
            forwardResidual: problem.forward.residuals, forwardIterations: problem.forward.iterations,
            forwardConverged: problem.forward.converged, forwardMethod: problem.forward.methods,
            forwardLastResidual: problem.forward.lastResiduals, adjointResidual: adjoint.relativeResiduals,
            adjointConverged: adjoint.converged, adjointMethod: adjoint.method.rawValue, loss: problem.losses,
            spectra: spectra, metrics: metrics, certificates: certificates, batch: batch, stacked: stacked,
            headGradientNorm: BLAS.nrm2(problem.headGradient), exactGradientNorm: BLAS.nrm2(exact.batchMean), adjointTolerance: c.adjoint.tolerance,
            unconvergedCertificates: unconvergedCertificates)
    }
}

/// Counts finished samples across threads and reports them.
final class ProgressCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var done = 0
    let total: Int
    let report: (@Sendable (Int, Int) -> Void)?
    init(total: Int, report: (@Sendable (Int, Int) -> Void)?) { self.total = total; self.report = report }
    func increment() {
        lock.lock()
        done += 1
        let value = done
        lock.unlock()
        report?(value, total)
    }
}
