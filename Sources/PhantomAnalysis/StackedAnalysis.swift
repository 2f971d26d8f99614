import PhantomGradients
import PhantomLinearAlgebra
import PhantomModel

/// Theorem 1 for the batch as one system (THEORY.md §3): the samples stacked, J block diagonal, M the
/// (B·d)×p stack of the M_i, and the batch gradient M_stackᵀ w_stack / B. The condition can only hold when
/// p ≥ B·d, so this runs when B·d ≤ the configuration's limit and p ≥ B·d.
///
/// For NPG, RBP and JFB the residual operator is block diagonal in state space, E = −M_stackᵀ Pᵀ with
/// P = diag(B_i^k) (RBP: J_i^k, JFB: J_i), so EᵀE = P G Pᵀ and S = G (I − Pᵀ) with the full (B·d)×(B·d) Gram
/// G = M_stack M_stackᵀ, whose off-diagonal blocks M_i M_jᵀ couple the samples. UPG's stacked E is not
/// computed. Complexity: O((B·d)³) per cell.
struct StackedAnalysis {
    let configuration: AnalysisConfiguration
    let problem: GradientProblem

    struct Output {
        var sigmaMin: Double
        var sigmaMax: Double
        /// [estimator][λ][k]
        var certificates: [EstimatorKind: [[Certificate]]]
    }

    static func applies(_ problem: GradientProblem, limit: Int) -> Bool {
        let n = problem.batchSize * problem.stateDimension
        return n <= limit && problem.parameterCount >= n
    }

    func compute() -> Output {
        let b = problem.batchSize, d = problem.stateDimension, n = b * d
        let lin = problem.linearization
        var rows: [Double] = []
        rows.reserveCapacity(n * problem.parameterCount)
        for i in 0..<b { rows += lin.parameterJacobian(sample: i).elements }
        let gram = BLAS.syrk(Matrix(rows: n, columns: problem.parameterCount, elements: rows))
        let eigenvalues = (try? SymmetricEigen(gram, computeVectors: false).values) ?? []
        let sigmaMin = max(eigenvalues.first ?? .nan, 0).squareRoot(), sigmaMax = max(eigenvalues.last ?? .nan, 0).squareRoot()
        let jacobians = (0..<b).map { lin.jacobian(sample: $0) }
        let identity = Matrix.identity(n)

        func blockDiagonal(_ blocks: [Matrix]) -> Matrix {
            var m = Matrix(zeros: n, n)
            for (i, block) in blocks.enumerated() {
                for r in 0..<d { for c in 0..<d { m[i * d + r, i * d + c] = block[r, c] } }
            }
            return m
        }
        func certificate(_ power: Matrix) -> Certificate {
            Certificate.compute(errorGram: power * gram * power.transposed, ascent: gram * (identity - power.transposed),
                                gram: gram, sigmaMin: sigmaMin, sigmaMax: sigmaMax)
        }
        /// Per-sample powers of `step` at the configured ks, as block-diagonal matrices.
        func powers(_ step: [Matrix]) -> [Matrix] {
            var current = (0..<b).map { _ in Matrix.identity(d) }
            var k = 0
            return configuration.ks.map { target in
                while k < target { current = zip(step, current).map { $0 * $1 }; k += 1 }
                return blockDiagonal(current)
            }
        }
        var certificates: [EstimatorKind: [[Certificate]]] = [:]
        let lambdas = configuration.lambdas.count
        for estimator in configuration.estimators {
            switch estimator {
            case .npg:
                certificates[.npg] = configuration.lambdas.map { lambda in
                    powers(jacobians.map { (lambda * $0) + ((1 - lambda) * Matrix.identity(d)) }).map(certificate)
                }
            case .rbp:
                certificates[.rbp] = Array(repeating: powers(jacobians).map(certificate), count: lambdas)
            case .jfb:
                let c = certificate(blockDiagonal(jacobians))
                certificates[.jfb] = Array(repeating: Array(repeating: c, count: configuration.ks.count), count: lambdas)
            case .upg:
                break
            }
        }
        return Output(sigmaMin: sigmaMin, sigmaMax: sigmaMax, certificates: certificates)
    }
}
