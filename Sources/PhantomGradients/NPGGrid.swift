import Foundation
import PhantomLinearAlgebra
import PhantomModel

/// Every NPG(k, λ) for k = 1 … K and a list of λ, compared with the exact gradient, from K batched state
/// VJPs (docs/Theory.md §4). The derivation, its error bound and its cost are in docs/NPGGridResidualIdentity.md.
///
/// docs/Theory.md §4 expands NPG in the Krylov vectors of g and reads each cell off the K×K Gram of
/// q_j = Mᵀ(Jᵀ)^j g; the relative error then comes out as cᵀGc − 2cᵀa + ‖∇‖², which cancels
/// catastrophically once the error is small. This engine uses the residual identity instead
/// (docs/Theory.md §2, identity 3, **derived**):
///
///     NPG(k, λ) − ∇ = −Mᵀ (Bᵀ)^k w = −Mᵀ Σ_{j=0}^{k} β_j(k, λ) u_j,
///     u_j = (Jᵀ)^j w,   β_j(k, λ) = C(k, j) λ^j (1 − λ)^{k−j}
///
/// so with e = ĝ − ∇ every cell follows from the (K+1)×(K+1) Gram P_ij = ⟨Mᵀu_i, Mᵀu_j⟩ (P_00 = ‖∇‖²):
/// ‖ĝ − ∇‖² = βᵀPβ (positive weights: no cancellation), ⟨ĝ, ∇⟩ = ‖∇‖² − (Pβ)_0 and
/// ‖ĝ‖² = ‖∇‖² − 2(Pβ)_0 + βᵀPβ. Per sample, P = Uᵀ G_M U through the d×d Gram G_M = M Mᵀ — no
/// parameter-space vector; for the batch mean, p_j = (1/B) Σ_i M_iᵀ u_{j,i} are formed in R^p (one fused
/// parameter VJP).
///
/// Error Bounds: the identity holds up to the adjoint residual r = g − (I − Jᵀ)w, an error of 𝒜r in ĝ;
/// with the default adjoint tolerance (1e-10 relative) that is far below the metrics' precision, and an
/// unconverged adjoint is flagged by the exact gradient's pedigree anyway.
///
/// Complexity: K batched state VJPs (one pass of NPG(K, λ) costs K − 1), plus per sample O(K d) for a
/// diagonal G_M (O(K d²) dense) and O(K² |Λ|) for the cells.
public struct NPGGrid: Sendable {
    public let maxSteps: Int
    public let lambdas: [Double]

    /// - Throws: ``ConfigurationError`` unless K ≥ 1, the λ list is non-empty and every λ ∈ (0, 1].
    public init(maxSteps K: Int, lambdas: [Double]) throws(ConfigurationError) {
        guard K >= 1 else { throw ConfigurationError("the grid needs K ≥ 1, got \(K)") }
        guard !lambdas.isEmpty else { throw ConfigurationError("the grid needs at least one λ") }
        for lambda in lambdas where !(lambda > 0 && lambda <= 1) {
            throw ConfigurationError("λ must lie in (0, 1], got \(lambda)")
        }
        maxSteps = K
        self.lambdas = lambdas
    }

    /// β_j(k, λ) = C(k, j) λ^j (1 − λ)^{k−j} for k = 0 … K (rows) and j = 0 … K (columns): row k holds
    /// the weights of (Bᵀ)^k = Σ_j β_j (Jᵀ)^j. Built by the stable recurrence of the binomial distribution.
    public static func binomialWeights(maxSteps K: Int, lambda: Double) -> Matrix {
        var weights = Matrix(zeros: K + 1, K + 1)
        var pmf = [Double](repeating: 0, count: K + 1)
        pmf[0] = 1
        for k in 0...K {
            if k > 0 {
                for j in stride(from: k, through: 1, by: -1) { pmf[j] = (1 - lambda) * pmf[j] + lambda * pmf[j - 1] }
                pmf[0] *= (1 - lambda)
            }
            weights.setRow(k, pmf)
        }
        return weights
    }

    /// The metrics of every cell. `exact` is the adjoint solution W (rows w_i) behind ∇.
    public func evaluate(
        _ problem: GradientProblem, exact w: Matrix, grams: [ParameterGram],
        includeBatch: Bool = true
    ) -> NPGGridResult {
        cells(Self.krylovGrams(maxSteps: maxSteps, problem, exact: w, grams: grams, includeBatch: includeBatch))
    }

    /// The part of the grid that does not depend on λ: the Krylov vectors u_j = (Jᵀ)^j w, j = 0 … K (K batched
    /// state VJPs), and from them every Gram P, per sample and for the batch mean. `grams` empty: the per-sample P
    /// from factored parameter VJPs, without any d×d Gram (the matrix-free route). Families that read different
    /// λ lists off the grid share it (``GridMeasurement``).
    /// `keepBatchVectors`: also keep the batch means p_j = (1/B) Σ_i M_iᵀ u_{j,i} themselves ((K+1)×p), from which
    /// ``cells(_:)`` forms every cell's batch-mean estimate in R^p.
    public static func krylovGrams(
        maxSteps k: Int, _ problem: GradientProblem, exact w: Matrix, grams: [ParameterGram],
        includeBatch: Bool = true, keepBatchVectors: Bool = false
    ) -> NPGKrylovGrams {
        let b = problem.batchSize
        // Krylov vectors of the adjoint, batched: U_j = (Jᵀ)^j W, j = 0 … K.
        var krylov = [w]
        for _ in 0..<k { krylov.append(problem.linearization.stateVJP(krylov[krylov.count - 1])) }
        let perSample = grams.isEmpty ? factoredGrams(krylov, problem) : denseGrams(krylov, grams, problem)
        var batch: Matrix? = nil, vectors: Matrix? = nil
        if includeBatch || keepBatchVectors {
            var p = Matrix(rowArrays: problem.linearization.parameterVJPs(krylov))  // (K+1)×p
            BLAS.scal(1 / Double(b), &p.elements)
            if includeBatch { batch = BLAS.gemm(p, p, transposeB: true) }
            if keepBatchVectors { vectors = p }
        }
        return NPGKrylovGrams(maxSteps: k, perSample: perSample, batch: batch, batchVectors: vectors)
    }

    /// P = Uᵀ G_M U per sample through the d×d Grams.
    private static func denseGrams(_ krylov: [Matrix], _ grams: [ParameterGram], _ problem: GradientProblem) -> [Matrix] {
        let b = problem.batchSize, d = problem.stateDimension, size = krylov.count
        // Sample-major layout: rows i·(K+1) … hold u_{0,i}, …, u_{K,i} contiguously.
        var layout = [Double](repeating: 0, count: b * size * d)
        layout.withUnsafeMutableBufferPointer { dst in
            for j in 0..<size {
                krylov[j].elements.withUnsafeBufferPointer { src in
                    for i in 0..<b {
                        let from = i * d, to = (i * size + j) * d
                        for r in 0..<d { dst[to + r] = src[from + r] }
                    }
                }
            }
        }
        let sampleMajor = layout
        // Samples are independent: split them over the cores (each call's small GEMMs run single-threaded).
        return Parallel.map(b) { i -> Matrix in
            let u = Matrix(rows: size, columns: d, elements: Array(sampleMajor[(i * size * d)..<((i + 1) * size * d)]))
            if case .diagonal(let g) = grams[i], g.allSatisfy({ $0 >= 0 }) {
                return BLAS.syrk(u.scalingColumns(by: g.map { $0.squareRoot() }))
            }
            return BLAS.gemm(grams[i].applyToRows(u), u, transposeB: true)
        }
    }

    /// Matrix-free (no d×d Gram): P_jl = ⟨Mᵀu_j, Mᵀu_l⟩ per sample from the factored parameter VJPs of the K + 1
    /// Krylov batches (``ParameterFactors``), O(K² (out + in)) per Linear layer and sample.
    private static func factoredGrams(_ krylov: [Matrix], _ problem: GradientProblem) -> [Matrix] {
        let b = problem.batchSize, size = krylov.count
        let factors = krylov.map { problem.linearization.parameterFactors($0) }
        var entries = [[Double]](repeating: [Double](repeating: 0, count: size * size), count: b)
        for j in 0..<size {
            for l in j..<size {
                let dots = factors[j].rowInnerProducts(factors[l])
                for i in 0..<b { entries[i][j * size + l] = dots[i]; entries[i][l * size + j] = dots[i] }
            }
        }
        return entries.map { Matrix(rows: size, columns: size, elements: $0) }
    }

    /// Every cell of this grid's λ list from the Grams (O(K² |Λ|) per sample).
    public func cells(_ grams: NPGKrylovGrams) -> NPGGridResult {
        precondition(grams.maxSteps == maxSteps, "Grams for K = \(grams.maxSteps), grid K = \(maxSteps)")
        let k = maxSteps
        // Row l·K + (k − 1) holds β(k, λ_l) over j = 0 … K.
        let stacked = Matrix(
            rowArrays: lambdas.flatMap { lambda in
                let beta = Self.binomialWeights(maxSteps: k, lambda: lambda)
                return (1...k).map { beta.row($0) }
            })
        let lambdaCount = lambdas.count
        @Sendable func split(_ metrics: [GradientMetrics]) -> [[GradientMetrics]] {
            (0..<lambdaCount).map { Array(metrics[($0 * k)..<(($0 + 1) * k)]) }
        }
        let perSample = Parallel.map(grams.perSample.count) { i in split(Self.cells(stacked, grams.perSample[i])) }
        let batch = grams.batch.map { split(Self.cells(stacked, $0)) }
        // ĝ = ∇ − e = p_0 − Σ_j β_j p_j per cell: rows of (e_0 − β) P.
        let means = grams.batchVectors.map { p -> [[[Double]]] in
            var coefficients = stacked
            BLAS.scal(-1, &coefficients.elements)
            for r in 0..<coefficients.rows { coefficients[r, 0] += 1 }
            let rows = BLAS.gemm(coefficients, p)
            return (0..<lambdaCount).map { l in (0..<k).map { rows.row(l * k + $0) } }
        }
        return NPGGridResult(maxSteps: k, lambdas: lambdas, perSample: perSample, batch: batch, batchMeans: means)
    }

    /// Every cell from P: with e = Σ β_j Mᵀu_j, ‖e‖² = βᵀPβ, ⟨e, ∇⟩ = (Pβ)_0, ĝ = ∇ − e.
    private static func cells(_ beta: Matrix, _ gram: Matrix) -> [GradientMetrics] {
        let exactSquared = gram[0, 0]
        let t = BLAS.gemm(beta, gram)  // rows: (Pβ)ᵀ
        var errorSquares = [Double](repeating: 0, count: beta.rows)
        var dotExact = [Double](repeating: 0, count: beta.rows)
        t.elements.withUnsafeBufferPointer { tp in
            beta.elements.withUnsafeBufferPointer { bp in
                let n = beta.columns
                for r in 0..<beta.rows {
                    var s = 0.0
                    for j in 0..<n { s += tp[r * n + j] * bp[r * n + j] }
                    errorSquares[r] = s
                    dotExact[r] = tp[r * n]
                }
            }
        }
        return (0..<beta.rows).map { r in
            let errorSquared = max(errorSquares[r], 0)
            let errorDotExact = dotExact[r]
            let inner = exactSquared - errorDotExact
            let estimateSquared = exactSquared - 2 * errorDotExact + errorSquared
            return GradientMetrics.fromInnerProducts(
                inner: inner, estimateSquared: estimateSquared,
                exactSquared: exactSquared, differenceSquared: errorSquared)
        }
    }
}

/// The λ-free part of an ``NPGGrid``: P_ij = ⟨Mᵀu_i, Mᵀu_j⟩, i, j = 0 … K, per sample and for the batch mean.
public struct NPGKrylovGrams: Sendable {
    public let maxSteps: Int
    public let perSample: [Matrix]
    public let batch: Matrix?
    /// The batch means p_j (rows), when kept.
    public var batchVectors: Matrix? = nil
}

/// The grid's metrics: `perSample[i][l][k − 1]` and `batch[l][k − 1]` for λ = `lambdas[l]`.
public struct NPGGridResult: Sendable {
    public let maxSteps: Int
    public let lambdas: [Double]
    public let perSample: [[[GradientMetrics]]]
    public let batch: [[GradientMetrics]]?
    /// Each cell's batch-mean estimate in R^p, `batchMeans[l][k − 1]`, when the Grams kept their vectors.
    public var batchMeans: [[[Double]]]? = nil
}
