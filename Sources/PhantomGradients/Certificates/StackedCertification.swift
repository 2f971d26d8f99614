import PhantomLinearAlgebra
import PhantomModel

/// Theorem 1 for the batch as one system (THEORY.md §3): the samples stacked, J block diagonal, M the
/// (B·d)×p stack of the M_i, whose full Gram G = M_stack M_stackᵀ has off-diagonal blocks M_i M_jᵀ coupling the
/// samples. For the Neumann family E = −M_stackᵀ Pᵀ with P block diagonal, so the certificates are those of
/// ``Certificate/neumann(_:gram:sigmaMin:sigmaMax:)`` with the stacked Gram. The condition can only hold when
/// p ≥ B·d. Complexity: O((B·d)³) per cell.
public struct StackedCertification: Sendable {
    public let problem: GradientProblem
    public let ks: [Int]
    public let lambdas: [Double]
    /// J_i at h*_i per sample.
    public let jacobians: [Matrix]
    /// The (B·d)×(B·d) stacked Gram.
    public let gram: Matrix
    public let sigmaMin: Double
    public let sigmaMax: Double

    /// Whether the stacked analysis applies: B·d ≤ `limit` and p ≥ B·d.
    public static func applies(_ problem: GradientProblem, limit: Int) -> Bool {
        let n = problem.batchSize * problem.stateDimension
        return n <= limit && problem.parameterCount >= n
    }

    public init(problem: GradientProblem, ks: [Int], lambdas: [Double]) {
        let b = problem.batchSize, n = b * problem.stateDimension
        let lin = problem.linearization
        var rows: [Double] = []
        rows.reserveCapacity(n * problem.parameterCount)
        for i in 0..<b { rows += lin.parameterJacobian(sample: i).elements }
        self.problem = problem
        self.ks = ks
        self.lambdas = lambdas
        gram = BLAS.syrk(Matrix(rows: n, columns: problem.parameterCount, elements: rows))
        (sigmaMin, sigmaMax) = GramSpectrum.extremeSingularValues(gram)
        jacobians = (0..<b).map { lin.jacobian(sample: $0) }
    }

    /// B_i = λJ_i + (1 − λ)I per sample, for λ = `lambdas[l]`.
    public func dampedSteps(_ l: Int) -> [Matrix] {
        let identity = Matrix.identity(problem.stateDimension)
        return jacobians.map { dampedStepUnfused($0, identity, lambdas[l]) }
    }

    /// diag(step_i^k) at every k of the grid.
    public func powers(_ steps: [Matrix]) -> [Matrix] {
        let perSample = steps.map { Matrix.powers(of: $0, at: ks) }
        return ks.indices.map { kk in blockDiagonal(perSample.map { $0[kk] }) }
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

    /// The Neumann-family certificate of a block-diagonal P.
    public func neumannCertificate(_ power: Matrix) -> Certificate {
        Certificate.neumann(power, gram: gram, sigmaMin: sigmaMin, sigmaMax: sigmaMax)
    }

    /// The same certificate in every cell.
    public func constant(_ certificate: Certificate) -> [[Certificate]] {
        Certificate.constant(certificate, lambdas: lambdas.count, ks: ks.count)
    }
}
