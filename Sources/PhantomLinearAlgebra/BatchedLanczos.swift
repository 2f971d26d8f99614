/// Independent symmetric Lanczos processes, one per row of a batch, run in lockstep so that each step applies the
/// operators of every row at once (`apply` maps a B×n batch to B×n, row i through operator i — batched JVPs and VJPs
/// become GEMMs). Each row is ``SymmetricLanczos``: full reorthogonalisation, Ritz residuals, stopped when both of its
/// extreme Ritz values converged or its Krylov space became invariant; a row whose vector turns non-finite fails.
public enum BatchedLanczos {
    public static func extremes(rows b: Int, dimension n: Int, tolerance: Double = 1e-8, maxSteps: Int = 300,
                                seed: UInt64 = 0x1a2c05, apply: (Matrix) -> Matrix) -> [SymmetricLanczos.Result] {
        let m = min(maxSteps, n)
        var results = [SymmetricLanczos.Result?](repeating: nil, count: b)
        guard n > 0, b > 0 else {
            return (0..<b).map { _ in SymmetricLanczos.Result(smallest: RitzValue(value: 0, residual: 0, converged: true),
                                                               largest: RitzValue(value: 0, residual: 0, converged: true), steps: 0) }
        }
        var rng = SplitMix64(seed: seed)
        let start = (0..<n).map { _ in rng.nextGaussian() }
        let norm = BLAS.nrm2(start)
        var v = Matrix(zeros: b, n)
        for i in 0..<b { for j in 0..<n { v[i, j] = start[j] / norm } }
        var basis = [v]
        var alphas = [[Double]](repeating: [], count: b), betas = [[Double]](repeating: [], count: b)
        for step in 0..<m {
            var w = apply(basis[step])
            // Per row: finite check, then full reorthogonalisation (twice) against that row's basis, in place.
            var alphaStep = [Double](repeating: 0, count: b)
            var active = (0..<b).filter { results[$0] == nil }
            for i in active where !w.row(i).allSatisfy(\.isFinite) {
                results[i] = SymmetricLanczos.Result(smallest: .failed, largest: .failed, steps: step)
            }
            active = active.filter { results[$0] == nil }
            w.elements.withUnsafeMutableBufferPointer { wp in
                for _ in 0..<2 {
                    for j in 0...step {
                        basis[j].elements.withUnsafeBufferPointer { qp in
                            for i in active {
                                let base = i * n
                                var c = 0.0
                                for t in 0..<n { c += wp[base + t] * qp[base + t] }
                                if j == step { alphaStep[i] += c }
                                for t in 0..<n { wp[base + t] -= c * qp[base + t] }
                            }
                        }
                    }
                }
            }
            for i in active {
                alphas[i].append(alphaStep[i])
                var beta = 0.0
                for t in 0..<n { beta += w.elements[i * n + t] * w.elements[i * n + t] }
                beta = beta.squareRoot()
                let scale = max(alphas[i].map(abs).max() ?? 0, betas[i].max() ?? 0, 1e-300)
                let invariant = beta <= 1e-13 * scale || step + 1 == n
                if invariant || step + 1 == m || (step + 1) % 5 == 0 {
                    let r = SymmetricLanczos.ritz(alphas[i], betas[i], beta: invariant ? 0 : beta, tolerance: tolerance,
                                                  floor: tolerance, steps: step + 1)
                    if invariant || step + 1 == m || (r.smallest.converged && r.largest.converged) { results[i] = r }
                }
                betas[i].append(beta)
                let factor = results[i] == nil ? 1 / beta : 0
                for t in 0..<n { w.elements[i * n + t] *= factor }
            }
            for i in 0..<b where results[i] != nil {
                for t in 0..<n { w.elements[i * n + t] = 0 }
            }
            if results.allSatisfy({ $0 != nil }) { break }
            basis.append(w)
        }
        return results.map { $0 ?? SymmetricLanczos.Result(smallest: .failed, largest: .failed, steps: m) }
    }
}
