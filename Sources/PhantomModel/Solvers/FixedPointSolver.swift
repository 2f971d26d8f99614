import PhantomLinearAlgebra

/// Solves h = f(h) per sample for a batch map f: R^{B×d} → R^{B×d} (row i depends on row i only).
///
/// All three methods share one loop: evaluate F = f(H) for the whole batch (one batched call, GEMMs),
/// measure each sample's residual ‖F_i − H_i‖, keep each sample's lowest-residual iterate, freeze a sample
/// once it meets the tolerance, and propose the next H for the others. The returned states are the best
/// iterates, so a solver that wanders off never returns a worse point than it saw.
///
/// A sample that does not converge gets a status that says why: `.nonFiniteIterate` (NaN/∞ met),
/// `.diverged` (its residual grew to 10⁴ × its best), `.stagnation` (no improvement during the last
/// half of the iterations), or `.maximumIterationsReached`.
///
/// Complexity: one batched f per iteration; Anderson adds O(m² d) per sample, Broyden O(L d).
public struct FixedPointSolver: Sendable {
    public let configuration: FixedPointConfiguration

    public init(_ configuration: FixedPointConfiguration) {
        self.configuration = configuration
    }

    /// Solves h = f(h) from `initial` (B×d).
    public func solve(initial: Matrix, _ f: (Matrix) -> Matrix) -> FixedPointSolution {
        let c = configuration
        let b = initial.rows, d = initial.columns
        var h = initial
        var best = initial
        var bestResidual = [Double](repeating: .infinity, count: b)
        var bestAbsolute = [Double](repeating: .infinity, count: b)
        var bestIteration = [Int](repeating: 0, count: b)
        var lastResidual = [Double](repeating: .infinity, count: b)
        var active = [Bool](repeating: true, count: b)
        var iterations = [Int](repeating: 0, count: b)
        var sawNonFinite = [Bool](repeating: false, count: b)
        var traces = [[Double]](repeating: [], count: b)
        var evaluations = 0
        var accelerator = Accelerator(configuration: c, batch: b, dimension: d)

        guard initial.isFinite else {
            return FixedPointSolution(states: initial, residuals: bestResidual, absoluteResiduals: bestAbsolute,
                                      iterations: iterations, statuses: [SolverStatus](repeating: .nonFiniteInput, count: b),
                                      traces: traces, functionEvaluations: 0)
        }

        var recent: [Matrix] = []
        for iteration in 1...c.maxIterations {
            if c.recordedIterates > 0 {
                recent.append(h)
                if recent.count > c.recordedIterates { recent.removeFirst() }
            }
            let fh = f(h)
            evaluations += 1
            var g = fh - h  // g(h) = f(h) − h
            for i in 0..<b where active[i] {
                var absolute = 0.0, valueNorm = 0.0
                for j in 0..<d {
                    absolute += g[i, j] * g[i, j]
                    valueNorm += fh[i, j] * fh[i, j]
                }
                absolute = absolute.squareRoot()
                let residual = c.stopping.residual(absolute: absolute, valueNorm: valueNorm.squareRoot())
                iterations[i] = iteration
                traces[i].append(residual)
                lastResidual[i] = residual
                guard residual.isFinite else { sawNonFinite[i] = true; active[i] = false; continue }
                if residual < bestResidual[i] {
                    bestResidual[i] = residual
                    bestAbsolute[i] = absolute
                    bestIteration[i] = iteration
                    best.setRow(i, h.row(i))
                }
                if residual <= c.stopping.tolerance { active[i] = false }
                else if residual > 1e4 * bestResidual[i] { active[i] = false }  // diverging
            }
            if !active.contains(true) { break }
            for i in 0..<b where !active[i] { for j in 0..<d { g[i, j] = 0 } }
            h = accelerator.next(h: h, g: g, active: active)
        }

        var statuses = [SolverStatus](repeating: .maximumIterationsReached, count: b)
        for i in 0..<b {
            if bestResidual[i] <= c.stopping.tolerance { statuses[i] = .converged }
            else if sawNonFinite[i] { statuses[i] = .nonFiniteIterate }
            else if lastResidual[i] > 1e4 * bestResidual[i] { statuses[i] = .diverged }
            else if iterations[i] >= 4 && bestIteration[i] <= iterations[i] / 2 { statuses[i] = .stagnation }
        }
        var solution = FixedPointSolution(states: best, residuals: bestResidual, absoluteResiduals: bestAbsolute,
                                          iterations: iterations, statuses: statuses, traces: traces,
                                          functionEvaluations: evaluations)
        solution.recentIterates = recent
        return solution
    }
}
