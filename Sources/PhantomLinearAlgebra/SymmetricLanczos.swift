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

        public init(smallest: RitzValue, largest: RitzValue, steps: Int) {
            (self.smallest, self.largest, self.steps) = (smallest, largest, steps)
        }
    }

    /// One process of ``BatchedLanczos`` on a matrix-free operator; `needed` says which extreme must converge before it
    /// stops (the other is reported with its own residual and flag).
    public static func extremes<Op: LinearOperator>(
        _ a: Op, tolerance: Double = 1e-10, floor: Double? = nil, maxSteps: Int = 300,
        seed: UInt64 = 0x1a2c05, needed: BatchedLanczos.Needed = .both
    ) -> Result {
        let n = a.inputDimension
        precondition(n == a.outputDimension, "Lanczos needs a square operator")
        return BatchedLanczos.extremesWithVectors(
            rows: 1, dimension: n, tolerance: tolerance, floor: floor, maxSteps: maxSteps,
            seed: seed, needed: needed, wantVectors: false
        ) { v in
            var y = [Double](repeating: 0, count: n)
            a.apply(v.elements, into: &y)
            return Matrix(rows: 1, columns: n, elements: y)
        }.results[0]
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
            return RitzValue(
                value: eigen.values[index], residual: r,
                converged: r <= max(tolerance * abs(eigen.values[index]), floor * scale))
        }
        return Result(smallest: pair(0), largest: pair(m - 1), steps: steps)
    }
}
