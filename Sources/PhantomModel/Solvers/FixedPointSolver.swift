import PhantomLinearAlgebra

/// Solves h = f(h) per sample for a batch map f: R^{B×d} → R^{B×d} (row i depends on row i only).
///
/// One loop serves every method: evaluate F = f(H) for the samples still running (one batched call, GEMMs),
/// measure each sample's residual, keep each sample's lowest-residual iterate, freeze a sample once it meets
/// the tolerance, and let the sample's current method propose its next iterate. The returned states are the
/// best iterates, so a method that wanders off never returns a worse point than it saw.
///
/// `.auto` (the default) does not give up while a method that works remains. Per sample — a hard sample costs
/// the others nothing, since finished samples leave the batch — each stage may use `maxIterations`
/// evaluations of f and ends earlier when it stalls (no 0.1 % improvement of the sample's best residual in
/// ``stallWindow`` = 80 iterations of that stage) or its residual grows 10⁴-fold (worst case
/// 3 · `maxIterations` evaluations plus the Newton polish):
/// 1. Anderson, restarted once from the best iterate with an empty history when it first stalls. It is not cut off at
///    `maxIterations` while it improves: it goes on, on the later stages' budget, until it stalls. Near ρ(J) = 1 the
///    contraction is slow but steady, and the independent attempts below would start again from nothing (the
///    d = 32,768 image model with ρ(J) = 0.998–0.999 at h*: they left residuals of 4·10⁻⁵–2·10⁻⁴, this converges);
/// 2. Broyden, an independent attempt from the initial iterate (a point where Anderson stalled can be a
///    local minimum of the residual that traps the next method too);
/// 3. damped plain iteration (α = ½), also from the initial iterate;
/// 4. Newton polish, at most ``FixedPointConfiguration/newtonSteps`` steps beyond the budget, with (I − J)
///    solved by LU for d ≤ ``FixedPointConfiguration/denseNewtonLimit`` and by GMRES above, and a
///    backtracking line search on the residual (steps t = 1, ½, … 2⁻¹¹). Newton converges to repelling fixed points too, so a sample
///    it finishes is checked: ρ(J) ≥ 1 there is reported as `.unstable`, never as converged.
///
/// A forced method (`.anderson`, `.broyden`, `.fixedPoint`) runs alone, without fallback, under the same stall rule:
/// a sample whose best residual has not improved by 0.1 % in ``stallWindow`` iterations stops there (a stalled
/// solve ends in `stallWindow` evaluations, not in `maxIterations`). A sample that does not converge gets a status
/// that says why: `.nonFiniteIterate`, `.diverged` (residual 10⁴ × its best), `.stagnation` (it stalled, or did not
/// improve during the last half of its iterations), `.unstable` or `.maximumIterationsReached`.
///
/// Determinism: a GEMM's row results can depend on how many rows it has and on how OpenBLAS splits it over
/// threads (measured here: odd row counts, and N = 513 at 2 threads, change the last bits). So f is evaluated in
/// blocks of ``blockRows`` rows, padded to a multiple of 8 by repeating a row, each block with single-threaded
/// BLAS and the blocks spread over the cores; the Newton polish linearizes one sample at a time. A sample's
/// iterates then depend on nothing but its own row, and every quantity that decides convergence or a switch
/// is a per-sample reduction in a fixed order: results are bit-identical at 1 and 2 threads and whatever
/// else is in the batch (tested).
///
/// Complexity: one batched f per iteration over the running samples; Anderson adds O(m² d) per sample,
/// Broyden O(L d); a dense Newton step O(d³).
public struct FixedPointSolver: Sendable {
    public let configuration: FixedPointConfiguration

    /// Iterations without a 0.1 % improvement of a sample's best residual after which `.auto` moves on.
    public static let stallWindow = 80
    /// Rows per block of f's evaluation (a multiple of 8).
    public static let blockRows = 32
    /// Halvings of a Newton step tried before the polish gives up on a sample (t down to 2⁻¹¹).
    public static let lineSearchHalvings = 12

    public init(_ configuration: FixedPointConfiguration) {
        self.configuration = configuration
    }

    /// Solves h = f(h) from `initial` (B×d) for a map given on the whole batch. Without a linearization,
    /// `.auto` skips the Newton polish.
    public func solve(initial: Matrix, _ f: @escaping @Sendable (Matrix) -> Matrix) -> FixedPointSolution {
        let b = initial.rows
        return solve(
            initial: initial,
            map: { h, rows in
                guard rows.count != b else { return f(h) }
                // Embed the running rows in a full batch (the others at their own rows of `initial`).
                var full = initial
                for (r, i) in rows.enumerated() { full.setRow(i, h.row(r)) }
                return f(full).selectingRows(rows)
            }, linearize: nil)
    }

    /// Solves h = f(h) from `initial` (B×d).
    /// - Parameters:
    ///   - map: f on some rows of the batch: `map(H, rows)` gets row r of H as sample `rows[r]`.
    ///   - linearize: f's linearization at some rows (for the Newton polish of `.auto`), or nil.
    public func solve(
        initial: Matrix, map: @escaping @Sendable (Matrix, [Int]) -> Matrix,
        linearize: (@Sendable (Matrix, [Int]) -> any CellLinearization)?
    ) -> FixedPointSolution {
        var run = SolverRun(configuration: configuration, initial: initial)
        guard initial.isFinite else { return run.solution(statuses: [SolverStatus](repeating: .nonFiniteInput, count: initial.rows)) }
        let blocked = { @Sendable (h: Matrix, rows: [Int]) in Self.evaluateInBlocks(h, rows, map) }
        BLASInfo.withThreads(1) {
            run.iterate(blocked)
            if configuration.method == .auto, let linearize { run.polish(blocked, linearize) }
        }
        return run.solution(statuses: nil)
    }

    /// f on `rows` in blocks of ``blockRows`` (padded to a multiple of 8), over the cores.
    static func evaluateInBlocks(_ h: Matrix, _ rows: [Int], _ map: @Sendable (Matrix, [Int]) -> Matrix) -> Matrix {
        let blocks = stride(from: 0, to: rows.count, by: blockRows).map { start in start..<min(start + blockRows, rows.count) }
        let values = Parallel.map(blocks.count) { b -> Matrix in
            var positions = Array(blocks[b])
            while positions.count % 8 != 0 { positions.append(positions[positions.count - 1]) }
            return map(h.selectingRows(positions), positions.map { rows[$0] })
        }
        // Block b's first rows (before the padding) are rows blocks[b] of the result.
        let d = h.columns
        var result = Matrix(zeros: rows.count, d)
        for (b, block) in blocks.enumerated() {
            result.elements.replaceSubrange(
                (block.lowerBound * d)..<(block.upperBound * d), with: values[b].elements[0..<(block.count * d)])
        }
        return result
    }
}

/// The state of one solve: every sample's best iterate, residuals, stage and counters.
private struct SolverRun {
    let c: FixedPointConfiguration
    let b: Int
    let d: Int
    var h: Matrix
    var best: Matrix
    var bestResidual: [Double]
    var bestAbsolute: [Double]
    var bestIteration: [Int]
    var lastResidual: [Double]
    var active: [Bool]
    var iterations: [Int]
    var sawNonFinite: [Bool]
    var traces: [[Double]]
    var evaluations = 0
    var stages: [FixedPointStage]
    var stageStart: [Int]
    var sinceImprovement: [Int]
    /// The best residual of the current stage (stalls are measured against it).
    var stageBest: [Double]
    var restarted: [Bool]
    let initial: Matrix
    var unstable: [Bool]
    /// Samples whose last method stopped on the stall rule (no method left to try).
    var stalledOut: [Bool]
    /// The sample's last Newton step came from a linear solve of (I − J)δ = g short of its tolerance (GMRES above
    /// ``FixedPointConfiguration/denseNewtonLimit``, or a singular LU): reported as the reason when the solve ends
    /// unconverged.
    var newtonShort: [Bool] = []
    var recent: [Matrix] = []
    var accelerator: Accelerator
    /// Per sample, Broyden's inverse estimate that proposed the best iterate (nil unless a Broyden stage did).
    var bestInverse: [BroydenInverse?]
    /// Set during the Newton polish, whose iterates no Broyden estimate proposed.
    var polishing = false

    init(configuration: FixedPointConfiguration, initial: Matrix) {
        c = configuration
        b = initial.rows
        d = initial.columns
        h = initial
        best = initial
        bestResidual = [Double](repeating: .infinity, count: b)
        bestAbsolute = bestResidual
        bestIteration = [Int](repeating: 0, count: b)
        lastResidual = bestResidual
        active = [Bool](repeating: true, count: b)
        iterations = bestIteration
        sawNonFinite = [Bool](repeating: false, count: b)
        traces = [[Double]](repeating: [], count: b)
        let first: FixedPointStage =
            switch configuration.method {
            case .auto, .anderson: .anderson
            case .broyden: .broyden
            case .fixedPoint: .fixedPoint
            }
        stages = [FixedPointStage](repeating: first, count: b)
        stageStart = bestIteration
        sinceImprovement = bestIteration
        stageBest = bestResidual
        self.initial = initial
        restarted = active.map { _ in false }
        unstable = restarted
        stalledOut = restarted
        newtonShort = restarted
        accelerator = Accelerator(configuration: configuration, batch: b, dimension: d)
        bestInverse = [BroydenInverse?](repeating: nil, count: b)
    }

    /// Records f at one sample's current iterate; returns the residual.
    mutating func record(_ i: Int, state: [Double], value: [Double]) -> Double {
        var absolute = 0.0, valueNorm = 0.0
        for j in 0..<d {
            let g = value[j] - state[j]
            absolute += g * g
            valueNorm += value[j] * value[j]
        }
        absolute = absolute.squareRoot()
        let residual = c.stopping.residual(absolute: absolute, valueNorm: valueNorm.squareRoot())
        iterations[i] += 1
        traces[i].append(residual)
        lastResidual[i] = residual
        if residual.isFinite, residual < 0.999 * stageBest[i] {
            sinceImprovement[i] = 0
        } else {
            sinceImprovement[i] += 1
        }
        if residual.isFinite { stageBest[i] = min(stageBest[i], residual) }
        if residual.isFinite, residual < bestResidual[i] {
            bestResidual[i] = residual
            bestAbsolute[i] = absolute
            bestIteration[i] = iterations[i]
            best.setRow(i, state)
            bestInverse[i] = stages[i] == .broyden && !polishing ? accelerator.inverses[i] : nil
        }
        return residual
    }

    /// `.auto`'s next step for sample i: Anderson's one restart from the best iterate, else the next method
    /// from the initial iterate (an independent attempt: a point where one method stalled can trap the next);
    /// false when no method is left.
    mutating func advance(_ i: Int) -> Bool {
        guard c.method == .auto else { return false }
        switch stages[i] {
        case .anderson where !restarted[i]:
            restarted[i] = true
            h.setRow(i, best.row(i))
        case .anderson:
            stages[i] = .broyden
            stageStart[i] = iterations[i]
            h.setRow(i, initial.row(i))
        case .broyden:
            stages[i] = .fixedPoint
            stageStart[i] = iterations[i]
            h.setRow(i, initial.row(i))
        case .fixedPoint, .newton:
            return false
        }
        accelerator.reset(i)
        sinceImprovement[i] = 0
        stageBest[i] = .infinity
        return true
    }

    /// Whether sample i's current stage has used its `maxIterations` evaluations.
    func stageExhausted(_ i: Int) -> Bool {
        // `.auto`'s Anderson stage is not cut off while it improves (it ends on the stall rule, or with the budget):
        // near ρ(J) = 1 the contraction is slow but steady, and the later methods' fresh start would lose the progress.
        iterations[i] - stageStart[i] >= c.maxIterations && !(c.method == .auto && stages[i] == .anderson)
    }

    mutating func iterate(_ map: @Sendable (Matrix, [Int]) -> Matrix) {
        for _ in 1...(c.method == .auto ? 3 : 1) * c.maxIterations {
            let rows = (0..<b).filter { active[$0] }
            if rows.isEmpty { break }
            if c.recordedIterates > 0 {
                recent.append(h)
                if recent.count > c.recordedIterates { recent.removeFirst() }
            }
            let states = h.selectingRows(rows)
            let values = map(states, rows)
            evaluations += 1
            for (r, i) in rows.enumerated() {
                let state = states.row(r), value = values.row(r)
                let residual = record(i, state: state, value: value)
                if residual <= c.stopping.tolerance { active[i] = false; continue }
                if !residual.isFinite {
                    sawNonFinite[i] = true
                    if !advance(i) { active[i] = false }
                    continue
                }
                let diverging = residual > 1e4 * stageBest[i]
                let stalled = sinceImprovement[i] >= FixedPointSolver.stallWindow
                let exhausted = stageExhausted(i)
                if diverging || stalled || exhausted {
                    // The next stage starts at the next evaluation (`.auto`'s Anderson stage is never exhausted).
                    if !advance(i) {
                        active[i] = false
                        if stalled, !diverging, !exhausted, c.method != .auto { stalledOut[i] = true }
                    }
                    continue
                }
                let g = zip(value, state).map { $0 - $1 }
                h.setRow(i, accelerator.propose(i, stage: stages[i], x: state, g: g))
            }
        }
    }

    /// Newton polish of the samples the iterative stages left above tolerance.
    mutating func polish(_ map: @Sendable (Matrix, [Int]) -> Matrix, _ linearize: @Sendable (Matrix, [Int]) -> any CellLinearization) {
        polishing = true
        for _ in 0..<c.newtonSteps {
            let rows = (0..<b).filter { bestResidual[$0] > c.stopping.tolerance && bestResidual[$0].isFinite }
            if rows.isEmpty { break }
            let states = best.selectingRows(rows)
            var steps = Matrix(zeros: rows.count, d)
            for (r, i) in rows.enumerated() {
                // One sample at a time, so that its step does not depend on the others.
                let lin = linearize(states.selectingRows([r]), [i])
                let g = zip(lin.value.row(0), states.row(r)).map { $0 - $1 }
                let (step, solved) = newtonStep(lin, 0, g)
                newtonShort[i] = !solved
                steps.setRow(r, step)
            }
            // Backtracking: h + t δ for t = 1, ½, ¼, …, accepted when the residual decreases.
            var pending = Array(rows.indices)
            var t = 1.0
            for _ in 0..<FixedPointSolver.lineSearchHalvings where !pending.isEmpty {
                var trial = Matrix(zeros: pending.count, d)
                for (p, r) in pending.enumerated() {
                    trial.setRow(p, zip(states.row(r), steps.row(r)).map { $0 + t * $1 })
                }
                let values = map(trial, pending.map { rows[$0] })
                evaluations += 1
                var still: [Int] = []
                for (p, r) in pending.enumerated() {
                    let i = rows[r], before = bestResidual[i]
                    let residual = record(i, state: trial.row(p), value: values.row(p))
                    if residual < before { stages[i] = .newton } else { still.append(r) }
                }
                pending = still
                t *= 0.5
            }
            if pending.count == rows.count { break }  // no sample improved
        }
        // Newton converges to repelling fixed points too: check the ones it finished.
        let finished = (0..<b).filter { stages[$0] == .newton && bestResidual[$0] <= c.stopping.tolerance }
        guard !finished.isEmpty else { return }
        for i in finished {
            let lin = linearize(best.selectingRows([i]), [i])
            let radius =
                d <= c.denseNewtonLimit
                ? ((try? lin.jacobian(sample: 0).spectralRadius()) ?? .nan)
                : ArnoldiSpectralRadius.estimate(lin.stateJacobian(sample: 0), steps: 60).spectralRadius
            if !(radius < 1) { unstable[i] = true }
        }
    }

    /// δ with (I − J) δ = g at row r: LU for d ≤ the dense limit, else GMRES; with whether the solve reached its
    /// tolerance (a singular LU or a non-finite step gives δ = 0, not solved).
    func newtonStep(_ lin: any CellLinearization, _ r: Int, _ g: [Double]) -> (step: [Double], solved: Bool) {
        let zero = [Double](repeating: 0, count: d)
        if d <= c.denseNewtonLimit {
            let a = Matrix.identity(d) - lin.jacobian(sample: r)
            guard let lu = try? LUFactorization(a) else { return (zero, false) }
            let step = lu.solve(g)
            return step.allSatisfy(\.isFinite) ? (step, true) : (zero, false)
        }
        let iterations = max(c.newtonLinearIterations, 1)
        guard let gmres = try? GMRES(tolerance: 1e-12, restart: min(50, iterations), maxIterations: iterations) else {
            return (zero, false)
        }
        let solution = gmres.solve(IdentityMinus(lin.stateJacobian(sample: r)), g)
        return (solution.solution, solution.status.isConverged)
    }

    func solution(statuses given: [SolverStatus]?) -> FixedPointSolution {
        var statuses = given ?? [SolverStatus](repeating: .maximumIterationsReached, count: b)
        if given == nil {
            for i in 0..<b {
                if unstable[i] {
                    statuses[i] = .unstable
                } else if bestResidual[i] <= c.stopping.tolerance {
                    statuses[i] = .converged
                } else if newtonShort[i] && !sawNonFinite[i] {
                    statuses[i] = .linearSolveShort
                } else if sawNonFinite[i] && c.method != .auto {
                    statuses[i] = .nonFiniteIterate
                } else if lastResidual[i] > 1e4 * bestResidual[i] {
                    statuses[i] = .diverged
                } else if sawNonFinite[i] {
                    statuses[i] = .nonFiniteIterate
                } else if stalledOut[i] || (iterations[i] >= 4 && bestIteration[i] <= iterations[i] / 2) {
                    statuses[i] = .stagnation
                }
            }
        }
        var solution = FixedPointSolution(
            states: best, residuals: bestResidual, absoluteResiduals: bestAbsolute,
            iterations: iterations, statuses: statuses, traces: traces,
            functionEvaluations: evaluations, methods: stages)
        solution.recentIterates = recent
        solution.broydenInverses = bestInverse
        return solution
    }
}
