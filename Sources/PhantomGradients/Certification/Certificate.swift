import Foundation
import PhantomLinearAlgebra

/// What Theorem 1 and its sharper forms say about one estimator in one (k, λ) cell for one sample
/// (docs/Theory.md §3), each value with its pedigree.
///
/// With E = 𝒜(I − Jᵀ) − Mᵀ and σ_min, σ_max the extreme singular values of M:
/// - Theorem 1 (Geng et al. 2021): ‖E‖₂ ≤ σ_min²/σ_max ⇒ ⟨ĝ, ∇⟩ ≥ 0;
/// - weaker sufficient condition (derived): ‖E‖₂ ≤ σ_min;
/// - ρ = ‖E‖/σ_min bounds the relative error, and cos∠(ĝ, ∇) ≥ √(1 − ρ²) when ρ < 1;
/// - ρ* = √λ_max(EᵀE, M Mᵀ) ≤ ρ is the exact worst case of the relative error over all cotangents;
/// - the ascent margin λ_min(sym S)/λ_max(M Mᵀ), S = M 𝒜 (I − Jᵀ), is ≥ 0 exactly when ĝ is an ascent
///   direction for every cotangent.
///
/// A value whose status is not ``ValueStatus/ok`` is NaN, and so is everything derived from it (Theorem 1, ‖E‖ ≤ σ_min,
/// ρ and the cosine bound follow ‖E‖₂): no failed computation is ever claimed as a certificate.
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
    /// The pedigree of ‖E‖₂ (and of Theorem 1, ‖E‖ ≤ σ_min, ρ and the cosine bound, which follow from it).
    public var errorNormStatus: ValueStatus
    public var rhoStarStatus: ValueStatus
    public var ascentMarginStatus: ValueStatus

    /// Every value not computed, for the stated reason.
    public static func notComputed(_ reason: String) -> Certificate {
        let status = ValueStatus.notComputed(reason)
        return Certificate(
            errorNorm: .nan, theorem1: false, weakCondition: false, rho: .nan, cosineBound: .nan, rhoStar: .nan,
            ascentMargin: .nan, errorNormStatus: status, rhoStarStatus: status, ascentMarginStatus: status)
    }

    /// The certificate from ‖E‖₂, ρ* and the unnormalised margin λ_min(sym S), each with its pedigree: Theorem 1,
    /// ‖E‖ ≤ σ_min, ρ and the cosine bound derived from ‖E‖₂ and σ(M); NaN wherever a status is not ``ValueStatus/ok``.
    public init(
        errorNorm: (value: Double, status: ValueStatus), rhoStar: (value: Double, status: ValueStatus),
        margin: (value: Double, status: ValueStatus), sigmaMin: Double, sigmaMax: Double
    ) {
        let norm = errorNorm.status.isOK ? errorNorm.value : .nan
        let rho = norm.isNaN ? .nan : (sigmaMin > 0 ? norm / sigmaMin : .infinity)
        self.init(
            errorNorm: norm,
            theorem1: sigmaMax > 0 && norm <= sigmaMin * sigmaMin / sigmaMax,
            weakCondition: norm <= sigmaMin,
            rho: rho, cosineBound: rho < 1 ? (1 - rho * rho).squareRoot() : .nan,
            rhoStar: rhoStar.status.isOK ? rhoStar.value : .nan,
            ascentMargin: margin.status.isOK ? margin.value / (sigmaMax * sigmaMax) : .nan,
            errorNormStatus: errorNorm.status, rhoStarStatus: rhoStar.status, ascentMarginStatus: margin.status)
    }

    public init(
        errorNorm: Double, theorem1: Bool, weakCondition: Bool, rho: Double, cosineBound: Double, rhoStar: Double,
        ascentMargin: Double, errorNormStatus: ValueStatus, rhoStarStatus: ValueStatus, ascentMarginStatus: ValueStatus
    ) {
        (self.errorNorm, self.theorem1, self.weakCondition, self.rho) = (errorNorm, theorem1, weakCondition, rho)
        (self.cosineBound, self.rhoStar, self.ascentMargin) = (cosineBound, rhoStar, ascentMargin)
        (self.errorNormStatus, self.rhoStarStatus, self.ascentMarginStatus) = (errorNormStatus, rhoStarStatus, ascentMarginStatus)
    }

    /// From the d×d matrices EᵀE and S = M 𝒜 (I − Jᵀ), and the Gram G = M Mᵀ with its extreme eigenvalues.
    public static func compute(
        errorGram: Matrix, ascent: Matrix, gram: Matrix, sigmaMin: Double, sigmaMax: Double,
        solver: any DenseSpectralSolver
    ) -> Certificate {
        let top = solver.extreme(errorGram, largest: true)
        let rhoStar: (value: Double, status: ValueStatus)
        if sigmaMin > 0 {
            do throws(LinearAlgebraError) {
                let values = try solver.generalizedEigenvalues(errorGram.symmetricPart, gram.symmetricPart)
                rhoStar = (max(values.last ?? 0, 0).squareRoot(), .ok)
            } catch {
                rhoStar = (.nan, .lapackFailure(error))
            }
        } else if sigmaMin == 0, sigmaMax > 0 {
            rhoStar = rankDeficientRhoStar(errorGram: errorGram, gram: gram, solver: solver)
        } else {
            rhoStar = (.nan, .notComputed(sigmaMax == 0 ? "M = 0" : "σ(M) not available"))
        }
        let low = solver.extreme(ascent.symmetricPart, largest: false)
        return Certificate(
            errorNorm: (max(top.value, 0).squareRoot(), top.status), rhoStar: rhoStar, margin: low,
            sigmaMin: sigmaMin, sigmaMax: sigmaMax)
    }

    /// ρ* for a singular G = M Mᵀ = V Λ Vᵀ: with N the eigenvectors of (numerically) null eigenvalues and R the
    /// others, ρ*² = ∞ when EᵀE is non-zero on N (some cotangent w has Mᵀw = 0 but Ew ≠ 0), else
    /// λ_max(Λ_R^{-1/2} Rᵀ EᵀE R Λ_R^{-1/2}), the maximum of ‖Ew‖²/‖Mᵀw‖² over w in the range of M
    /// (docs/Theory.md §8).
    static func rankDeficientRhoStar(errorGram: Matrix, gram: Matrix, solver: any DenseSpectralSolver) -> (
        value: Double, status: ValueStatus
    ) {
        do throws(LinearAlgebraError) {
            let eigen = try solver.symmetricEigen(gram.symmetricPart)
            guard let v = eigen.vectors else { return (.nan, .notComputed("no eigenvectors of M Mᵀ")) }
            let errorMax = try solver.symmetricEigenvalues(errorGram.symmetricPart).last
            guard let errorMax else { return (.nan, .notComputed("an empty matrix")) }
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
            let onNull = try solver.symmetricEigenvalues((n.transposed * errorGram * n).symmetricPart).last ?? .nan
            guard onNull.isFinite else { return (.nan, .notComputed("no null space of M Mᵀ below its tolerance")) }
            if onNull > GramSpectrum.nullTolerance * max(errorMax, 0) + 1e-300 { return (.infinity, .ok) }
            let r = columns(range, scaled: true)
            let top = try solver.symmetricEigenvalues((r.transposed * errorGram * r).symmetricPart).last ?? .nan
            return (max(top, 0).squareRoot(), top.isNaN ? .notComputed("M Mᵀ has no range above its null tolerance") : .ok)
        } catch {
            return (.nan, .lapackFailure(error))
        }
    }

    /// The Neumann family's certificate (docs/Theory.md §3): E = −Mᵀ Pᵀ for a state-space P (NPG: B^k, RBP: J^k,
    /// JFB: J), so EᵀE = P G Pᵀ and S = G (I − Pᵀ).
    public static func neumann(
        _ power: Matrix, gram: Matrix, sigmaMin: Double, sigmaMax: Double,
        solver: any DenseSpectralSolver
    ) -> Certificate {
        compute(
            errorGram: power * gram * power.transposed, ascent: gram * (Matrix.identity(power.rows) - power.transposed),
            gram: gram, sigmaMin: sigmaMin, sigmaMax: sigmaMax, solver: solver)
    }
}
