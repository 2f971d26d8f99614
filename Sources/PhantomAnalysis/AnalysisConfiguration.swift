import PhantomGradients
import PhantomLinearAlgebra
import PhantomModel

/// The estimators an analysis compares with the exact gradient.
///
/// Every estimator is stored on the same (λ, k) grid so results have one shape: NPG and UPG vary with both;
/// RBP(k) is the undamped Neumann series with k terms, NPG(k, 1), the same for every λ; JFB = NPG(1, 1) is
/// the same in every cell.
public enum EstimatorKind: String, Sendable, CaseIterable, Codable {
    case upg, npg, jfb, rbp
}

/// What an analysis computes, checked when built.
public struct AnalysisConfiguration: Sendable {
    /// Unrolling/series lengths k, ascending, each ≥ 1.
    public let ks: [Int]
    /// Damping factors λ ∈ (0, 1], in the given order.
    public let lambdas: [Double]
    public let estimators: [EstimatorKind]
    public let adjoint: AdjointSolver
    /// How many samples (the first ones) get the per-cell certificates and ‖B^k‖₂; nil: every sample when
    /// d ≤ 128, the first 16 above (each certificate costs a few d³ operations per cell). Measured metrics,
    /// σ(M), ‖J‖₂, ρ(J) and ρ(B) are computed for every sample.
    public let certificateSamples: Int?
    /// Largest d·p for which UPG's residual operator E is formed column by column in R^p.
    public let upgColumnBudget: Int
    /// Form UPG's E column by column even when the cell allows the faster state-space route (cross-checks).
    public let upgColumnRoute: Bool
    /// The batch is also analysed as one stacked system when B·d ≤ this and p ≥ B·d (0 disables).
    public let stackedLimit: Int

    /// - Throws: ``ConfigurationError`` for an empty or out-of-range grid or no estimator.
    public init(ks: [Int], lambdas: [Double], estimators: [EstimatorKind], adjoint: AdjointSolver,
                certificateSamples: Int? = nil, upgColumnBudget: Int = 4_000_000, upgColumnRoute: Bool = false, stackedLimit: Int = 2048) throws(ConfigurationError) {
        guard !ks.isEmpty else { throw ConfigurationError("the k grid is empty") }
        guard ks.allSatisfy({ $0 >= 1 }) else { throw ConfigurationError("every k must be at least 1, got \(ks.filter { $0 < 1 })") }
        guard ks.max()! <= 1000 else { throw ConfigurationError("k is at most 1000, got \(ks.max()!)") }
        guard !lambdas.isEmpty else { throw ConfigurationError("the λ grid is empty") }
        for lambda in lambdas where !(lambda > 0 && lambda <= 1) {
            throw ConfigurationError("every λ must lie in (0, 1], got \(lambda)")
        }
        guard !estimators.isEmpty else { throw ConfigurationError("no estimator to analyse") }
        self.ks = Array(Set(ks)).sorted()
        self.lambdas = lambdas
        self.estimators = estimators
        self.adjoint = adjoint
        if let certificateSamples, certificateSamples < 0 {
            throw ConfigurationError("the number of certified samples must be ≥ 0, got \(certificateSamples)")
        }
        self.certificateSamples = certificateSamples
        self.upgColumnBudget = upgColumnBudget
        self.upgColumnRoute = upgColumnRoute
        guard stackedLimit >= 0 else { throw ConfigurationError("the stacked-system limit must be ≥ 0, got \(stackedLimit)") }
        self.stackedLimit = stackedLimit
    }

    public var maxK: Int { ks.last ?? 1 }
}
