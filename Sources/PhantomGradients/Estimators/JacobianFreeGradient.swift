import PhantomLinearAlgebra
import PhantomModel

/// JFB, the Jacobian-free (one-step) gradient: ĝ_i = M_iᵀ g_i = NPG(1, 1).
///
/// References: Fung et al., "JFB: Jacobian-Free Backpropagation for Implicit Networks", AAAI 2022.
public struct JacobianFreeGradient: GridEstimator {
    public static let id = EstimatorID("jfb")
    public static let summary = "Jacobian-free backpropagation, Mᵀg (= NPG(1, 1))"
    public static let axes = EstimatorAxes.none

    public init() {}
    /// JFB has no steps or damping: every cell is the same estimator.
    public init(steps k: Int, damping lambda: Double, training: Bool = false) throws(ConfigurationError) {
        try checkSteps(k, lambda)
    }
    public var label: String { "JFB" }
    public func estimate(_ problem: GradientProblem, perSample: Bool) -> GradientEstimate {
        GradientEstimate(stateCotangents: problem.cotangents, problem: problem, perSample: perSample)
    }

    /// NPG(1, 1) from the undamped Neumann grid, in every cell.
    public static func measure(_ m: GridMeasurement) throws -> MeasuredGrid {
        m.reading(try m.neumannGrid(lambdas: [1]), lambda: { _ in 0 }, k: { _ in 1 })
    }

    /// E = −MᵀJᵀ: P = J, the same in every cell.
    public static func residual(k: Int, lambda: Double) -> ResidualOperator? { .neumann(.jacobian, power: 1) }
}
