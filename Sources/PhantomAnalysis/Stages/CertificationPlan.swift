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
/// Only the first `certified` samples are certified (``AnalysisConfiguration/certifiedCount(batch:stateDimension:route:)``, of
/// the whole batch; a block certifies its share, ``SampleBlock/certified``).
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

    /// The rule above, for one block of the job's samples (``SampleBlock``): its share of the certified samples, and the
    /// stacked system only when the block is the whole batch.
    public init(configuration c: AnalysisConfiguration, problem: GradientProblem, block: SampleBlock, sound: Bool) {
        perSample = block.route == .dense ? .dense : .matrixFree
        certified = block.certified
        stacked =
            block.isWhole && block.route == .dense && c.stackedLimit > 0 && sound && StackedRoute.applies(problem, limit: c.stackedLimit)
    }
}
