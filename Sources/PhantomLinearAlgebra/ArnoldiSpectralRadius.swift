import Numerics

/// The spectral radius ρ(A) = max |μ| of a square matrix-free operator, from the Ritz values of an
/// Arnoldi factorisation A V_m = V_m H_m + h v eᵀ (eigenvalues of the m×m Hessenberg H_m via `dgeev`).
///
/// Ritz values converge first at the outer edge of the spectrum, so a few tens of steps estimate ρ well;
/// the result is a lower estimate, exact once m reaches the operator's dimension or the Krylov space
/// becomes invariant. Each Ritz pair (μ, V_m y) has the residual ‖A V_m y − μ V_m y‖ = h |e_mᵀ y| (‖y‖ = 1), its
/// pedigree (``ArnoldiEstimate/residual(of:)``). Complexity: m applications of A and O(m² n).
public struct ArnoldiEstimate: Sendable {
    public let spectralRadius: Double
    public let steps: Int
    /// True when the Krylov space became invariant or m = n (the Ritz values are eigenvalues).
    public let exact: Bool
    /// Every Ritz value (eigenvalues of H_m).
    public let ritzValues: [Complex<Double>]
    /// H_m (m×m) and h = ‖A v_m − V_m H_m e_m‖ (0 when exact).
    let hessenberg: Matrix
    let trailing: Double

    /// The residual of the Ritz pair with Ritz value `ritzValues[index]`: h |e_mᵀ y| for the unit eigenvector y of
    /// H_m (by inverse iteration in complex arithmetic). 0 when the estimate is exact; NaN when H_m − μI is too
    /// badly conditioned to give y.
    public func residual(of index: Int) -> Double {
        if exact || trailing == 0 { return 0 }
        guard let y = Self.eigenvector(hessenberg, ritzValues[index]) else { return .nan }
        return trailing * y[y.count - 1].modulus
    }

    /// The index of the Ritz value of largest modulus.
    public var dominantIndex: Int? { ritzValues.indices.max { ritzValues[$0].modulus < ritzValues[$1].modulus } }

    /// A unit eigenvector of h for eigenvalue μ: two steps of inverse iteration with (h − (μ + δ)I), δ a tiny shift.
    static func eigenvector(_ h: Matrix, _ mu: Complex<Double>) -> [Complex<Double>]? {
        let m = h.rows
        let shift = 1e-10 * max(1, mu.modulus)
        // Complex matrix as (re, im), row-major.
        var re = h.elements, im = [Double](repeating: 0, count: m * m)
        for i in 0..<m { re[i * m + i] -= mu.real + shift; im[i * m + i] -= mu.imaginary }
        var x = (0..<m).map { i in Complex(1 / Double(i + 1), 0) }
        for _ in 0..<2 {
            guard var solved = solve(re, im, m, x) else { return nil }
            let norm = solved.reduce(0) { $0 + $1.real * $1.real + $1.imaginary * $1.imaginary }.squareRoot()
            guard norm.isFinite, norm > 0 else { return nil }
            for i in 0..<m { solved[i] = Complex(solved[i].real / norm, solved[i].imaginary / norm) }
            x = solved
        }
        return x
    }

    /// Solves (re + i·im) x = b by Gaussian elimination with partial pivoting (m is small).
    static func solve(_ reIn: [Double], _ imIn: [Double], _ m: Int, _ b: [Complex<Double>]) -> [Complex<Double>]? {
        var re = reIn, im = imIn
        var br = b.map(\.real), bi = b.map(\.imaginary)
        for col in 0..<m {
            var pivot = col
            var best = 0.0
            for r in col..<m {
                let mag = re[r * m + col] * re[r * m + col] + im[r * m + col] * im[r * m + col]; if mag > best { best = mag; pivot = r }
            }
            guard best > 0, best.isFinite else { return nil }
            if pivot != col {
                for c in 0..<m { re.swapAt(col * m + c, pivot * m + c); im.swapAt(col * m + c, pivot * m + c) }
                br.swapAt(col, pivot); bi.swapAt(col, pivot)
            }
            let pr = re[col * m + col], pi = im[col * m + col]
            for r in (col + 1)..<max(col + 1, m) {
                // factor = a[r, col] / a[col, col]
                let ar = re[r * m + col], ai = im[r * m + col]
                let fr = (ar * pr + ai * pi) / best, fi = (ai * pr - ar * pi) / best
                if fr == 0 && fi == 0 { continue }
                for c in col..<m {
                    let cr = re[col * m + c], ci = im[col * m + c]
                    re[r * m + c] -= fr * cr - fi * ci
                    im[r * m + c] -= fr * ci + fi * cr
                }
                br[r] -= fr * br[col] - fi * bi[col]
                bi[r] -= fr * bi[col] + fi * br[col]
            }
        }
        var xr = [Double](repeating: 0, count: m), xi = xr
        for r in stride(from: m - 1, through: 0, by: -1) {
            var sr = br[r], si = bi[r]
            for c in (r + 1)..<max(r + 1, m) {
                sr -= re[r * m + c] * xr[c] - im[r * m + c] * xi[c]
                si -= re[r * m + c] * xi[c] + im[r * m + c] * xr[c]
            }
            let dr = re[r * m + r], di = im[r * m + r], d2 = dr * dr + di * di
            guard d2 > 0 else { return nil }
            xr[r] = (sr * dr + si * di) / d2
            xi[r] = (si * dr - sr * di) / d2
        }
        return (0..<m).map { Complex(xr[$0], xi[$0]) }
    }
}

public enum ArnoldiSpectralRadius {
    public static func estimate<Op: LinearOperator>(_ a: Op, steps: Int = 40, seed: UInt64 = 0x5eed) -> ArnoldiEstimate {
        let n = a.inputDimension
        precondition(n == a.outputDimension, "spectral radius needs a square operator")
        if n == 0 {
            return ArnoldiEstimate(spectralRadius: 0, steps: 0, exact: true, ritzValues: [], hessenberg: Matrix(zeros: 0, 0), trailing: 0)
        }
        let m = min(steps, n)
        var rng = SplitMix64(seed: seed)
        var v = (0..<n).map { _ in rng.nextGaussian() }
        BLAS.scal(1 / BLAS.nrm2(v), &v)
        var basis = [v]
        var h = Matrix(zeros: m, m)
        var w = [Double](repeating: 0, count: n)
        var size = m
        var exact = m == n
        var trailing = 0.0
        for j in 0..<m {
            a.apply(basis[j], into: &w)
            guard w.allSatisfy(\.isFinite) else {
                return ArnoldiEstimate(
                    spectralRadius: .nan, steps: j, exact: false, ritzValues: [], hessenberg: Matrix(zeros: 0, 0), trailing: .nan)
            }
            for _ in 0..<2 {
                for i in 0...j {
                    let c = BLAS.dot(w, basis[i])
                    h[i, j] += c
                    BLAS.axpy(-c, basis[i], &w)
                }
            }
            let norm = BLAS.nrm2(w)
            if j + 1 == m { trailing = exact ? 0 : norm; break }
            if norm <= 1e-13 * max(1, abs(h[j, j])) { size = j + 1; exact = true; break }
            h[j + 1, j] = norm
            BLAS.scal(1 / norm, &w)
            basis.append(w)
        }
        var small = Matrix(zeros: size, size)
        for i in 0..<size { for j in 0..<size { small[i, j] = h[i, j] } }
        let values = (try? small.eigenvalues()) ?? []
        let rho = values.isEmpty ? .nan : values.map(\.modulus).max()!
        return ArnoldiEstimate(spectralRadius: rho, steps: size, exact: exact, ritzValues: values, hessenberg: small, trailing: trailing)
    }
}
