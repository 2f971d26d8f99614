import PhantomGradients
import PhantomLinearAlgebra
import PhantomModel

/// Stage 4 — the spectral facts of every sample at h* that do not depend on the estimator (``SampleSpectra``): σ(M),
/// ‖J‖₂, ρ(J) and ρ(B), each with its pedigree. Dense: from J and G as d×d matrices by LAPACK (``DenseSample``, kept
/// for the dense certification route); iterative: by Krylov methods on the cell's products at the sample alone.
public struct SpectraStage: Sendable {
    public let route: SpectraRoute
    public let ks: [Int]
    public let lambdas: [Double]
    public let solver: any DenseSpectralSolver
    /// Called with (done, in all) as samples finish.
    public let progress: (@Sendable (Int, Int) -> Void)?

    public init(
        route: SpectraRoute, ks: [Int], lambdas: [Double], solver: any DenseSpectralSolver = LAPACKSpectralSolver(),
        progress: (@Sendable (Int, Int) -> Void)? = nil
    ) {
        (self.route, self.ks, self.lambdas, self.solver, self.progress) = (route, ks, lambdas, solver, progress)
    }

    /// Per sample, over the cores.
    public func run(_ problem: GradientProblem, grams: [ParameterGram]) -> Spectra {
        let counter = ProgressCounter(total: problem.batchSize, report: progress)
        let (route, ks, lambdas, solver) = (route, ks, lambdas, solver)
        let perSample = Parallel.map(problem.batchSize) { s -> (SampleSpectra, DenseSample?) in
            defer { counter.increment() }
            guard route == .dense else {
                return (SampleSpectra(iterative: problem, sample: s, lambdas: lambdas, ks: ks.count), nil)
            }
            let facts = DenseSample(problem: problem, sample: s, gram: grams[s], solver: solver)
            return (SampleSpectra(dense: facts, lambdas: lambdas, ks: ks.count, solver: solver), facts)
        }
        return Spectra(samples: perSample.map(\.0), dense: route == .dense ? perSample.map { $0.1! } : nil)
    }
}

/// Every sample's spectra, and on the dense route its J and G.
public struct Spectra: Sendable {
    public var samples: [SampleSpectra]
    public let dense: [DenseSample]?
}
