import Foundation
import PhantomAnalysis
import PhantomGradients
import PhantomLinearAlgebra
import PhantomModel
import PhantomTestSupport
import Testing

/// The regression tests on the bounds (docs/Theory.md §3): every certificate the analysis reports must hold
/// for the measured gradients, cell by cell.
@Suite("Theorem 1 and its bounds hold cell by cell")
struct BoundTests {
    enum ModelCase: String, CaseIterable, Sendable, CustomStringConvertible {
        case tanh, tanhLarge, resmlp, mdeq, gated, attention, monotone, twoResolution
        var description: String { rawValue }
        var model: ImplicitModel {
            switch self {
            case .mdeq:
                return RandomModels.mdeq(
                    MDEQCell.Geometry(channels: 2, inChannels: 1, height: 2, width: 3, expansion: 2, groups: 2),
                    c: 3, seed: 6)
            case .tanh: return AnalysisFixtures.tanh()
            case .tanhLarge: return AnalysisFixtures.tanh(d: 10, n: 3, norm: 0.98, seed: 9)
            case .resmlp: return AnalysisFixtures.resmlp()
            case .gated: return TestGraphs.gatedModel(d: 6, n: 4, seed: 7)
            case .attention: return TestGraphs.attentionModel(inputs: 4, seed: 9)
            case .monotone: return TestGraphs.monotoneModel(d: 6, n: 4, seed: 10)
            case .twoResolution: return TestGraphs.twoResolutionModel(seed: 11)
            }
        }
    }

    @Test("Theorem 1 ⇒ ascent; ρ and ρ* bound the error and the cosine; ρ* ≤ ρ", arguments: ModelCase.allCases)
    func boundsHold(modelCase: ModelCase) throws {
        let result = AnalysisFixtures.analyze(modelCase.model)
        // Unconverged samples are kept and flagged, and excluded from the bound checks.
        #expect(result.reliable.filter { $0 }.count >= result.sampleCount - 1)
        #expect(zip(result.forwardResidual, result.forwardConverged).allSatisfy { $1 == ($0 <= 1e-13) })
        var counts = (theorem: 0, rho: 0, rhoStar: 0, cells: 0)
        for e in 0..<result.estimators.count {
            for l in 0..<result.lambdas.count {
                for k in 0..<result.ks.count {
                    for s in 0..<result.sampleCount where result.reliable[s] {
                        let inner = result.metrics.inner[e, l, k, s], error = result.metrics.relativeError[e, l, k, s]
                        let cosine = result.metrics.cosine[e, l, k, s]
                        let rho = result.certificates.rho[e, l, k, s], rhoStar = result.certificates.rhoStar[e, l, k, s]
                        let label = "\(result.estimators[e]) λ=\(result.lambdas[l]) k=\(result.ks[k]) sample \(s)"
                        counts.cells += 1
                        #expect(!rho.isNaN && !rhoStar.isNaN, "\(label)")
                        if result.certificates.theorem1[e, l, k, s] == 1 { counts.theorem += 1; #expect(inner >= 0, "\(label)") }
                        if rho < 1 {
                            counts.rho += 1
                            // 1e-14: an absolute floor for errors at the rounding level.
                            #expect(error <= rho * (1 + 1e-9) + 1e-14, "\(label): error \(error) > ρ \(rho)")
                            #expect(cosine >= (1 - rho * rho).squareRoot() - 1e-12, "\(label)")
                        }
                        if rhoStar < 1 {
                            counts.rhoStar += 1
                            #expect(error <= rhoStar * (1 + 1e-9) + 1e-14, "\(label): error \(error) > ρ* \(rhoStar)")
                            #expect(cosine >= (1 - rhoStar * rhoStar).squareRoot() - 1e-12, "\(label)")
                        }
                        #expect(rhoStar <= rho * (1 + 1e-9), "\(label): ρ* \(rhoStar) > ρ \(rho)")
                        if result.certificates.ascentMargin[e, l, k, s] >= 0 { #expect(inner >= 0, "\(label)") }
                    }
                }
            }
        }
        print(
            "\(modelCase): \(counts.cells) cells; Theorem 1 held in \(counts.theorem), ρ < 1 in \(counts.rho), ρ* < 1 in \(counts.rhoStar)")
        #expect(counts.rhoStar > 0)  // the bounds were exercised
    }
}
