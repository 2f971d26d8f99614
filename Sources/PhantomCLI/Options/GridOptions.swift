import ArgumentParser
import Foundation
import PhantomAnalysis
import PhantomGradients

/// A list of k values: a range "1...20" or a comma-separated list "1,2,5" (``AnalysisConfiguration/ks(parsing:)``).
struct KList: ExpressibleByArgument, Sendable {
    let values: [Int]
    init?(argument: String) {
        guard let values = AnalysisConfiguration.ks(parsing: argument) else { return nil }
        self.values = values
    }
    init(_ values: [Int]) { self.values = values }
    var defaultValueDescription: String {
        values.count > 2 && values == Array(values[0]...values[values.count - 1])
            ? "\(values[0])...\(values[values.count - 1])" : values.map(String.init).joined(separator: ",")
    }
}

/// A comma-separated list of damping factors (``AnalysisConfiguration/lambdas(parsing:)``).
struct DoubleList: ExpressibleByArgument, Sendable {
    let values: [Double]
    init?(argument: String) {
        guard let values = AnalysisConfiguration.lambdas(parsing: argument) else { return nil }
        self.values = values
    }
    init(_ values: [Double]) { self.values = values }
    var defaultValueDescription: String { values.map { String(format: "%g", $0) }.joined(separator: ",") }
}

/// A comma-separated list of estimator families (``AnalysisConfiguration/estimators(parsing:)``).
struct EstimatorList: ExpressibleByArgument, Sendable {
    let values: [EstimatorFamily]
    init?(argument: String) {
        guard let values = AnalysisConfiguration.estimators(parsing: argument) else { return nil }
        self.values = values
    }
    init(_ values: [EstimatorFamily]) { self.values = values }
    var defaultValueDescription: String { values.map(\.id.rawValue).joined(separator: ",") }
    static var allValueStrings: [String] { Estimators.builtIn.map(\.id.rawValue) }
}

extension AdjointMethod: ExpressibleByArgument {}
extension SpectraRoute: ExpressibleByArgument {}

/// The (k, λ) grid, the estimators and the adjoint solver of an analysis; defaults and checks are the
/// library's (``AnalysisConfiguration``).
struct GridOptions: ParsableArguments {
    @Option(name: .customLong("k"), help: "Steps k: a range 1...20 or a list 1,2,5 (each in 1…\(AnalysisConfiguration.maximumK)).")
    var ks: KList = KList(AnalysisConfiguration.defaultKs)

    @Option(name: .customLong("lambda"), help: "Damping factors λ, comma-separated, each in (0, 1].")
    var lambdas: DoubleList = DoubleList(AnalysisConfiguration.defaultLambdas)

    @Option(
        help: """
            Estimators to compare with the exact gradient, comma-separated: \
            \(Estimators.builtIn.map { "\($0.id) (\($0.summary))" }.joined(separator: "; ")).
            """)
    var estimators: EstimatorList = EstimatorList(AnalysisConfiguration.defaultEstimators)

    @Option(help: "Adjoint solver of the exact gradient: auto (LU for d ≤ 512, else GMRES), lu, gmres, fixed-point.")
    var adjoint: AdjointMethod = .auto

    @Option(help: "Relative residual the adjoint solve must reach for the gradient to count as exact.")
    var adjointTolerance: Double = AnalysisConfiguration.defaultAdjointTolerance

    @Option(
        help: """
            Also analyse the batch as one stacked system when B·d is at most this and p ≥ B·d (0: never). Costs O((B·d)³) per cell.
            """)
    var stackedLimit: Int = AnalysisConfiguration.defaultStackedLimit

    @Option(
        help: """
            How many samples get the per-cell certificates (‖E‖, Theorem 1, ρ, ρ*, margin). Default: all when \
            d ≤ \(AnalysisConfiguration.certifyAllUpToDimension), else the first \(AnalysisConfiguration.defaultCertifiedAboveLimit); \
            none on the matrix-free route (--spectra iterative), where certificates cost minutes per block of samples.
            """)
    var certifySamples: Int?

    @Option(
        help: """
            How σ(M), ‖J‖₂, ρ(J) and ρ(B) are computed: dense (d×d LAPACK, with the per-cell certificates), iterative \
            (matrix-free Krylov with residuals; no per-cell certificates), or auto (dense for d ≤ \(SpectraRoute.denseLimit)).
            """)
    var spectra: SpectraRoute = .auto

    func validate() throws { _ = try configuration() }

    func configuration() throws -> AnalysisConfiguration {
        try AnalysisConfiguration(
            ks: ks.values, lambdas: lambdas.values, estimators: estimators.values,
            adjoint: try AdjointSolver(method: adjoint, tolerance: adjointTolerance),
            certificateSamples: certifySamples, stackedLimit: stackedLimit, spectra: spectra)
    }
}
