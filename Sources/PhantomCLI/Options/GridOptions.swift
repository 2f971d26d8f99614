import ArgumentParser
import Foundation
import PhantomAnalysis
import PhantomGradients

/// A comma-separated option value, parsed and described by the library (``ListSyntax``).
struct ListArgument<Syntax: ListSyntax>: ExpressibleByArgument, Sendable {
    let values: [Syntax.Element]
    init(_ values: [Syntax.Element]) { self.values = values }
    init?(argument: String) {
        guard let values = try? Syntax.parse(argument) else { return nil }
        self.values = values
    }
    var defaultValueDescription: String { Syntax.describe(values) }
    static var allValueStrings: [String] { Syntax.names }
}

/// How one kind of list is read (by the library's parser) and shown, and its known names (none for numbers).
protocol ListSyntax {
    associatedtype Element: Sendable
    static func parse(_ text: String) throws -> [Element]?
    static func describe(_ values: [Element]) -> String
    static var names: [String] { get }
}
extension ListSyntax { static var names: [String] { [] } }

/// k values: a range "1...20" or a list "1,2,5" (``AnalysisConfiguration/ks(parsing:)``).
enum KSyntax: ListSyntax {
    static func parse(_ text: String) -> [Int]? { AnalysisConfiguration.ks(parsing: text) }
    static func describe(_ v: [Int]) -> String {
        v.count > 2 && v == Array(v[0]...v[v.count - 1]) ? "\(v[0])...\(v[v.count - 1])" : v.map(String.init).joined(separator: ",")
    }
}

/// Damping factors (``AnalysisConfiguration/lambdas(parsing:)``).
enum LambdaSyntax: ListSyntax {
    static func parse(_ text: String) -> [Double]? { AnalysisConfiguration.lambdas(parsing: text) }
    static func describe(_ values: [Double]) -> String { values.map { String(format: "%g", $0) }.joined(separator: ",") }
}

/// Estimator families (``AnalysisConfiguration/estimators(parsing:)``).
enum EstimatorSyntax: ListSyntax {
    static func parse(_ text: String) -> [EstimatorFamily]? { AnalysisConfiguration.estimators(parsing: text) }
    static func describe(_ values: [EstimatorFamily]) -> String { values.map(\.id.rawValue).joined(separator: ",") }
    static var names: [String] { Estimators.builtIn.map(\.id.rawValue) }
}

extension AdjointMethod: ExpressibleByArgument {}
extension SpectraRoute: ExpressibleByArgument {}

/// The (k, λ) grid, the estimators and the adjoint solver of an analysis; defaults and checks are the
/// library's (``AnalysisConfiguration``).
struct GridOptions: ParsableArguments {
    @Option(name: .customLong("k"), help: "Steps k: a range 1...20 or a list 1,2,5 (each in 1…\(AnalysisConfiguration.maximumK)).")
    var ks = ListArgument<KSyntax>(AnalysisConfiguration.defaultKs)
    @Option(name: .customLong("lambda"), help: "Damping factors λ, comma-separated, each in (0, 1].")
    var lambdas = ListArgument<LambdaSyntax>(AnalysisConfiguration.defaultLambdas)
    @Option(help: ArgumentHelp("Estimators to compare with the exact gradient, comma-separated: \(Estimators.described)."))
    var estimators = ListArgument<EstimatorSyntax>(AnalysisConfiguration.defaultEstimators)
    @Option(help: "Exact gradient's adjoint solver: auto: LU for d ≤ 512, else GMRES.") var adjoint = AdjointMethod.auto
    @Option(help: "Adjoint relative residual for an exact gradient.") var adjointTolerance = AnalysisConfiguration.defaultAdjointTolerance
    @Option(help: "Also analyse the batch as one stacked system when B·d is at most this and p ≥ B·d (0: never). Costs O((B·d)³) per cell.")
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
    @Option(help: "Samples passing through the stages together (memory grows with it; default: as many as fit 1 GiB, ≥ 32).")
    var sampleBlock: Int?
    @OptionGroup var estimatorOptions: EstimatorOptions

    func validate() throws { _ = try configuration() }

    func configuration() throws -> AnalysisConfiguration {
        try AnalysisConfiguration(
            ks: ks.values, lambdas: lambdas.values, estimators: estimators.values,
            adjoint: try AdjointSolver(method: adjoint, tolerance: adjointTolerance),
            certificateSamples: certifySamples, stackedLimit: stackedLimit, spectra: spectra,
            estimatorSettings: try estimatorOptions.settings(for: estimators.values.map(\.id)), sampleBlock: sampleBlock)
    }
}
