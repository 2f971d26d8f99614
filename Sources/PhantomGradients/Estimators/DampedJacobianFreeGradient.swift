import PhantomLinearAlgebra
import PhantomModel

/// JFB with damping: ĝ_i = λ M_iᵀ g_i = NPG(1, λ), the one-step phantom gradient scaled by the damping.
///
/// Its direction is JFB's for every λ; its length is not, so the relative error and the certificates depend on
/// λ. Residual operator (docs/Theory.md §2–3): E = λMᵀ(I − Jᵀ) − Mᵀ = −Mᵀ((1 − λ)I + λJᵀ) = −MᵀBᵀ, the Neumann
/// family's certificate with P = B.
public struct DampedJacobianFreeGradient: GridEstimator {
    public static let id = EstimatorID("jfb-damped")
    public static let summary = "damped Jacobian-free gradient, λMᵀg (= NPG(1, λ))"
    public static let axes = EstimatorAxes.lambda

    public let damping: Double

    /// k is ignored (every k gives the same estimator).
    public init(steps k: Int, damping lambda: Double, training: Bool = false) throws(ConfigurationError) {
        try checkSteps(k, lambda)
        damping = lambda
    }

    public var label: String { "JFB-damped(\(damping))" }

    public func estimate(_ problem: GradientProblem, perSample: Bool) -> GradientEstimate {
        var a = problem.cotangents
        BLAS.scal(damping, &a.elements)
        return GradientEstimate(stateCotangents: a, problem: problem, perSample: perSample)
    }

    /// NPG(1, λ) from the damped Neumann grid, the same for every k.
    public static func measure(_ m: GridMeasurement) throws -> MeasuredGrid {
        m.reading(try m.neumannGrid(lambdas: m.lambdas), lambda: { $0 }, k: { _ in 1 })
    }

    /// P = B, the same for every k.
    public static func residual(k: Int, lambda: Double) -> ResidualOperator? { .neumann(.damped(lambda), power: 1) }
}
