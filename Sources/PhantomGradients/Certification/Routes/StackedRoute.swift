import PhantomLinearAlgebra
import PhantomModel

/// Theorem 1 for the batch as one system (docs/Theory.md §3): the samples stacked, J block diagonal, M the (B·d)×p stack
/// of the M_i, whose full Gram G = M_stack M_stackᵀ has off-diagonal blocks M_i M_jᵀ coupling the samples. A state-space
/// residual E = −M_stackᵀ Pᵀ has P block diagonal, so its certificate is the dense one with the stacked Gram; UPG's
/// unrolled residual has no stacked form here. The condition can only hold when p ≥ B·d. Complexity: O((B·d)³) per cell.
public final class StackedRoute: CertificationRoute {
    public let problem: GradientProblem
    public let ks: [Int]
    public let lambdas: [Double]
    /// J_i at h*_i per sample.
    public let jacobians: [Matrix]
    /// The (B·d)×(B·d) stacked Gram.
    public let gram: Matrix
    public let sigmaMin: Double
    public let sigmaMax: Double
    public let sigmaStatus: ValueStatus
    public let solver: any DenseSpectralSolver
    /// Per sample, the powers of its J or B.
    private var powers: [DenseStatePowers]

    /// Whether the stacked analysis applies: B·d ≤ `limit` and p ≥ B·d.
    public static func applies(_ problem: GradientProblem, limit: Int) -> Bool {
        let n = problem.batchSize * problem.stateDimension
        return n <= limit && problem.parameterCount >= n
    }

    public init(problem: GradientProblem, ks: [Int], lambdas: [Double], solver: any DenseSpectralSolver) {
        let b = problem.batchSize, n = b * problem.stateDimension
        let lin = problem.linearization
        var rows: [Double] = []
        rows.reserveCapacity(n * problem.parameterCount)
        for i in 0..<b { rows += lin.parameterJacobian(sample: i).elements }
        (self.problem, self.ks, self.lambdas, self.solver) = (problem, ks, lambdas, solver)
        gram = BLAS.syrk(Matrix(rows: n, columns: problem.parameterCount, elements: rows))
        let sigma = GramSpectrum.extremeSingularValues(gram, solver: solver)
        (sigmaMin, sigmaMax, sigmaStatus) = (sigma.min, sigma.max, sigma.status)
        jacobians = (0..<b).map { lin.jacobian(sample: $0) }
        powers = jacobians.map(DenseStatePowers.init(jacobian:))
    }

    public var sampleCount: Int { 1 }

    /// The status of an unrolled residual's cells: by design, not a failure (the report leaves it out).
    public static let noStackedForm = ValueStatus.notComputed("an unrolled residual has no stacked form")

    public func certificates(of residual: ResidualOperator, warmStart: inout WarmStart?) -> [Certificate] {
        guard sigmaStatus.isOK else { return [.notComputed("σ(M_stack): \(sigmaStatus)")] }
        let blocks: [Matrix]
        switch residual {
        case .neumann(let s, let k):
            blocks = powers.indices.map { powers[$0].power(s, k) }
        case .stateSpace(let p):
            blocks = jacobians.enumerated().map { i, j in p.dense(jacobian: j, sample: i) }
        case .unrolled:
            return [
                Certificate(
                    errorNorm: (.nan, Self.noStackedForm), rhoStar: (.nan, Self.noStackedForm), margin: (.nan, Self.noStackedForm),
                    sigmaMin: sigmaMin, sigmaMax: sigmaMax)
            ]
        }
        return [Certificate.neumann(blockDiagonal(blocks), gram: gram, sigmaMin: sigmaMin, sigmaMax: sigmaMax, solver: solver)]
    }

    /// The block-diagonal (B·d)×(B·d) matrix of per-sample d×d blocks.
    public func blockDiagonal(_ blocks: [Matrix]) -> Matrix {
        let d = problem.stateDimension, n = blocks.count * d
        var m = Matrix(zeros: n, n)
        for (i, block) in blocks.enumerated() {
            for r in 0..<d { for c in 0..<d { m[i * d + r, i * d + c] = block[r, c] } }
        }
        return m
    }
}
