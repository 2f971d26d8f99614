import PhantomGradients
import PhantomLinearAlgebra
import PhantomModel

/// Stage 6 — the stages' outputs put together as one ``AnalysisResult``, with every solve's pedigree and the failure
/// report.
public struct AssemblyStage: Sendable {
    public let configuration: AnalysisConfiguration
    public init(configuration: AnalysisConfiguration) { self.configuration = configuration }

    public func run(
        problem: GradientProblem, exact: ExactGradientResult, measured: Measurements, spectra: Spectra,
        plan: CertificationPlan, certification: Certification
    ) -> AnalysisResult {
        let c = configuration, adjoint = exact.adjoint
        var result = AnalysisResult(
            ks: c.ks, lambdas: c.lambdas, estimators: c.estimators.map(\.id), estimatorAxes: c.estimators.map(\.axes),
            sampleCount: problem.batchSize, certifiedSamples: plan.certified,
            forwardResidual: problem.forward.residuals, forwardIterations: problem.forward.iterations,
            forwardConverged: problem.forward.converged, forwardMethod: problem.forward.methods,
            forwardLastResidual: problem.forward.lastResiduals, adjointResidual: adjoint.relativeResiduals,
            adjointConverged: adjoint.converged, adjointMethod: adjoint.method.rawValue, loss: problem.losses,
            spectra: spectra.samples, metrics: measured.metrics, certificates: certification.certificates, batch: measured.batch,
            backward: measured.backward,
            stacked: certification.stacked, headGradientNorm: BLAS.nrm2(problem.headGradient),
            exactGradientNorm: BLAS.nrm2(exact.estimate.batchMean), adjointTolerance: c.adjoint.tolerance)
        result.failures = certification.failures
        result.forwardStatus = problem.forward.statuses
        return result
    }

    /// Every sample is sound — both solves converged and the fixed point attracts — so that the batch may be
    /// certified as one stacked system (an unconverged solve or a repelling fixed point, I − J singular or worse, would
    /// make it meaningless).
    static func sound(problem: GradientProblem, exact: ExactGradientResult, spectra: Spectra) -> Bool {
        (0..<problem.batchSize).allSatisfy {
            AnalysisResult.isReliable(
                forwardConverged: problem.forward.converged[$0], adjointConverged: exact.adjoint.converged[$0],
                spectra: spectra.samples[$0])
        }
    }
}
