import PhantomLinearAlgebra
import PhantomModel

/// Truncated BPTT(K): backpropagation through the last K evaluations of f made by the forward solver,
/// h_{t+1} = f(h_t) with J_t, M_t at the solver's own iterates (docs/Theory.md §2), the cotangent taken at h*.
///
/// The forward solve must have been configured with `recordedIterates ≥ K`; with fewer recorded iterates
/// the available ones are used. Exact BPTT for plain iteration (damping 1); for Anderson or Broyden the
/// recorded points are that solver's iterates, and the steps between them are not f-steps.
public struct TruncatedBPTT: GradientEstimator {
    public let steps: Int
    /// - Throws: ``ConfigurationError`` unless K ≥ 1.
    public init(steps K: Int) throws(ConfigurationError) {
        guard K >= 1 else { throw ConfigurationError("truncated BPTT needs K ≥ 1, got \(K)") }
        steps = K
    }
    public var label: String { "BPTT(\(steps))" }

    public func estimate(_ problem: GradientProblem, perSample: Bool) -> GradientEstimate {
        let iterates = problem.forward.recentIterates.suffix(steps)
        let linearizations: [any CellLinearization] =
            iterates.isEmpty
            ? [problem.linearization]
            : iterates.map { problem.model.cell.linearize(state: $0, input: problem.inputs) }
        return UnrolledPhantomGradient.backpropagate(
            through: linearizations, cotangents: problem.cotangents,
            damping: 1, perSample: perSample)
    }
}
