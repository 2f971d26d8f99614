/// Restarted GMRES(m) for A x = b with a general (non-symmetric) square operator.
///
///     x_k = argmin over x ∈ x₀ + K_k(A, r₀) of ‖b − A x‖₂
///
/// Each cycle builds an orthonormal Krylov basis of up to `restart` vectors by Arnoldi with modified
/// Gram–Schmidt and one re-orthogonalisation pass, and solves the small least-squares problem with Givens
/// rotations. After each cycle the true residual is recomputed, so the returned
/// ``LinearSolution/relativeResidual`` is ‖b − A x‖/‖b‖ of the returned x, never the recursion's estimate.
///
/// It never throws: a singular or inconsistent system, a stalled residual or a NaN ends with the matching
/// ``SolverStatus`` and the best x found.
///
/// Complexity: one application of A per iteration plus O(m n) for orthogonalisation; memory (m + 1) n.
///
/// References: Saad & Schultz, "GMRES", SIAM J. Sci. Stat. Comput. 7 (1986).
public struct GMRES: Sendable {
    /// Relative tolerance on ‖b − A x‖/‖b‖.
    public let tolerance: Double
    /// Krylov vectors per cycle, m.
    public let restart: Int
    /// Total Arnoldi iterations across cycles.
    public let maxIterations: Int

    /// - Parameters:
    ///   - tolerance: relative residual target, > 0 (default 1e-10).
    ///   - restart: m ≥ 1 (default 50).
    ///   - maxIterations: ≥ 1 (default 1000).
    /// - Throws: ``ConfigurationError`` for values out of range.
    public init(tolerance: Double = 1e-10, restart: Int = 50, maxIterations: Int = 1000) throws(ConfigurationError) {
        guard tolerance > 0, tolerance.isFinite else {
            throw ConfigurationError("GMRES tolerance must be a positive number, got \(tolerance)")
        }
        guard restart >= 1 else { throw ConfigurationError("GMRES restart must be ≥ 1, got \(restart)") }
        guard maxIterations >= 1 else { throw ConfigurationError("GMRES maxIterations must be ≥ 1, got \(maxIterations)") }
        self.tolerance = tolerance
        self.restart = restart
        self.maxIterations = maxIterations
    }

    /// Solves A x = b starting from `initialGuess` (zero by default).
    public func solve<Op: LinearOperator>(_ a: Op, _ b: [Double], initialGuess: [Double]? = nil) -> LinearSolution {
        let n = b.count
        precondition(a.inputDimension == n && a.outputDimension == n, "GMRES needs a square operator matching b")
        var x = initialGuess ?? [Double](repeating: 0, count: n)
        precondition(x.count == n, "initial guess has the wrong length")
        var matvecs = 0
        var iterations = 0
        var history: [Double] = []

        func finish(_ status: SolverStatus, _ relative: Double) -> LinearSolution {
            LinearSolution(
                solution: x, status: status, iterations: iterations, matvecs: matvecs,
                residualHistory: history, relativeResidual: relative)
        }

        guard b.allSatisfy(\.isFinite), x.allSatisfy(\.isFinite) else { return finish(.nonFiniteInput, .nan) }
        let bNorm = BLAS.nrm2(b)
        if bNorm == 0 {
            x = [Double](repeating: 0, count: n)
            history.append(0)
            return finish(.converged, 0)
        }

        var r = [Double](repeating: 0, count: n)
        func trueResidual() -> Double {
            a.apply(x, into: &r)
            matvecs += 1
            for i in 0..<n { r[i] = b[i] - r[i] }
            return BLAS.nrm2(r)
        }

        var beta = trueResidual()
        history.append(beta / bNorm)
        guard beta.isFinite else { return finish(.nonFiniteIterate, .nan) }
        if beta / bNorm <= tolerance { return finish(.converged, beta / bNorm) }

        let m = min(restart, n)
        var basis: [[Double]] = []
        basis.reserveCapacity(m + 1)
        var w = [Double](repeating: 0, count: n)

        while iterations < maxIterations {
            // One cycle of Arnoldi from r / β.
            basis.removeAll(keepingCapacity: true)
            var v0 = r
            BLAS.scal(1 / beta, &v0)
            basis.append(v0)
            var h = [[Double]](repeating: [Double](repeating: 0, count: m), count: m + 1)  // h[i][j]
            var cs = [Double](repeating: 0, count: m)
            var sn = [Double](repeating: 0, count: m)
            var rhs = [Double](repeating: 0, count: m + 1)
            rhs[0] = beta
            var columns = 0
            var invariant = false

            for j in 0..<m {
                a.apply(basis[j], into: &w)
                matvecs += 1
                iterations += 1
                guard w.allSatisfy(\.isFinite) else { return finish(.nonFiniteIterate, .nan) }
                for _ in 0..<2 {  // MGS plus one re-orthogonalisation pass
                    for i in 0...j {
                        let c = BLAS.dot(w, basis[i])
                        h[i][j] += c
                        BLAS.axpy(-c, basis[i], &w)
                    }
                }
                let wNorm = BLAS.nrm2(w)
                h[j + 1][j] = wNorm
                for i in 0..<j {  // earlier rotations
                    let t = cs[i] * h[i][j] + sn[i] * h[i + 1][j]
                    h[i + 1][j] = -sn[i] * h[i][j] + cs[i] * h[i + 1][j]
                    h[i][j] = t
                }
                let denom = (h[j][j] * h[j][j] + h[j + 1][j] * h[j + 1][j]).squareRoot()
                if denom == 0 { cs[j] = 1; sn[j] = 0 } else { cs[j] = h[j][j] / denom; sn[j] = h[j + 1][j] / denom }
                h[j][j] = denom
                h[j + 1][j] = 0
                rhs[j + 1] = -sn[j] * rhs[j]
                rhs[j] = cs[j] * rhs[j]
                columns = j + 1
                history.append(abs(rhs[j + 1]) / bNorm)
                // Lucky breakdown: the Krylov space is invariant under A.
                if wNorm <= 1e-14 * max(1, abs(denom)) { invariant = true; break }
                if abs(rhs[j + 1]) / bNorm <= tolerance || iterations >= maxIterations { break }
                BLAS.scal(1 / wNorm, &w)
                basis.append(w)
            }

            // Back substitution for y in the triangular system, then x += V y.
            var y = [Double](repeating: 0, count: columns)
            for i in stride(from: columns - 1, through: 0, by: -1) {
                var s = rhs[i]
                for k in (i + 1)..<columns { s -= h[i][k] * y[k] }
                y[i] = h[i][i] == 0 ? 0 : s / h[i][i]
            }
            for i in 0..<columns { BLAS.axpy(y[i], basis[i], &x) }

            let previous = beta
            beta = trueResidual()
            guard beta.isFinite else { return finish(.nonFiniteIterate, .nan) }
            let relative = beta / bNorm
            if relative <= tolerance { return finish(.converged, relative) }
            if invariant { return finish(.breakdown, relative) }
            if beta >= previous * (1 - 1e-10) { return finish(.stagnation, relative) }
        }
        return finish(.maximumIterationsReached, beta / bNorm)
    }
}
