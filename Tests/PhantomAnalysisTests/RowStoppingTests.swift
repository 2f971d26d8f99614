import PhantomAnalysis
import PhantomGradients
import PhantomLinearAlgebra
import PhantomModel
import PhantomTestSupport
import Testing

/// The matrix-free route's Krylov processes stop row by row: once some rows of a block have converged, the batched
/// products run on the others only (``MatrixFreeRoute/compacting(_:)``). The certificates must be the lockstep run's,
/// to the Krylov tolerance, with the same pedigree.
@Suite("Independent row stopping: compacted products give the lockstep route's certificates")
struct RowStoppingTests {
    static let families: [EstimatorFamily] = [.upg, .npg, .jfb, .rbp]

    @Test("tanh (diagonal G, LOBPCG margins) and resmlp (pencil ρ*): compacted = lockstep", arguments: ["tanh", "resmlp"])
    func compactedEqualsLockstep(cell: String) throws {
        let model =
            cell == "tanh" ? AnalysisFixtures.tanh(d: 24, n: 6, norm: 0.9, seed: 11) : AnalysisFixtures.resmlp(d: 20, n: 6, m: 24, seed: 12)
        // Inputs of very different scales, so that the samples' processes need different numbers of steps.
        var (x, y) = AnalysisFixtures.inputs(model, batch: 6, seed: 13)
        for i in 0..<x.rows { for j in 0..<x.columns { x[i, j] *= [0.05, 0.3, 1, 2, 4, 8][i] } }
        let problem = GradientProblem(model: model, inputs: x, targets: y, solver: AnalysisFixtures.solver)
        let (ks, lambdas) = ([1, 3, 6], [0.4, 1.0])
        let spectra = SpectraStage(route: .iterative, ks: ks, lambdas: lambdas).run(problem, grams: []).samples
        func route(_ compact: Bool) -> MatrixFreeRoute {
            MatrixFreeRoute(
                problem: problem, samples: Array(0..<6), ks: ks, lambdas: lambdas, sigmaMin: spectra.map(\.sigmaMin),
                sigmaMax: spectra.map(\.sigmaMax), compactsRows: compact)
        }
        let (compacted, lockstep) = (route(true), route(false))
        for family in Self.families {
            let a = compacted.tables(family, ks: ks, lambdas: lambdas), b = lockstep.tables(family, ks: ks, lambdas: lambdas)
            for i in 0..<6 {
                for l in lambdas.indices {
                    for k in ks.indices {
                        let (u, v) = (a[i][l][k], b[i][l][k])
                        let label = "\(cell) \(family.id) sample \(i) λ \(lambdas[l]) k \(ks[k])"
                        #expect(u.errorNormStatus.code == v.errorNormStatus.code, "\(label): \(u.errorNormStatus) vs \(v.errorNormStatus)")
                        #expect(u.rhoStarStatus.code == v.rhoStarStatus.code, "\(label)")
                        #expect(u.ascentMarginStatus.code == v.ascentMarginStatus.code, "\(label)")
                        for (p, q, name) in [(u.errorNorm, v.errorNorm, "‖E‖"), (u.rhoStar, v.rhoStar, "ρ*")] where !(p.isNaN && q.isNaN) {
                            #expect(abs(p - q) <= 1e-6 * max(abs(q), 1e-12) || p == q, "\(label) \(name): \(p) vs \(q)")
                        }
                        // The margin is λ_min/σ_max², converged to 1e-8 of σ_max².
                        #expect(abs(u.ascentMargin - v.ascentMargin) <= 1e-6 || (u.ascentMargin.isNaN && v.ascentMargin.isNaN), "\(label)")
                    }
                }
            }
        }
        let (p, q) = (compacted.powerNorms(), lockstep.powerNorms())
        for i in 0..<6 {
            for l in lambdas.indices {
                for k in ks.indices { #expect(abs(p[i][l][k].value - q[i][l][k].value) <= 1e-6 * q[i][l][k].value, "‖B^k‖ \(i) \(l) \(k)") }
            }
        }
        // The compacted route did run products on fewer rows; the lockstep route never did.
        #expect(compacted.compactedProducts > 0 && lockstep.compactedProducts == 0, "\(compacted.compactedProducts)")
    }
}
