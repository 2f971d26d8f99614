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
    ///   - progress: called with (stage, done, in all), from the analysing threads (counts restart with each block of
    ///     samples).
    ///   - timing: called after each stage with its wall-clock seconds, summed over the blocks (benchmarks).
    /// - Throws: an error of a family's measurement (none is expected for a valid configuration); never for
    ///   a sample that fails to converge, which is flagged instead.
    ///
    /// Streaming: the samples pass through the six stages in consecutive blocks of
    /// ``AnalysisConfiguration/sampleBlockSize(stateDimension:)`` (``SampleBlock``), so that memory depends on the block,
    /// d and p, not on the number of samples. The batch-mean metrics are formed from the blocks' batch means
    /// (``BatchMeanSums``); a batch of one block is analysed exactly as it always was, and only a batch of one block is
    /// certified as a stacked system.
    ///
    /// Determinism: OpenBLAS may split a GEMM or SYRK over threads in ways that change its last bits (measured:
    /// the stacked system's Gram at 1 and 2 threads). The analysis therefore runs its BLAS calls single-threaded
    /// and gets its parallelism from ``Parallel/map(_:_:)`` over samples, so a results file is bit-identical at
    /// any thread count — which also lets shards run with other CPU counts than the unsharded run.
    ///
    /// - Parameter only: analyse only these blocks (indices into the split; a shard's part of the checkpoint): the result
    ///   then holds their samples' values, NaN elsewhere, and their batch means (``AnalysisResult/partial``) instead of
    ///   the batch-mean metrics. Nil, or every block: the whole batch.
    public func analyze(
        model: ImplicitModel, inputs: Matrix, targets: Targets, solver: FixedPointConfiguration, blocks only: [Int]? = nil,
        progress: (@Sendable (Stage, Int, Int) -> Void)? = nil, timing: ((StageName, Double) -> Void)? = nil
    ) throws -> AnalysisResult {
        let blocks = try SampleBlock.split(
            configuration, stateDimension: model.stateDimension, parameters: model.cell.parameters.count, samples: inputs.rows)
        let held = only.map(Set.init) ?? Set(blocks.indices)
        let partial = !Set(blocks.indices).isSubset(of: held)
        guard blocks.count > 1 else {
            return try analyze(
                block: blocks[0], model: model, inputs: inputs, targets: targets, solver: solver, progress: progress,
                timing: timing
            ).result
        }
        var seconds: [StageName: Double] = [:]
        var parts: [AnalysisResult] = []
        var sums = BatchMeanSums(), kept: [BatchMeans] = []
        let assembly = AssemblyStage(configuration: configuration)
        for (index, block) in blocks.enumerated() {
            guard held.contains(index) else {
                parts.append(assembly.placeholder(samples: block.samples.count, certified: block.certified))
                continue
            }
            let rows = Array(block.samples)
            let (part, means) = try analyze(
                block: block, model: model, inputs: inputs.selectingRows(rows), targets: targets.selecting(rows), solver: solver,
                progress: progress, timing: timing.map { _ in { seconds[$0, default: 0] += $1 } })
            parts.append(part)
            if partial { kept.append(means!) } else { sums.add(means!) }
        }
        if let timing { for stage in StageName.allCases { timing(stage, seconds[stage] ?? 0) } }
        guard partial else { return assembly.join(parts, sums: sums) }
        var result = assembly.join(parts, sums: nil)
        result.partial = PartialBatch(
            blockSize: blocks[0].size, blocks: blocks.indices.filter(held.contains),
            means: kept)
        return result
    }

    /// One block of samples through the six stages; with the blocks' batch means when the batch has more than one block.
    func analyze(
        block: SampleBlock, model: ImplicitModel, inputs: Matrix, targets: Targets, solver: FixedPointConfiguration,
        progress: (@Sendable (Stage, Int, Int) -> Void)?, timing: ((StageName, Double) -> Void)?
    ) throws -> (result: AnalysisResult, means: BatchMeans?) {
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
            let route = block.route
            let measured = try timed(.measurement) {
                try MeasurementStage(
                    ks: c.ks, lambdas: c.lambdas, estimators: c.estimators, route: route, settings: c.estimatorSettings,
                    progress: report(.measuring), keepsBatchMeans: !block.isWhole
                ).run(problem, exact: exact)
            }
            var spectra = timed(.spectra) {
                SpectraStage(route: route, ks: c.ks, lambdas: c.lambdas, solver: denseSolver, progress: report(.spectra))
                    .run(problem, grams: measured.grams)
            }
            let (plan, certification) = timed(.certification) {
                let plan = CertificationPlan(
                    configuration: c, problem: problem, block: block,
                    sound: AssemblyStage.sound(problem: problem, exact: exact, spectra: spectra))
                return (
                    plan,
                    CertificationStage(
                        plan: plan, configuration: c, dense: denseSolver, krylov: krylovSolver, progress: report(.certifying),
                        firstSample: block.samples.lowerBound
                    )
                    .run(problem, spectra: &spectra)
                )
            }
            return timed(.assembly) {
                let result = AssemblyStage(configuration: c).run(
                    problem: problem, exact: exact, measured: measured, spectra: spectra, plan: plan, certification: certification)
                return (result, measured.batchMeans.map { BatchMeans(problem: problem, exact: exact, families: $0) })
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
