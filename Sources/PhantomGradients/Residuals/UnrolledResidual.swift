import PhantomLinearAlgebra
import PhantomModel

/// UPG's residual operator E = 𝒜(I − Jᵀ) − Mᵀ from its own unroll (``ResidualOperator/unrolled(steps:damping:)``).
/// It is not a polynomial in one J — its Jacobians sit at the iterates h_t — so each route builds it from the unroll
/// h_0 = h*, h_{t+1} = (1 − λ)h_t + λf(h_t), once per λ for every k of the grid (UPG(k) uses the first k iterates):
/// - ``Dense``: EᵀE and S as d×d matrices, in state space for a row-separable M (the tanh cell), else from the d rows
///   of E in R^p when d·p is within the column budget (docs/UPGStateSpaceCertificates.md);
/// - ``Rows``: the operators v ↦ EᵀE v and v ↦ ½(S + Sᵀ)v on batches of rows, for the matrix-free route
///   (docs/Theory.md §7, docs/MatrixFreeCertificates.md).
public enum UnrolledResidual {
    /// The dense forms for one sample and one λ.
    public final class Dense {
        enum Form {
            /// Per iterate the scales D_t and B_t, and κ_ts = ⟨φ_t, φ_s⟩ over the whole unroll.
            case separable(scales: [[Double]], steps: [Matrix], kappa: Matrix)
            /// The replicated unroll (one row per cotangent e_a) and the rows Mᵀe_a.
            case columns(linearizations: [any CellLinearization], mRows: Matrix)
            case notComputed(String)
        }
        /// Unowned: the route holds its current unroll (a strong reference back would keep every sample's route alive).
        unowned let route: DenseRoute
        let damping: Double
        let form: Form

        init(route c: DenseRoute, damping lambda: Double, maxSteps: Int) {
            route = c
            damping = lambda
            let problem = c.problem, d = c.stateDimension, sample = c.facts.sample
            let cell = problem.model.cell
            if !c.preferColumnRoute, problem.linearization.rowSeparableFactors(sample: sample) != nil {
                // The sample's own damped unroll: D_t, φ_t and B_t = λJ_t + (1 − λ)I at each iterate.
                let x = problem.inputs.selectingRows([sample])
                let (linearizations, _) = UnrolledPhantomGradient.unroll(
                    cell, from: problem.states.selectingRows([sample]), inputs: x,
                    linearizedAtStart: problem.linearization.restricted(toSample: sample), steps: maxSteps, damping: lambda,
                    step: dampedStepUnfused)
                var scales: [[Double]] = [], features: [[Double]] = [], steps: [Matrix] = []
                for lin in linearizations {
                    guard let factors = lin.rowSeparableFactors(sample: 0) else {
                        form = .notComputed("an iterate of UPG's unroll has no row-separable M")
                        return
                    }
                    scales.append(factors.scale)
                    features.append(factors.features)
                    steps.append(dampedStepUnfused(lin.jacobian(sample: 0), Matrix.identity(d), lambda))
                }
                form = .separable(
                    scales: scales, steps: steps, kappa: Matrix(rowArrays: features.map { a in features.map { BLAS.dot(a, $0) } }))
            } else if d * problem.parameterCount <= c.columnBudget {
                let basis = c.columnBasis
                let (linearizations, _) = UnrolledPhantomGradient.unroll(
                    cell, from: basis.start, inputs: basis.inputs,
                    linearizedAtStart: basis.atStar, steps: maxSteps, damping: lambda,
                    step: dampedStepUnfused)
                form = .columns(linearizations: linearizations, mRows: basis.mRows)
            } else {
                form = .notComputed("UPG's residual rows need d·p = \(d * problem.parameterCount) > the column budget \(c.columnBudget)")
            }
        }

        func certificate(steps k: Int) -> Certificate {
            let c = route, lambda = damping, d = c.stateDimension
            let iMinusJ = Matrix.identity(d) - c.facts.jacobian
            switch form {
            case .notComputed(let reason):
                return .notComputed(reason)
            case .columns(let linearizations, let mRows):
                // The d rows 𝒜((I − Jᵀ)e_a) − Mᵀe_a in R^p, all d cotangents backpropagated at once through the unroll;
                // then EᵀE = E_rows E_rowsᵀ and S = M_rows A_rowsᵀ. O(d² p) per cell.
                var w = iMinusJ  // row a: (I − Jᵀ) e_a
                var aRows = Matrix(zeros: d, c.problem.parameterCount)
                for lin in linearizations[0..<k].reversed() {
                    BLAS.axpy(lambda, lin.parameterVJPRows(w).elements, &aRows.elements)
                    w = dampedStepUnfused(lin.stateVJP(w), w, lambda)
                }
                let eRows = aRows - mRows
                return c.certificate(
                    errorGram: BLAS.gemm(eRows, eRows, transposeB: true), ascent: BLAS.gemm(mRows, aRows, transposeB: true))
            case .separable(let scales, let steps, let kappaAll):
                // With M_t M_sᵀ = diag(D_t ⊙ D_s) κ_ts and Z_t = W_t diag(D_t) for the backpropagated cotangent
                // matrices W_t: A Aᵀ = Σ_ts λ² κ_ts Z_t Z_sᵀ, S = Σ_t λ κ_0t diag(D_0) Z_tᵀ, EᵀE = A Aᵀ − S − Sᵀ + G.
                // O(k d³) per cell. W_{k−1} = I − J, W_{t−1} = W_t B_t.
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
                let eig: SymmetricEigen
                do throws(LinearAlgebraError) { eig = try c.solver.symmetricEigen(kappa) } catch {
                    let failed = ValueStatus.lapackFailure(error)
                    return Certificate(
                        errorNorm: (.nan, failed), rhoStar: (.nan, failed), margin: (.nan, failed),
                        sigmaMin: c.facts.sigmaMin, sigmaMax: c.facts.sigmaMax)
                }
                if let q = eig.vectors {
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
                return c.certificate(errorGram: aaT - s - s.transposed + c.facts.gram, ascent: s)
            }
        }
    }

    /// The row operators for a block of samples and one λ, all samples in lockstep. The block is unrolled once from h*
    /// (Jacobians J_t, M_t and B_t = λJ_t + (1 − λ)I at the iterates); for k, with U_t = B_{t+1}ᵀ⋯B_{k−1}ᵀ(I − J_0ᵀ),
    ///
    ///     E v = Σ_{t<k} λ M_tᵀ U_t v − M_0ᵀ v,   Eᵀ q = Σ_{t<k} λ U_tᵀ M_t q − M_0 q,
    ///     S v = M_0 Σ_t λ M_tᵀ U_t v,            Sᵀ v = Σ_t λ U_tᵀ M_t M_0ᵀ v,
    ///
    /// so EᵀE v and ½(S + Sᵀ)v cost k state VJPs and k state JVPs (U_t v for all t by one backward sweep, Σ_t U_tᵀ x_t
    /// by Horner's rule forward) plus the parameter products of ``UnrollParameterSpace``.
    public struct Rows {
        let linearizations: [any CellLinearization]
        let space: UnrollParameterSpace
        let damping: Double

        init(problem: GradientProblem, samples: [Int], start linearization: any CellLinearization, damping lambda: Double, maxSteps: Int) {
            let start = problem.states.selectingRows(samples), x = problem.inputs.selectingRows(samples)
            (linearizations, _) = UnrolledPhantomGradient.unroll(
                problem.model.cell, from: start, inputs: x, linearizedAtStart: linearization,
                steps: maxSteps, damping: lambda, step: dampedStepUnfused)
            space = UnrollParameterSpace(linearizations)
            damping = lambda
        }

        private init(linearizations: [any CellLinearization], space: UnrollParameterSpace, damping: Double) {
            (self.linearizations, self.space, self.damping) = (linearizations, space, damping)
        }

        /// The same unroll for rows `rows` of the batch only (in that order).
        func restricted(to rows: [Int]) -> Rows {
            let lins = linearizations.map { $0.restricted(toSamples: rows) }
            return Rows(linearizations: lins, space: space.restricted(to: rows, linearizations: lins), damping: damping)
        }

        /// (v ↦ EᵀE v, v ↦ ½(S + Sᵀ)v) of UPG(k, λ).
        func operators(steps k: Int) -> (errorGram: BatchOperator, ascent: BatchOperator) {
            let lins = linearizations, space = space, lambda = damping
            let step = { (t: Int, v: Matrix, transposed: Bool) in
                dampedStepUnfused(transposed ? lins[t].stateVJP(v) : lins[t].stateJVP(v), v, lambda)
            }
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
            let errorGram = BatchOperator.symmetric { v in
                let y = backward(v)
                var terms = (0..<k).map { (t: $0, y: lambda * y[$0]) }
                terms.append((t: 0, y: -1 * v))
                let q = space.combine(terms)
                let images = (0..<k).map { space.project(q, onto: $0) }  // M_t q; images[0] = M_0 q
                return forward(images) - images[0]
            }
            let ascent = BatchOperator.symmetric { v in
                let y = backward(v)
                let s = space.project(space.combine((0..<k).map { (t: $0, y: lambda * y[$0]) }), onto: 0)
                let q0 = space.combine([(t: 0, y: v)])
                let st = forward((0..<k).map { space.project(q0, onto: $0) })
                return 0.5 * (s + st)
            }
            return (errorGram, ascent)
        }
    }
}

/// Per-sample parameter vectors q_i = Σ_s M_{s,i}ᵀ y_{s,i} built from the Jacobians M_s at the iterates of an unroll
/// (batched: row i is sample i), and their images M_t q under any iterate's M_t.
///
/// - Row-separable cells (tanh): q stays a list of its terms; M_t M_sᵀ y = diag(D_t ⊙ D_s) κ_ts y with
///   κ_ts = φ_tᵀφ_s per sample (docs/Theory.md §7), O(d) per term and no R^p vector.
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

    private init(linearizations: [any CellLinearization], scales: [Matrix]?, kappa: [[[Double]]]) {
        (self.linearizations, self.scales, self.kappa) = (linearizations, scales, kappa)
    }

    /// The space of rows `rows` only, over `linearizations` (the unroll's, restricted to those rows).
    func restricted(to rows: [Int], linearizations: [any CellLinearization]) -> UnrollParameterSpace {
        UnrollParameterSpace(
            linearizations: linearizations, scales: scales?.map { $0.selectingRows(rows) },
            kappa: kappa.isEmpty ? [] : rows.map { kappa[$0] })
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
                    let base = i * d
                    for j in 0..<d {
                        out.elements[base + j] +=
                            factor * scales[t].elements[base + j] * scales[term.t].elements[base + j] * term.y.elements[base + j]
                    }
                }
            }
            return out
        }
    }
}
