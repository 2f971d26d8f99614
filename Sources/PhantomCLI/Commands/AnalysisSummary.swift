import Foundation
import PhantomAnalysis
import PhantomResults

/// The compact summary `phantom analyze` prints: median cosines per (λ, k) per estimator, how often
/// Theorem 1 (and the sharper certificates) certify ascent, and how many solves did not converge.
struct AnalysisSummary: Encodable {
    struct Checkpoint: Encodable {
        let path: String
        let epoch: Int?
        let samples: Int
        let certifiedSamples: Int
        let unconvergedForward: Int
        let unconvergedAdjoint: Int
        let estimators: [Estimator]
        /// The batch as one stacked system: fraction of (estimator, λ, k) cells where each condition holds.
        let stacked: StackedSummary?
    }
    struct StackedSummary: Encodable {
        let theorem1: Double
        let rhoStarBelowOne: Double
        let ascentMarginNonNegative: Double
    }
    struct Estimator: Encodable {
        let name: String
        /// [λ][k]
        let medianCosine: [[Double?]]
        /// Fractions over reliable samples and all cells of the estimator.
        let theorem1: Double?
        let weakCondition: Double?
        let rhoStarBelowOne: Double?
        let ascentMarginNonNegative: Double?
    }

    let output: String
    let ks: [Int]
    let lambdas: [Double]
    let checkpoints: [Checkpoint]

    init(series: [SeriesEntry], output: String) {
        self.output = output
        ks = series.first?.result.ks ?? []
        lambdas = series.first?.result.lambdas ?? []
        checkpoints = series.map { entry in
            let r = entry.result
            let estimators = r.estimators.enumerated().map { (e, kind) -> Estimator in
                func fraction(_ holds: (Int, Int, Int) -> Bool?) -> Double? {
                    var yes = 0, all = 0
                    for l in 0..<r.lambdas.count { for k in 0..<r.ks.count { for s in 0..<r.sampleCount where r.reliable[s] {
                        if let value = holds(l, k, s) { all += 1; if value { yes += 1 } }
                    } } }
                    return all == 0 ? nil : Double(yes) / Double(all)
                }
                return Estimator(
                    name: kind.rawValue,
                    medianCosine: (0..<r.lambdas.count).map { l in (0..<r.ks.count).map { k in
                        let m = r.medianCosine(kind, lambda: l, k: k)
                        return m.isNaN ? nil : m
                    } },
                    theorem1: fraction { l, k, s in let v = r.theorem1[e, l, k, s]; return v.isNaN ? nil : v == 1 },
                    weakCondition: fraction { l, k, s in let v = r.weakCondition[e, l, k, s]; return v.isNaN ? nil : v == 1 },
                    rhoStarBelowOne: fraction { l, k, s in let v = r.rhoStar[e, l, k, s]; return v.isNaN ? nil : v < 1 },
                    ascentMarginNonNegative: fraction { l, k, s in let v = r.ascentMargin[e, l, k, s]; return v.isNaN ? nil : v >= 0 })
            }
            let stacked = r.stacked.map { s -> StackedSummary in
                let cells = s.errorNorm.values.indices.filter { !s.errorNorm.values[$0].isNaN }
                func share(_ holds: (Int) -> Bool) -> Double { cells.isEmpty ? .nan : Double(cells.filter(holds).count) / Double(cells.count) }
                return StackedSummary(theorem1: share { s.theorem1.values[$0] == 1 }, rhoStarBelowOne: share { s.rhoStar.values[$0] < 1 },
                                      ascentMarginNonNegative: share { s.ascentMargin.values[$0] >= 0 })
            }
            return Checkpoint(path: entry.path, epoch: entry.epoch, samples: r.sampleCount, certifiedSamples: r.certifiedSamples,
                              unconvergedForward: r.forwardConverged.filter { !$0 }.count,
                              unconvergedAdjoint: r.adjointConverged.filter { !$0 }.count, estimators: estimators, stacked: stacked)
        }
    }

    func json() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }

    func text() -> String {
        var lines: [String] = []
        func percent(_ x: Double?) -> String { x.map { String(format: "%5.1f%%", 100 * $0) } ?? "  n/a" }
        for c in checkpoints {
            lines.append("\(c.path)" + (c.epoch.map { " (epoch \($0))" } ?? "") + ": \(c.samples) samples, "
                         + "\(c.unconvergedForward) unconverged forward solves, \(c.unconvergedAdjoint) unconverged adjoint solves"
                         + (c.unconvergedForward + c.unconvergedAdjoint > 0 ? " (kept, flagged, excluded from the fractions)" : "")
                         + (c.certifiedSamples < c.samples ? "; certificates computed for the first \(c.certifiedSamples) samples (--certify-samples)" : ""))
            func row(_ values: [Double?]) -> String { values.map { pad($0.map { String(format: "%.3f", $0) } ?? "—", 6) }.joined() }
            for e in c.estimators {
                switch e.name {
                case "jfb":
                    lines.append("  JFB: median cosine to the exact gradient " + (e.medianCosine.first?.first.flatMap { $0.map { String(format: "%.3f", $0) } } ?? "—"))
                case "rbp":
                    lines.append("  RBP (undamped Neumann series, k terms): median cosine to the exact gradient")
                    lines.append("    k      " + ks.map { pad("\($0)", 6) }.joined())
                    lines.append("           " + row(e.medianCosine.first ?? []))
                default:
                    lines.append("  \(e.name.uppercased()): median cosine to the exact gradient (rows λ, columns k)")
                    lines.append("    λ \\ k " + ks.map { pad("\($0)", 6) }.joined())
                    for (l, lambda) in lambdas.enumerated() {
                        lines.append("    " + pad(String(format: "%.2f", lambda), 7) + row(e.medianCosine[l]))
                    }
                }
                if e.theorem1 == nil && e.rhoStarBelowOne == nil {
                    lines.append("    certificates not computed (no certified sample, or UPG with d·p above 4,000,000 for a cell without a state-space route)")
                } else {
                    lines.append("    ascent certified: Theorem 1 \(percent(e.theorem1)), ‖E‖ ≤ σ_min \(percent(e.weakCondition)), "
                                 + "ρ* < 1 \(percent(e.rhoStarBelowOne)), exact margin ≥ 0 \(percent(e.ascentMarginNonNegative)) of (sample, k, λ) cells")
                }
            }
            if let s = c.stacked {
                lines.append("  the batch as one stacked system (NPG, RBP, JFB): Theorem 1 \(percent(s.theorem1)), ρ* < 1 \(percent(s.rhoStarBelowOne)), "
                             + "exact margin ≥ 0 \(percent(s.ascentMarginNonNegative)) of (estimator, k, λ) cells")
            }
        }
        lines.append("wrote \(output)")
        return lines.joined(separator: "\n")
    }
}
