import PhantomLinearAlgebra
import PhantomModel

/// An estimator of ∇_θ L: a linear map 𝒜 from the loss cotangent g at h* to a parameter gradient
/// ĝ = 𝒜 g ∈ R^p (docs/Theory.md §2). p counts the implicit layer's parameters (injection + cell); the head's
/// gradient is the same for every estimator and lives in ``GradientProblem/headGradient``.
public protocol GradientEstimator: Sendable {
    /// A short label, e.g. "NPG(5, 0.5)".
    var label: String { get }
    /// ĝ for the batch mean and, when `perSample` is true, for each sample.
    func estimate(_ problem: GradientProblem, perSample: Bool) -> GradientEstimate
}

/// The output of an estimator, with its pedigree.
public struct GradientEstimate: Sendable {
    /// (1/B) Σ_i ĝ_i ∈ R^p.
    public let batchMean: [Double]
    /// Row i: ĝ_i (B×p), when asked for.
    public let perSample: Matrix?
    /// For estimators evaluated at h* only: A (B×d) with ĝ_i = M_iᵀ a_i. Nil for UPG and BPTT, whose
    /// Jacobians sit at other points.
    public let stateCotangents: Matrix?
    /// The adjoint solve behind an exact gradient (nil for the phantom estimators, which do not solve).
    public let adjoint: AdjointSolution?
    /// Training-mode UPG only: the batch-mean loss and head gradient at h_k, where that mode evaluates the loss.
    public var lossAtUnroll: Double? = nil
    public var headGradientAtUnroll: [Double]? = nil
    /// UPG with factored per-sample metrics: each step's per-sample parameter VJP, factored by layer.
    public var factors: [ParameterFactors]? = nil

    /// False when an adjoint solve behind this estimate did not reach its tolerance for some sample:
    /// such a gradient must not be used as the exact reference.
    public var isReliable: Bool { adjoint?.allConverged ?? true }
}

extension GradientEstimate {
    /// Builds the estimate from state-space vectors A (ĝ_i = M_iᵀ a_i).
    public init(stateCotangents a: Matrix, problem: GradientProblem, perSample: Bool, adjoint: AdjointSolution? = nil) {
        self.init(
            batchMean: problem.batchMeanGradient(a),
            perSample: perSample ? problem.perSampleGradients(a) : nil,
            stateCotangents: a, adjoint: adjoint)
    }
}

/// Validation shared by the phantom estimators.
func checkSteps(_ k: Int, _ lambda: Double) throws(ConfigurationError) {
    guard k >= 1 else { throw ConfigurationError("k must be at least 1, got \(k)") }
    guard lambda > 0, lambda <= 1, lambda.isFinite else { throw ConfigurationError("λ must lie in (0, 1], got \(lambda)") }
}
