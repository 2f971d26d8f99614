import ArgumentParser
import Foundation
import PhantomFileSystem
import PhantomHDF5
import PhantomLinearAlgebra
import PhantomPlots

/// A smoke run of the whole stack: BLAS/LAPACK, an HDF5 file and a gnuplot figure.
/// Hidden; `make demo` uses it until the analysis lands.
struct Smoke: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check the stack end to end: LAPACK, an HDF5 file and a gnuplot figure.",
        shouldDisplay: false
    )

    @Option(name: .shortAndLong, help: "The HDF5 file to write.")
    var output: String = "notebooks-data/smoke.h5"

    @Option(help: "The figure to write (PNG).")
    var plot: String = "plots/smoke.png"

    @Flag(help: "Overwrite existing outputs.")
    var force = false

    func run() throws {
        // Refuse before writing anything when either output cannot be written.
        _ = try AtomicOutput.temporaryPath(for: output, overwrite: force)
        _ = try AtomicOutput.temporaryPath(for: plot, overwrite: force)
        // The singular values of a random 64×64 Gaussian matrix follow the quarter-circle law.
        var rng = SplitMix64(seed: 1)
        let n = 64
        let a = Matrix(rows: n, columns: n, elements: (0..<(n * n)).map { _ in rng.nextGaussian() / Double(n).squareRoot() })
        let sigma = try a.singularValues()
        try HDF5File.write(to: output, overwrite: force) { file in
            let root = file.root
            try root.setAttribute("format", .string("phantom-smoke"))
            try root.setAttribute("blas_core", .string(BLASInfo.coreName))
            try root.write("singular_values", vector: sigma)
        }
        let data = sigma.enumerated().map { "\($0.offset + 1) \($0.element)" }.joined(separator: "\n")
        let script = """
        set title "Singular values of a 64×64 Gaussian matrix / √64"
        set xlabel "index i"
        set ylabel "σ_i"
        set grid
        plot $sigma with linespoints pt 7 ps 0.5 title "σ_i"
        """
        try Gnuplot().render(script: script, data: ["sigma": data], to: plot, terminal: .png(), overwrite: force)
        print("wrote \(output) (σ_max = \(String(format: "%.4f", sigma[0])), BLAS core \(BLASInfo.coreName), \(BLASInfo.threadCount) threads)")
        print("wrote \(plot)")
    }
}
