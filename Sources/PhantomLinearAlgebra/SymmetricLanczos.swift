/// The extreme eigenvalues of a symmetric operator by Lanczos with full re-orthogonalisation.
///
/// Ritz values converge first at both ends of the spectrum; iteration stops when the residual bounds
/// β_k |s_k| of both extreme Ritz pairs fall below `tolerance` times the spectral scale, or after
/// `maxIterations` (then `converged` is false). Complexity: one application per iteration plus O(k n).
public enum SymmetricLanczos {
    public struct Extremes: Sendable {
        public let smallest: Double
        public let largest: Double
        public let iterations: Int
        public let converged: Bool
    }

    public static func extremes<Op: LinearOperator>(_ a: Op, tolerance: Double = 1e-10, maxIterations: Int = 300,
                                                    seed: UInt64 = 0x1a2c) -> Extremes {
        let n = a.inputDimension
        if n == 0 { return Extremes(smallest: 0, largest: 0, iterations: 0, converged: true) }
        var rng = SplitMix64(seed: seed)
        var q0 = (0..<n).map { _ in rng.nextGaussian() }
        BLAS.scal(1 / BLAS.nrm2(q0), &q0)
        var basis = [q0]
        var alphas: [Double] = [], betas: [Double] = []
        var w = [Double](repeating: 0, count: n)
        var smallest = 0.0, largest = 0.0
        let limit = min(maxIterations, n)
        for k in 0..<limit {
            a.apply(basis[k], into: &w)
            alphas.append(BLAS.dot(w, basis[k]))
            for _ in 0..<2 { for q in basis { BLAS.axpy(-BLAS.dot(w, q), q, &w) } }
            let beta = BLAS.nrm2(w)
            let size = k + 1
            // The tridiagonal eigenproblem costs O(size³): solve it every 8 steps and at the end only.
            if size % 8 != 0 && size != limit && beta > 1e-14 * max(abs(largest), abs(smallest), 1e-300) {
                betas.append(beta)
                BLAS.scal(1 / beta, &w)
                basis.append(w)
                continue
            }
            var t = Matrix(zeros: size, size)
            for i in 0..<size { t[i, i] = alphas[i] }
            for i in 0..<betas.count { t[i, i + 1] = betas[i]; t[i + 1, i] = betas[i] }
            guard let eig = try? SymmetricEigen(t), let s = eig.vectors else {
                return Extremes(smallest: .nan, largest: .nan, iterations: size, converged: false)
            }
            smallest = eig.values[0]
            largest = eig.values[size - 1]
            let scale = max(abs(smallest), abs(largest), 1e-300)
            let done = beta * abs(s[size - 1, 0]) <= tolerance * scale && beta * abs(s[size - 1, size - 1]) <= tolerance * scale
            if done || beta <= 1e-14 * scale || size == n {
                return Extremes(smallest: smallest, largest: largest, iterations: size, converged: true)
            }
            betas.append(beta)
            BLAS.scal(1 / beta, &w)
            basis.append(w)
        }
        return Extremes(smallest: smallest, largest: largest, iterations: limit, converged: false)
    }
}
