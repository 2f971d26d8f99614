import PhantomLinearAlgebra
import PhantomModel

/// What the families' certificates share for one sample at h* (THEORY.md §3): J, the Gram G = M Mᵀ with
/// σ_min, σ_max, and the powers B^k, J^k at the grid's k (each computed once, on first use).
///
/// Dense d×d algebra: every certificate costs a few d³ operations. Not thread-safe: one per sample and thread.
public final class SampleCertification: @unchecked Sendable {
    public let problem: GradientProblem
    public let sample: Int
    public let ks: [Int]
    public let lambdas: [Double]
    /// J at h* (d×d).
    public let jacobian: Matrix
    /// G = M Mᵀ (d×d).
    public let gram: Matrix
    public let sigmaMin: Double
    public let sigmaMax: Double
    /// Largest d·p for which a family may form its residual rows in R^p (UPG's column route).
    public let columnBudget: Int
    /// Use the column route even where a faster state-space route exists (cross-checks).
    public let preferColumnRoute: Bool

    private var dampedPowerCache: [Int: [Matrix]] = [:]
    private var jacobianPowerCache: [Matrix]?

    public init(problem: GradientProblem, sample: Int, gram: Matrix, ks: [Int], lambdas: [Double],
                columnBudget: Int = 4_000_000, preferColumnRoute: Bool = false) {
        self.problem = problem
        self.sample = sample
        self.ks = ks
        self.lambdas = lambdas
        self.jacobian = problem.linearization.jacobian(sample: sample)
        self.gram = gram
        (sigmaMin, sigmaMax) = GramSpectrum.extremeSingularValues(gram)
        self.columnBudget = columnBudget
        self.preferColumnRoute = preferColumnRoute
    }

    public var stateDimension: Int { jacobian.rows }
    public var maxK: Int { ks.last ?? 1 }

    /// B = λJ + (1 − λ)I for λ = `lambdas[l]`.
    public func dampedStep(_ l: Int) -> Matrix {
        dampedStepUnfused(jacobian, Matrix.identity(stateDimension), lambdas[l])
    }

    /// B^k for λ = `lambdas[l]` at every k of the grid.
    public func dampedPowers(_ l: Int) -> [Matrix] {
        if let cached = dampedPowerCache[l] { return cached }
        let powers = Matrix.powers(of: dampedStep(l), at: ks)
        dampedPowerCache[l] = powers
        return powers
    }

    /// J^k at every k of the grid.
    public func jacobianPowers() -> [Matrix] {
        if let jacobianPowerCache { return jacobianPowerCache }
        let powers = Matrix.powers(of: jacobian, at: ks)
        jacobianPowerCache = powers
        return powers
    }

    /// The certificate from EᵀE and S = M 𝒜 (I − Jᵀ).
    public func certificate(errorGram: Matrix, ascent: Matrix) -> Certificate {
        Certificate.compute(errorGram: errorGram, ascent: ascent, gram: gram, sigmaMin: sigmaMin, sigmaMax: sigmaMax)
    }

    /// A Neumann-family certificate, E = −Mᵀ Pᵀ for a d×d P (NPG: B^k, RBP: J^k, JFB: J).
    public func neumannCertificate(_ power: Matrix) -> Certificate {
        Certificate.neumann(power, gram: gram, sigmaMin: sigmaMin, sigmaMax: sigmaMax)
    }

    /// The same certificate in every cell of the grid.
    public func constant(_ certificate: Certificate) -> [[Certificate]] {
        Certificate.constant(certificate, lambdas: lambdas.count, ks: ks.count)
    }

    /// Every cell not computed.
    public var notComputed: [[Certificate]] { constant(.notComputed) }
}

/// σ_min and σ_max of M from the eigenvalues of its Gram G = M Mᵀ.
public enum GramSpectrum {
    /// Eigenvalues of G at or below this fraction of λ_max(G) count as zero: σ_min = 0, M is rank-deficient. The
    /// mdeq cell is: at positions where the ReLU before its last GroupNorm is inactive, every column of M (and every
    /// row of J) takes the same value within a channel, so e_j − e_j′ spans a null space of Mᵀ.
    public static let nullTolerance = 1e-12

    /// (σ_min, σ_max) = (√λ_min(G), √λ_max(G)), with λ_min ≤ ``nullTolerance``·λ_max (and round-off negatives)
    /// taken as 0; NaN when LAPACK fails.
    public static func extremeSingularValues(_ gram: Matrix) -> (min: Double, max: Double) {
        let eigenvalues = (try? SymmetricEigen(gram, computeVectors: false).values) ?? []
        return singularValues(lowest: eigenvalues.first ?? .nan, highest: eigenvalues.last ?? .nan)
    }

    /// (σ_min, σ_max) from G's extreme eigenvalues however found (LAPACK, Lanczos, a diagonal): λ_min at or below
    /// ``nullTolerance``·λ_max, and round-off negatives, count as 0; NaN stays NaN.
    public static func singularValues(lowest low: Double, highest high: Double) -> (min: Double, max: Double) {
        let top = high.isNaN ? .nan : max(high, 0)
        return (low.isNaN ? .nan : (low <= nullTolerance * top ? 0 : low.squareRoot()), top.squareRoot())
    }
}

extension Matrix {
    /// step^k for every k in `ks` (ascending), by repeated left multiplication from the identity.
    public static func powers(of step: Matrix, at ks: [Int]) -> [Matrix] {
        var power = Matrix.identity(step.rows)
        var k = 0
        return ks.map { target in
            while k < target { power = step * power; k += 1 }
            return power
        }
    }
}
