import PhantomGradients
import PhantomLinearAlgebra
import PhantomModel

/// Stage 5 — every family's certificates, by the routes the ``CertificationPlan`` picks, each value with its
/// pedigree, and ‖B^k‖₂ of the certified samples. The routes derive everything from the families' residual
/// operators (``GridEstimator/residual(k:lambda:)``).
///
/// Dense: one ``DenseRoute`` per certified sample, the samples over the cores. Matrix-free: the certified samples in
/// blocks (``MatrixFreeRoute/blocks(_:)``: Lanczos bases and unrolls held for one block at a time), the blocks over the
/// cores; the split does not depend on the core count, so neither do the results. Stacked: one ``StackedRoute``.
public struct CertificationStage: Sendable {
    public let plan: CertificationPlan
    public let ks: [Int]
    public let lambdas: [Double]
    public let estimators: [EstimatorFamily]
    /// Largest d·p for which UPG may form its residual rows in R^p.
    public let columnBudget: Int
    public let preferColumnRoute: Bool
    public let settings: EstimatorSettings
    public let dense: any DenseSpectralSolver
    public let krylov: any KrylovEigensolver
    /// Called with (done, in all): samples on the dense route, (block, family) steps on the matrix-free route.
    public let progress: (@Sendable (Int, Int) -> Void)?
    /// The position of the problem's first sample in the job's samples (failure reports name samples by it).
    public let firstSample: Int

    public init(
        plan: CertificationPlan, configuration c: AnalysisConfiguration, dense: any DenseSpectralSolver = LAPACKSpectralSolver(),
        krylov: any KrylovEigensolver = StandardKrylovEigensolver(), progress: (@Sendable (Int, Int) -> Void)? = nil,
        firstSample: Int = 0
    ) {
        self.firstSample = firstSample
        (self.plan, self.ks, self.lambdas, self.estimators) = (plan, c.ks, c.lambdas, c.estimators)
        (self.columnBudget, self.preferColumnRoute, self.dense, self.krylov, self.progress) =
            (c.columnBudget, c.preferColumnRoute, dense, krylov, progress)
        settings = c.estimatorSettings
    }

    /// - Parameter spectra: the spectra stage's output; its ‖B^k‖₂ are filled in for the certified samples.
    public func run(_ problem: GradientProblem, spectra: inout Spectra) -> Certification {
        let (e, l, k, b) = (estimators.count, lambdas.count, ks.count, problem.batchSize)
        var grids = CertificateGrids(estimators: e, lambdas: l, ks: k, samples: b)
        let outcomes: [(samples: [Int], tables: [[[[Certificate]]]], powerNorms: [[[(value: Double, status: ValueStatus)]]])]
        switch plan.perSample {
        case .dense:
            let counter = ProgressCounter(total: plan.certified, report: progress)
            let facts = spectra.dense ?? []
            outcomes = Parallel.map(plan.certified) { s in
                defer { counter.increment() }
                let route = DenseRoute(
                    problem: problem, facts: facts[s], ks: ks, lambdas: lambdas, solver: dense,
                    columnBudget: columnBudget, preferColumnRoute: preferColumnRoute)
                return ([s], estimators.map { route.tables($0, ks: ks, lambdas: lambdas, settings: settings) }, [route.powerNorms()])
            }
        case .matrixFree:
            let blocks = MatrixFreeRoute.blocks(plan.certified)
            // Progress in (block, family) steps, ‖B^k‖₂ counting as one family.
            let counter = ProgressCounter(total: blocks.count * (estimators.count + 1), report: progress)
            let samples = spectra.samples
            outcomes = Parallel.map(blocks.count) { index in
                let block = blocks[index]
                let route = MatrixFreeRoute(
                    problem: problem, samples: block, ks: ks, lambdas: lambdas,
                    sigmaMin: block.map { samples[$0].sigmaMin }, sigmaMax: block.map { samples[$0].sigmaMax },
                    solver: krylov)
                let tables = estimators.map { family in
                    defer { counter.increment() }
                    return route.tables(family, ks: ks, lambdas: lambdas, settings: settings)
                }
                let norms = route.powerNorms()
                counter.increment()
                return (block, tables, norms)
            }
        }
        var failures = FailureReport()
        for (s, sample) in spectra.samples.enumerated() { failures.record(spectra: sample, sample: firstSample + s) }
        for outcome in outcomes {
            for (i, norms) in outcome.powerNorms.enumerated() {
                let s = outcome.samples[i]
                spectra.samples[s].powerNorms = norms.map { $0.map(\.value) }
                spectra.samples[s].powerNormStatus = norms.map { $0.map(\.status) }
                failures.record(powerNorms: spectra.samples[s].powerNormStatus, sample: firstSample + s, ks: ks, lambdas: lambdas)
                for (index, tables) in outcome.tables.enumerated() {
                    grids.store(tables[i], estimator: index, sample: s)
                    failures.record(tables[i], family: estimators[index], ks: ks, lambdas: lambdas, place: "sample \(firstSample + s)")
                }
            }
        }
        var stacked: StackedCertificates?
        if plan.stacked {
            let system = StackedRoute(problem: problem, ks: ks, lambdas: lambdas, solver: dense)
            var batch = CertificateGrids(estimators: e, lambdas: l, ks: k, samples: 1)
            for (index, family) in estimators.enumerated() {
                let table = system.tables(family, ks: ks, lambdas: lambdas, settings: settings)[0]
                batch.store(table, estimator: index, sample: 0)
                failures.record(table, family: family, ks: ks, lambdas: lambdas, place: "the stacked batch", stacked: true)
            }
            stacked = StackedCertificates(sigmaMin: system.sigmaMin, sigmaMax: system.sigmaMax, certificates: batch)
        }
        return Certification(certificates: grids, stacked: stacked, failures: failures)
    }
}

/// The certificate grids of the samples and, when it applies, of the stacked batch.
public struct Certification: Sendable {
    public let certificates: CertificateGrids
    public let stacked: StackedCertificates?
    /// Every value that is not ok, spectra included.
    public let failures: FailureReport
}
