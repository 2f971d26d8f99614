import PhantomLinearAlgebra
import PhantomModel

/// Every NPG(k, λ) for k = 1 … K and a list of λ, compared with the exact gradient, from K − 1 batched
/// state VJPs (THEORY.md §4).
///
/// With Krylov vectors v_j = (Jᵀ)^j g,
///
///     NPG(k, λ) = Mᵀ Σ_{j<k} c_j(k, λ) v_j,   c_j(k, λ) = λ Σ_{t=j}^{k−1} C(t, j) λ^j (1 − λ)^{t−j}
///
/// so each cell's inner product with ∇ = Mᵀw and its norm follow from the K×K Gram ⟨q_i, q_j⟩ and the
/// K numbers ⟨q_j, ∇⟩. Per sample these come from the d×d Gram G_M = M Mᵀ — no parameter-space vector:
/// ⟨q_i, q_j⟩ = (Vᵀ G_M V)_ij, ⟨q_j, ∇⟩ = (Vᵀ G_M w)_j, ‖∇‖² = wᵀ G_M w. For the batch mean the K
/// projections q_j = (1/B) Σ_i M_iᵀ v_{j,i} are formed in R^p (K parameter VJPs).
///
/// Error Bounds: ‖ĝ − ∇‖² = cᵀGc − 2cᵀa + ‖∇‖² loses digits when the relative error is small; cells whose
/// relative error falls below ``cancellationThreshold`` are recomputed from the difference vector
/// (Σ c_j v_j − w in state space through G_M, or in R^p for the batch), which has no cancellation.
///
/// Complexity: K − 1 batched state VJPs, plus per sample O(K d²) (O(K d) for a diagonal G_M) and
/// O(K² |Λ|) for the cells.
public struct NPGGrid: Sendable {
    public let maxSteps: Int
    public let lambdas: [Double]
    /// Relative errors below this are recomputed without cancellation (default 1e-2).
    public let cancellationThreshold: Double

    /// - Throws: ``ConfigurationError`` unless K ≥ 1, the λ list is non-empty and every λ ∈ (0, 1].
    public init(maxSteps K: Int, lambdas: [Double], cancellationThreshold: Double = 1e-2) throws(ConfigurationError) {
        guard K >= 1 else { throw ConfigurationError("the grid needs K ≥ 1, got \(K)") }
        guard !lambdas.isEmpty else { throw ConfigurationError("the grid needs at least one λ") }
        for lambda in lambdas where !(lambda > 0 && lambda <= 1) {
            throw ConfigurationError("λ must lie in (0, 1], got \(lambda)")
        }
        maxSteps = K
        self.lambdas = lambdas
        self.cancellationThreshold = cancellationThreshold
    }

    /// c_j(k, λ) for k = 1 … K (rows) and j = 0 … K − 1 (columns; zero for j ≥ k).
    public static func coefficients(maxSteps K: Int, lambda: Double) -> Matrix {
        var c = Matrix(zeros: K, K)
        var pmf = [Double](repeating: 0, count: K)  // C(t, j) λ^j (1 − λ)^{t−j} for the current t
        pmf[0] = 1
        var cumulative = [Double](repeating: 0, count: K)
        for t in 0..<K {
            if t > 0 {
                for j in stride(from: t, through: 1, by: -1) { pmf[j] = (1 - lambda) * pmf[j] + lambda * pmf[j - 1] }
                pmf[0] *= (1 - lambda)
            }
            for j in 0...t { cumulative[j] += pmf[j] }
            for j in 0...t { c[t, j] = lambda * cumulative[j] }  // row t is k = t + 1
        }
        return c
    }

    /// The metrics of every cell. `exact` is the adjoint solution W (rows w_i) behind ∇.
    public func evaluate(_ problem: GradientProblem, exact w: Matrix, grams: [ParameterGram],
                         includeBatch: Bool = true) -> NPGGridResult {
        let b = problem.batchSize, k = maxSteps
        // Krylov vectors, batched: V_j = (Jᵀ)^j G.
        var krylov = [problem.cotangents]
        for _ in 1..<k { krylov.append(problem.linearization.stateVJP(krylov[krylov.count - 1])) }
        let coefficients = lambdas.map { Self.coefficients(maxSteps: k, lambda: $0) }

        var perSample = [[[GradientMetrics]]](repeating: [], count: b)  // [sample][λ][k−1]
        var recomputed = 0
        for i in 0..<b {
            var v = Matrix(zeros: k, problem.stateDimension)
            for j in 0..<k { v.setRow(j, krylov[j].row(i)) }
            let wi = w.row(i)
            let gram = grams[i]
            let vg = gram.applyToRows(v)                                  // V G_M (K×d)
            let qGram = BLAS.gemm(vg, v, transposeB: true)                // ⟨q_i, q_j⟩
            let a = vg * wi                                               // ⟨q_j, ∇⟩
            let exactSquared = gram.inner(wi, wi)                         // ‖∇‖²
            perSample[i] = coefficients.map { c in
                (0..<k).map { step in
                    let row = Array(c.row(step)[0...step])
                    let metrics = Self.cell(row, qGram, a, exactSquared) { [cancellationThreshold] m in
                        guard m.relativeError < cancellationThreshold else { return nil }
                        var diff = wi.map { -$0 }
                        for j in 0...step { BLAS.axpy(row[j], v.row(j), &diff) }
                        return gram.inner(diff, diff)
                    }
                    if metrics.recomputed { recomputed += 1 }
                    return metrics.value
                }
            }
        }

        var batch: [[GradientMetrics]]? = nil
        if includeBatch {
            let q = Matrix(rowArrays: krylov.map { problem.batchMeanGradient($0) })   // K×p
            let exact = problem.batchMeanGradient(w)
            let qGram = BLAS.gemm(q, q, transposeB: true)
            let a = q * exact
            let exactSquared = BLAS.dot(exact, exact)
            batch = coefficients.map { c in
                (0..<k).map { step in
                    let row = Array(c.row(step)[0...step])
                    let metrics = Self.cell(row, qGram, a, exactSquared) { [cancellationThreshold] m in
                        guard m.relativeError < cancellationThreshold else { return nil }
                        var diff = exact.map { -$0 }
                        for j in 0...step { BLAS.axpy(row[j], q.row(j), &diff) }
                        return BLAS.dot(diff, diff)
                    }
                    if metrics.recomputed { recomputed += 1 }
                    return metrics.value
                }
            }
        }
        return NPGGridResult(maxSteps: k, lambdas: lambdas, perSample: perSample, batch: batch,
                             recomputedCells: recomputed)
    }

    /// One cell from the Gram route; `direct` returns ‖ĝ − ∇‖² without cancellation when it is needed.
    private static func cell(_ c: [Double], _ qGram: Matrix, _ a: [Double], _ exactSquared: Double,
                             direct: (GradientMetrics) -> Double?) -> (value: GradientMetrics, recomputed: Bool) {
        var inner = 0.0, estimateSquared = 0.0
        for i in 0..<c.count {
            inner += c[i] * a[i]
            var s = 0.0
            for j in 0..<c.count { s += qGram[i, j] * c[j] }
            estimateSquared += c[i] * s
        }
        let viaGram = GradientMetrics.fromInnerProducts(inner: inner, estimateSquared: estimateSquared, exactSquared: exactSquared)
        guard let differenceSquared = direct(viaGram) else { return (viaGram, false) }
        return (GradientMetrics.fromInnerProducts(inner: inner, estimateSquared: estimateSquared,
                                                  exactSquared: exactSquared, differenceSquared: differenceSquared), true)
    }
}

/// The grid's metrics: `perSample[i][l][k − 1]` and `batch[l][k − 1]` for λ = `lambdas[l]`.
public struct NPGGridResult: Sendable {
    public let maxSteps: Int
    public let lambdas: [Double]
    public let perSample: [[[GradientMetrics]]]
    public let batch: [[GradientMetrics]]?
    /// Cells whose relative error was recomputed from the difference vector.
    public let recomputedCells: Int
}
