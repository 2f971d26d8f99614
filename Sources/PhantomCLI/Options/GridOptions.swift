import ArgumentParser
import PhantomAnalysis
import PhantomGradients

/// A list of k values: a range "1...20" or a comma-separated list "1,2,5".
struct KList: ExpressibleByArgument, Sendable {
    let values: [Int]

    init?(argument: String) {
        let text = argument.trimmingCharacters(in: .whitespaces)
        if let range = text.range(of: "...") {
            guard let low = Int(text[..<range.lowerBound]), let high = Int(text[range.upperBound...]), low <= high else { return nil }
            values = Array(low...high)
        } else {
            let parts = text.split(separator: ",", omittingEmptySubsequences: false).map { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard !parts.isEmpty, parts.allSatisfy({ $0 != nil }) else { return nil }
            values = parts.compactMap { $0 }
        }
    }

    init(_ values: [Int]) { self.values = values }
    var defaultValueDescription: String { "1...10" }
}

/// A comma-separated list of numbers.
struct DoubleList: ExpressibleByArgument, Sendable {
    let values: [Double]
    init?(argument: String) {
        let parts = argument.split(separator: ",", omittingEmptySubsequences: false).map { Double($0.trimmingCharacters(in: .whitespaces)) }
        guard !parts.isEmpty, parts.allSatisfy({ $0 != nil }) else { return nil }
        values = parts.compactMap { $0 }
    }
    init(_ values: [Double]) { self.values = values }
}

/// A comma-separated list of estimators.
struct EstimatorList: ExpressibleByArgument, Sendable {
    let values: [EstimatorKind]
    init?(argument: String) {
        let parts = argument.split(separator: ",").map { EstimatorKind(rawValue: $0.trimmingCharacters(in: .whitespaces).lowercased()) }
        guard !parts.isEmpty, parts.allSatisfy({ $0 != nil }) else { return nil }
        var seen: [EstimatorKind] = []
        for kind in parts.compactMap({ $0 }) where !seen.contains(kind) { seen.append(kind) }
        values = seen
    }
    init(_ values: [EstimatorKind]) { self.values = values }
    static var allValueStrings: [String] { EstimatorKind.allCases.map(\.rawValue) }
}

extension AdjointMethod: ExpressibleByArgument {}

/// The (k, λ) grid, the estimators and the adjoint solver of an analysis.
struct GridOptions: ParsableArguments {
    @Option(name: .customLong("k"), help: "Steps k: a range 1...20 or a list 1,2,5 (each ≥ 1).")
    var ks: KList = KList(Array(1...10))

    @Option(name: .customLong("lambda"), help: "Damping factors λ, comma-separated, each in (0, 1].")
    var lambdas: DoubleList = DoubleList([0.1, 0.3, 0.5, 0.7, 0.9, 1.0])

    @Option(help: "Estimators to compare with the exact gradient: any of upg, npg, jfb, rbp, comma-separated.")
    var estimators: EstimatorList = EstimatorList([.upg, .npg, .jfb])

    @Option(help: "Adjoint solver of the exact gradient: auto (LU for d ≤ 512, else GMRES), lu, gmres, fixed-point.")
    var adjoint: AdjointMethod = .auto

    @Option(help: "Relative residual the adjoint solve must reach for the gradient to count as exact.")
    var adjointTolerance: Double = 1e-10

    @Option(help: "Also analyse the batch as one stacked system when B·d is at most this and p ≥ B·d (0: never). Costs O((B·d)³) per cell.")
    var stackedLimit: Int = 512

    @Option(help: "How many samples get the per-cell certificates (‖E‖, Theorem 1, ρ, ρ*, margin). Default: all when d ≤ 128, else the first 16.")
    var certifySamples: Int?

    func validate() throws {
        guard !ks.values.isEmpty else { throw ValidationError("--k: the grid is empty") }
        if let bad = ks.values.first(where: { $0 < 1 }) { throw ValidationError("--k: every k must be at least 1, got \(bad)") }
        if let big = ks.values.first(where: { $0 > 1000 }) { throw ValidationError("--k: k is at most 1000, got \(big)") }
        if let bad = lambdas.values.first(where: { !($0 > 0 && $0 <= 1) }) {
            throw ValidationError("--lambda: every λ must lie in (0, 1], got \(bad)")
        }
        guard stackedLimit >= 0 else { throw ValidationError("--stacked-limit must be ≥ 0, got \(stackedLimit)") }
        if let certifySamples, certifySamples < 0 { throw ValidationError("--certify-samples must be ≥ 0, got \(certifySamples)") }
        guard adjointTolerance > 0, adjointTolerance.isFinite else {
            throw ValidationError("--adjoint-tolerance must be a positive number, got \(adjointTolerance)")
        }
    }

    func configuration() throws -> AnalysisConfiguration {
        try AnalysisConfiguration(ks: ks.values, lambdas: lambdas.values, estimators: estimators.values,
                                  adjoint: try AdjointSolver(method: adjoint, tolerance: adjointTolerance),
                                  certificateSamples: certifySamples, stackedLimit: stackedLimit)
    }
}
