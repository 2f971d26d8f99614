import PhantomLinearAlgebra
import PhantomModel

/// Per-sample metrics of estimates ĝ_i = Σ_t M_{t,i}ᵀ u_{t,i} (a sum of parameter VJPs at several points, as UPG's)
/// against the exact gradient ∇_i = M*ᵢᵀ w*ᵢ, from ``ParameterFactors`` — no B × p array for Linear layers
/// (docs/FactoredGradients.md).
///
/// For a Linear layer, term t is δ_t ⊗ z_t (+ δ_t for a bias b = 1, else b = 0) and the exact one δ* ⊗ z*. With
/// a = Σ_t δ_t − δ* and ε_t = z_t − z*, per sample:
///
///     ⟨ĝ, ∇⟩     = Σ_t (δ_t·δ*)(z_t·z* + b)
///     ‖ĝ‖²       = Σ_{t,s} (δ_t·δ_s)(z_t·z_s + b)
///     ‖ĝ − ∇‖²   = ‖a‖²(‖z*‖² + b) + 2 Σ_t (a·δ_t)(z*·ε_t) + Σ_{t,s} (δ_t·δ_s)(ε_t·ε_s)
///
/// The last form has no cancellation between terms of size ‖∇‖² (it is built from the differences a and ε_t), so
/// a small error is as accurate as when ĝ − ∇ is formed in R^p. Dense parts (other layers) are summed over t and
/// compared directly. The products z_t·z_s, ε_t·ε_s, z*·ε_t are kept per (t, s): UPG(k) for every k of one unroll
/// reuses them.
final class FactoredComparison {
    let exact: ParameterFactors
    /// ‖∇_i‖² per sample.
    let exactSquared: [Double]
    private var inputGrams: [Int: [[Double]]] = [:]  // key: part·K² + t·K + s → per sample (z_t·z_s, ε_t·ε_s)
    private var anchorProducts: [Int: [[Double]]] = [:]  // key: part·K + t → per sample (z_t·z*, z*·ε_t)

    /// A comparison with the same exact gradient and empty caches (one per unroll: the caches are per step).
    init(sharing other: FactoredComparison) {
        exact = other.exact
        exactSquared = other.exactSquared
    }

    init(exact: ParameterFactors) {
        self.exact = exact
        exactSquared = exact.rowInnerProducts(exact)
    }

    private static let stride = 4096

    /// (z_t·z_s, ε_t·ε_s) per sample, for the inputs of part `p` at terms t and s (`steps`: index of each term).
    private func inputGram(_ p: Int, _ t: Int, _ zt: Matrix, _ s: Int, _ zs: Matrix, _ zStar: Matrix) -> [[Double]] {
        let key = (p * Self.stride + min(t, s)) * Self.stride + max(t, s)
        if let known = inputGrams[key] { return known }
        let value = [zt.rowDots(zs), (zt - zStar).rowDots(zs - zStar)]
        inputGrams[key] = value
        return value
    }

    private func anchor(_ p: Int, _ t: Int, _ zt: Matrix, _ zStar: Matrix) -> [[Double]] {
        let key = p * Self.stride + t
        if let known = anchorProducts[key] { return known }
        let value = [zt.rowDots(zStar), zStar.rowDots(zt - zStar)]
        anchorProducts[key] = value
        return value
    }

    /// The metrics of ĝ_i = Σ_t terms[t]_i; `steps[t]` names term t's point (the unroll step) for the caches.
    func compare(_ terms: [ParameterFactors], steps: [Int]) -> [GradientMetrics] {
        let b = exactSquared.count
        var inner = [Double](repeating: 0, count: b), estimate = inner, difference = inner
        for (p, exactPart) in exact.parts.enumerated() {
            switch exactPart {
            case .outer(let deltaStar, let zStar, let bias):
                let one = bias ? 1.0 : 0
                let parts = terms.map { term -> (Matrix, Matrix) in
                    guard case .outer(let delta, let z, _) = term.parts[p] else { preconditionFailure("mismatched factors") }
                    return (delta, z)
                }
                var a = Matrix(zeros: deltaStar.rows, deltaStar.columns)
                for (delta, _) in parts { a = a + delta }
                a = a - deltaStar
                let zStarSquared = zStar.rowDots(zStar), aSquared = a.rowDots(a)
                for i in 0..<b { difference[i] += aSquared[i] * (zStarSquared[i] + one) }
                for (t, (delta, z)) in parts.enumerated() {
                    let star = anchor(p, steps[t], z, zStar)
                    let dStar = delta.rowDots(deltaStar), ad = a.rowDots(delta)
                    for i in 0..<b {
                        inner[i] += dStar[i] * (star[0][i] + one)
                        difference[i] += 2 * ad[i] * star[1][i]
                    }
                    for (s, (deltaS, zS)) in parts.enumerated() where s >= t {
                        let gram = inputGram(p, steps[t], z, steps[s], zS, zStar)
                        let dd = delta.rowDots(deltaS), weight = s == t ? 1.0 : 2
                        for i in 0..<b {
                            estimate[i] += weight * dd[i] * (gram[0][i] + one)
                            difference[i] += weight * dd[i] * gram[1][i]
                        }
                    }
                }
            case .dense(let denseStar):
                var sum = Matrix(zeros: denseStar.rows, denseStar.columns)
                for term in terms {
                    guard case .dense(let m) = term.parts[p] else { preconditionFailure("mismatched factors") }
                    sum = sum + m
                }
                let diff = sum - denseStar
                let (i1, e1, d1) = (sum.rowDots(denseStar), sum.rowDots(sum), diff.rowDots(diff))
                for i in 0..<b { inner[i] += i1[i]; estimate[i] += e1[i]; difference[i] += d1[i] }
            }
        }
        return (0..<b).map { i in
            GradientMetrics.fromInnerProducts(
                inner: inner[i], estimateSquared: estimate[i], exactSquared: exactSquared[i],
                differenceSquared: difference[i])
        }
    }
}
