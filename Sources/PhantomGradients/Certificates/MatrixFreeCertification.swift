import PhantomLinearAlgebra
import PhantomModel

/// Certificates without a d×d matrix, for a set of samples at once (THEORY.md §3, §7). Each estimator gives two
/// operators on rows (row i through sample i's): its error Gram v ↦ EᵀE v and v ↦ ½(S + Sᵀ)v with S = M𝒜(I − Jᵀ);
/// then
///
///     ‖E‖₂² = λ_max(EᵀE),   margin = λ_min(sym S) / σ_max²,   ρ*² = λ_max(EᵀE, G)  (G = M Mᵀ diagonal only),
///
/// each by Lanczos (``BatchedLanczos``: one process per sample, the samples' operators applied together as
/// batched JVPs and VJPs) with its Ritz residual. The Neumann family (E = −Mᵀ Pᵀ for a state-space P; NPG: B^k,
/// RBP: J^k, JFB: J, damped JFB: B) has EᵀE = P G Pᵀ and S = G(I − Pᵀ); UPG builds its operators from its unroll
/// (``UnrolledPhantomGradient/certifyMatrixFree(_:)``). A value whose residual misses the tolerance is reported as
/// not computed (NaN), so that it can never count as certified; ``unconverged`` counts them. ρ* needs G^{-1/2}, so it
/// is computed only where G is diagonal in closed form (tanh); for other cells (a generalized eigenproblem with a
/// Gram that may be singular, as mdeq's is) it is not computed on this route. σ_min and σ_max come from the
/// iterative spectra.
///
/// Derivations: docs/MatrixFreeCertificates.md.
///
/// Cost per Neumann cell and Lanczos step: 2k batched state products and one or two Gram applications (closed form
/// for tanh, else per-sample parameter VJPs and JVPs of the batch, B × p).
public final class MatrixFreeCertification: @unchecked Sendable {
    /// When G is singular (σ_min = 0: λ_min(G) ≤ ``GramSpectrum/nullTolerance``·λ_max), λ_min(sym S) ≤
    /// nullTolerance·(1 + ‖P‖)·σ_max²; a margin above this bound (10⁻¹⁰, for ‖P‖ up to 99) is rejected.
    static let singularMarginBound = 1e-10

    /// At most this many samples are certified together (one Lanczos process each, their products batched).
    public static let blockSize = 32

    /// The split of `count` certified samples into blocks of at most ``blockSize``, and into at least two from 16
    /// samples on, sizes balanced, in order. The analysis certifies the blocks over the cores: memory stays that of
    /// one block per core however many samples are certified, and the split depends only on `count`, never on the core
    /// count, so neither do the results. Small blocks lose time to GEMM packing (tanh d = 1,024, 64 samples: 328 s in
    /// blocks of 8, 222 s in blocks of 32, before LOBPCG).
    public static func blocks(_ count: Int) -> [[Int]] {
        guard count > 0 else { return [] }
        let number = max((count + blockSize - 1) / blockSize, count >= 16 ? 2 : 1)
        return (0..<number).map { j in Array((j * count / number)..<((j + 1) * count / number)) }
    }

    public let problem: GradientProblem
    /// The certified samples (indices into the problem's batch).
    public let samples: [Int]
    public let ks: [Int]
    public let lambdas: [Double]
    public let sigmaMin: [Double]
    public let sigmaMax: [Double]
    public let tolerance: Double
    public let maxSteps: Int
    /// Values whose Lanczos residual missed the tolerance (reported as not computed).
    public private(set) var unconverged = 0
    let linearization: any CellLinearization
    /// The last Ritz vectors per warm-start key: the top one of EᵀE, the bottom one of sym(S), the top one of ρ*'s operator.
    private var warm: [String: (error: Matrix, margin: Matrix, rhoStar: Matrix?)] = [:]
    let diagonals: [[Double]]?
    /// 1/g per sample and coordinate for a diagonal G = diag(g), g floored at ``GramSpectrum/nullTolerance``·max g.
    let inverseDiagonals: Matrix?
    /// For ρ* on a diagonal G: s = g^{-1/2} on the range coordinates (0 on the null ones), the null coordinates' mask,
    /// and whether any sample has one.
    let rhoStarMasks: (scale: Matrix, null: Matrix, hasNull: Bool)?

    public init(problem: GradientProblem, samples: [Int], ks: [Int], lambdas: [Double], sigmaMin: [Double], sigmaMax: [Double],
                tolerance: Double = 1e-8, maxSteps: Int = 200) {
        (self.problem, self.samples, self.ks, self.lambdas) = (problem, samples, ks, lambdas)
        (self.sigmaMin, self.sigmaMax, self.tolerance, self.maxSteps) = (sigmaMin, sigmaMax, tolerance, maxSteps)
        linearization = problem.linearization.restricted(toSamples: samples)
        let diagonals = samples.map { problem.linearization.closedFormParameterGramDiagonal(sample: $0) }
        self.diagonals = diagonals.allSatisfy { $0 != nil } ? diagonals.map { $0! } : nil
        inverseDiagonals = self.diagonals.map { rows in
            Matrix(rowArrays: rows.map { g in
                let floor = max(GramSpectrum.nullTolerance * (g.max() ?? 0), Double.leastNormalMagnitude)
                return g.map { 1 / max($0, floor) }
            })
        }
        rhoStarMasks = self.diagonals.map { rows in
            var scale = Matrix(zeros: rows.count, problem.stateDimension), null = scale
            var hasNull = false
            for (i, g) in rows.enumerated() {
                let top = g.max() ?? 0
                for j in g.indices {
                    if g[j] > GramSpectrum.nullTolerance * top { scale[i, j] = 1 / g[j].squareRoot() } else { null[i, j] = 1; hasNull = true }
                }
            }
            return (scale, null, hasNull)
        }
    }

    /// Row i: G_i v_i.
    func gram(_ v: Matrix) -> Matrix {
        if let diagonals {
            var out = v
            for i in 0..<v.rows { for j in 0..<v.columns { out[i, j] *= diagonals[i][j] } }
            return out
        }
        return linearization.parameterJVPRows(linearization.parameterVJPRows(v))
    }

    /// B V = λ J V + (1 − λ) V (rows), and its transpose.
    func damped(_ v: Matrix, _ lambda: Double, transposed: Bool) -> Matrix {
        dampedStep(transposed ? linearization.stateVJP(v) : linearization.stateJVP(v), v, lambda)
    }

    /// The certificate of E = −Mᵀ Pᵀ per sample, P given by its action on rows and its transpose's.
    /// `warmStart`: cells that share a key (one family's k = 1, 2, … at one λ) start each Lanczos from the previous
    /// cell's Ritz vector — the extreme vectors move little from k to k + 1, so far fewer steps are needed.
    public func neumannCertificates(apply p: (Matrix) -> Matrix, transpose pt: (Matrix) -> Matrix, warmStart key: String? = nil) -> [Certificate] {
        certificates(errorGram: { v in p(self.gram(pt(v))) }, ascent: { v in
            let gv = self.gram(v)
            let s = self.gram(v - pt(v)), st = gv - p(gv)
            return 0.5 * (s + st)
        }, warmStart: key)
    }

    /// The certificates of any estimator from two operators on rows (row i through sample i's): its error Gram
    /// v ↦ EᵀE v and the symmetric part of S = M𝒜(I − Jᵀ), v ↦ ½(S + Sᵀ)v. ‖E‖₂ = √λ_max(EᵀE) and the margin
    /// λ_min(sym S)/σ_max² by Lanczos; Theorem 1, ‖E‖ ≤ σ_min, ρ and the cosine bound from them.
    public func certificates(errorGram: (Matrix) -> Matrix, ascent: (Matrix) -> Matrix, warmStart key: String? = nil) -> [Certificate] {
        let d = problem.stateDimension, b = samples.count
        let previous = key.flatMap { warm[$0] }
        let errorRun = BatchedLanczos.extremesWithVectors(rows: b, dimension: d, tolerance: tolerance, maxSteps: maxSteps,
                                                          start: previous?.error, needed: .largest, wantVectors: key != nil, apply: errorGram)
        let margin: [RitzValue], marginVector: Matrix
        if let preconditioner = inverseDiagonals {
            // A diagonal G (tanh): LOBPCG preconditioned by G^{-1}, under which sym(G(I − Pᵀ)) is close to I − sym(P)
            // whatever G's spread of scales; residuals relative to σ_max² (the margin's normalisation).
            let run = BatchedLOBPCG.smallest(rows: b, dimension: d, tolerance: tolerance, scale: sigmaMax.map { $0 * $0 }, maxSteps: maxSteps,
                                             start: previous?.margin, preconditioner: { $0.hadamard(preconditioner) }, apply: ascent)
            (margin, marginVector) = (run.results, run.vectors)
        } else {
            let run = BatchedLanczos.extremesWithVectors(rows: b, dimension: d, tolerance: tolerance, maxSteps: maxSteps,
                                                         start: previous?.margin, needed: .smallest, wantVectors: key != nil, apply: ascent)
            (margin, marginVector) = (run.results.map(\.smallest), run.smallest)
        }
        let error = errorRun.results
        let rhoStars = diagonals == nil ? nil : rhoStar(errorGram: errorGram, errorMax: error.map(\.largest.value), start: previous?.rhoStar)
        if let key { warm[key] = (errorRun.largest, marginVector, rhoStars?.vectors) }
        return (0..<b).map { i in
            let top = error[i].largest
            let (smin, smax) = (sigmaMin[i], sigmaMax[i])
            // A singular G bounds the margin by 0: wᵀ sym(S) w = (Gw)ᵀ(I − Pᵀ)w for w in its null space. A larger value
            // with a small residual is an interior eigenvalue, not λ_min: not converged.
            let low = smin == 0 && margin[i].value > Self.singularMarginBound * smax * smax
                ? RitzValue(value: margin[i].value, residual: margin[i].residual, converged: false) : margin[i]
            if !top.converged { unconverged += 1 }
            if !low.converged { unconverged += 1 }
            let errorNorm = top.converged ? max(top.value, 0).squareRoot() : .nan
            let rho = errorNorm.isNaN ? .nan : (smin > 0 ? errorNorm / smin : .infinity)
            return Certificate(errorNorm: errorNorm,
                               theorem1: smax > 0 && errorNorm <= smin * smin / smax,
                               weakCondition: errorNorm <= smin,
                               rho: rho, cosineBound: rho < 1 ? (1 - rho * rho).squareRoot() : .nan,
                               rhoStar: rhoStars?.values[i] ?? .nan, ascentMargin: low.converged ? low.value / (smax * smax) : .nan)
        }
    }

    /// ρ* = √λ_max(EᵀE, G) per sample for a diagonal G = diag(g) (THEORY.md §3), by Lanczos on
    /// v ↦ s ⊙ EᵀE(s ⊙ v) with s = g^{-1/2} on the range of M and 0 on its null coordinates (g_j ≤
    /// ``GramSpectrum/nullTolerance``·max g). As on the dense route, ρ* = ∞ when EᵀE is non-zero on the null
    /// coordinates (a second Lanczos, on the masked EᵀE, decides), and NaN when a residual misses the tolerance
    /// (counted in ``unconverged``).
    private func rhoStar(errorGram: (Matrix) -> Matrix, errorMax: [Double], start: Matrix?) -> (values: [Double], vectors: Matrix) {
        let d = problem.stateDimension, b = samples.count
        let (scale, null, hasNull) = rhoStarMasks!
        let run = BatchedLanczos.extremesWithVectors(rows: b, dimension: d, tolerance: tolerance, maxSteps: maxSteps, start: start,
                                                     needed: .largest) { v in scale.hadamard(errorGram(scale.hadamard(v))) }
        let onNull = hasNull ? BatchedLanczos.extremesWithVectors(rows: b, dimension: d, tolerance: tolerance, maxSteps: maxSteps,
                                                                  needed: .largest, wantVectors: false) { v in null.hadamard(errorGram(null.hadamard(v))) }.results : nil
        let values = (0..<b).map { i -> Double in
            // M = 0 (every unit saturated): no cotangent has a gradient to compare with; NaN as on the dense route.
            guard let g = diagonals![i].max(), g > 0 else { return .nan }
            let top = run.results[i].largest
            if let onNull {
                let n = onNull[i].largest
                guard n.converged else { unconverged += 1; return .nan }
                if n.value > GramSpectrum.nullTolerance * max(errorMax[i], 0) + 1e-300 { return .infinity }
            }
            guard top.converged else { unconverged += 1; return .nan }
            return max(top.value, 0).squareRoot()
        }
        return (values, run.largest)
    }

    /// ‖B^k‖₂ = √λ_max(B^k (B^k)ᵀ) per certified sample, λ and k (indexed [sample][λ][k]), by Lanczos warm-started
    /// along k; a value whose residual misses the tolerance is NaN and counted in ``unconverged``.
    public func powerNorms() -> [[[Double]]] {
        let d = problem.stateDimension, b = samples.count
        var out = [[[Double]]](repeating: Array(repeating: [], count: lambdas.count), count: b)
        for (l, lambda) in lambdas.enumerated() {
            var start: Matrix?
            for k in ks {
                let p = power(k, step(lambda))
                let run = BatchedLanczos.extremesWithVectors(rows: b, dimension: d, tolerance: tolerance, maxSteps: maxSteps,
                                                             start: start, needed: .largest) { v in p.apply(p.transpose(v)) }
                start = run.largest
                for i in 0..<b {
                    let top = run.results[i].largest
                    if !top.converged { unconverged += 1 }
                    out[i][l].append(top.converged ? max(top.value, 0).squareRoot() : .nan)
                }
            }
        }
        return out
    }

    /// P = step^k applied to rows: k products with `step` (and the transposes).
    public func power(_ k: Int, _ step: @escaping (Matrix, Bool) -> Matrix) -> (apply: (Matrix) -> Matrix, transpose: (Matrix) -> Matrix) {
        ({ v in (0..<k).reduce(v) { x, _ in step(x, false) } }, { v in (0..<k).reduce(v) { x, _ in step(x, true) } })
    }

    /// J or B = λJ + (1 − λ)I on rows (λ nil: J).
    public func step(_ lambda: Double?) -> (Matrix, Bool) -> Matrix {
        { v, transposed in
            guard let lambda else { return transposed ? self.linearization.stateVJP(v) : self.linearization.stateJVP(v) }
            return self.damped(v, lambda, transposed: transposed)
        }
    }

    /// Per sample, an L × K table of certificates from `cell(l, k)` = the certificates of every sample in that cell.
    public func tables(_ cell: (Int, Int) -> [Certificate]) -> [[[Certificate]]] {
        var out = [[[Certificate]]](repeating: Array(repeating: [], count: lambdas.count), count: samples.count)
        for l in lambdas.indices {
            for k in ks.indices {
                let certificates = cell(l, k)
                for i in samples.indices { out[i][l].append(certificates[i]) }
            }
        }
        return out
    }
}
