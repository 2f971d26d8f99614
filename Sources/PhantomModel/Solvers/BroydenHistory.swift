import PhantomLinearAlgebra

/// Where a sample's Broyden history (SHINE's inverse estimate) comes from.
public enum BroydenHistorySource: String, Sendable, CaseIterable {
    /// The forward solve's own Broyden stage produced h* (`--solver broyden`, or `auto`'s Broyden stage).
    case forward
    /// Another method produced h*; a Broyden-only re-solve from the same initial iterate converged to it.
    case resolve = "re-solve"
    /// No usable history: the re-solve did not converge, or converged to another fixed point.
    case none
}

/// Every sample's Broyden inverse estimate at its fixed point, with where it came from (``BroydenHistorySource``).
public struct BroydenHistories: Sendable {
    /// Per sample, H ≈ (∂g/∂h)⁻¹ at h* (nil where the source is `.none`).
    public let inverses: [BroydenInverse?]
    public let sources: [BroydenHistorySource]
    /// Per sample, the re-solve's residual in the solver's criterion (NaN where no re-solve ran).
    public let resolveResiduals: [Double]

    public init(inverses: [BroydenInverse?], sources: [BroydenHistorySource], resolveResiduals: [Double]) {
        (self.inverses, self.sources, self.resolveResiduals) = (inverses, sources, resolveResiduals)
    }

    /// A re-solve counts as reaching the same fixed point when ‖h_B − h*‖ ≤ this × max(1, ‖h*‖): converged solves
    /// of one attracting fixed point differ by about their residual / (1 − ρ(J)), orders of magnitude less; another
    /// fixed point is O(1) away.
    public static let sameFixedPoint = 1e-3
}

extension ImplicitModel {
    /// Every sample's Broyden history at the fixed points of `forward` (SHINE needs one).
    ///
    /// A sample whose h* came from a Broyden stage keeps the estimate that proposed it. For the others — h* found by
    /// Anderson, damped iteration or Newton — the history a SHINE user's training would have had is recomputed: a
    /// Broyden-only solve from the same initial iterate (h = 0) with the same tolerance, iteration limit and memory,
    /// run on those samples alone (each sample's solve depends on its own row only, ``FixedPointSolver``). Its estimate is
    /// used when it converged to the same fixed point (``BroydenHistories/sameFixedPoint``); otherwise the sample has no
    /// history and SHINE flags it rather than substitute another point's estimate.
    public func broydenHistories(inputs: Matrix, forward: FixedPointSolution, solver: FixedPointConfiguration) -> BroydenHistories {
        let b = inputs.rows
        var inverses = forward.broydenInverses.count == b ? forward.broydenInverses : [BroydenInverse?](repeating: nil, count: b)
        var sources = inverses.map { $0 == nil ? BroydenHistorySource.none : .forward }
        var residuals = [Double](repeating: .nan, count: b)
        let missing = (0..<b).filter { inverses[$0] == nil }
        guard !missing.isEmpty else { return BroydenHistories(inverses: inverses, sources: sources, resolveResiduals: residuals) }
        var broyden = solver
        broyden.method = .broyden
        let again = solve(inputs.selectingRows(missing), broyden)
        for (r, i) in missing.enumerated() {
            residuals[i] = again.residuals[r]
            let point = forward.states.row(i), other = again.states.row(r)
            let distance = BLAS.nrm2(zip(point, other).map { $0 - $1 })
            guard again.statuses[r].isConverged, let inverse = again.broydenInverses[r],
                distance <= BroydenHistories.sameFixedPoint * max(1, BLAS.nrm2(point))
            else { continue }
            inverses[i] = inverse
            sources[i] = .resolve
        }
        return BroydenHistories(inverses: inverses, sources: sources, resolveResiduals: residuals)
    }
}
