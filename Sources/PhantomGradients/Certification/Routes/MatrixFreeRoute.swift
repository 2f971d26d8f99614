import PhantomLinearAlgebra
import PhantomModel

/// The matrix-free route: certificates without a d×d matrix, for a block of samples at once (docs/Theory.md §3, §7).
/// Each residual gives two operators on rows (row i through sample i's): its error Gram v ↦ EᵀE v and
/// v ↦ ½(S + Sᵀ)v with S = M𝒜(I − Jᵀ); then
///
///     ‖E‖₂² = λ_max(EᵀE),   margin = λ_min(sym S) / σ_max²,   ρ*² = λ_max(EᵀE, G)  (G = M Mᵀ, over its range),
///
/// each by a Krylov method (``KrylovEigensolver``: Lanczos, or LOBPCG preconditioned by G⁻¹ where G is diagonal; one
/// process per sample, the samples' operators applied together as batched JVPs and VJPs) with its Ritz residual. The
/// Neumann form E = −Mᵀ Pᵀ has EᵀE = P G Pᵀ and S = G(I − Pᵀ); UPG's operators come from its unroll
/// (``UnrolledResidual/Rows``). A value whose residual misses the tolerance is stored as not computed with its status
/// (``ValueStatus``), so that it can never count as certified. ρ*: by Lanczos on G^{-1/2}EᵀEG^{-1/2} where G is
/// diagonal in closed form (tanh), else by LOBPCG on the pencil (EᵀE, G) with G's structural null space deflated
/// (``Deflation``). σ_min and σ_max come from the iterative spectra.
///
/// Derivations: docs/MatrixFreeCertificates.md.
///
/// Cost per Neumann cell and Lanczos step: 2k batched state products and one or two Gram applications (closed form
/// for tanh, else per-sample parameter VJPs and JVPs of the batch, B × p); ρ*'s LOBPCG step on a general G adds one
/// more Gram application.
public final class MatrixFreeRoute: CertificationRoute, StateProducts {
    /// When G is singular (σ_min = 0: λ_min(G) ≤ ``GramSpectrum/nullTolerance``·λ_max), λ_min(sym S) ≤
    /// nullTolerance·(1 + ‖P‖)·σ_max²; a margin above this bound (10⁻¹⁰, for ‖P‖ up to 99) is rejected.
    static let singularMarginBound = 1e-10

    /// At most this many samples are certified together (one Lanczos process each, their products batched).
    public static let blockSize = 32

    /// The split of `count` certified samples into blocks of at most ``blockSize``, and into at least two from 2
    /// samples on (so that both cores of a two-core machine work even on a few samples: the d = 32,768 image model's
    /// `--certify-samples 2`), sizes balanced, in order. The analysis certifies the blocks over the cores: memory stays
    /// that of one block per core however many samples are certified, and the split depends only on `count`, never on
    /// the core count, so neither do the results. Small blocks lose time to GEMM packing where a product is one GEMM with
    /// the batch (tanh d = 1,024, 64 samples: 328 s in blocks of 8, 222 s in blocks of 32, before LOBPCG), so blocks stay
    /// as large as the rule allows.
    public static func blocks(_ count: Int) -> [[Int]] {
        guard count > 0 else { return [] }
        let number = max((count + blockSize - 1) / blockSize, min(count, 2))
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
    public let solver: any KrylovEigensolver

    /// What the operators read per row — the block's rows, or those in focus (``compacting(_:)``).
    struct Focus {
        /// The block's rows in focus (nil: all of them).
        let rows: [Int]?
        let samples: [Int]
        let linearization: any CellLinearization
        let diagonals: [[Double]]?
        /// 1/g per sample and coordinate for a diagonal G = diag(g), g floored at ``GramSpectrum/nullTolerance``·max g.
        let inverseDiagonals: Matrix?
        /// For ρ* on a diagonal G: s = g^{-1/2} on the range coordinates (0 on the null ones), the null coordinates'
        /// mask, and whether any sample has one.
        let rhoStarMasks: (scale: Matrix, null: Matrix, hasNull: Bool)?

        /// The same for the block's rows `rows` (in that order).
        func restricted(to rows: [Int]) -> Focus {
            Focus(
                rows: rows, samples: rows.map { samples[$0] }, linearization: linearization.restricted(toSamples: rows),
                diagonals: diagonals.map { d in rows.map { d[$0] } }, inverseDiagonals: inverseDiagonals?.selectingRows(rows),
                rhoStarMasks: rhoStarMasks.map { ($0.scale.selectingRows(rows), $0.null.selectingRows(rows), $0.hasNull) })
        }
    }
    /// The whole block's, and the current focus (the whole block outside a compacted product).
    private let whole: Focus
    private var focus: Focus
    /// The last focus built, reused while its rows still cover the running ones (``compacting(_:)``).
    private var lastFocus: Focus?
    private var unrolls: [Double: UnrolledResidual.Rows] = [:]
    /// Compact the products to the running rows (``compacting(_:)``); false: every product on the whole block, in lockstep.
    public let compactsRows: Bool
    /// How many products ran on a focus of fewer rows than the block (a count for tests and reports).
    public private(set) var compactedProducts = 0
    private var focusedUnroll: (lambda: Double, rows: [Int], unroll: UnrolledResidual.Rows)?

    var linearization: any CellLinearization { focus.linearization }
    var diagonals: [[Double]]? { focus.diagonals }
    var inverseDiagonals: Matrix? { focus.inverseDiagonals }
    var rhoStarMasks: (scale: Matrix, null: Matrix, hasNull: Bool)? { focus.rhoStarMasks }

    public init(
        problem: GradientProblem, samples: [Int], ks: [Int], lambdas: [Double], sigmaMin: [Double], sigmaMax: [Double],
        tolerance: Double = 1e-8, maxSteps: Int = 200, solver: any KrylovEigensolver = StandardKrylovEigensolver(),
        compactsRows: Bool = true
    ) {
        self.compactsRows = compactsRows
        (self.problem, self.samples, self.ks, self.lambdas) = (problem, samples, ks, lambdas)
        (self.sigmaMin, self.sigmaMax, self.tolerance, self.maxSteps, self.solver) = (sigmaMin, sigmaMax, tolerance, maxSteps, solver)
        let linearization = problem.linearization.restricted(toSamples: samples)
        let closedForm = samples.map { problem.linearization.closedFormParameterGramDiagonal(sample: $0) }
        let diagonals = closedForm.allSatisfy { $0 != nil } ? closedForm.map { $0! } : nil
        let inverseDiagonals = diagonals.map { rows in
            Matrix(
                rowArrays: rows.map { g in
                    let floor = max(GramSpectrum.nullTolerance * (g.max() ?? 0), Double.leastNormalMagnitude)
                    return g.map { 1 / max($0, floor) }
                })
        }
        let rhoStarMasks = diagonals.map { rows in
            var scale = Matrix(zeros: rows.count, problem.stateDimension), null = scale
            var hasNull = false
            for (i, g) in rows.enumerated() {
                let top = g.max() ?? 0
                for j in g.indices {
                    if g[j] > GramSpectrum.nullTolerance * top {
                        scale[i, j] = 1 / g[j].squareRoot()
                    } else {
                        null[i, j] = 1; hasNull = true
                    }
                }
            }
            return (scale, null, hasNull)
        }
        whole = Focus(
            rows: nil, samples: samples, linearization: linearization, diagonals: diagonals, inverseDiagonals: inverseDiagonals,
            rhoStarMasks: rhoStarMasks)
        focus = whole
    }

    /// `body` applied to the rows of `v` that are not zero, through a focus on them: the batched Krylov processes zero
    /// the vectors of rows that stopped, so the products cost what the running rows need rather than the whole block's
    /// (rows stop independently). The operators are linear, so a zero row's image is zero, as it is set here. A focus is
    /// reused while its rows cover the running ones and at most a quarter of them have stopped; the operators read every
    /// per-row value through the focus (``Focus``, the UPG unroll, ρ*'s masks and deflation).
    func compacting(_ body: @escaping (Matrix) -> Matrix) -> (Matrix) -> Matrix {
        { v in
            guard self.compactsRows, self.focus.rows == nil else { return body(v) }
            let n = v.columns
            let running = v.elements.withUnsafeBufferPointer { e in
                (0..<v.rows).filter { r in (0..<n).contains { e[r * n + $0] != 0 } }
            }
            guard !running.isEmpty, running.count < v.rows else { return body(v) }
            let focus: Focus
            if let last = self.lastFocus, let rows = last.rows, Set(rows).isSuperset(of: running), 4 * running.count > 3 * rows.count {
                focus = last
            } else {
                focus = self.whole.restricted(to: running)
                self.lastFocus = focus
            }
            let rows = focus.rows!
            self.focus = focus
            self.compactedProducts += 1
            defer { self.focus = self.whole }
            let image = body(v.selectingRows(rows))
            var out = Matrix(zeros: v.rows, image.columns)
            for (r, row) in rows.enumerated() {
                for j in 0..<image.columns { out.elements[row * image.columns + j] = image.elements[r * image.columns + j] }
            }
            return out
        }
    }

    public var sampleCount: Int { samples.count }
    public var stateDimension: Int { problem.stateDimension }

    /// Row i: G_i v_i.
    func gram(_ v: Matrix) -> Matrix {
        if let diagonals {
            var out = v
            for i in 0..<v.rows { for j in 0..<v.columns { out[i, j] *= diagonals[i][j] } }
            return out
        }
        return linearization.parameterJVPRows(linearization.parameterVJPRows(v))
    }

    // MARK: - State products (row i through sample i's J)

    public func jvp(_ v: Matrix) -> Matrix { linearization.stateJVP(v) }
    public func vjp(_ v: Matrix) -> Matrix { linearization.stateVJP(v) }

    /// S on rows: J, or B = λJ + (1 − λ)I (λJ and (1 − λ)I rounded separately), with its transpose.
    public func step(_ s: StateStep) -> BatchOperator {
        switch s {
        case .jacobian:
            return BatchOperator(apply: { self.linearization.stateJVP($0) }, transpose: { self.linearization.stateVJP($0) })
        case .damped(let lambda):
            return BatchOperator(
                apply: { dampedStep(self.linearization.stateJVP($0), $0, lambda) },
                transpose: { dampedStep(self.linearization.stateVJP($0), $0, lambda) })
        }
    }

    // MARK: - Certificates

    public func certificates(of residual: ResidualOperator, warmStart: inout WarmStart?) -> [Certificate] {
        switch residual {
        case .neumann(let s, let k):
            return neumannCertificates(step(s).power(k), warmStart: &warmStart)
        case .stateSpace(let p):
            let op = BatchOperator(
                apply: { p.base.apply($0, transposed: false, samples: self.focus.samples, products: self) },
                transpose: { p.base.apply($0, transposed: true, samples: self.focus.samples, products: self) })
            return neumannCertificates(op, warmStart: &warmStart)
        case .unrolled(let k, let lambda):
            let rows =
                unrolls[lambda]
                ?? UnrolledResidual.Rows(
                    problem: problem, samples: samples, start: linearization, damping: lambda,
                    maxSteps: ks.last ?? k)
            unrolls = [lambda: rows]  // one λ's unroll at a time (the driver goes λ by λ)
            focusedUnroll = nil
            // The unroll of the rows in focus, restricted once per focus.
            let current = { () -> UnrolledResidual.Rows in
                guard let focus = self.focus.rows else { return rows }
                if let f = self.focusedUnroll, f.lambda == lambda, f.rows == focus { return f.unroll }
                let restricted = rows.restricted(to: focus)
                self.focusedUnroll = (lambda, focus, restricted)
                return restricted
            }
            return certificates(
                errorGram: .symmetric { current().operators(steps: k).errorGram($0) },
                ascent: .symmetric { current().operators(steps: k).ascent($0) }, warmStart: &warmStart)
        }
    }

    /// The certificate of E = −Mᵀ Pᵀ per sample: EᵀE v = P G Pᵀ v, ½(S + Sᵀ)v = ½[G(I − Pᵀ)v + (I − P)G v].
    func neumannCertificates(_ p: BatchOperator, warmStart: inout WarmStart?) -> [Certificate] {
        certificates(
            errorGram: .symmetric { v in p.apply(self.gram(p.transpose(v))) },
            ascent: .symmetric { v in
                let gv = self.gram(v)
                let s = self.gram(v - p.transpose(v)), st = gv - p.apply(gv)
                return 0.5 * (s + st)
            }, warmStart: &warmStart)
    }

    /// The certificates of any residual from its two symmetric operators on rows: the error Gram v ↦ EᵀE v and the
    /// symmetric part of S = M𝒜(I − Jᵀ). ‖E‖₂ = √λ_max(EᵀE) and the margin λ_min(sym S)/σ_max² by Krylov methods;
    /// Theorem 1, ‖E‖ ≤ σ_min, ρ and the cosine bound from them (``Certificate/init(errorNorm:rhoStar:margin:sigmaMin:sigmaMax:)``).
    /// `warmStart`: the previous cell of the chain's Ritz vectors in, this cell's out — the extreme vectors move little from
    /// k to k + 1, so far fewer steps are needed.
    func certificates(errorGram: BatchOperator, ascent: BatchOperator, warmStart: inout WarmStart?) -> [Certificate] {
        let d = problem.stateDimension, b = samples.count
        let previous = warmStart
        let errorRun = solver.lanczos(
            rows: b, dimension: d, tolerance: tolerance, maxSteps: maxSteps, start: previous?.error,
            needed: .largest, wantVectors: true, apply: compacting(errorGram.apply))
        let margin: [RitzValue], marginVector: Matrix
        if whole.inverseDiagonals != nil {
            // A diagonal G (tanh): LOBPCG preconditioned by G^{-1}, under which sym(G(I − Pᵀ)) is close to I − sym(P)
            // whatever G's spread of scales; residuals relative to σ_max² (the margin's normalisation).
            let run = solver.lobpcgSmallest(
                rows: b, dimension: d, tolerance: tolerance, scale: sigmaMax.map { $0 * $0 }, maxSteps: maxSteps,
                start: previous?.margin, preconditioner: compacting { $0.hadamard(self.inverseDiagonals!) },
                apply: compacting(ascent.apply))
            (margin, marginVector) = (run.results, run.vectors)
        } else {
            let run = solver.lanczos(
                rows: b, dimension: d, tolerance: tolerance, maxSteps: maxSteps, start: previous?.margin,
                needed: .smallest, wantVectors: true, apply: compacting(ascent.apply))
            (margin, marginVector) = (run.results.map(\.smallest), run.smallest)
        }
        let error = errorRun.results
        let errorMax = error.map(\.largest.value)
        let rhoStars =
            whole.diagonals == nil
            ? pencilRhoStar(errorGram: errorGram, errorMax: errorMax, start: previous?.rhoStar)
            : rhoStar(errorGram: errorGram, errorMax: errorMax, start: previous?.rhoStar)
        warmStart = WarmStart(error: errorRun.largest, margin: marginVector, rhoStar: rhoStars.vectors)
        return (0..<b).map { i in
            let top = error[i].largest
            let (smin, smax) = (sigmaMin[i], sigmaMax[i])
            // A singular G bounds the margin by 0: wᵀ sym(S) w = (Gw)ᵀ(I − Pᵀ)w for w in its null space. A larger value
            // with a small residual is an interior eigenvalue, not λ_min: not converged.
            var lowStatus = ValueStatus(margin[i])
            if smin == 0, lowStatus.isOK, margin[i].value > Self.singularMarginBound * smax * smax {
                lowStatus = .notConverged(residual: margin[i].residual)
            }
            return Certificate(
                errorNorm: (max(top.value, 0).squareRoot(), ValueStatus(top)), rhoStar: (rhoStars.values[i], rhoStars.status[i]),
                margin: (margin[i].value, lowStatus), sigmaMin: smin, sigmaMax: smax)
        }
    }

    /// ρ* = √λ_max(EᵀE, G) per sample for a diagonal G = diag(g) (docs/Theory.md §3), by Lanczos on
    /// v ↦ s ⊙ EᵀE(s ⊙ v) with s = g^{-1/2} on the range of M and 0 on its null coordinates (g_j ≤
    /// ``GramSpectrum/nullTolerance``·max g). As on the dense route, ρ* = ∞ when EᵀE is non-zero on the null
    /// coordinates (a second Lanczos, on the masked EᵀE, decides); a residual short of the tolerance is its status.
    private func rhoStar(errorGram: BatchOperator, errorMax: [Double], start: Matrix?)
        -> (values: [Double], status: [ValueStatus], vectors: Matrix?)
    {
        let d = problem.stateDimension, b = samples.count
        let run = solver.lanczos(
            rows: b, dimension: d, tolerance: tolerance, maxSteps: maxSteps, start: start, needed: .largest,
            wantVectors: true,
            apply: compacting { v in
                let scale = self.rhoStarMasks!.scale
                return scale.hadamard(errorGram(scale.hadamard(v)))
            })
        let onNull =
            whole.rhoStarMasks!.hasNull
            ? solver.lanczos(
                rows: b, dimension: d, tolerance: tolerance, maxSteps: maxSteps, start: nil, needed: .largest,
                wantVectors: false,
                apply: compacting { v in
                    let null = self.rhoStarMasks!.null
                    return null.hadamard(errorGram(null.hadamard(v)))
                }
            ).results : nil
        var values: [Double] = [], status: [ValueStatus] = []
        for i in 0..<b {
            // M = 0 (every unit saturated): no cotangent has a gradient to compare with.
            guard let g = whole.diagonals![i].max(), g > 0 else {
                values.append(.nan)
                status.append(.notComputed("M = 0"))
                continue
            }
            let top = run.results[i].largest
            if let onNull {
                let n = onNull[i].largest
                guard n.converged else { values.append(.nan); status.append(ValueStatus(n)); continue }
                if n.value > GramSpectrum.nullTolerance * max(errorMax[i], 0) + 1e-300 {
                    values.append(.infinity); status.append(.ok); continue
                }
            }
            values.append(top.converged ? max(top.value, 0).squareRoot() : .nan)
            status.append(ValueStatus(top))
        }
        return (values, status, run.largest)
    }

    /// ρ* = √λ_max(EᵀE, G) per sample for a general G (docs/Theory.md §7.1, §8), by LOBPCG on the pencil
    /// (``KrylovEigensolver/lobpcgLargestGeneralized(rows:dimension:tolerance:nullFloor:maxSteps:start:project:apply:applyGram:)``)
    /// restricted to the complement of G's structural null space N (``Deflation``), directions whose G-quotient is at
    /// or below ``GramSpectrum/nullTolerance``·σ_max² counted as null as on the dense route. As there, ρ* = ∞ when EᵀE
    /// is non-zero on N (a Lanczos on the projected EᵀE decides). A sample whose G is singular beyond N, or whose
    /// σ(M) is not available, is not computed, with the reason.
    private func pencilRhoStar(errorGram: BatchOperator, errorMax: [Double], start: Matrix?)
        -> (values: [Double], status: [ValueStatus], vectors: Matrix?)
    {
        let d = problem.stateDimension, b = samples.count
        let deflation = self.deflation
        // The deflation of the rows in focus.
        let current = { () -> Deflation in self.focus.rows.map { deflation.selecting($0) } ?? deflation }
        let run = solver.lobpcgLargestGeneralized(
            rows: b, dimension: d, tolerance: tolerance, nullFloor: sigmaMax.map { GramSpectrum.nullTolerance * $0 * $0 },
            maxSteps: Self.pencilStepFactor * maxSteps, start: start, project: compacting { current().range($0) },
            apply: compacting { v in
                let deflation = current()
                return deflation.range(errorGram(deflation.range(v)))
            },
            applyGram: compacting { v in
                let deflation = current()
                return deflation.range(self.gram(deflation.range(v)))
            })
        let onNull =
            deflation.hasNull
            ? solver.lanczos(
                rows: b, dimension: d, tolerance: tolerance, maxSteps: maxSteps, start: nil, needed: .largest,
                wantVectors: false,
                apply: compacting { v in
                    let deflation = current()
                    return deflation.null(errorGram(deflation.null(v)))
                }
            ).results : nil
        var values: [Double] = [], status: [ValueStatus] = []
        for i in 0..<b {
            if let reason = deflation.unavailable[i] { values.append(.nan); status.append(reason); continue }
            if let onNull, !deflation.sets[i].isEmpty {
                let n = onNull[i].largest
                guard n.converged else { values.append(.nan); status.append(ValueStatus(n)); continue }
                if n.value > GramSpectrum.nullTolerance * max(errorMax[i], 0) + 1e-300 {
                    values.append(.infinity); status.append(.ok); continue
                }
            }
            let top = run.results[i]
            values.append(top.converged ? max(top.value, 0).squareRoot() : .nan)
            status.append(ValueStatus(top))
        }
        return (values, status, run.vectors)
    }

    /// G's structural null space per certified sample (``CellLinearization/structuralGramNullSets(sample:)``) as
    /// projectors on rows, and the samples where ρ* cannot be computed on this route. A sample with σ_min(M) > 0 needs no
    /// deflation; one with σ_min = 0 needs its structural null space to be all of G's: λ_min of G on the complement
    /// (Lanczos on v ↦ ΠGΠv + σ_max²(v − Πv), N moved to the top), less its residual, must exceed the null threshold.
    struct Deflation {
        /// Per sample: coordinate sets on which N's vectors are those summing to zero.
        let sets: [[[Int]]]
        /// Per sample: why ρ* is not computed (nil: it is).
        let unavailable: [ValueStatus?]
        var hasNull: Bool { sets.contains { !$0.isEmpty } }

        /// The deflation of rows `rows` only (in that order).
        func selecting(_ rows: [Int]) -> Deflation {
            Deflation(sets: rows.map { sets[$0] }, unavailable: rows.map { unavailable[$0] })
        }

        /// Row i projected onto the complement of N: each set's entries replaced by their mean.
        func range(_ v: Matrix) -> Matrix { project(v, keepMean: true) }
        /// Row i projected onto N: each set's entries less their mean, 0 elsewhere.
        func null(_ v: Matrix) -> Matrix { project(v, keepMean: false) }

        private func project(_ v: Matrix, keepMean: Bool) -> Matrix {
            var out = keepMean ? v : Matrix(zeros: v.rows, v.columns)
            for (i, rowSets) in sets.enumerated() {
                for set in rowSets {
                    let mean = set.reduce(0.0) { $0 + v[i, $1] } / Double(set.count)
                    for j in set { out[i, j] = keepMean ? mean : v[i, j] - mean }
                }
            }
            return out
        }
    }

    private lazy var deflation: Deflation = {
        let b = samples.count
        var sets = [[[Int]]](repeating: [], count: b)
        var unavailable = [ValueStatus?](repeating: nil, count: b)
        for i in 0..<b {
            if !(sigmaMax[i] > 0) || sigmaMin[i].isNaN {
                unavailable[i] = .notComputed(sigmaMax[i] == 0 ? "M = 0" : "σ(M) not available")
            } else if sigmaMin[i] == 0 {
                sets[i] = problem.linearization.structuralGramNullSets(sample: samples[i])
                if sets[i].isEmpty { unavailable[i] = .notComputed(Self.unknownNullSpace) }
            }
        }
        let partial = Deflation(sets: sets, unavailable: unavailable)
        guard partial.hasNull else { return partial }
        let top = sigmaMax.map { $0 * $0 }
        // λ_min of G on its range, as ill-conditioned as the pencil below: the same step budget.
        let check = solver.lanczos(
            rows: b, dimension: problem.stateDimension, tolerance: tolerance, maxSteps: Self.pencilStepFactor * maxSteps, start: nil,
            needed: .smallest, wantVectors: false
        ) { v in
            var out = partial.range(self.gram(partial.range(v)))
            let null = partial.null(v)
            for i in 0..<v.rows { for j in 0..<v.columns { out[i, j] += top[i] * null[i, j] } }
            return out
        }.results
        for i in 0..<b where !sets[i].isEmpty {
            let low = check[i].smallest
            if !low.converged {
                unavailable[i] = ValueStatus(low)
            } else if !(low.value - low.residual > GramSpectrum.nullTolerance * top[i]) {
                unavailable[i] = .notComputed(Self.unknownNullSpace)
            }
        }
        return Deflation(sets: sets, unavailable: unavailable)
    }()

    /// ρ*'s LOBPCG, and the check that G's structural null space is all of it, may take this many times `maxSteps`:
    /// without a preconditioner their steps grow like √κ of G on its range (the reference mdeq, κ ≈ 200–1,100: 136–287
    /// steps for JFB's ρ*; the untrained mdeq C = 32 at d = 2,048, κ ≈ 7,600: 215–290 steps for the check and ≈ 520–700
    /// for the pencil, where 3 × 200 lost every ρ*).
    static let pencilStepFactor = 5

    static let unknownNullSpace = "M Mᵀ is singular beyond the null space the cell knows in closed form"

    /// ‖B^k‖₂ = √λ_max(B^k (B^k)ᵀ) per certified sample, λ and k (indexed [sample][λ][k]), by Lanczos warm-started
    /// along k, each with its pedigree.
    public func powerNorms() -> [[[(value: Double, status: ValueStatus)]]] {
        let d = problem.stateDimension, b = samples.count
        var out = [[[(value: Double, status: ValueStatus)]]](repeating: Array(repeating: [], count: lambdas.count), count: b)
        for (l, lambda) in lambdas.enumerated() {
            var start: Matrix?
            for k in ks {
                let p = step(.damped(lambda)).power(k)
                let run = solver.lanczos(
                    rows: b, dimension: d, tolerance: tolerance, maxSteps: maxSteps, start: start, needed: .largest,
                    wantVectors: true, apply: compacting { v in p.apply(p.transpose(v)) })
                start = run.largest
                for i in 0..<b {
                    let top = run.results[i].largest
                    out[i][l].append((top.converged ? max(top.value, 0).squareRoot() : .nan, ValueStatus(top)))
                }
            }
        }
        return out
    }
}
