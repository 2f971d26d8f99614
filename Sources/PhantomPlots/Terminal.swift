import Foundation
import PhantomLinearAlgebra

/// The gnuplot output formats the toolkit renders.
public enum Terminal: Sendable, Equatable {
    /// `pngcairo`, size in pixels.
    case png(width: Int = 900, height: Int = 600)
    /// `svg`, size in pixels.
    case svg(width: Int = 900, height: Int = 600)
    /// `pdfcairo`, size in inches.
    case pdf(width: Double = 6, height: Double = 4)

    /// The `set terminal` line.
    public var command: String {
        switch self {
        case let .png(w, h): return "set terminal pngcairo enhanced font 'Sans,10' size \(w),\(h)"
        case let .svg(w, h): return "set terminal svg enhanced font 'Sans,10' size \(w),\(h) background rgb 'white'"
        case let .pdf(w, h): return "set terminal pdfcairo enhanced font 'Sans,9' size \(w)in,\(h)in"
        }
    }

    /// The file extension (without the dot).
    public var fileExtension: String {
        switch self {
        case .png: return "png"
        case .svg: return "svg"
        case .pdf: return "pdf"
        }
    }

    /// The formats by name, one per terminal.
    public enum Format: String, CaseIterable, Sendable {
        case png, svg, pdf
    }

    /// The terminal for a format at a size in pixels (PDF: 150 pixels an inch).
    public init(format: Format, width: Int = 900, height: Int = 600) {
        switch format {
        case .png: self = .png(width: width, height: height)
        case .svg: self = .svg(width: width, height: height)
        case .pdf: self = .pdf(width: Double(width) / 150, height: Double(height) / 150)
        }
    }

    /// The terminal for a format name ("png", "svg" or "pdf", any case); nil for another name.
    public init?(format: String, width: Int = 900, height: Int = 600) {
        guard let known = Format(rawValue: format.lowercased()) else { return nil }
        self.init(format: known, width: width, height: height)
    }

    /// A list of format names, comma-separated ("png,svg"), each known and none twice.
    /// - Throws: ``ConfigurationError`` naming an unknown or repeated format, or an empty list.
    public static func formats(parsing text: String) throws(ConfigurationError) -> [Format] {
        var formats: [Format] = []
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            let name = part.trimmingCharacters(in: .whitespaces).lowercased()
            guard let format = Format(rawValue: name) else {
                throw ConfigurationError("unknown format '\(name)' (known: \(Format.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            guard !formats.contains(format) else { throw ConfigurationError("\(name) is given twice") }
            formats.append(format)
        }
        return formats
    }
}
