/// The spectral radius ρ(A) = max |μ| of a square matrix-free operator, from the Ritz values of an
/// Arnoldi factorisation A V_m = V_m H_m + h v eᵀ (eigenvalues of the m×m Hessenberg H_m via `dgeev`).
///
/// Ritz values converge first at the outer edge of the spectrum, so a few tens of steps estimate ρ well;
/// the result is a lower estimate, exact once m reaches the operator's dimension or the Krylov space
/// becomes invariant. Complexity: m applications of A and O(m² n).
public struct ArnoldiEstimate: Sendable {
    public let spectralRadius: Double
    public let steps: Int
    /// True when the Krylov space became invariant or m = n (the Ritz values are eigenvalues).
    public let exact: Bool
}

public enum ArnoldiSpectralRadius {
    public static func estimate<Op: LinearOperator>(_ a: Op, steps: Int = 40, seed: UInt64 = 0x5eed) -> ArnoldiEstimate {
        let n = a.inputDimension
        precondition(n == a.outputDimension, "spectral radius needs a square operator")
        if n == 0 { return ArnoldiEstimate(spectralRadius: 0, steps: 0, exact: true) }
        let m = min(steps, n)
        var rng = SplitMix64(seed: seed)
        var v = (0..<n).map { _ in rng.nextGaussian() }
        BLAS.scal(1 / BLAS.nrm2(v), &v)
        var basis = [v]
        var h = Matrix(zeros: m, m)
        var w = [Double](repeating: 0, count: n)
        var size = m
        var exact = m == n
        for j in 0..<m {
            a.apply(basis[j], into: &w)
            for _ in 0..<2 {
                for i in 0...j {
                    let c = BLAS.dot(w, basis[i])
                    h[i, j] += c
                    BLAS.axpy(-c, basis[i], &w)
                }
            }
            let norm = BLAS.nrm2(w)
            if j + 1 == m { break }
            if norm <= 1e-13 * max(1, abs(h[j, j])) { size = j + 1; exact = true; break }
            h[j + 1, j] = norm
            BLAS.scal(1 / norm, &w)
            basis.append(w)
        }
        var small = Matrix(zeros: size, size)
        for i in 0..<size { for j in 0..<size { small[i, j] = h[i, j] } }
        let rho = (try? small.spectralRadius()) ?? .nan
        return ArnoldiEstimate(spectralRadius: rho, steps: size, exact: exact)
    }
}
