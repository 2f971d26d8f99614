/// The name of a gradient estimator on the command line, in checkpoints, in results files and in figure
/// names: `upg`, `npg`, `jfb`, `rbp`, `exact`, …
///
/// A validated identifier — 1 to 32 characters from `a`–`z`, `0`–`9` and `-`, starting with a letter — so
/// that a name read from a file can safely become part of a file name or a gnuplot command. Unknown names
/// are not rejected here (a results file may name an estimator this build lacks); ``Estimators`` says which
/// names this build knows.
public struct EstimatorID: RawRepresentable, Hashable, Comparable, Codable, Sendable, CustomStringConvertible {
    public let rawValue: String

    /// Nil unless `rawValue` is a well-formed identifier.
    public init?(rawValue: String) {
        guard Self.isValid(rawValue) else { return nil }
        self.rawValue = rawValue
    }

    /// For the identifiers the toolkit defines in source; traps on a malformed literal (a programming error).
    public init(_ literal: StaticString) {
        let text = literal.description
        precondition(Self.isValid(text), "malformed estimator identifier \(text)")
        rawValue = text
    }

    public static func isValid(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard (1...32).contains(bytes.count), let first = bytes.first, (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(first) else {
            return false
        }
        return bytes.allSatisfy {
            ($0 >= UInt8(ascii: "a") && $0 <= UInt8(ascii: "z")) || ($0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9"))
                || $0 == UInt8(ascii: "-")
        }
    }

    public var description: String { rawValue }
    /// The name in figure titles and summaries: `UPG`, `JFB-DAMPED`.
    public var displayName: String { rawValue.uppercased() }
    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let id = EstimatorID(rawValue: text) else {
            throw DecodingError.dataCorrupted(
                .init(codingPath: decoder.codingPath, debugDescription: "'\(text)' is not an estimator identifier"))
        }
        self = id
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }

    /// The exact implicit gradient, the reference of every analysis (a training choice, not a grid estimator).
    public static let exact = EstimatorID("exact")
}

/// Which grid axes an estimator's value depends on. Every estimator is stored on the full (λ, k) grid so that
/// results have one shape; an estimator that ignores an axis repeats its value along it.
public enum EstimatorAxes: String, Sendable, CaseIterable, Codable {
    /// Varies with k and λ (UPG, NPG).
    case kAndLambda = "k+lambda"
    /// Varies with k only (RBP).
    case k
    /// Varies with λ only (damped JFB).
    case lambda
    /// The same in every cell (JFB).
    case none

    public var dependsOnK: Bool { self == .kAndLambda || self == .k }
}
