import Foundation
import PhantomGradients
import PhantomLinearAlgebra
import PhantomModel

/// Runs the analysis of docs/Theory.md §3 on one batch of samples of one model, as a sequence of stages
/// (`Stages/`), each with one entry point and typed inputs and outputs, so that a test or another front end can run
/// any prefix of it:
///
///     forward solve → exact gradient → measurement → spectra → certification → assembly
///
/// Samples whose forward or adjoint solve did not converge are kept and flagged (``AnalysisResult/reliable``), never
/// dropped; every value that could not be computed is counted with its cause (``FailureReport``).
public struct Analyzer: Sendable {
    public let configuration: AnalysisConfiguration
    /// The dense eigen- and singular-value computations (LAPACK; a test may pass one that fails).
    public let denseSolver: any DenseSpectralSolver
    /// The Krylov eigenvalue methods of the matrix-free route (a test may pass one that breaks down).
    public let krylovSolver: any KrylovEigensolver

    public init(
        _ configuration: AnalysisConfiguration, denseSolver: any DenseSpectralSolver = LAPACKSpectralSolver(),
        krylovSolver: any KrylovEigensolver = StandardKrylovEigensolver()
    ) {
        (self.configuration, self.denseSolver, self.krylovSolver) = (configuration, denseSolver, krylovSolver)
    }

    /// The stages `analyze` reports progress for.
    public enum Stage: String, Sendable {
        /// The families' measurements; UPG counts its λ values.
        case measuring
        /// The per-sample spectra; counts samples.
        case spectra
        /// The certificates; counts samples (dense route) or (block of samples, family) steps (matrix-free route).
        case certifying
    }

    /// The six stages, in order (what ``analyze(model:inputs:targets:solver:progress:timing:)``'s timing hook is given).
    public enum StageName: String, Sendable, CaseIterable {
        case forward = "forward solve", exact = "exact gradient", measurement, spectra, certification, assembly
    }

    /// - Parameters:
    ///   - progress: called with (stage, done, in all), from the analysing threads.
    ///   - timing: called after each stage with its wall-clock seconds (benchmarks).
    /// - Throws: an error of a family's measurement (none is expected for a valid configuration); never for
    ///   a sample that fails to converge, which is flagged instead.
    ///
    /// Determinism: OpenBLAS may split a GEMM or SYRK over threads in ways that change its last bits (measured:
    /// the stacked system's Gram at 1 and 2 threads). The analysis therefore runs its BLAS calls single-threaded
    /// and gets its parallelism from ``Parallel/map(_:_:)`` over samples, so a results file is bit-identical at
    /// any thread count — which also lets shards run with other CPU counts than the unsharded run.
    public func analyze(
        model: ImplicitModel, inputs: Matrix, targets: Targets, solver: FixedPointConfiguration,
        progress: (@Sendable (Stage, Int, Int) -> Void)? = nil, timing: ((StageName, Double) -> Void)? = nil
    ) throws -> AnalysisResult {
        func timed<T>(_ stage: StageName, _ body: () throws -> T) rethrows -> T {
            guard let timing else { return try body() }
            let start = DispatchTime.now().uptimeNanoseconds
            defer { timing(stage, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9) }
            return try body()
        }
        return try BLASInfo.withThreads(1) {
            let c = configuration
            func report(_ stage: Stage) -> (@Sendable (Int, Int) -> Void)? {
                progress.map { report in { @Sendable done, total in report(stage, done, total) } }
            }
            let problem = timed(.forward) {
                ForwardSolveStage(solver: solver, broydenHistories: c.needsBroydenHistory).run(
                    model: model, inputs: inputs, targets: targets)
            }
            let exact = timed(.exact) { ExactGradientStage(adjoint: c.adjoint).run(problem) }
            let route = try c.spectraRoute(stateDimension: problem.stateDimension, samples: problem.batchSize)
            let measured = try timed(.measurement) {
                try MeasurementStage(
                    ks: c.ks, lambdas: c.lambdas, estimators: c.estimators, route: route, settings: c.estimatorSettings,
                    progress: report(.measuring)
                ).run(problem, exact: exact)
            }
            var spectra = timed(.spectra) {
                SpectraStage(route: route, ks: c.ks, lambdas: c.lambdas, solver: denseSolver, progress: report(.spectra))
                    .run(problem, grams: measured.grams)
            }
            let (plan, certification) = timed(.certification) {
                let plan = CertificationPlan(
                    configuration: c, problem: problem, route: route,
                    sound: AssemblyStage.sound(problem: problem, exact: exact, spectra: spectra))
                return (
                    plan,
                    CertificationStage(
                        plan: plan, configuration: c, dense: denseSolver, krylov: krylovSolver, progress: report(.certifying)
                    )
                    .run(problem, spectra: &spectra)
                )
            }
            return timed(.assembly) {
                AssemblyStage(configuration: c).run(
                    problem: problem, exact: exact, measured: measured, spectra: spectra, plan: plan, certification: certification)
            }
        }
    }
}

/// Counts finished items across threads and reports them.
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
