import PhantomLinearAlgebra
import PhantomModel

/// How the adjoint system (I − J_iᵀ) w_i = g_i of the exact gradient is solved.
public enum AdjointMethod: String, Sendable, CaseIterable {
    /// Dense LU per sample for d ≤ 512, matrix-free GMRES above.
    case auto
    /// Dense LU of I − J_i per sample (J_i formed explicitly, O(d³)).
    case lu
    /// Matrix-free restarted GMRES on (I − J_iᵀ), one VJP per iteration.
    case gmres
    /// Damped fixed-point iteration w ← (1 − α) w + α (g + Jᵀ w), batched; what TorchDEQ does.
    case fixedPoint = "fixed-point"
}

/// The adjoint solution with its pedigree: per-sample relative residual, iterations and status.
public struct AdjointSolution: Sendable {
    /// W, B×d: row i is w_i.
    public let w: Matrix
    /// ‖(I − J_iᵀ) w_i − g_i‖ / ‖g_i‖, recomputed with a VJP after the solve (0 when g_i = 0).
    public let relativeResiduals: [Double]
    public let iterations: [Int]
    public let statuses: [SolverStatus]
    /// The method that actually ran (`.auto` resolved).
    public let method: AdjointMethod
    public let tolerance: Double

    public var converged: [Bool] { statuses.map(\.isConverged) }
    public var allConverged: Bool { statuses.allSatisfy(\.isConverged) }
}

/// Solves (I − J_iᵀ) w_i = g_i for every sample of a ``GradientProblem``.
///
/// Whatever the method, the reported residual is recomputed independently with one batched VJP, and a
/// sample is `.converged` only when that residual is ≤ `tolerance`: an "exact" gradient that is not is
/// flagged, never silently used (docs/Theory.md §6).
public struct AdjointSolver: Sendable {
    public let method: AdjointMethod
    /// Relative residual target (default 1e-10).
    public let tolerance: Double
    public let maxIterations: Int
    /// α for `.fixedPoint`, in (0, 1].
    public let damping: Double
    /// GMRES restart length.
    public let restart: Int

    /// - Throws: ``ConfigurationError`` for settings out of range.
    public init(
        method: AdjointMethod = .auto, tolerance: Double = 1e-10, maxIterations: Int = 1000,
        damping: Double = 1, restart: Int = 60
    ) throws(ConfigurationError) {
        guard tolerance > 0, tolerance.isFinite else {
            throw ConfigurationError("the adjoint tolerance must be a positive number, got \(tolerance)")
        }
        guard maxIterations >= 1 else { throw ConfigurationError("the adjoint iteration limit must be ≥ 1, got \(maxIterations)") }
        guard damping > 0, damping <= 1 else { throw ConfigurationError("the adjoint damping must lie in (0, 1], got \(damping)") }
        guard restart >= 1 else { throw ConfigurationError("the GMRES restart must be ≥ 1, got \(restart)") }
        self.method = method
        self.tolerance = tolerance
        self.maxIterations = maxIterations
        self.damping = damping
        self.restart = restart
    }

    public func solve(_ problem: GradientProblem) -> AdjointSolution {
        solve(linearization: problem.linearization, cotangents: problem.cotangents)
    }

    /// Solves (I − J_iᵀ) w_i = g_i for the rows g_i of `cotangents`.
    public func solve(linearization: any CellLinearization, cotangents g: Matrix) -> AdjointSolution {
        let d = g.columns
        let resolved: AdjointMethod = method == .auto ? (d <= 512 ? .lu : .gmres) : method
        var w = Matrix(zeros: g.rows, d)
        var iterations = [Int](repeating: 0, count: g.rows)
        var failures = [SolverStatus?](repeating: nil, count: g.rows)
        switch resolved {
        case .lu, .auto:
            // One sample per task, over the cores (each sample's arithmetic is its own: the same results at any count).
            let solved = Parallel.map(g.rows) { i -> [Double]? in
                let iMinusJ = Matrix.identity(d) - linearization.jacobian(sample: i)
                guard let lu = try? LUFactorization(iMinusJ) else { return nil }
                return lu.solve(g.row(i), transposed: true)
            }
            for (i, row) in solved.enumerated() {
                if let row {
                    w.setRow(i, row)
                    iterations[i] = 1
                } else {
                    failures[i] = .inaccurate
                }
            }
        case .gmres:
            // The settings were checked when the solver was built, so GMRES accepts them; should it not, every sample
            // is flagged as a breakdown (unconverged adjoint), never solved silently.
            let gmres: GMRES?
            do { gmres = try GMRES(tolerance: tolerance, restart: restart, maxIterations: maxIterations) } catch { gmres = nil }
            for i in 0..<g.rows {
                guard let gmres else { failures[i] = .breakdown; continue }
                let op = IdentityMinus(linearization.stateJacobian(sample: i)).transposed
                let result = gmres.solve(op, g.row(i))
                w.setRow(i, result.solution)
                iterations[i] = result.iterations
                if !result.status.isConverged { failures[i] = result.status }
            }
        case .fixedPoint:
            // Batched: w ← (1 − α) w + α (g + Jᵀ w), stopping per sample on the recomputed residual.
            var active = [Bool](repeating: true, count: g.rows)
            let gNorms = g.rowNorms
            for iteration in 1...maxIterations {
                let jtw = linearization.stateVJP(w)
                let residual = (g + jtw) - w  // g − (I − Jᵀ) w
                let norms = residual.rowNorms
                for i in 0..<g.rows where active[i] {
                    let relative = gNorms[i] == 0 ? 0 : norms[i] / gNorms[i]
                    if !relative.isFinite { active[i] = false; failures[i] = .nonFiniteIterate; continue }
                    if relative <= tolerance { active[i] = false; continue }
                    iterations[i] = iteration
                    for j in 0..<d { w[i, j] += damping * residual[i, j] }
                }
                if !active.contains(true) { break }
            }
        }
        // The pedigree: recompute every residual independently.
        let residual = (g + linearization.stateVJP(w)) - w
        let gNorms = g.rowNorms, rNorms = residual.rowNorms
        var relative = [Double](repeating: 0, count: g.rows)
        var statuses = [SolverStatus](repeating: .converged, count: g.rows)
        for i in 0..<g.rows {
            relative[i] = gNorms[i] == 0 ? rNorms[i] : rNorms[i] / gNorms[i]
            if let failure = failures[i] {
                statuses[i] = failure
            } else if !relative[i].isFinite {
                statuses[i] = .nonFiniteIterate
            } else if relative[i] > tolerance {
                statuses[i] = resolved == .lu ? .inaccurate : .maximumIterationsReached
            }
        }
        return AdjointSolution(
            w: w, relativeResiduals: relative, iterations: iterations, statuses: statuses,
            method: resolved, tolerance: tolerance)
    }
}
