import PhantomLinearAlgebra
import PhantomModel

/// UPG's certificates. UPG's E = 𝒜(I − Jᵀ) − Mᵀ is not a polynomial in one J (its Jacobians sit at the
/// iterates h_t), so it is formed from the sample's own unroll: in state space for a row-separable M (the tanh
/// cell), else column by column in R^p when d·p is within the budget. The derivation is in
/// docs/UPGStateSpaceCertificates.md.
extension UnrolledPhantomGradient {
    public static func certify(_ c: SampleCertification) -> [[Certificate]] {
        let problem = c.problem
        if !c.preferColumnRoute, problem.linearization.rowSeparableFactors(sample: c.sample) != nil {
            return certifySeparable(c)
        }
        guard c.stateDimension * problem.parameterCount <= c.columnBudget else { return c.notComputed }
        return certifyByColumns(c)
    }

    /// The column route: the d rows 𝒜((I − Jᵀ)e_a) − Mᵀe_a in R^p, by backpropagating all d cotangents at once
    /// through the sample's own unroll; then EᵀE = E_rows E_rowsᵀ and S = M_rows A_rowsᵀ. O(d² p) per cell.
    static func certifyByColumns(_ c: SampleCertification) -> [[Certificate]] {
        let problem = c.problem, d = c.stateDimension, p = problem.parameterCount
        let cell = problem.model.cell
        let replicate = Array(repeating: c.sample, count: d)
        let x = problem.inputs.selectingRows(replicate)
        let start = problem.states.selectingRows(replicate)
        let atStar = cell.linearize(state: start, input: x)
        let mRows = atStar.parameterVJPRows(Matrix.identity(d))          // row a: Mᵀ e_a
        let iMinusJ = Matrix.identity(d) - c.jacobian
        return c.lambdas.map { lambda in
            // The sample's damped unroll from h*, replicated d times (one row per cotangent).
            let (linearizations, _) = unroll(cell, from: start, inputs: x, linearizedAtStart: atStar, steps: c.maxK, damping: lambda, step: dampedStepUnfused)
            return c.ks.map { k in
                var w = iMinusJ                                                // row a: (I − Jᵀ) e_a
                var aRows = Matrix(zeros: d, p)
                for lin in linearizations[0..<k].reversed() {
                    BLAS.axpy(lambda, lin.parameterVJPRows(w).elements, &aRows.elements)
                    w = dampedStepUnfused(lin.stateVJP(w), w, lambda)
                }
                let eRows = aRows - mRows
                return c.certificate(errorGram: BLAS.gemm(eRows, eRows, transposeB: true), ascent: BLAS.gemm(mRows, aRows, transposeB: true))
            }
        }
    }

    /// The state-space route for a row-separable M (the tanh cell), O(k d³) per cell instead of O(d² p):
    /// with M_t M_sᵀ = diag(D_t ⊙ D_s) κ_ts, κ_ts = φ_tᵀ φ_s and Z_t = W_t diag(D_t) for the backpropagated
    /// cotangent matrices W_t,
    ///
    ///     A Aᵀ = Σ_ts λ² κ_ts Z_t Z_sᵀ,   S = Σ_t λ κ_0t diag(D_0) Z_tᵀ,   EᵀE = A Aᵀ − S − Sᵀ + G.
    ///
    /// Derivation: docs/UPGStateSpaceCertificates.md. Cross-checked against the column route in the tests.
    static func certifySeparable(_ c: SampleCertification) -> [[Certificate]] {
        let problem = c.problem, d = c.stateDimension
        let cell = problem.model.cell
        let x = problem.inputs.selectingRows([c.sample])
        let iMinusJ = Matrix.identity(d) - c.jacobian
        return c.lambdas.map { lambda in
            // The sample's own damped unroll: D_t, φ_t and B_t = λJ_t + (1 − λ)I at each iterate.
            let (linearizations, _) = unroll(cell, from: problem.states.selectingRows([c.sample]), inputs: x,
                                             linearizedAtStart: problem.linearization.restricted(toSample: c.sample),
                                             steps: c.maxK, damping: lambda, step: dampedStepUnfused)
            var scales: [[Double]] = [], features: [[Double]] = [], steps: [Matrix] = []
            for lin in linearizations {
                guard let factors = lin.rowSeparableFactors(sample: 0) else { return [] }
                scales.append(factors.scale)
                features.append(factors.features)
                steps.append(dampedStepUnfused(lin.jacobian(sample: 0), Matrix.identity(d), lambda))
            }
            // κ_ts = ⟨φ_t, φ_s⟩ over the whole unroll; cell k uses its leading k×k block.
            let kappaAll = Matrix(rowArrays: features.map { a in features.map { BLAS.dot(a, $0) } })
            return c.ks.map { k in
                // Backpropagate the d cotangent rows (I − Jᵀ)e_a: W_{k−1} = I − J, W_{t−1} = W_t B_t.
                var w = iMinusJ
                var z = [Matrix](repeating: Matrix(zeros: d, d), count: k)
                for t in stride(from: k - 1, through: 0, by: -1) {
                    z[t] = w.scalingColumns(by: scales[t])
                    w = w * steps[t]
                }
                var kappa = Matrix(zeros: k, k)
                for t in 0..<k { for s in 0..<k { kappa[t, s] = kappaAll[t, s] } }
                // A Aᵀ = Σ_j μ_j Y_j Y_jᵀ, Y_j = Σ_t q_tj Z_t.
                var aaT = Matrix(zeros: d, d)
                if let eig = try? SymmetricEigen(kappa), let q = eig.vectors {
                    for j in 0..<k where eig.values[j] > 0 {
                        var y = Matrix(zeros: d, d)
                        for t in 0..<k { BLAS.axpy(q[t, j], z[t].elements, &y.elements) }
                        BLAS.gemm(y, y, transposeB: true, alpha: lambda * lambda * eig.values[j], beta: 1, into: &aaT)
                    }
                }
                // S = M_0 Aᵀ = Σ_t λ κ_0t diag(D_0) Z_tᵀ = (Σ_t λ κ_0t Z_t · diag(D_0))ᵀ.
                var y = Matrix(zeros: d, d)
                for t in 0..<k { BLAS.axpy(lambda * kappa[0, t], z[t].elements, &y.elements) }
                let s = y.scalingColumns(by: scales[0]).transposed
                return c.certificate(errorGram: aaT - s - s.transposed + c.gram, ascent: s)
            }
        }
    }
}

// MARK: Matrix-free

extension UnrolledPhantomGradient {
    /// UPG's certificates without a d×d matrix, all certified samples in lockstep (THEORY.md §7). Per λ the certified
    /// batch is unrolled once from h* (h_0 = h*, Jacobians J_t, M_t and B_t = λJ_t + (1 − λ)I at the iterates); for k,
    /// with U_t = B_{t+1}ᵀ⋯B_{k−1}ᵀ(I − J_0ᵀ),
    ///
    ///     E v = Σ_{t<k} λ M_tᵀ U_t v − M_0ᵀ v,   Eᵀ q = Σ_{t<k} λ U_tᵀ M_t q − M_0 q,
    ///     S v = M_0 Σ_t λ M_tᵀ U_t v,            Sᵀ v = Σ_t λ U_tᵀ M_t M_0ᵀ v,
    ///
    /// so EᵀE v and ½(S + Sᵀ)v cost k state VJPs and k state JVPs (U_t v for all t by one backward sweep, Σ_t U_tᵀ x_t
    /// by Horner's rule forward) plus the parameter products of ``UnrollParameterSpace``. ‖E‖₂ and the margin by
    /// Lanczos (``MatrixFreeCertification/certificates(errorGram:ascent:warmStart:)``), warm-started along k.
    public static func certifyMatrixFree(_ c: MatrixFreeCertification) -> [[[Certificate]]]? {
        let problem = c.problem
        let start = problem.states.selectingRows(c.samples), x = problem.inputs.selectingRows(c.samples)
        let maxK = c.ks.max() ?? 0
        var cells = [[[Certificate]]](repeating: [], count: c.lambdas.count)
        for (l, lambda) in c.lambdas.enumerated() {
            let (lins, _) = unroll(problem.model.cell, from: start, inputs: x, linearizedAtStart: c.linearization,
                                   steps: maxK, damping: lambda, step: dampedStepUnfused)
            let space = UnrollParameterSpace(lins)
            let step = { (t: Int, v: Matrix, transposed: Bool) in
                dampedStepUnfused(transposed ? lins[t].stateVJP(v) : lins[t].stateJVP(v), v, lambda)
            }
            cells[l] = c.ks.map { k in
                // y_t = U_t v for t = k − 1 … 0.
                func backward(_ v: Matrix) -> [Matrix] {
                    var y = [Matrix](repeating: v, count: k)
                    var r = v - lins[0].stateVJP(v)
                    for t in stride(from: k - 1, through: 0, by: -1) {
                        y[t] = r
                        if t > 0 { r = step(t, r, true) }
                    }
                    return y
                }
                // Σ_t λ U_tᵀ x_t = (I − J_0)(B_{k−1}(⋯(B_1 λx_0 + λx_1)⋯) + λx_{k−1}).
                func forward(_ xs: [Matrix]) -> Matrix {
                    var acc = lambda * xs[0]
                    for t in 1..<k { acc = step(t, acc, false) + lambda * xs[t] }
                    return acc - lins[0].stateJVP(acc)
                }
                let errorGram = { (v: Matrix) -> Matrix in
                    let y = backward(v)
                    var terms = (0..<k).map { (t: $0, y: lambda * y[$0]) }
                    terms.append((t: 0, y: -1 * v))
                    let q = space.combine(terms)
                    let images = (0..<k).map { space.project(q, onto: $0) }      // M_t q; images[0] = M_0 q
                    return forward(images) - images[0]
                }
                let ascent = { (v: Matrix) -> Matrix in
                    let y = backward(v)
                    let s = space.project(space.combine((0..<k).map { (t: $0, y: lambda * y[$0]) }), onto: 0)
                    let q0 = space.combine([(t: 0, y: v)])
                    let st = forward((0..<k).map { space.project(q0, onto: $0) })
                    return 0.5 * (s + st)
                }
                return c.certificates(errorGram: errorGram, ascent: ascent, warmStart: "upg \(l)")
            }
        }
        return c.tables { l, k in cells[l][k] }
    }
}

/// Per-sample parameter vectors q_i = Σ_s M_{s,i}ᵀ y_{s,i} built from the Jacobians M_s at the iterates of an unroll
/// (batched: row i is sample i), and their images M_t q under any iterate's M_t.
///
/// - Row-separable cells (tanh): q stays a list of its terms; M_t M_sᵀ y = diag(D_t ⊙ D_s) κ_ts y with
///   κ_ts = φ_tᵀφ_s per sample (THEORY.md §7), O(d) per term and no R^p vector.
/// - Other cells: q is formed as B×p rows (``CellLinearization/parameterVJPRows(_:)``), imaged by
///   ``CellLinearization/parameterJVPRows(_:)``.
struct UnrollParameterSpace {
    enum Vectors {
        case terms([(t: Int, y: Matrix)])
        case rows(Matrix)
    }
    let linearizations: [any CellLinearization]
    /// Separable: per iterate the scales D_t (B×d) and per sample the κ_ts table.
    let scales: [Matrix]?
    let kappa: [[[Double]]]

    init(_ linearizations: [any CellLinearization]) {
        self.linearizations = linearizations
        let b = linearizations.first?.value.rows ?? 0
        var scales: [Matrix] = [], features: [[[Double]]] = []
        for lin in linearizations {
            let factors = (0..<b).map { lin.rowSeparableFactors(sample: $0) }
            guard factors.allSatisfy({ $0 != nil }) else { break }
            scales.append(Matrix(rowArrays: factors.map { $0!.scale }))
            features.append(factors.map { $0!.features })
        }
        guard scales.count == linearizations.count, !scales.isEmpty else {
            (self.scales, self.kappa) = (nil, [])
            return
        }
        self.scales = scales
        let n = linearizations.count
        kappa = (0..<b).map { i in (0..<n).flatMap { t in (0..<n).map { s in BLAS.dot(features[t][i], features[s][i]) } } }
            .map { flat in (0..<n).map { t in Array(flat[(t * n)..<((t + 1) * n)]) } }
    }

    func combine(_ terms: [(t: Int, y: Matrix)]) -> Vectors {
        if scales != nil { return .terms(terms) }
        var q: Matrix?
        for term in terms {
            let rows = linearizations[term.t].parameterVJPRows(term.y)
            q = q.map { $0 + rows } ?? rows
        }
        return .rows(q!)
    }

    /// Row i: M_{t,i} q_i.
    func project(_ q: Vectors, onto t: Int) -> Matrix {
        switch q {
        case .rows(let rows): return linearizations[t].parameterJVPRows(rows)
        case .terms(let terms):
            let scales = scales!
            let (b, d) = (scales[t].rows, scales[t].columns)
            var out = Matrix(zeros: b, d)
            for term in terms {
                for i in 0..<b {
                    let factor = kappa[i][t][term.t]
                    for j in 0..<d { out.elements[i * d + j] += factor * scales[t].elements[i * d + j] * scales[term.t].elements[i * d + j] * term.y.elements[i * d + j] }
                }
            }
            return out
        }
    }
}
