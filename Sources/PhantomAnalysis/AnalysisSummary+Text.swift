import Foundation
import PhantomGradients

extension AnalysisSummary {
    /// The summary as text (``json()``'s content for a reader): per checkpoint, each estimator's median cosines (a λ × k table, a row over
    /// k, or
    /// one number, as the estimator's axes say) and its certified fractions.
    public func text() -> String {
        var lines: [String] = []
        func percent(_ x: Double?) -> String { x.map { String(format: "%5.1f%%", 100 * $0) } ?? "  n/a" }
        func row(_ values: [Double?]) -> String { values.map { pad($0.map { String(format: "%.3f", $0) } ?? "—", 6) }.joined() }
        for c in checkpoints {
            lines.append(
                "\(c.path)" + (c.epoch.map { " (epoch \($0))" } ?? "") + ": \(c.samples) samples, "
                    + (c.analysedSamples < c.samples
                        ? "\(c.analysedSamples) of them in this shard (the batch-mean values come with merge), " : "")
                    + "\(c.unconvergedForward) unconverged forward solves"
                    + (c.forwardReasons.isEmpty
                        ? ""
                        : " (" + c.forwardReasons.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", ")
                            + (c.nearEdge > 0
                                ? "; \(c.nearEdge) at ρ(J) ≥ \(AnalysisSummary.edgeOfStability) at the best iterate, near the edge of "
                                    + "stability: a slow contraction that more --max-iterations may finish, or none" : "") + ")")
                    + ", \(c.unconvergedAdjoint) unconverged adjoint solves"
                    + (c.unstable > 0 ? ", \(c.unstable) repelling fixed point\(c.unstable == 1 ? "" : "s") (ρ(J) ≥ 1)" : "")
                    + (c.unconvergedForward + c.unconvergedAdjoint + c.unstable > 0 ? " (kept, flagged, excluded from the fractions)" : "")
                    + (c.unconvergedSpectra > 0
                        ? "; \(c.unconvergedSpectra) with a spectral value short of its tolerance (flagged in samples/*_converged; "
                            + "excluded from the fractions when it is ρ(J))"
                        : "")
                    + (c.spectraRoute == "iterative" && c.certifiedSamples == 0
                        ? "; matrix-free route (--spectra iterative): no per-cell certificates unless --certify-samples N asks"
                        : (c.certifiedSamples < c.samples
                            ? "; certificates computed for the first \(c.certifiedSamples) samples (--certify-samples)" : "")
                            + (c.spectraRoute == "iterative"
                                ? "; matrix-free route (--spectra iterative): certificates by Lanczos and LOBPCG"
                                : ""))
            )
            for detail in c.unconvergedSpectraDetail { lines.append("  spectra not ok: \(detail)") }
            if !c.failures.isEmpty {
                let total = c.failures.reduce(0) { $0 + $1.count }
                lines.append("  \(total) value\(total == 1 ? "" : "s") left out (stored as NaN with their status in the results file):")
                for f in c.failures { lines.append("    \(f.quantity): \(f.count) \(f.cause) — first: \(f.example)") }
            }
            for e in c.estimators {
                let name = e.name.displayName + (e.description.isEmpty ? "" : " (\(e.description))")
                switch e.axes {
                case .none:
                    lines.append(
                        "  \(name): median cosine to the exact gradient "
                            + (e.medianCosine.first?.first.flatMap { $0.map { String(format: "%.3f", $0) } } ?? "—"))
                case .k:
                    lines.append("  \(name): median cosine to the exact gradient")
                    lines.append("    k      " + ks.map { pad("\($0)", 6) }.joined())
                    lines.append("           " + row(e.medianCosine.first ?? []))
                case .lambda:
                    lines.append("  \(name): median cosine to the exact gradient per λ")
                    lines.append("    λ      " + lambdas.map { pad(String(format: "%.2f", $0), 6) }.joined())
                    lines.append("           " + row(e.medianCosine.map { $0.first ?? nil }))
                case .kAndLambda:
                    lines.append("  \(name): median cosine to the exact gradient (rows λ, columns k)")
                    lines.append("    λ \\ k " + ks.map { pad("\($0)", 6) }.joined())
                    for (l, lambda) in lambdas.enumerated() {
                        lines.append("    " + pad(String(format: "%.2f", lambda), 7) + row(e.medianCosine[l]))
                    }
                }
                if !e.backward.isEmpty {
                    let counts = BackwardStatus.allCases.compactMap { s in e.backward[s.rawValue].map { "\($0) \(s.rawValue)" } }
                    lines.append("    samples at the largest k: " + counts.joined(separator: ", "))
                }
                if e.theorem1 == nil && e.rhoStarBelowOne == nil {
                    lines.append("    certificates not computed (no certified sample, or a residual operator beyond the column budget)")
                } else {
                    lines.append(
                        "    ascent certified: Theorem 1 \(percent(e.theorem1)), ‖E‖ ≤ σ_min \(percent(e.weakCondition)), "
                            + "ρ* < 1 \(percent(e.rhoStarBelowOne)), exact margin ≥ 0 \(percent(e.ascentMarginNonNegative)) of (sample, "
                            + "k, λ) cells"
                    )
                }
            }
            // The answer a trainer came for: the cheapest cell reaching each median cosine, against the exact cost.
            if c.exactCost.isFinite {
                lines.append(
                    String(
                        format:
                            "  cheapest cells (cost in VJPs per sample; the exact gradient: %.0f, a fixed-point adjoint to the adjoint "
                            + "tolerance at ρ(J)):",
                        c.exactCost))
                for e in c.estimators {
                    let parts = e.frontier.map { entry -> String in
                        guard let cell = entry.cell else { return String(format: "≥ %g: none", entry.threshold) }
                        let name =
                            e.axes == .none
                            ? e.name.displayName
                            : e.axes == .k
                                ? "\(e.name.displayName)(\(cell.k))"
                                : e.axes == .lambda
                                    ? "\(e.name.displayName)(\(String(format: "%g", cell.lambda)))"
                                    : "\(e.name.displayName)(\(cell.k), \(String(format: "%g", cell.lambda)))"
                        return String(
                            format: "≥ %g: %@ at %d VJP%@ = 1/%.3g of the exact cost", entry.threshold, name, cell.cost,
                            cell.cost == 1 ? "" : "s", 1 / cell.costRatio)
                    }
                    lines.append("    \(e.name.displayName): " + parts.joined(separator: "; "))
                }
            }
            if let s = c.stacked {
                lines.append(
                    "  the batch as one stacked system: Theorem 1 \(percent(s.theorem1)), ρ* < 1 \(percent(s.rhoStarBelowOne)), "
                        + "exact margin ≥ 0 \(percent(s.ascentMarginNonNegative)) of (estimator, k, λ) cells")
            }
        }
        lines.append("wrote \(output)")
        return lines.joined(separator: "\n")
    }
}

/// `s` padded with spaces to `width` characters (at least one space after it).
private func pad(_ s: String, _ width: Int) -> String {
    s.count >= width ? s + " " : s + String(repeating: " ", count: width - s.count)
}
