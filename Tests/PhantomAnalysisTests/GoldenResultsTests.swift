import Foundation
import PhantomAnalysis
import PhantomGradients
import PhantomHDF5
import PhantomModel
import PhantomModelIO
import PhantomResults
import PhantomTestSupport
import Testing

/// Files under Tests/Fixtures, found from this source file.
func fixture(_ name: String) -> String {
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/\(name)").path
}

func repositoryData(_ name: String) -> String {
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("notebooks-data/\(name)").path
}

/// The analysis the golden files were made with: fixture checkpoints trained by `phantom train` on digits.
enum GoldenAnalysis {
    static let configuration = try! AnalysisConfiguration(
        ks: [1, 2, 5], lambdas: [0.5, 1.0], estimators: [.upg, .npg, .jfb, .rbp],
        adjoint: try! AdjointSolver(method: .lu, tolerance: 1e-11))
    static let solver = try! FixedPointConfiguration(method: .anderson, stopping: .relative(1e-12), maxIterations: 500)

    static func run(_ checkpointName: String, samples: Int = 12) throws -> AnalysisResult {
        let checkpoint = try Checkpoint.load(fixture(checkpointName))
        let data = try DataSet.load(repositoryData("digits.h5")).part(1).prefix(samples)
        return try Analyzer(configuration).analyze(model: checkpoint.model, inputs: data.x, targets: data.y!, solver: solver)
    }
}

@Suite("Analysis of checkpoints trained by the toolkit")
struct GoldenResultsTests {
    @Test("the bounds hold cell by cell on the trained fixtures", arguments: ["tanh-d8-digits.h5", "resmlp-d8-digits.h5"])
    func boundsOnTrainedModels(name: String) throws {
        let r = try GoldenAnalysis.run(name)
        #expect(r.reliable.filter { $0 }.count >= r.sampleCount - 2)
        var checked = 0
        for e in 0..<r.estimators.count {
            for l in 0..<r.lambdas.count {
                for k in 0..<r.ks.count {
                    for s in 0..<r.sampleCount where r.reliable[s] {
                        checked += 1
                        let inner = r.metrics.inner[e, l, k, s], error = r.metrics.relativeError[e, l, k, s],
                            cosine = r.metrics.cosine[e, l, k, s]
                        if r.certificates.theorem1[e, l, k, s] == 1 { #expect(inner >= 0) }
                        for bound in [r.certificates.rho[e, l, k, s], r.certificates.rhoStar[e, l, k, s]] where bound < 1 {
                            #expect(error <= bound * (1 + 1e-9) + 1e-14)
                            #expect(cosine >= (1 - bound * bound).squareRoot() - 1e-12)
                        }
                        #expect(r.certificates.rhoStar[e, l, k, s] <= r.certificates.rho[e, l, k, s] * (1 + 1e-9))
                        if r.certificates.ascentMargin[e, l, k, s] >= 0 { #expect(inner >= 0) }
                    }
                }
            }
        }
        #expect(checked > 100)
    }

    /// Regenerate with PHANTOM_UPDATE_GOLDEN=1 after an intended change in the numerics.
    @Test(
        "a golden results file: recomputed numbers agree with the committed ones", arguments: ["tanh-d8-digits.h5", "resmlp-d8-digits.h5"])
    func golden(name: String) throws {
        let result = try GoldenAnalysis.run(name)
        let goldenPath = fixture("golden-" + name)
        if ProcessInfo.processInfo.environment["PHANTOM_UPDATE_GOLDEN"] == "1" {
            try ResultsFile.write(
                [SeriesEntry(path: name, sha256: try SHA256Fixture.hex(fixture(name)), epoch: 3, step: 36, result: result)],
                sampleIndices: Array(0..<result.sampleCount), to: goldenPath, overwrite: true,
                attributes: ["command": "GoldenResultsTests"])
        }
        let fresh = makeTemporaryFolder() + "/fresh.h5"
        try ResultsFile.write(
            [SeriesEntry(path: name, sha256: "", epoch: 3, step: 36, result: result)],
            sampleIndices: Array(0..<result.sampleCount), to: fresh, overwrite: false, attributes: [:])
        let golden = try ResultsData.read(goldenPath), now = try ResultsData.read(fresh)
        // Tolerances: measured metrics and spectra are well-conditioned (1e-9 relative); ρ* and the margin come
        // from generalized/indefinite eigenproblems of nearly singular Grams (1e-6 relative, 1e-10 absolute).
        let tolerances: [String: (relative: Double, absolute: Double)] = [
            "cells/cosine": (1e-9, 1e-12), "cells/relative_error": (1e-8, 1e-12), "cells/norm_ratio": (1e-9, 1e-12),
            "cells/error_norm": (1e-8, 1e-12), "cells/rho": (1e-8, 1e-12), "cells/rho_star": (1e-6, 1e-10),
            "cells/ascent_margin": (1e-6, 1e-10), "cells/theorem1": (0, 0), "cells/inner_sign": (0, 0),
            "samples/sigma_min": (1e-8, 1e-14), "samples/sigma_max": (1e-10, 1e-14), "samples/jacobian_norm": (1e-10, 1e-14),
            "samples/spectral_radius": (1e-9, 1e-14), "samples/power_norm": (1e-9, 1e-14), "samples/forward_converged": (0, 0),
            "batch/cosine": (1e-9, 1e-12), "batch/relative_error": (1e-8, 1e-12)
        ]
        for (key, tolerance) in tolerances.sorted(by: { $0.key < $1.key }) {
            let a = try #require(Self.array(golden, key), "golden lacks \(key)"), b = try #require(Self.array(now, key))
            #expect(a.shape == b.shape, "\(key)")
            var worst = 0.0
            for (x, y) in zip(a.values, b.values) where !(x.isNaN && y.isNaN) {
                let excess = abs(x - y) - (tolerance.absolute + tolerance.relative * abs(x))
                worst = max(worst, excess)
            }
            #expect(worst <= 0, "\(key): differs from the golden file beyond its tolerance by \(worst)")
        }
    }
}

extension GoldenResultsTests {
    /// An array by its path in the file ("cells/cosine").
    static func array(_ data: ResultsData, _ path: String) -> HDF5Array<Double>? {
        let parts = path.split(separator: "/").map(String.init)
        switch parts[0] {
        case SampleArray.group: return SampleArray(rawValue: parts[1]).flatMap { data.samples[$0] }
        case CellArray.group: return CellArray(rawValue: parts[1]).flatMap { data.cells[$0] }
        default: return BatchArray(rawValue: parts[1]).flatMap { data.batch[$0] }
        }
    }
}

enum SHA256Fixture {
    static func hex(_ path: String) throws -> String {
        let result = try runProgram("/usr/bin/sha256sum", [path])
        return String(result.stdout.prefix(64))
    }
}
