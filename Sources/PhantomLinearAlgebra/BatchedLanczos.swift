/// Independent symmetric Lanczos processes, one per row of a batch, run in lockstep so that each step applies the
/// operators of every row at once (`apply` maps a B×n batch to B×n, row i through operator i — batched JVPs and VJPs
/// become GEMMs). Each row is ``SymmetricLanczos``: full reorthogonalisation, Ritz residuals, stopped when both of its
/// extreme Ritz values converged or its Krylov space became invariant; a row whose vector turns non-finite fails.
public enum BatchedLanczos {
    /// Which extreme Ritz value a process must converge before it stops.
    public enum Needed: Sendable { case largest, smallest, both }

    /// The extreme Ritz values per row; with `start` (B×n, non-zero rows) each process starts from that row mixed with
    /// a random vector (a warm start, e.g. a neighbouring operator's Ritz vector; ``startVectors(rows:dimension:seed:start:)``).
    public static func extremes(
        rows b: Int, dimension n: Int, tolerance: Double = 1e-8, floor: Double? = nil, maxSteps: Int = 300,
        seed: UInt64 = 0x1a2c05, start: Matrix? = nil, apply: (Matrix) -> Matrix
    ) -> [SymmetricLanczos.Result] {
        extremesWithVectors(
            rows: b, dimension: n, tolerance: tolerance, floor: floor, maxSteps: maxSteps, seed: seed, start: start,
            needed: .both, wantVectors: false, apply: apply
        ).results
    }

    /// ``extremes(rows:dimension:tolerance:maxSteps:seed:start:apply:)`` and, when `wantVectors`, per row the unit Ritz
    /// vectors of the largest and of the smallest Ritz value (B×n each; empty otherwise).
    public static func extremesWithVectors(
        rows b: Int, dimension n: Int, tolerance: Double = 1e-8, floor: Double? = nil, maxSteps: Int = 300,
        seed: UInt64 = 0x1a2c05, start: Matrix? = nil, needed: Needed = .both, wantVectors: Bool = true,
        apply: (Matrix) -> Matrix
    ) -> (results: [SymmetricLanczos.Result], largest: Matrix, smallest: Matrix) {
        let m = min(maxSteps, n)
        let floor = floor ?? tolerance
        var results = [SymmetricLanczos.Result?](repeating: nil, count: b)
        guard n > 0, b > 0 else {
            return (
                (0..<b).map { _ in
                    SymmetricLanczos.Result(
                        smallest: RitzValue(value: 0, residual: 0, converged: true),
                        largest: RitzValue(value: 0, residual: 0, converged: true), steps: 0)
                },
                Matrix(zeros: 0, 0), Matrix(zeros: 0, 0)
            )
        }
        let v = startVectors(rows: b, dimension: n, seed: seed, start: start)
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
                // The Ritz test (an m×m eigenproblem) after every step while m ≤ 40, where it costs little against a
                // step's products and most runs stop; then every 5 steps.
                if invariant || step + 1 == m || step + 1 <= 40 || (step + 1) % 5 == 0 {
                    let r = SymmetricLanczos.ritz(
                        alphas[i], betas[i], beta: invariant ? 0 : beta, tolerance: tolerance,
                        floor: floor, steps: step + 1)
                    let done =
                        switch needed {
                        case .both: r.smallest.converged && r.largest.converged
                        case .largest: r.largest.converged
                        case .smallest: r.smallest.converged
                        }
                    if invariant || step + 1 == m || done { results[i] = r }
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
        var largest = Matrix(zeros: 0, 0), smallest = Matrix(zeros: 0, 0)
        if wantVectors {
            // Ritz vectors V y for each row's extreme Ritz values, from its tridiagonal's eigenvectors.
            largest = Matrix(zeros: b, n)
            smallest = Matrix(zeros: b, n)
            for i in 0..<b {
                let steps = alphas[i].count
                guard steps > 0 else { continue }
                var t = Matrix(zeros: steps, steps)
                for j in 0..<steps {
                    t[j, j] = alphas[i][j]
                    if j + 1 < steps { t[j, j + 1] = betas[i][j]; t[j + 1, j] = betas[i][j] }
                }
                guard let eigen = try? SymmetricEigen(t), let y = eigen.vectors else { continue }
                for j in 0..<min(steps, basis.count) {
                    let (top, low) = (y[j, steps - 1], y[j, 0])
                    for c in 0..<n {
                        largest.elements[i * n + c] += top * basis[j].elements[i * n + c]
                        smallest.elements[i * n + c] += low * basis[j].elements[i * n + c]
                    }
                }
            }
        }
        return (results.map { $0 ?? SymmetricLanczos.Result(smallest: .failed, largest: .failed, steps: m) }, largest, smallest)
    }

    /// Unit start vectors, one per row. Without `start`: one fixed Gaussian vector from `seed` (the same for every row,
    /// so that results do not depend on the row's position). With `start` (a warm start, e.g. a neighbouring operator's
    /// Ritz vector): the unit start row plus the unit Gaussian vector, normalised. A Ritz vector alone is (nearly) an
    /// eigenvector of the new operator — often not the extreme one — and its Krylov space is (nearly) invariant, so a
    /// method started there can stop at an interior eigenvalue with a small residual; the Gaussian part keeps every
    /// eigendirection present, as a random start does. (Measured: mdeq d = 2,048 margins at 2.4e-4 where G is singular,
    /// which bounds them by 0 — from pure Ritz-vector starts.) A non-finite or zero start row counts as absent.
    static func startVectors(rows b: Int, dimension n: Int, seed: UInt64, start: Matrix?) -> Matrix {
        var rng = SplitMix64(seed: seed)
        let random = (0..<n).map { _ in rng.nextGaussian() }
        let randomNorm = BLAS.nrm2(random)
        var v = Matrix(zeros: b, n)
        for i in 0..<b {
            var row = random
            if let start {
                let warm = start.row(i), norm = BLAS.nrm2(warm)
                if norm > 0, norm.isFinite { row = (0..<n).map { warm[$0] / norm + random[$0] / randomNorm } }
            }
            let norm = BLAS.nrm2(row)
            for j in 0..<n { v[i, j] = row[j] / norm }
        }
        return v
    }
}
