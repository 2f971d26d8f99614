import PhantomGradients
import PhantomModel

/// Which route certifies what: the one rule of the analysis (docs/Theory.md §3, §7).
///
/// - Per-sample certificates (‖E‖₂, Theorem 1, ‖E‖ ≤ σ_min, ρ, the cosine bound, the margin) and ‖B^k‖₂: the spectra's
///   route — ``DenseRoute`` when it is dense (d ≤ ``SpectraRoute/denseLimit`` under `auto`), else ``MatrixFreeRoute`` in
///   blocks of ``MatrixFreeRoute/blockSize``.
/// - ρ*: as above; on the matrix-free route by Lanczos (diagonal M Mᵀ) or LOBPCG on the pencil (any other cell).
/// - The batch as one stacked system: ``StackedRoute``, when the route is dense, `stackedLimit` > 0, every sample is
///   sound (both solves converged, ρ(J) < 1), B·d ≤ `stackedLimit` and p ≥ B·d.
///
/// Only the first `certified` samples are certified (``AnalysisConfiguration/certifiedCount(batch:stateDimension:route:)``).
public struct CertificationPlan: Sendable, Equatable {
    public enum PerSample: Sendable, Equatable { case dense, matrixFree }
    public let perSample: PerSample
    /// How many samples (the first ones) are certified.
    public let certified: Int
    /// Whether the batch is also certified as one stacked system.
    public let stacked: Bool

    public init(perSample: PerSample, certified: Int, stacked: Bool) {
        (self.perSample, self.certified, self.stacked) = (perSample, certified, stacked)
    }

    /// The rule above.
    public init(configuration c: AnalysisConfiguration, problem: GradientProblem, route: SpectraRoute, sound: Bool) {
        perSample = route == .dense ? .dense : .matrixFree
        certified = c.certifiedCount(batch: problem.batchSize, stateDimension: problem.stateDimension, route: route)
        stacked = route == .dense && c.stackedLimit > 0 && sound && StackedRoute.applies(problem, limit: c.stackedLimit)
    }
}
