import Foundation
import PhantomAnalysis
import PhantomGradients
import PhantomLinearAlgebra
import PhantomModel
import PhantomPlots
import PhantomResults
import PhantomTestSupport
import PhantomTraining
import Testing

/// A small results file with a series of two checkpoints, made once per test run.
enum FigureFixture {
    static let folder = makeTemporaryFolder("phantom-figures")

    static let resultsPath: String = {
        let path = folder + "/results.h5"
        var rng = SplitMix64(seed: 5)
        func gaussian(_ r: Int, _ c: Int, _ s: Double) -> Matrix {
            Matrix(rows: r, columns: c, elements: (0..<(r * c)).map { _ in s * rng.nextGaussian() })
        }
        let d = 5, n = 3
        let configuration = try! AnalysisConfiguration(
            ks: [1, 2, 3, 4, 5], lambdas: [0.5, 1.0], estimators: [.upg, .npg, .jfb],
            adjoint: try! AdjointSolver(method: .lu))
        let x = gaussian(12, n, 1)
        let series = (0..<2).map { t -> SeriesEntry in
            var w = gaussian(d, d, 1)
            BLAS.scal((0.5 + 0.3 * Double(t)) / (try! w.spectralNorm()), &w.elements)
            let model = ImplicitModel(
                cell: TanhCell(injectionWeight: gaussian(d, n, 0.7), injectionBias: gaussian(1, d, 0.1).elements, cellWeight: w),
                head: OutputHead(weight: gaussian(2, d, 1), bias: [0, 0]))
            let result = try! Analyzer(configuration).analyze(
                model: model, inputs: x, targets: .labels((0..<12).map { $0 % 2 }),
                solver: try! FixedPointConfiguration(stopping: .relative(1e-12)))
            return SeriesEntry(
                path: "fixture-\(t).h5", sha256: String(repeating: "0", count: 64), epoch: 5 * t, step: 10 * t, result: result)
        }
        try! ResultsFile.write(series, sampleIndices: Array(0..<12), to: path, overwrite: true, attributes: ["command": "test"])
        return path
    }()
}

@Suite("phantom plot figures")
struct FigureTests {
    @Test("every figure renders from a fixture results file in PNG, SVG and PDF, with its .gp and .dat")
    func everyFigure() throws {
        let data = try ResultsData.read(FigureFixture.resultsPath)
        let out = makeTemporaryFolder()
        let writer = FigureWriter(folder: out, formats: ["png", "svg", "pdf"], overwrite: false)
        var names: [String] = []
        let history = (1...3).map {
            EpochRecord(
                epoch: $0, loss: 1 / Double($0), trainAccuracy: 0.5, testAccuracy: 0.6, forwardIterations: 10,
                forwardSeconds: 0.1, backwardSeconds: 0.05, unconvergedForward: 0, unconvergedAdjoint: 0, steps: 4)
        }
        for outcome in ResultsFigures(data: data).all() + [RunFigures.curves(runs: [("run (upg)", history)])] {
            guard case .figure(let figure) = outcome else { Issue.record("skipped: \(outcome)"); continue }
            try writer.write(figure)
            names.append(figure.name)
        }
        #expect(
            names == [
                "heatmap_upg", "heatmap_npg", "heatmap_jfb", "cosine_vs_k", "histograms_upg", "histograms_npg",
                "bounds", "along_training", "frontier", "training_curves"
            ])
        for name in names {
            let png = try Data(contentsOf: URL(fileURLWithPath: out + "/\(name).png"))
            #expect(png.count > 5000 && Array(png.prefix(4)) == [0x89, 0x50, 0x4E, 0x47], "\(name).png")
            let svg = try Data(contentsOf: URL(fileURLWithPath: out + "/\(name).svg"))
            #expect(svg.count > 5000 && String(decoding: svg.prefix(300), as: UTF8.self).contains("<svg"), "\(name).svg")
            let pdf = try Data(contentsOf: URL(fileURLWithPath: out + "/\(name).pdf"))
            #expect(pdf.count > 5000 && String(decoding: pdf.prefix(5), as: UTF8.self) == "%PDF-", "\(name).pdf")
            // The script re-renders with gnuplot alone, from its own folder.
            let script = try String(contentsOfFile: out + "/\(name).gp", encoding: .utf8)
            #expect(script.contains("'\(name).dat'"))
        }
        let rerun = try runProgram("/usr/bin/env", ["gnuplot", "cosine_vs_k.gp"], in: out)
        #expect(rerun.status == 0, "\(rerun.stderr)")
    }

    @Test("the script of cosine_vs_k matches its golden text")
    func golden() throws {
        let data = try ResultsData.read(FigureFixture.resultsPath)
        guard case .figure(let figure) = ResultsFigures(data: data).cosineVersusK() else { Issue.record("skipped"); return }
        let script = figure.script(format: "png", output: "cosine_vs_k.png")
        let goldenPath = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Golden/cosine_vs_k.gp").path
        if ProcessInfo.processInfo.environment["PHANTOM_UPDATE_GOLDEN"] == "1" {
            try script.write(toFile: goldenPath, atomically: true, encoding: .utf8)
        }
        #expect(script == (try String(contentsOfFile: goldenPath, encoding: .utf8)))
    }

    @Test("a results file lacking what a figure needs skips that figure and keeps the rest")
    func skipsWhatIsMissing() throws {
        let full = try ResultsData.read(FigureFixture.resultsPath)
        var cells = full.cells
        cells[.rho] = nil
        let partial = ResultsData(
            path: full.path, ks: full.ks, lambdas: full.lambdas, estimators: full.estimators, estimatorAxes: full.estimatorAxes,
            epochs: [full.epochs[0]], samples: full.samples, cells: cells, batch: full.batch)
        let outcomes = ResultsFigures(data: partial, series: 0).all()
        let skipped = outcomes.compactMap { if case .skipped(let name, _) = $0 { return name } else { return nil } }
        #expect(skipped == ["bounds", "along_training", "frontier"])
        #expect(outcomes.count - skipped.count == 6)
    }
}
