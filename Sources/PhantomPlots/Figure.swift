import Foundation
import PhantomFileSystem

/// One figure: its data (written to `NAME.dat` as gnuplot data blocks separated by two blank lines, so the
/// script addresses them as `index 0`, `index 1`, …) and the gnuplot commands that draw it.
public struct Figure: Sendable {
    /// The file stem: NAME.png, NAME.gp, NAME.dat.
    public let name: String
    /// What the figure shows (the script's first comment line).
    public let title: String
    public let blocks: [String]
    /// gnuplot commands; they read data as '\(name).dat' index i.
    public let body: String
    public let width: Int
    public let height: Int

    public init(name: String, title: String, blocks: [String], body: String, width: Int = 900, height: Int = 600) {
        self.name = name
        self.title = title
        self.blocks = blocks
        self.body = body
        self.width = width
        self.height = height
    }

    public var dataFile: String { name + ".dat" }

    /// The terminal for a format at this figure's size.
    public func terminal(_ format: String) -> Terminal? { Terminal(format: format, width: width, height: height) }

    /// The standalone script written as NAME.gp: `gnuplot NAME.gp` in the figure's folder re-renders it.
    public func script(format: String, output: String) -> String {
        let terminal = self.terminal(format) ?? .png(width: width, height: height)
        return """
            # \(title)
            # Written by phantom plot. Restyle and re-render with: gnuplot \(name).gp (data: \(dataFile))
            \(terminal.command)
            set output '\(Gnuplot.escape(output))'
            \(body)
            unset output

            """
    }

    /// The data file's text.
    public var dataText: String { blocks.joined(separator: "\n\n\n") + "\n" }
}

/// Writes figures: NAME.dat, NAME.gp (for the first format) and one rendering per format, each atomically.
public struct FigureWriter: Sendable {
    public let folder: String
    public let formats: [String]
    public let overwrite: Bool
    public let gnuplot: Gnuplot

    public init(folder: String, formats: [String], overwrite: Bool, gnuplot: Gnuplot = Gnuplot()) {
        self.folder = folder
        self.formats = formats
        self.overwrite = overwrite
        self.gnuplot = gnuplot
    }

    /// The files ``write(_:)`` writes for a figure.
    public func files(of figure: Figure) -> [String] {
        [folder + "/" + figure.dataFile, folder + "/\(figure.name).gp"] + formats.map { folder + "/\(figure.name).\($0)" }
    }

    /// Writes one figure; returns the paths written.
    @discardableResult
    public func write(_ figure: Figure) throws -> [String] {
        let first = formats.first ?? "png"
        let paths = files(of: figure)  // data, script, then one per format
        try writeText(figure.dataText, to: paths[0])
        try writeText(figure.script(format: first, output: "\(figure.name).\(first)"), to: paths[1])
        for (format, target) in zip(formats, paths.dropFirst(2)) {
            try gnuplot.renderAtomically(to: target, overwrite: overwrite, in: folder) { output in
                figure.script(format: format, output: output)
            }
        }
        return paths
    }

    private func writeText(_ text: String, to path: String) throws {
        try AtomicOutput.write(Data(text.utf8), to: path, overwrite: overwrite)
    }
}

/// Numbers in data files: fixed width, `NaN` for missing values (gnuplot skips them).
func number(_ x: Double) -> String { x.isFinite ? String(format: "%.9g", x) : "NaN" }
