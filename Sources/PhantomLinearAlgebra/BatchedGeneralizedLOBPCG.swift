/// The largest eigenvalue of symmetric pencils (A_i, G_i) with G_i positive semi-definite, one per row of a batch,
/// restricted to the directions where G_i is not (numerically) null: μ_i = max xᵀA_i x / xᵀG_i x over unit x with
/// xᵀG_i x > η_i. Block size 1, the rows in lockstep like `BatchedLOBPCG.smallest`.
///
/// Each step maximises the quotient over span{x, p, w} with w = 𝒫 T r, r = A x − μ G x the residual, p the previous
/// step's direction, T a preconditioner and 𝒫 a projector onto the subspace searched (e.g. the complement of a known
/// null space of G). The 3×3 Rayleigh–Ritz is done in two reductions so that a near-null G never reaches a division:
/// the basis is first made orthonormal (directions whose Euclidean Gram eigenvalue is below 10⁻¹⁴ of the largest are
/// dependent and dropped), then G's 3×3 Gram on it is diagonalised and the unit directions with Rayleigh quotient
/// ≤ η_i (`nullFloor`, e.g. ``GramSpectrum``'s null tolerance times λ_max(G_i)) are dropped as null, and the remaining
/// standard symmetric problem gives μ and the new x. One product with A and one with G per step.
///
/// Pedigree (``RitzValue``): value μ, residual ‖A x − μ G x‖ / ‖G x‖ (in μ's units), converged when
/// ‖A x − μ G x‖ ≤ tolerance·(‖A x‖ + |μ| ‖G x‖). A row whose vectors or values turn non-finite, or whose whole basis
/// lies in G's null space, fails (NaN, not converged); one still short after `maxSteps` is reported with its
/// residual, not converged. Where it is used and why: docs/MatrixFreeCertificates.md.
extension BatchedLOBPCG {
    public static func largestGeneralized(
        rows b: Int, dimension n: Int, tolerance: Double = 1e-8, nullFloor: [Double], maxSteps: Int = 200,
        seed: UInt64 = 0x1a2c05, start: Matrix? = nil, project: (Matrix) -> Matrix, preconditioner: (Matrix) -> Matrix,
        apply: (Matrix) -> Matrix, applyGram: (Matrix) -> Matrix
    ) -> (results: [RitzValue], vectors: Matrix, steps: [Int]) {
        Swift.precondition(nullFloor.count == b, "LOBPCG: one null floor per row")
        guard b > 0, n > 0 else { return ((0..<b).map { _ in RitzValue(value: 0, residual: 0, converged: true) }, Matrix(zeros: b, n), []) }
        var x = project(BatchedLanczos.startVectors(rows: b, dimension: n, seed: seed, start: nil))
        for i in 0..<b { normalizeRow(&x, i) }
        var ax = apply(x), gx = applyGram(x)
        var p = Matrix(zeros: b, n), ap = p, gp = p
        var hasP = [Bool](repeating: false, count: b)
        var mu = (0..<b).map { dot(x, $0, ax, $0) / dot(x, $0, gx, $0) }
        var results = [RitzValue?](repeating: nil, count: b)
        var steps = [Int](repeating: 0, count: b)
        if let start {
            // A warm start (e.g. the neighbouring pencil's vector) enters whole, with the random vector beside it in a
            // first Rayleigh–Ritz: an exact interior eigenvector cannot end the run at step 0, and no random part
            // dilutes the warm one.
            var warm = project(start)
            for i in 0..<b { normalizeRow(&warm, i) }
            let aw = apply(warm), gw = applyGram(warm)
            for i in 0..<b where dot(warm, i, warm, i) > 0 {
                let basis = [(v: warm, a: aw, g: gw), (v: x, a: ax, g: gx)]
                guard let c = rayleighRitz(basis, row: i, nullFloor: nullFloor[i]) else { continue }
                var newX = [Double](repeating: 0, count: n), newAX = newX, newGX = newX
                for (s, part) in basis.enumerated() {
                    for j in 0..<n {
                        newX[j] += c.vector[s] * part.v.elements[i * n + j]
                        newAX[j] += c.vector[s] * part.a.elements[i * n + j]
                        newGX[j] += c.vector[s] * part.g.elements[i * n + j]
                    }
                }
                let norm = BLAS.nrm2(newX)
                guard norm > 0, norm.isFinite else { continue }
                for j in 0..<n {
                    (x.elements[i * n + j], ax.elements[i * n + j], gx.elements[i * n + j]) = (
                        newX[j] / norm, newAX[j] / norm, newGX[j] / norm
                    )
                }
                mu[i] = c.value
            }
        }
        for i in 0..<b where !(dot(x, i, gx, i) > nullFloor[i]) { results[i] = .failed }

        for step in 0...maxSteps {
            var r = Matrix(zeros: b, n)
            for i in 0..<b where results[i] == nil {
                var r2 = 0.0, a2 = 0.0, g2 = 0.0
                for j in 0..<n {
                    let a = ax.elements[i * n + j], g = gx.elements[i * n + j]
                    let value = a - mu[i] * g
                    r.elements[i * n + j] = value
                    r2 += value * value
                    a2 += a * a
                    g2 += g * g
                }
                let (norm, gNorm) = (r2.squareRoot(), g2.squareRoot())
                steps[i] = step
                if !norm.isFinite || !mu[i].isFinite || !(gNorm > 0) {
                    results[i] = .failed
                } else if norm <= tolerance * (a2.squareRoot() + abs(mu[i]) * gNorm) {
                    results[i] = RitzValue(value: mu[i], residual: norm / gNorm, converged: true)
                } else if step == maxSteps {
                    results[i] = RitzValue(value: mu[i], residual: norm / gNorm, converged: false)
                }
            }
            let active = (0..<b).filter { results[$0] == nil }
            if active.isEmpty { break }
            var w = project(preconditioner(r))
            for i in 0..<b where results[i] != nil { for j in 0..<n { w.elements[i * n + j] = 0 } }
            // An orthonormal basis [x, p, w] per row (p's images follow its combination), so that the Rayleigh–Ritz
            // below sees a well-conditioned basis even as p turns parallel to x near convergence.
            for i in active {
                if hasP[i] { hasP[i] = orthonormalize(&p, &ap, &gp, row: i, against: x, ax, gx) }
                var none: Matrix? = nil
                if !orthonormalize(&w, &none, row: i, against: hasP[i] ? [(x, nil), (p, nil)] : [(x, nil)]) {
                    for j in 0..<n { w.elements[i * n + j] = 0 }
                }
            }
            let aw = apply(w), gw = applyGram(w)

            for i in active {
                var basis: [(v: Matrix, a: Matrix, g: Matrix)] = [(x, ax, gx)]
                if hasP[i] { basis.append((p, ap, gp)) }
                if dot(w, i, w, i) > 0 { basis.append((w, aw, gw)) }
                guard basis.count > 1 else { results[i] = RitzValue(value: mu[i], residual: .nan, converged: false); continue }
                guard let c = rayleighRitz(basis, row: i, nullFloor: nullFloor[i]) else { results[i] = .failed; continue }
                var newX = [Double](repeating: 0, count: n), newAX = newX, newGX = newX
                var newP = newX, newAP = newX, newGP = newX
                for (s, part) in basis.enumerated() {
                    let coefficient = c.vector[s]
                    for j in 0..<n {
                        let (v, av, gv) = (part.v.elements[i * n + j], part.a.elements[i * n + j], part.g.elements[i * n + j])
                        newX[j] += coefficient * v
                        newAX[j] += coefficient * av
                        newGX[j] += coefficient * gv
                        if s > 0 { newP[j] += coefficient * v; newAP[j] += coefficient * av; newGP[j] += coefficient * gv }
                    }
                }
                let norm = BLAS.nrm2(newX), pNorm = BLAS.nrm2(newP)
                guard norm > 0, norm.isFinite, pNorm.isFinite else { results[i] = .failed; continue }
                let pScale = pNorm > 0 ? 1 / pNorm : 0
                for j in 0..<n {
                    x.elements[i * n + j] = newX[j] / norm
                    ax.elements[i * n + j] = newAX[j] / norm
                    gx.elements[i * n + j] = newGX[j] / norm
                    p.elements[i * n + j] = newP[j] * pScale
                    ap.elements[i * n + j] = newAP[j] * pScale
                    gp.elements[i * n + j] = newGP[j] * pScale
                }
                hasP[i] = pNorm > 0
                mu[i] = c.value
            }
        }
        return (results.map { $0 ?? .failed }, x, steps)
    }

    /// The largest μ of the pencil (SᵀAS, SᵀGS) on row i's basis S (columns: the basis vectors), with the coefficients
    /// of its vector: dependent directions of S, then G-null ones (unit directions with quotient ≤ nullFloor), dropped.
    /// Nil when nothing non-null is left or LAPACK fails.
    static func rayleighRitz(_ basis: [(v: Matrix, a: Matrix, g: Matrix)], row i: Int, nullFloor: Double)
        -> (value: Double, vector: [Double])?
    {
        let m = basis.count
        func gram(_ image: (Int) -> Matrix) -> Matrix {
            var out = Matrix(zeros: m, m)
            for s in 0..<m {
                for t in s..<m {
                    let value = 0.5 * (dot(basis[s].v, i, image(t), i) + dot(basis[t].v, i, image(s), i))
                    (out[s, t], out[t, s]) = (value, value)
                }
            }
            return out
        }
        let euclidean = gram { basis[$0].v }, onA = gram { basis[$0].a }, onG = gram { basis[$0].g }
        // C maps reduced coordinates to basis coefficients; each reduction keeps the directions above its floor.
        func reduce(_ c: Matrix, _ matrix: Matrix, floor: (Double) -> Double) -> Matrix? {
            let reduced = (c.transposed * matrix * c).symmetricPart
            guard let eigen = try? SymmetricEigen(reduced), let q = eigen.vectors, let top = eigen.values.last, top.isFinite
            else { return nil }
            let kept = eigen.values.indices.filter { eigen.values[$0] > floor(top) }
            guard !kept.isEmpty else { return nil }
            var out = Matrix(zeros: c.rows, kept.count)
            for (column, e) in kept.enumerated() {
                let scale = 1 / eigen.values[e].squareRoot()
                for s in 0..<c.rows { for t in 0..<c.columns { out[s, column] += c[s, t] * q[t, e] * scale } }
            }
            return out
        }
        guard let orthonormal = reduce(Matrix.identity(m), euclidean, floor: { 1e-14 * $0 }),
            let definite = reduce(orthonormal, onG, floor: { _ in nullFloor }),
            let eigen = try? SymmetricEigen((definite.transposed * onA * definite).symmetricPart),
            let y = eigen.vectors, let value = eigen.values.last, value.isFinite
        else { return nil }
        let top = eigen.values.count - 1
        return (value, (0..<m).map { s in (0..<definite.columns).reduce(0.0) { $0 + definite[s, $1] * y[$1, top] } })
    }

    /// Row i of v orthogonalised (twice) against the unit row i of q and normalised, its rows in `images` receiving the
    /// same combination of q's images. False when nothing independent is left (a norm below 10⁻¹⁰ of the original).
    static func orthonormalize(
        _ v: inout Matrix, _ av: inout Matrix, _ gv: inout Matrix, row i: Int, against q: Matrix, _ aq: Matrix, _ gq: Matrix
    ) -> Bool {
        let n = v.columns
        let original = dot(v, i, v, i).squareRoot()
        guard original > 0, original.isFinite else { return false }
        for _ in 0..<2 {
            let c = dot(v, i, q, i)
            for t in 0..<n {
                v.elements[i * n + t] -= c * q.elements[i * n + t]
                av.elements[i * n + t] -= c * aq.elements[i * n + t]
                gv.elements[i * n + t] -= c * gq.elements[i * n + t]
            }
        }
        let norm = dot(v, i, v, i).squareRoot()
        guard norm > 1e-10 * original else { return false }
        for t in 0..<n { v.elements[i * n + t] /= norm; av.elements[i * n + t] /= norm; gv.elements[i * n + t] /= norm }
        return true
    }

    /// Row i scaled to unit length (left alone when zero).
    static func normalizeRow(_ v: inout Matrix, _ i: Int) {
        let n = v.columns, norm = dot(v, i, v, i).squareRoot()
        guard norm > 0, norm.isFinite else { return }
        for j in 0..<n { v.elements[i * n + j] /= norm }
    }
}
