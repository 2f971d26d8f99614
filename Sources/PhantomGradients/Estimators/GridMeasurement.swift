import Foundation
import PhantomLinearAlgebra
import PhantomModel

/// What every family's measurement shares for one batch: the problem, the exact gradient it is measured
/// against, the per-sample Grams G_M = M Mᵀ, the grid, and the Neumann grid engine's results (computed once
/// per λ list and shared by NPG, RBP, JFB and any family built from the Neumann series).
///
/// Not thread-safe: one measurement is used by one thread at a time.
public final class GridMeasurement: @unchecked Sendable {
    public let problem: GradientProblem
    /// The exact gradient: batch mean, and the adjoint solutions W (rows w_i) as its state cotangents.
    public let exact: GradientEstimate
    public let grams: [ParameterGram]
    /// Steps k, ascending.
    public let ks: [Int]
    public let lambdas: [Double]
    /// Called with (done, in all) by families whose measurement is long (UPG: one report per λ).
    public let progress: (@Sendable (Int, Int) -> Void)?
    /// The families' settings beyond (k, λ) (SHINE's fallback, the truncated adjoints' stopping rule).
    public let settings: EstimatorSettings
    /// Families also return each cell's batch-mean estimate in R^p (``MeasuredGrid/batchMeans``): the analysis streams a
    /// checkpoint's samples in several blocks and forms the batch-mean metrics from the blocks' means.
    public let keepsBatchMeans: Bool

    private var krylovGrams: NPGKrylovGrams?
    private var exactFactors: (factors: ParameterFactors, squared: [Double])?
    private var neumann: [[Double]: NPGGridResult] = [:]

    public init(
        problem: GradientProblem, exact: GradientEstimate, grams: [ParameterGram], ks: [Int], lambdas: [Double],
        progress: (@Sendable (Int, Int) -> Void)? = nil, settings: EstimatorSettings = .standard, keepsBatchMeans: Bool = false
    ) {
        precondition(exact.stateCotangents != nil, "the exact gradient carries its adjoint solutions")
        self.problem = problem
        self.exact = exact
        self.grams = grams
        self.ks = ks
        self.lambdas = lambdas
        self.progress = progress
        self.settings = settings
        self.keepsBatchMeans = keepsBatchMeans
    }

    public var maxK: Int { ks.last ?? 1 }
    public var batchSize: Int { problem.batchSize }

    /// Every NPG(k, λ), k = 1 … max k, for the given λ list (``NPGGrid``), computed once; the λ-free Krylov
    /// Grams behind it are computed once for all λ lists.
    public func neumannGrid(lambdas: [Double]) throws -> NPGGridResult {
        if let cached = neumann[lambdas] { return cached }
        let grid = try NPGGrid(maxSteps: maxK, lambdas: lambdas)
        let grams =
            krylovGrams
            ?? NPGGrid.krylovGrams(
                maxSteps: maxK, problem, exact: exact.stateCotangents!, grams: self.grams, keepBatchVectors: keepsBatchMeans)
        krylovGrams = grams
        let result = grid.cells(grams)
        neumann[lambdas] = result
        return result
    }

    /// A grid read off a Neumann grid: grid cell (l, kk) takes the engine's cell (`lambda(l)`, `k(kk)`), where
    /// `k` returns the number of steps (≥ 1).
    public func reading(_ grid: NPGGridResult, lambda: (Int) -> Int, k: (Int) -> Int) -> MeasuredGrid {
        let cells = lambdas.indices.map { l in ks.indices.map { kk in (lambda(l), k(kk) - 1) } }
        return MeasuredGrid(
            perSample: grid.perSample.map { sample in cells.map { row in row.map { sample[$0.0][$0.1] } } },
            batch: grid.batch.map { batch in cells.map { row in row.map { batch[$0.0][$0.1] } } },
            batchMeans: grid.batchMeans.map { means in cells.map { row in row.map { means[$0.0][$0.1] } } })
    }

    /// The metrics of ĝ_i = M_iᵀ w_i for state cotangents W (rows w_i): per sample ⟨ĝ, ∇⟩, ‖ĝ‖², ‖∇‖² and ‖ĝ − ∇‖² from
    /// the parameter factors of W, W* and W − W* (``ParameterFactors``, never forming the B × p gradients), and the
    /// batch mean's by one parameter VJP (returned too: (1/B) Σ_i M_iᵀ w_i).
    public func compare(stateCotangents w: Matrix) -> (perSample: [GradientMetrics], batch: GradientMetrics, batchMean: [Double]) {
        let lin = problem.linearization, exactW = exact.stateCotangents!
        let (exactFactors, exactSquared) =
            self.exactFactors
            ?? {
                let f = lin.parameterFactors(exactW)
                return (f, f.rowInnerProducts(f))
            }()
        self.exactFactors = (exactFactors, exactSquared)
        var difference = w
        BLAS.axpy(-1, exactW.elements, &difference.elements)
        let f = lin.parameterFactors(w), e = lin.parameterFactors(difference)
        let inner = f.rowInnerProducts(exactFactors), squared = f.rowInnerProducts(f), differences = e.rowInnerProducts(e)
        let perSample = (0..<batchSize).map { i in
            GradientMetrics.fromInnerProducts(
                inner: inner[i], estimateSquared: squared[i], exactSquared: exactSquared[i], differenceSquared: differences[i])
        }
        let estimate = GradientEstimate(stateCotangents: w, problem: problem, perSample: false)
        return (perSample, GradientMetrics.compare(estimate.batchMean, exact.batchMean), estimate.batchMean)
    }
}
