/// An eigenvalue estimate from a Krylov method, with its pedigree: an error bound and whether it met the tolerance.
public struct RitzValue: Sendable, Equatable {
    public let value: Double
    /// r = ‖A x − θ x‖ for the unit Ritz vector x: for a symmetric A some eigenvalue λ has |θ − λ| ≤ r. (The sharper
    /// r²/gap needs the true gap; with the Ritz gap in its place it claimed convergence 70× too early in a test, so
    /// it is not used.)
    public let residual: Double
    public let converged: Bool

    public init(value: Double, residual: Double, converged: Bool) {
        (self.value, self.residual, self.converged) = (value, residual, converged)
    }

    /// A failed estimate (breakdown on a non-finite vector): NaN, not converged.
    public static let failed = RitzValue(value: .nan, residual: .nan, converged: false)
}

/// The extreme eigenvalues of a symmetric matrix-free operator by Lanczos with full reorthogonalisation:
/// A V_m = V_m T_m + β_m v_{m+1} e_mᵀ, Ritz pairs (θ_i, V_m y_i) from T_m, residuals β_m |e_mᵀ y_i|.
///
/// Stops when both extreme Ritz values θ have residual ≤ max(tolerance·|θ|, floor·max|θ|) (checked every few steps;
/// `floor` defaults to the tolerance, i.e. accuracy relative to the largest), when the Krylov
/// space becomes invariant (β ≈ 0: exact) or at m = min(maxSteps, n). A non-finite vector (a diverged model) stops it
/// with both values ``RitzValue/failed``. Complexity: m applications of A, O(m² n) for the reorthogonalisation,
/// O(m³) per check for the m×m eigenproblem.
public enum SymmetricLanczos {
    public struct Result: Sendable {
        public let smallest: RitzValue
        public let largest: RitzValue
        public let steps: Int
    }

    public static func extremes<Op: LinearOperator>(_ a: Op, tolerance: Double = 1e-10, floor: Double? = nil, maxSteps: Int = 300,
                                                    seed: UInt64 = 0x1a2c05) -> Result {
        let floor = floor ?? tolerance
        let n = a.inputDimension
        precondition(n == a.outputDimension, "Lanczos needs a square operator")
        if n == 0 { return Result(smallest: RitzValue(value: 0, residual: 0, converged: true), largest: RitzValue(value: 0, residual: 0, converged: true), steps: 0) }
        let m = min(maxSteps, n)
        var rng = SplitMix64(seed: seed)
        var v = (0..<n).map { _ in rng.nextGaussian() }
        BLAS.scal(1 / BLAS.nrm2(v), &v)
        var basis = [v]
        var alphas: [Double] = [], betas: [Double] = []
        var w = [Double](repeating: 0, count: n)
        var last: Result?
        for j in 0..<m {
            a.apply(basis[j], into: &w)
            guard w.allSatisfy(\.isFinite) else { return Result(smallest: .failed, largest: .failed, steps: j) }
            // Full reorthogonalisation, twice ("twice is enough").
            var alpha = 0.0
            for _ in 0..<2 {
                for i in 0...j {
                    let c = BLAS.dot(w, basis[i])
                    if i == j { alpha += c }
                    BLAS.axpy(-c, basis[i], &w)
                }
            }
            alphas.append(alpha)
            let beta = BLAS.nrm2(w)
            let scale = max(alphas.map(abs).max() ?? 0, betas.max() ?? 0, 1e-300)
            // Invariant subspace, or the whole space (m = n): the Ritz values are the eigenvalues.
            let invariant = beta <= 1e-13 * scale || j + 1 == n
            let done = invariant || j + 1 == m
            if done || (j + 1) % 5 == 0 {
                let result = ritz(alphas, betas, beta: invariant ? 0 : beta, tolerance: tolerance, floor: floor, steps: j + 1)
                last = result
                if done || (result.smallest.converged && result.largest.converged) { return result }
            }
            betas.append(beta)
            BLAS.scal(1 / beta, &w)
            basis.append(w)
        }
        return last ?? Result(smallest: .failed, largest: .failed, steps: m)
    }

    /// The extreme Ritz pairs of the tridiagonal T (diagonal `alphas`, off-diagonal `betas`) with residuals β |e_mᵀ y|.
    static func ritz(_ alphas: [Double], _ betas: [Double], beta: Double, tolerance: Double, floor: Double, steps: Int) -> Result {
        let m = alphas.count
        var t = Matrix(zeros: m, m)
        for i in 0..<m {
            t[i, i] = alphas[i]
            if i + 1 < m { t[i, i + 1] = betas[i]; t[i + 1, i] = betas[i] }
        }
        guard let eigen = try? SymmetricEigen(t), let y = eigen.vectors, let low = eigen.values.first, let high = eigen.values.last else {
            return Result(smallest: .failed, largest: .failed, steps: steps)
        }
        let scale = max(abs(low), abs(high), 1e-300)
        func pair(_ index: Int) -> RitzValue {
            let r = beta * abs(y[m - 1, index])
            return RitzValue(value: eigen.values[index], residual: r,
                             converged: r <= max(tolerance * abs(eigen.values[index]), floor * scale))
        }
        return Result(smallest: pair(0), largest: pair(m - 1), steps: steps)
    }
}
