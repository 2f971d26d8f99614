/// An estimate of σ_max(A) = ‖A‖₂ with its pedigree.
public struct SpectralNormEstimate: Sendable {
    /// The estimate of σ_max (a lower bound for both methods, up to rounding).
    public let value: Double
    public let iterations: Int
    public let converged: Bool
    /// The convergence measure when iteration stopped: relative change (power) or the Ritz residual
    /// estimate relative to θ (Lanczos).
    public let relativeChange: Double
}

/// Largest singular value of a matrix-free operator, from products with A and Aᵀ only.
///
/// Both methods work on AᵀA, whose largest eigenvalue is σ_max²:
/// - `.power`: v ← AᵀA v/‖AᵀA v‖, σ ≈ ‖A v‖; converges like (σ₂/σ₁)^{2k}.
/// - `.lanczos`: Lanczos tridiagonalisation of AᵀA with full re-orthogonalisation; σ² is the largest
///   Ritz value θ of T_k, stopped when the residual bound β_k |s_k| ≤ tol · θ. Far fewer products than
///   power iteration when σ₁ ≈ σ₂.
///
/// Complexity per iteration: one A and one Aᵀ product; Lanczos adds O(k n) for re-orthogonalisation.
public struct SpectralNormEstimator: Sendable {
    public enum Method: String, Sendable, CaseIterable { case power, lanczos }

    public let method: Method
    public let tolerance: Double
    public let maxIterations: Int
    /// Seed of the deterministic start vector.
    public let seed: UInt64

    /// - Throws: ``ConfigurationError`` when `tolerance` ≤ 0 or `maxIterations` < 1.
    public init(
        method: Method = .lanczos, tolerance: Double = 1e-10, maxIterations: Int = 500,
        seed: UInt64 = 0x5eed
    ) throws(ConfigurationError) {
        guard tolerance > 0, tolerance.isFinite else { throw ConfigurationError("spectral-norm tolerance must be > 0, got \(tolerance)") }
        guard maxIterations >= 1 else { throw ConfigurationError("spectral-norm maxIterations must be ≥ 1, got \(maxIterations)") }
        self.method = method
        self.tolerance = tolerance
        self.maxIterations = maxIterations
        self.seed = seed
    }

    public func estimate<Op: LinearOperator>(_ a: Op) -> SpectralNormEstimate {
        let n = a.inputDimension
        if n == 0 || a.outputDimension == 0 {
            return SpectralNormEstimate(value: 0, iterations: 0, converged: true, relativeChange: 0)
        }
        var rng = SplitMix64(seed: seed)
        var v = (0..<n).map { _ in rng.nextGaussian() }
        BLAS.scal(1 / BLAS.nrm2(v), &v)
        switch method {
        case .power: return power(a, start: v)
        case .lanczos: return lanczos(a, start: v)
        }
    }

    private func power<Op: LinearOperator>(_ a: Op, start: [Double]) -> SpectralNormEstimate {
        var v = start
        var u = [Double](repeating: 0, count: a.outputDimension)
        var w = [Double](repeating: 0, count: a.inputDimension)
        var sigma = 0.0
        var change = Double.infinity
        for k in 1...maxIterations {
            a.apply(v, into: &u)
            let next = BLAS.nrm2(u)
            guard next.isFinite else { return SpectralNormEstimate(value: .nan, iterations: k, converged: false, relativeChange: .nan) }
            change = next == 0 ? 0 : abs(next - sigma) / next
            sigma = next
            if next == 0 { return SpectralNormEstimate(value: 0, iterations: k, converged: true, relativeChange: 0) }
            a.applyTranspose(u, into: &w)
            let wn = BLAS.nrm2(w)
            if wn == 0 { return SpectralNormEstimate(value: sigma, iterations: k, converged: true, relativeChange: 0) }
            v = w
            BLAS.scal(1 / wn, &v)
            if k > 1 && change <= tolerance {
                return SpectralNormEstimate(value: sigma, iterations: k, converged: true, relativeChange: change)
            }
        }
        return SpectralNormEstimate(value: sigma, iterations: maxIterations, converged: false, relativeChange: change)
    }

    private func lanczos<Op: LinearOperator>(_ a: Op, start: [Double]) -> SpectralNormEstimate {
        let n = a.inputDimension
        let limit = min(maxIterations, n)
        var q: [[Double]] = [start]
        var alphas: [Double] = []
        var betas: [Double] = []  // β_k couples q_k and q_{k+1}
        var u = [Double](repeating: 0, count: a.outputDimension)
        var w = [Double](repeating: 0, count: n)
        var theta = 0.0
        var residual = Double.infinity
        for k in 0..<limit {
            a.apply(q[k], into: &u)
            a.applyTranspose(u, into: &w)  // w = AᵀA q_k
            guard w.allSatisfy(\.isFinite) else {
                return SpectralNormEstimate(value: .nan, iterations: k + 1, converged: false, relativeChange: .nan)
            }
            let alpha = BLAS.dot(w, q[k])
            alphas.append(alpha)
            for _ in 0..<2 {  // full re-orthogonalisation against every Lanczos vector
                for qi in q { BLAS.axpy(-BLAS.dot(w, qi), qi, &w) }
            }
            let beta = BLAS.nrm2(w)
            // Largest Ritz pair of the (k+1)×(k+1) tridiagonal T.
            let size = k + 1
            var t = Matrix(zeros: size, size)
            for i in 0..<size { t[i, i] = alphas[i] }
            for i in 0..<betas.count { t[i, i + 1] = betas[i]; t[i + 1, i] = betas[i] }
            guard let eig = try? SymmetricEigen(t), let s = eig.vectors else {
                return SpectralNormEstimate(value: theta.squareRoot(), iterations: size, converged: false, relativeChange: residual)
            }
            theta = max(eig.values[size - 1], 0)
            residual = theta == 0 ? 0 : beta * abs(s[size - 1, size - 1]) / theta
            if residual <= tolerance || beta <= 1e-14 * max(theta, 1e-300) || size == n {
                return SpectralNormEstimate(
                    value: theta.squareRoot(), iterations: size, converged: true,
                    relativeChange: residual)
            }
            betas.append(beta)
            BLAS.scal(1 / beta, &w)
            q.append(w)
        }
        return SpectralNormEstimate(value: theta.squareRoot(), iterations: limit, converged: false, relativeChange: residual)
    }
}
