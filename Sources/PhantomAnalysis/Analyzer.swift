import Foundation
import PhantomGradients
import PhantomLinearAlgebra
import PhantomModel

/// Runs the analysis of THEORY.md §3 on one batch of samples of one model.
///
/// Steps: forward fixed points (with their pedigree), the exact gradient (adjoint solve with its
/// residual), the measured metrics of every estimator in every (λ, k) cell (NPG and RBP from the grid
/// engine, UPG from its unrolls, JFB directly), and per sample the spectra of J, B and M and every
/// estimator's certificates. Samples whose forward or adjoint solve did not converge are kept and flagged
/// (``AnalysisResult/reliable``), never dropped.
public struct Analyzer: Sendable {
    public let configuration: AnalysisConfiguration

    public init(_ configuration: AnalysisConfiguration) {
        self.configuration = configuration
    }

    /// - Parameter progress: called with (stage, done, in all) from the analysing threads: stage "measuring"
    ///   counts the λ values of UPG's unrolls, stage "certifying" counts samples.
    public func analyze(model: ImplicitModel, inputs: Matrix, targets: Targets, solver: FixedPointConfiguration,
                        progress: (@Sendable (String, Int, Int) -> Void)? = nil) -> AnalysisResult {
        let c = configuration
        let problem = GradientProblem(model: model, inputs: inputs, targets: targets, solver: solver)
        let b = problem.batchSize
        let exact = ExactGradient(solver: c.adjoint).estimate(problem, perSample: true)
        let adjoint = exact.adjoint!
        let w = exact.stateCotangents!
        let grams = (0..<b).map { ParameterGram.compute(problem.linearization, sample: $0) }
        let kIndex = c.ks.map { $0 - 1 }

        let shape = (c.estimators.count, c.lambdas.count, c.ks.count)
        func grid(_ samples: Int = b) -> CellGrid { CellGrid(estimators: shape.0, lambdas: shape.1, ks: shape.2, samples: samples) }
        var cosine = grid(), relative = grid(), ratio = grid(), inner = grid()
        var batchCosine = grid(1), batchRelative = grid(1), batchRatio = grid(1)
        func store(_ e: Int, _ l: Int, _ k: Int, _ perSample: [GradientMetrics], _ batch: GradientMetrics?) {
            for s in 0..<b {
                cosine[e, l, k, s] = perSample[s].cosine
                relative[e, l, k, s] = perSample[s].relativeError
                ratio[e, l, k, s] = perSample[s].normRatio
                inner[e, l, k, s] = perSample[s].inner
            }
            if let batch {
                batchCosine[e, l, k, 0] = batch.cosine
                batchRelative[e, l, k, 0] = batch.relativeError
                batchRatio[e, l, k, 0] = batch.normRatio
            }
        }

        // Measured metrics.
        let needsUndamped = c.estimators.contains(.rbp) || c.estimators.contains(.jfb)
        let npgGrid = try? NPGGrid(maxSteps: c.maxK, lambdas: c.lambdas).evaluate(problem, exact: w, grams: grams)
        let undamped = needsUndamped ? try? NPGGrid(maxSteps: c.maxK, lambdas: [1]).evaluate(problem, exact: w, grams: grams) : nil
        for (e, estimator) in c.estimators.enumerated() {
            for l in 0..<c.lambdas.count {
                for (kk, k) in kIndex.enumerated() {
                    switch estimator {
                    case .npg:
                        if let g = npgGrid { store(e, l, kk, (0..<b).map { g.perSample[$0][l][k] }, g.batch?[l][k]) }
                    case .rbp:
                        if let g = undamped { store(e, l, kk, (0..<b).map { g.perSample[$0][0][k] }, g.batch?[0][k]) }
                    case .jfb:
                        if let g = undamped { store(e, l, kk, (0..<b).map { g.perSample[$0][0][0] }, g.batch?[0][0]) }
                    case .upg:
                        break
                    }
                }
            }
        }
        if let e = c.estimators.firstIndex(of: .upg) {
            // One λ at a time, so that long unrolls (large p) report progress.
            for (l, lambda) in c.lambdas.enumerated() {
                progress?("measuring", l, c.lambdas.count)
                guard let upg = try? UPGGrid(maxSteps: c.maxK, lambdas: [lambda]).evaluate(problem, exact: exact, perSample: true) else { continue }
                for (kk, k) in kIndex.enumerated() {
                    store(e, l, kk, (0..<b).map { upg.perSample![$0][0][k] }, upg.batch[0][k])
                }
            }
        }

        // Certificates and spectra, per sample, over both cores.
        let certified = min(b, c.certificateSamples ?? (problem.stateDimension <= 128 ? b : 16))
        let counter = ProgressCounter(total: b, report: progress.map { report in { @Sendable done, total in report("certifying", done, total) } })
        let perSample = Parallel.map(b) { s -> (SampleSpectra, [EstimatorKind: [[Certificate]]]) in
            let result = SampleAnalysis(configuration: c, problem: problem, sample: s, parameterGram: grams[s]).compute(certify: s < certified)
            counter.increment()
            return result
        }
        var errorNorm = grid(), theorem1 = grid(), weak = grid(), rho = grid(), cosineBound = grid(),
            rhoStar = grid(), margin = grid()
        for (s, (_, certificates)) in perSample.enumerated() {
            for (e, estimator) in c.estimators.enumerated() {
                guard let table = certificates[estimator] else { continue }
                for l in 0..<c.lambdas.count {
                    for kk in 0..<c.ks.count {
                        let cert = table[l][kk]
                        errorNorm[e, l, kk, s] = cert.errorNorm
                        theorem1[e, l, kk, s] = cert.errorNorm.isNaN ? .nan : (cert.theorem1 ? 1 : 0)
                        weak[e, l, kk, s] = cert.errorNorm.isNaN ? .nan : (cert.weakCondition ? 1 : 0)
                        rho[e, l, kk, s] = cert.rho
                        cosineBound[e, l, kk, s] = cert.cosineBound
                        rhoStar[e, l, kk, s] = cert.rhoStar
                        margin[e, l, kk, s] = cert.ascentMargin
                    }
                }
            }
        }
        let spectra = perSample.map(\.0)
        var stacked: StackedCertificates?
        if c.stackedLimit > 0, StackedAnalysis.applies(problem, limit: c.stackedLimit) {
            let output = StackedAnalysis(configuration: c, problem: problem).compute()
            var s = StackedCertificates(sigmaMin: output.sigmaMin, sigmaMax: output.sigmaMax, errorNorm: grid(1), theorem1: grid(1),
                                        weakCondition: grid(1), rho: grid(1), rhoStar: grid(1), ascentMargin: grid(1))
            for (e, estimator) in c.estimators.enumerated() {
                guard let table = output.certificates[estimator] else { continue }
                for l in 0..<c.lambdas.count { for kk in 0..<c.ks.count {
                    let cert = table[l][kk]
                    s.errorNorm[e, l, kk, 0] = cert.errorNorm
                    s.theorem1[e, l, kk, 0] = cert.theorem1 ? 1 : 0
                    s.weakCondition[e, l, kk, 0] = cert.weakCondition ? 1 : 0
                    s.rho[e, l, kk, 0] = cert.rho
                    s.rhoStar[e, l, kk, 0] = cert.rhoStar
                    s.ascentMargin[e, l, kk, 0] = cert.ascentMargin
                } }
            }
            stacked = s
        }
        return AnalysisResult(
            ks: c.ks, lambdas: c.lambdas, estimators: c.estimators, sampleCount: b, certifiedSamples: certified,
            forwardResidual: problem.forward.residuals, forwardIterations: problem.forward.iterations,
            forwardConverged: problem.forward.converged, adjointResidual: adjoint.relativeResiduals,
            adjointConverged: adjoint.converged, adjointMethod: adjoint.method.rawValue, loss: problem.losses,
            sigmaMin: spectra.map(\.sigmaMin), sigmaMax: spectra.map(\.sigmaMax),
            jacobianNorm: spectra.map(\.jacobianNorm), spectralRadius: spectra.map(\.spectralRadius),
            dampedRadius: (0..<c.lambdas.count).map { l in spectra.map { $0.dampedRadius[l] } },
            powerNorm: (0..<c.lambdas.count).map { l in (0..<c.ks.count).map { k in spectra.map { $0.powerNorms[l][k] } } },
            cosine: cosine, relativeError: relative, normRatio: ratio, inner: inner,
            errorNorm: errorNorm, theorem1: theorem1, weakCondition: weak, rho: rho, cosineBound: cosineBound,
            rhoStar: rhoStar, ascentMargin: margin,
            batchCosine: batchCosine, batchRelativeError: batchRelative, batchNormRatio: batchRatio, stacked: stacked,
            headGradientNorm: BLAS.nrm2(problem.headGradient), exactGradientNorm: BLAS.nrm2(exact.batchMean))
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

