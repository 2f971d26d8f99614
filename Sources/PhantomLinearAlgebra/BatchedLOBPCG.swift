/// The smallest eigenvalue of symmetric operators, one per row of a batch, by preconditioned LOBPCG with block size 1
/// (Knyazev, SIAM J. Sci. Comput. 23, 2001), the rows in lockstep like ``BatchedLanczos`` (`apply` maps a B×n batch
/// to B×n, row i through operator A_i; `preconditioner` likewise through T_i ≈ A_i^{-1}, symmetric positive definite).
///
/// Each step minimises the Rayleigh quotient over span{x, p, T r} (r = A x − θ x the residual, p the previous
/// step's direction) by a 3×3 Rayleigh–Ritz; the basis is orthonormalised first (x, then p, then T r, each twice
/// against the earlier ones) and its images under A are carried along by the same combinations, so one product with
/// A per step suffices. A good preconditioner makes the step count independent of the operator's spread of scales,
/// where Lanczos needs more steps the tighter the lowest eigenvalue's cluster is.
///
/// The pedigree is ``RitzValue``'s: r = ‖A x − θ x‖ for the unit vector x, converged when
/// r ≤ max(tolerance·|θ|, tolerance·scale_i) with `scale` the caller's estimate of ‖A_i‖. A row whose vectors turn
/// non-finite fails (NaN, not converged); one still short of its tolerance after `maxSteps` is reported with its
/// residual, not converged. Where it is used and why: docs/MatrixFreeCertificates.md.
public enum BatchedLOBPCG {
    public static func smallest(
        rows b: Int, dimension n: Int, tolerance: Double = 1e-8, scale: [Double], maxSteps: Int = 200,
        seed: UInt64 = 0x1a2c05, start: Matrix? = nil,
        preconditioner: (Matrix) -> Matrix, apply: (Matrix) -> Matrix
    ) -> (results: [RitzValue], vectors: Matrix, steps: [Int]) {
        Swift.precondition(scale.count == b, "LOBPCG: one scale per row")
        guard b > 0, n > 0 else { return ((0..<b).map { _ in RitzValue(value: 0, residual: 0, converged: true) }, Matrix(zeros: b, n), []) }
        var x = BatchedLanczos.startVectors(rows: b, dimension: n, seed: seed, start: start)
        var ax = apply(x)
        var p = Matrix(zeros: b, n), ap = Matrix(zeros: b, n)
        var hasP = [Bool](repeating: false, count: b)
        var theta = (0..<b).map { dot(x, $0, ax, $0) }
        var results = [RitzValue?](repeating: nil, count: b)
        var steps = [Int](repeating: 0, count: b)

        for step in 0...maxSteps {
            // Residuals; rows that converged, failed or ran out of steps stop here.
            var w = Matrix(zeros: b, n)
            var residuals = [Double](repeating: 0, count: b)
            for i in 0..<b where results[i] == nil {
                var r2 = 0.0
                for j in 0..<n {
                    let r = ax.elements[i * n + j] - theta[i] * x.elements[i * n + j]
                    w.elements[i * n + j] = r
                    r2 += r * r
                }
                let r = r2.squareRoot()
                residuals[i] = r
                steps[i] = step
                if !r.isFinite || !theta[i].isFinite {
                    results[i] = .failed
                } else if r <= max(tolerance * abs(theta[i]), tolerance * scale[i]) {
                    results[i] = RitzValue(value: theta[i], residual: r, converged: true)
                } else if step == maxSteps {
                    results[i] = RitzValue(value: theta[i], residual: r, converged: false)
                }
            }
            let active = (0..<b).filter { results[$0] == nil }
            if active.isEmpty { break }
            w = preconditioner(w)

            // Orthonormal basis [x, p, w] per row, with A's images of x and p carried along.
            var keepW = [Bool](repeating: false, count: b)
            var images: Matrix? = ap, none: Matrix? = nil
            for i in active {
                if hasP[i] { hasP[i] = orthonormalize(&p, &images, row: i, against: [(x, ax)]) }
                keepW[i] = orthonormalize(&w, &none, row: i, against: hasP[i] ? [(x, nil), (p, nil)] : [(x, nil)])
            }
            ap = images!
            for i in 0..<b where !keepW[i] { for j in 0..<n { w.elements[i * n + j] = 0 } }
            let aw = apply(w)

            for i in active {
                // Rayleigh–Ritz on the basis (x, p, w) present for this row.
                var basis: [(Matrix, Matrix)] = [(x, ax)]
                if hasP[i] { basis.append((p, ap)) }
                if keepW[i] { basis.append((w, aw)) }
                let m = basis.count
                guard m > 1 else {
                    results[i] = RitzValue(value: theta[i], residual: residuals[i], converged: false)
                    continue
                }
                var h = Matrix(zeros: m, m)
                for s in 0..<m {
                    for t in s..<m {
                        let value = 0.5 * (dot(basis[s].0, i, basis[t].1, i) + dot(basis[t].0, i, basis[s].1, i))
                        h[s, t] = value
                        h[t, s] = value
                    }
                }
                guard let eigen = try? SymmetricEigen(h), let y = eigen.vectors, eigen.values[0].isFinite else {
                    results[i] = .failed
                    continue
                }
                var newX = [Double](repeating: 0, count: n), newAX = newX, newP = newX, newAP = newX
                for s in 0..<m {
                    let c = y[s, 0]
                    for j in 0..<n {
                        let v = basis[s].0.elements[i * n + j], av = basis[s].1.elements[i * n + j]
                        newX[j] += c * v
                        newAX[j] += c * av
                        if s > 0 { newP[j] += c * v; newAP[j] += c * av }
                    }
                }
                let norm = BLAS.nrm2(newX)
                guard norm > 0, norm.isFinite else { results[i] = .failed; continue }
                for j in 0..<n {
                    x.elements[i * n + j] = newX[j] / norm
                    ax.elements[i * n + j] = newAX[j] / norm
                    p.elements[i * n + j] = newP[j]
                    ap.elements[i * n + j] = newAP[j]
                }
                hasP[i] = true
                theta[i] = dot(x, i, ax, i)
            }
        }
        return (results.map { $0 ?? .failed }, x, steps)
    }

    /// Row i of a · row j of b.
    static func dot(_ a: Matrix, _ i: Int, _ b: Matrix, _ j: Int) -> Double {
        let n = a.columns
        var s = 0.0
        for t in 0..<n { s += a.elements[i * n + t] * b.elements[j * n + t] }
        return s
    }

    /// Row `i` of v orthogonalised (twice) against row i of each unit-row matrix q in `against` and normalised; when
    /// `av` is given, its row i receives the same combination (with the images aq of the q). False when nothing
    /// independent is left (a norm below 1e-10 of the original).
    static func orthonormalize(_ v: inout Matrix, _ av: inout Matrix?, row i: Int, against: [(q: Matrix, aq: Matrix?)]) -> Bool {
        let n = v.columns
        let original = dot(v, i, v, i).squareRoot()
        guard original > 0, original.isFinite else { return false }
        for _ in 0..<2 {
            for (q, aq) in against {
                let c = dot(v, i, q, i)
                for t in 0..<n { v.elements[i * n + t] -= c * q.elements[i * n + t] }
                if av != nil, let aq { for t in 0..<n { av!.elements[i * n + t] -= c * aq.elements[i * n + t] } }
            }
        }
        let norm = dot(v, i, v, i).squareRoot()
        guard norm > 1e-10 * original else { return false }
        for t in 0..<n { v.elements[i * n + t] /= norm }
        if av != nil { for t in 0..<n { av!.elements[i * n + t] /= norm } }
        return true
    }
}
