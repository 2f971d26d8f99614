import Foundation
import Numerics
import PhantomAnalysis
import PhantomGradients
import PhantomLinearAlgebra
import PhantomModel
import PhantomResults
import PhantomTestSupport
import Testing

/// A LAPACK stand-in that fails the chosen drivers (with the `info` LAPACK would report) and runs the others.
struct FailingDenseSolver: DenseSpectralSolver {
    enum Driver: Sendable { case symmetricValues, symmetricVectors, generalized, general, svd }
    let failing: Set<Driver>
    let lapack = LAPACKSpectralSolver()

    func fail(_ driver: Driver, _ routine: String) throws(LinearAlgebraError) {
        if failing.contains(driver) { throw .noConvergence(routine: routine, info: 7) }
    }
    func symmetricEigenvalues(_ a: Matrix) throws(LinearAlgebraError) -> [Double] {
        try fail(.symmetricValues, "dsyevd")
        return try lapack.symmetricEigenvalues(a)
    }
    func symmetricEigen(_ a: Matrix) throws(LinearAlgebraError) -> SymmetricEigen {
        try fail(.symmetricVectors, "dsyevd")
        return try lapack.symmetricEigen(a)
    }
    func generalizedEigenvalues(_ a: Matrix, _ b: Matrix) throws(LinearAlgebraError) -> [Double] {
        try fail(.generalized, "dsygvd")
        return try lapack.generalizedEigenvalues(a, b)
    }
    func eigenvalues(_ a: Matrix) throws(LinearAlgebraError) -> [Complex<Double>] {
        try fail(.general, "dgeev")
        return try lapack.eigenvalues(a)
    }
    func spectralNorm(_ a: Matrix) throws(LinearAlgebraError) -> Double {
        try fail(.svd, "dgesdd")
        return try lapack.spectralNorm(a)
    }
}

/// A Krylov stand-in whose every process breaks down (a non-finite vector), or stops short of its tolerance.
struct BrokenKrylov: KrylovEigensolver {
    let breakdown: Bool
    func ritz() -> RitzValue { breakdown ? .failed : RitzValue(value: 0.5, residual: 3e-3, converged: false) }
    func lanczos(
        rows: Int, dimension: Int, tolerance: Double, maxSteps: Int, start: Matrix?, needed: BatchedLanczos.Needed,
        wantVectors: Bool, apply: (Matrix) -> Matrix
    ) -> (results: [SymmetricLanczos.Result], largest: Matrix, smallest: Matrix) {
        let r = SymmetricLanczos.Result(smallest: ritz(), largest: ritz(), steps: 1)
        return (Array(repeating: r, count: rows), Matrix(zeros: rows, dimension), Matrix(zeros: rows, dimension))
    }
    func lobpcgSmallest(
        rows: Int, dimension: Int, tolerance: Double, scale: [Double], maxSteps: Int, start: Matrix?,
        preconditioner: (Matrix) -> Matrix, apply: (Matrix) -> Matrix
    ) -> (results: [RitzValue], vectors: Matrix) {
        (Array(repeating: ritz(), count: rows), Matrix(zeros: rows, dimension))
    }
    func lobpcgLargestGeneralized(
        rows: Int, dimension: Int, tolerance: Double, nullFloor: [Double], maxSteps: Int, start: Matrix?,
        project: (Matrix) -> Matrix, apply: (Matrix) -> Matrix, applyGram: (Matrix) -> Matrix
    ) -> (results: [RitzValue], vectors: Matrix) {
        (Array(repeating: ritz(), count: rows), Matrix(zeros: rows, dimension))
    }
}

@Suite("Every failure is counted with its cause, never a certificate")
struct FailureReportTests {
    let model = AnalysisFixtures.tanh(d: 6, n: 4)
    let batch = 3

    func analyze(
        dense: any DenseSpectralSolver = LAPACKSpectralSolver(), krylov: any KrylovEigensolver = StandardKrylovEigensolver(),
        spectra: SpectraRoute = .dense, stackedLimit: Int = 0, model: ImplicitModel? = nil
    ) throws -> AnalysisResult {
        let model = model ?? self.model
        let configuration = try AnalysisConfiguration(
            ks: [1, 3], lambdas: [0.5, 1.0], estimators: [.upg, .npg, .jfb],
            adjoint: try AdjointSolver(method: .lu, tolerance: 1e-11), certificateSamples: batch,
            stackedLimit: stackedLimit, spectra: spectra)
        let (x, y) = AnalysisFixtures.inputs(model, batch: batch)
        return try Analyzer(configuration, denseSolver: dense, krylovSolver: krylov)
            .analyze(model: model, inputs: x, targets: y, solver: AnalysisFixtures.solver)
    }

    /// Every value of `grid` is NaN and its status grid holds `code`.
    func expectFailed(_ values: CellGrid, _ status: CellGrid, _ code: ValueStatus.Code, estimators: [Int]) {
        for e in estimators {
            for l in 0..<values.lambdas {
                for k in 0..<values.ks {
                    for s in 0..<values.samples {
                        #expect(values[e, l, k, s].isNaN)
                        #expect(status[e, l, k, s] == codeIndex(code))
                    }
                }
            }
        }
    }

    @Test("dense route: a failing dsygvd leaves ρ* not computed in every cell, counted, named, never < 1")
    func denseGeneralized() throws {
        let r = try analyze(dense: FailingDenseSolver(failing: [.generalized]))
        // Only the Neumann family's ρ* uses dsygvd here (σ_min > 0; UPG's too): every cell of every family.
        expectFailed(r.certificates.rhoStar, r.certificates.rhoStarStatus, .lapackFailure, estimators: [0, 1, 2])
        #expect(r.failures.count(.rhoStar) == 3 * 2 * 2 * batch)
        #expect(r.failures.entries.first?.example.contains("dsygvd") == true)
        // The other values are still computed.
        #expect(r.certificates.errorNorm.values.allSatisfy { $0.isFinite })
        let summary = AnalysisSummary(series: [SeriesEntry(path: "m", sha256: "", epoch: nil, step: nil, result: r)], output: "o")
        #expect(summary.checkpoints[0].estimators.allSatisfy { $0.rhoStarBelowOne == nil })
        #expect(summary.checkpoints[0].failures.map(\.cause) == ["LAPACK failure"])
    }

    @Test("dense route: UPG's κ eigendecomposition failing yields not computed for UPG only, with the LAPACK cause")
    func upgKappa() throws {
        let r = try analyze(dense: FailingDenseSolver(failing: [.symmetricVectors]))
        expectFailed(r.certificates.errorNorm, r.certificates.errorNormStatus, .lapackFailure, estimators: [0])
        expectFailed(r.certificates.ascentMargin, r.certificates.ascentMarginStatus, .lapackFailure, estimators: [0])
        for e in 0..<3 { for s in 0..<batch { #expect(r.certificates.theorem1[e, 0, 0, s].isNaN == (e == 0)) } }
        #expect(r.failures.count(.errorNorm) == 2 * 2 * batch)
        #expect(r.certificates.errorNorm.values.enumerated().allSatisfy { $0.element.isFinite == ($0.offset >= 2 * 2 * batch) })
    }

    @Test("dense route: a failing dsyevd on G makes σ(M) and every certificate not computed, each counted, none claimed")
    func denseSigma() throws {
        // resmlp: its Gram has no closed form, so σ(M) comes from dsyevd (tanh's diagonal Gram gives it from its entries).
        let r = try analyze(
            dense: FailingDenseSolver(failing: [.symmetricValues]), model: AnalysisFixtures.resmlp(d: 6, n: 4, m: 8, seed: 2))
        #expect(r.spectra.allSatisfy { $0.sigmaMin.isNaN && !$0.sigmaMinConverged })
        #expect(r.failures.count(.sigmaMin) == batch && r.failures.count(.sigmaMax) == batch)
        expectFailed(r.certificates.errorNorm, r.certificates.errorNormStatus, .notComputed, estimators: [0, 1, 2])
        #expect(r.certificates.theorem1.values.allSatisfy { $0.isNaN })
        #expect(r.failures.entries.contains { $0.quantity == .errorNorm && $0.example.contains("dsyevd") })
    }

    @Test("dense route: failing dgeev and dgesdd make ρ(J), ‖J‖₂ and ‖B^k‖₂ LAPACK failures, not tolerance misses")
    func denseSpectra() throws {
        let r = try analyze(dense: FailingDenseSolver(failing: [.general, .svd]))
        #expect(r.spectra.allSatisfy { $0.spectralRadius.isNaN && $0.spectralRadiusStatus.code == .lapackFailure })
        #expect(r.spectra.allSatisfy { $0.powerNormStatus.joined().allSatisfy { $0.code == .lapackFailure } })
        #expect(r.failures.count(.spectralRadius) == batch && r.failures.count(.powerNorm) == batch * 2 * 2)
        let detail = AnalysisSummary(series: [SeriesEntry(path: "m", sha256: "", epoch: nil, step: nil, result: r)], output: "o")
            .checkpoints[0].unconvergedSpectraDetail
        #expect(detail.first?.contains("LAPACK failure") == true && detail.first?.contains("residual") == false)
    }

    @Test("matrix-free route: a Krylov breakdown or a tolerance miss is counted per value and stored as not ok", arguments: [true, false])
    func matrixFree(breakdown: Bool) throws {
        let r = try analyze(krylov: BrokenKrylov(breakdown: breakdown), spectra: .iterative)
        let code: ValueStatus.Code = breakdown ? .breakdown : .notConverged
        expectFailed(r.certificates.errorNorm, r.certificates.errorNormStatus, code, estimators: [0, 1, 2])
        expectFailed(r.certificates.ascentMargin, r.certificates.ascentMarginStatus, code, estimators: [0, 1, 2])
        #expect(r.failures.count(.errorNorm) == 3 * 2 * 2 * batch)
        #expect(r.failures.count(.powerNorm) == 2 * 2 * batch)
        #expect(r.failures.entries.contains { $0.code == code && $0.example.contains(breakdown ? "breakdown" : "residual 3.00e-03") })
        #expect(r.certificates.theorem1.values.allSatisfy { $0.isNaN })
    }

    @Test("stacked route: a failing dsygvd leaves the stacked ρ* not computed and counted; UPG's missing form is not a failure")
    func stacked() throws {
        let r = try analyze(dense: FailingDenseSolver(failing: [.generalized]), stackedLimit: 512)
        let stacked = try #require(r.stacked)
        #expect(stacked.certificates.rhoStar.values.allSatisfy { $0.isNaN })
        #expect(r.failures.count(.stackedRhoStar) == 2 * 2 * 2)
        #expect(r.failures.count(.stackedErrorNorm) == 0)
    }

    @Test("the results file stores each value's status beside it")
    func storedStatus() throws {
        let r = try analyze(dense: FailingDenseSolver(failing: [.generalized]))
        let path = makeTemporaryFolder() + "/r.h5"
        try ResultsFile.write(
            [SeriesEntry(path: "m", sha256: "", epoch: nil, step: nil, result: r)], sampleIndices: Array(0..<batch),
            to: path, overwrite: false, attributes: [:])
        let data = try ResultsData.read(path)
        let lapack = codeIndex(.lapackFailure), ok = codeIndex(.ok)
        #expect(data.cell(.rhoStarStatus, series: 0, estimator: 1, lambda: 0, k: 1) == Array(repeating: lapack, count: batch))
        #expect(data.cell(.errorNormStatus, series: 0, estimator: 1, lambda: 0, k: 1) == Array(repeating: ok, count: batch))
        #expect(data.perSample(.sigmaMinStatus, series: 0) == Array(repeating: ok, count: batch))
    }

    @Test("a prefix of the stages runs alone and gives what the whole analysis gives")
    func stagePrefix() throws {
        let configuration = AnalysisFixtures.configuration(ks: [1, 2], lambdas: [0.5])
        let (x, y) = AnalysisFixtures.inputs(model, batch: batch)
        let whole = try Analyzer(configuration).analyze(model: model, inputs: x, targets: y, solver: AnalysisFixtures.solver)
        let problem = ForwardSolveStage(solver: AnalysisFixtures.solver).run(model: model, inputs: x, targets: y)
        let exact = ExactGradientStage(adjoint: configuration.adjoint).run(problem)
        let measured = try BLASInfo.withThreads(1) {
            try MeasurementStage(ks: configuration.ks, lambdas: configuration.lambdas, estimators: configuration.estimators, route: .dense)
                .run(problem, exact: exact)
        }
        #expect(measured.metrics.cosine.values == whole.metrics.cosine.values)
        #expect(exact.adjoint.relativeResiduals == whole.adjointResidual)
    }
}

/// The index a results grid stores for a status code.
func codeIndex(_ code: ValueStatus.Code) -> Double { Double(ValueStatus.Code.allCases.firstIndex(of: code)!) }
