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
