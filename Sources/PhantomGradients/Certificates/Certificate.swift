import Foundation
import PhantomLinearAlgebra

/// What Theorem 1 and its sharper forms say about one estimator in one (k, λ) cell for one sample
/// (THEORY.md §3).
///
/// With E = 𝒜(I − Jᵀ) − Mᵀ and σ_min, σ_max the extreme singular values of M:
/// - Theorem 1 (Geng et al. 2021): ‖E‖₂ ≤ σ_min²/σ_max ⇒ ⟨ĝ, ∇⟩ ≥ 0;
/// - weaker sufficient condition (derived): ‖E‖₂ ≤ σ_min;
/// - ρ = ‖E‖/σ_min bounds the relative error, and cos∠(ĝ, ∇) ≥ √(1 − ρ²) when ρ < 1;
/// - ρ* = √λ_max(EᵀE, M Mᵀ) ≤ ρ is the exact worst case of the relative error over all cotangents;
/// - the ascent margin λ_min(sym S)/λ_max(M Mᵀ), S = M 𝒜 (I − Jᵀ), is ≥ 0 exactly when ĝ is an ascent
///   direction for every cotangent.
public struct Certificate: Sendable, Equatable {
    /// ‖E‖₂.
    public var errorNorm: Double
    /// ‖E‖ ≤ σ_min²/σ_max (Theorem 1's condition).
    public var theorem1: Bool
    /// ‖E‖ ≤ σ_min.
    public var weakCondition: Bool
    /// ρ = ‖E‖/σ_min (∞ when σ_min = 0).
    public var rho: Double
    /// √(1 − ρ²) when ρ < 1, else NaN.
    public var cosineBound: Double
    /// ρ* = √λ_max(EᵀE, M Mᵀ). When M Mᵀ is singular (σ_min = 0, e.g. the mdeq cell): ∞ when E is non-zero
    /// on the null space of Mᵀ, else the same maximum over the range of M (``GramSpectrum/nullTolerance``).
    public var rhoStar: Double
    /// λ_min(sym(M 𝒜 (I − Jᵀ))) / λ_max(M Mᵀ).
    public var ascentMargin: Double

    public static let notComputed = Certificate(errorNorm: .nan, theorem1: false, weakCondition: false, rho: .nan,
                                                cosineBound: .nan, rhoStar: .nan, ascentMargin: .nan)

    /// From the d×d matrices EᵀE and S = M 𝒜 (I − Jᵀ), and the Gram G = M Mᵀ with its extreme eigenvalues.
    public static func compute(errorGram: Matrix, ascent: Matrix, gram: Matrix, sigmaMin: Double, sigmaMax: Double) -> Certificate {
        let errorNorm = max(extreme(errorGram, largest: true), 0).squareRoot()
        let rho = sigmaMin > 0 ? errorNorm / sigmaMin : .infinity
        let rhoStar: Double
        if sigmaMin > 0, let generalized = try? SymmetricEigen(errorGram.symmetricPart, gram.symmetricPart, computeVectors: false) {
            rhoStar = max(generalized.values.last ?? 0, 0).squareRoot()
        } else if sigmaMin == 0, sigmaMax > 0 {
            rhoStar = rankDeficientRhoStar(errorGram: errorGram, gram: gram)
        } else {
            rhoStar = .nan
        }
        let margin = extreme(ascent.symmetricPart, largest: false) / (sigmaMax * sigmaMax)
        return Certificate(errorNorm: errorNorm,
                           theorem1: sigmaMax > 0 && errorNorm <= sigmaMin * sigmaMin / sigmaMax,
                           weakCondition: errorNorm <= sigmaMin,
                           rho: rho, cosineBound: rho < 1 ? (1 - rho * rho).squareRoot() : .nan,
                           rhoStar: rhoStar, ascentMargin: margin)
    }

    /// ρ* for a singular G = M Mᵀ = V Λ Vᵀ: with N the eigenvectors of (numerically) null eigenvalues and R the
    /// others, ρ*² = ∞ when EᵀE is non-zero on N (some cotangent w has Mᵀw = 0 but Ew ≠ 0), else
    /// λ_max(Λ_R^{-1/2} Rᵀ EᵀE R Λ_R^{-1/2}), the maximum of ‖Ew‖²/‖Mᵀw‖² over w in the range of M.
    static func rankDeficientRhoStar(errorGram: Matrix, gram: Matrix) -> Double {
        guard let eigen = try? SymmetricEigen(gram.symmetricPart), let v = eigen.vectors,
              let errorMax = try? SymmetricEigen(errorGram.symmetricPart, computeVectors: false).values.last else { return .nan }
        let tolerance = GramSpectrum.nullTolerance * (eigen.values.last ?? 0)
        let null = eigen.values.indices.filter { eigen.values[$0] <= tolerance }
        let range = eigen.values.indices.filter { eigen.values[$0] > tolerance }
        func columns(_ indices: [Int], scaled: Bool) -> Matrix {
            var out = Matrix(zeros: v.rows, indices.count)
            for (j, c) in indices.enumerated() {
                let s = scaled ? 1 / eigen.values[c].squareRoot() : 1
                for i in 0..<v.rows { out[i, j] = s * v[i, c] }
            }
            return out
        }
        let n = columns(null, scaled: false)
        let onNull = (try? SymmetricEigen((n.transposed * errorGram * n).symmetricPart, computeVectors: false).values.last) ?? .nan
        guard onNull.isFinite else { return .nan }
        if onNull > GramSpectrum.nullTolerance * max(errorMax, 0) + 1e-300 { return .infinity }
        let r = columns(range, scaled: true)
        let top = (try? SymmetricEigen((r.transposed * errorGram * r).symmetricPart, computeVectors: false).values.last) ?? .nan
        return max(top, 0).squareRoot()
    }

    /// The Neumann family's certificate (THEORY.md §3): E = −Mᵀ Pᵀ for a state-space P (NPG: B^k, RBP: J^k,
    /// JFB: J), so EᵀE = P G Pᵀ and S = G (I − Pᵀ).
    public static func neumann(_ power: Matrix, gram: Matrix, sigmaMin: Double, sigmaMax: Double) -> Certificate {
        compute(errorGram: power * gram * power.transposed, ascent: gram * (Matrix.identity(power.rows) - power.transposed),
                gram: gram, sigmaMin: sigmaMin, sigmaMax: sigmaMax)
    }

    /// The same certificate in every cell of an L × K grid.
    public static func constant(_ certificate: Certificate, lambdas: Int, ks: Int) -> [[Certificate]] {
        Array(repeating: Array(repeating: certificate, count: ks), count: lambdas)
    }

    /// The largest or smallest eigenvalue of a symmetric matrix (`dsyevd`, values only: O(d³), 15 ms at
    /// d = 256 here — cheaper and more reliable than Lanczos on a matrix that is already dense).
    static func extreme(_ a: Matrix, largest: Bool) -> Double {
        guard let eig = try? SymmetricEigen(a.symmetricPart, computeVectors: false) else { return .nan }
        return (largest ? eig.values.last : eig.values.first) ?? .nan
    }
}
