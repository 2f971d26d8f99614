import PhantomLinearAlgebra

/// Limited-memory "good" Broyden's estimate of one sample's inverse Jacobian of g(h) = f(h) − h,
///
///     H = −I + Σ_j u_j w_jᵀ ≈ (∂g/∂h)⁻¹ = (J − I)⁻¹,
///
/// built from H₀ = −I by rank-one updates that make H satisfy the secant condition of each step: for a step
/// Δx = x⁺ − x with Δg = g(x⁺) − g(x), u = (Δx − H Δg)/(Δxᵀ H Δg) and w = Hᵀ Δx, so that the updated H maps Δg to Δx
/// (docs/Theory.md §2, SHINE). The forward solver (``FixedPointSolver``) keeps one per sample while Broyden runs and
/// returns the one that proposed each sample's best iterate; SHINE applies it to the loss cotangent, since
/// (I − Jᵀ)⁻¹ = −((J − I)⁻¹)ᵀ ≈ −Hᵀ.
///
/// Memory: the pairs, 2·rank·d doubles. Complexity: H v and Hᵀ v cost 2·rank·d multiply-adds each.
public struct BroydenInverse: Sendable, Equatable {
    /// d.
    public let dimension: Int
    /// The pairs (u_j, w_j), oldest first.
    public private(set) var pairs: [(u: [Double], w: [Double])] = []

    /// H₀ = −I.
    public init(dimension: Int) { self.dimension = dimension }

    /// An estimate from given pairs (each of length d).
    public init(dimension: Int, pairs: [(u: [Double], w: [Double])]) {
        precondition(pairs.allSatisfy { $0.u.count == dimension && $0.w.count == dimension }, "pairs of length d")
        self.dimension = dimension
        self.pairs = pairs
    }

    /// The number of rank-one pairs.
    public var rank: Int { pairs.count }

    /// The good-Broyden update for the step (Δx, Δg); skipped (false) when Δxᵀ H Δg is zero or not finite, as the
    /// update is then undefined. With `memory` pairs already held, H restarts from −I first: the new pair's u is
    /// then still the one of the H before the restart, its w the restarted H's (−Δx) — the solver's rule since its
    /// first version, kept so that its iterates do not change.
    @discardableResult
    public mutating func update(dx: [Double], dg: [Double], memory: Int = .max) -> Bool {
        let hdg = apply(dg)
        let denominator = BLAS.dot(dx, hdg)
        guard abs(denominator) > 1e-300, denominator.isFinite else { return false }
        if rank >= memory { pairs.removeAll() }
        var u = zip(dx, hdg).map { $0 - $1 }
        BLAS.scal(1 / denominator, &u)
        let w = apply(dx, transposed: true)
        pairs.append((u, w))
        return true
    }

    /// Forgets every pair (H = −I again): the solver's restart when the memory is full.
    public mutating func reset() { pairs.removeAll() }

    /// H v, or Hᵀ v.
    public func apply(_ v: [Double], transposed: Bool = false) -> [Double] {
        var out = v.map { -$0 }
        for pair in pairs {
            if transposed { BLAS.axpy(BLAS.dot(pair.u, v), pair.w, &out) } else { BLAS.axpy(BLAS.dot(pair.w, v), pair.u, &out) }
        }
        return out
    }

    /// H as a d×d matrix (tests; small d).
    public var matrix: Matrix {
        var h = Matrix.identity(dimension)
        BLAS.scal(-1, &h.elements)
        for pair in pairs {
            for r in 0..<dimension where pair.u[r] != 0 {
                for c in 0..<dimension { h[r, c] += pair.u[r] * pair.w[c] }
            }
        }
        return h
    }

    public static func == (a: Self, b: Self) -> Bool {
        a.dimension == b.dimension && a.pairs.count == b.pairs.count && zip(a.pairs, b.pairs).allSatisfy { $0.u == $1.u && $0.w == $1.w }
    }
}
