import Foundation
import PhantomGradients

extension AnalysisConfiguration {
    /// k values from text: a range "1...20" (at most ``maximumK`` long, bounded before it is materialised) or a
    /// comma-separated list "1,2,5"; nil when the text is neither. The values are checked when the configuration is built.
    public static func ks(parsing argument: String) -> [Int]? {
        let text = argument.trimmingCharacters(in: .whitespaces)
        guard let range = text.range(of: "...") else { return list(text, Int.init) }
        guard let low = Int(text[..<range.lowerBound]), let high = Int(text[range.upperBound...]), low <= high else { return nil }
        let span = high.subtractingReportingOverflow(low)
        guard !span.overflow, span.partialValue < maximumK else { return nil }
        return Array(low...high)
    }

    /// λ values from a comma-separated list; nil when an entry is not a number.
    public static func lambdas(parsing text: String) -> [Double]? { list(text, Double.init) }

    /// Estimator families from a comma-separated list of names (``Estimators/builtIn``, any case), each once;
    /// nil for an unknown name or an empty list.
    public static func estimators(parsing text: String) -> [EstimatorFamily]? {
        var seen: [EstimatorFamily] = []
        for part in text.split(separator: ",") {
            guard let family = try? Estimators.family(named: part.trimmingCharacters(in: .whitespaces).lowercased()) else { return nil }
            if !seen.contains(family) { seen.append(family) }
        }
        return seen.isEmpty ? nil : seen
    }

    private static func list<T>(_ text: String, _ parse: (String) -> T?) -> [T]? {
        let parts = text.split(separator: ",", omittingEmptySubsequences: false).map { parse($0.trimmingCharacters(in: .whitespaces)) }
        guard !parts.isEmpty, parts.allSatisfy({ $0 != nil }) else { return nil }
        return parts.compactMap { $0 }
    }
}
