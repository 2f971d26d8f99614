import Foundation
import PhantomGradients

/// The answer a DEQ trainer came for: per estimator, the cheapest (k, λ) cell whose median cosine to the exact
/// gradient reaches a threshold, and its cost relative to the exact gradient's.
///
/// Cost is counted in VJPs through f (one backward step through the cell, in the state and the parameters
/// together, as autograd does): UPG(k, λ), NPG(k, λ) and RBP with k terms cost k (UPG also runs k forward steps),
/// JFB, damped JFB and SHINE 1 (SHINE adds its low-rank product, 2·rank·d multiply-adds), the truncated adjoints
/// the iterations they used + 1 — per sample (``BackwardRecord/vjps``), the cell's cost being the median over the
/// reliable samples, rounded up. The exact gradient's cost is what a fixed-point adjoint (the Neumann series, TorchDEQ's
/// default backward) needs to reach the analysis's adjoint tolerance τ at the sample's ρ(J):
/// ⌈ln τ / ln ρ(J)⌉ + 1 VJPs, the median over the reliable samples. Among the cells that reach the threshold the
/// cheapest is chosen, ties going to the higher median cosine.
public struct FrontierCell: Sendable, Equatable {
    public let k: Int
    public let lambda: Double
    public let medianCosine: Double
    /// VJPs per sample.
    public let cost: Int
    /// cost / the exact gradient's cost.
    public let costRatio: Double
}

public enum Frontier {
    /// The median cosine thresholds reported.
    public static let thresholds = [0.99, 0.999]

    /// The exact gradient's cost in VJPs (NaN when no reliable sample has ρ(J) < 1).
    public static func exactCost(_ r: AnalysisResult, tolerance: Double) -> Double {
        exactCost(spectralRadius: r.spectra.map(\.spectralRadius), reliable: r.reliable, tolerance: tolerance)
    }

    /// The same from per-sample values (a merge of shards computes it from the arrays).
    public static func exactCost(spectralRadius: [Double], reliable: [Bool], tolerance: Double) -> Double {
        let counts = spectralRadius.indices.filter { reliable[$0] }.compactMap { s -> Double? in
            let rho = spectralRadius[s]
            guard rho > 0, rho < 1 else { return rho == 0 ? 2 : nil }
            return (log(tolerance) / log(rho)).rounded(.up) + 1
        }
        return Quantile.median(counts)
    }

    /// Per estimator, per threshold: the cheapest cell reaching it, from per-sample values — `cosine` and `vjps` give a
    /// cell's (estimator, λ index, k index) values across samples.
    public static func cells(
        ks: [Int], lambdas: [Double], estimators: Int, reliable: [Bool], exactCost: Double,
        cosine: (Int, Int, Int) -> [Double], vjps: (Int, Int, Int) -> [Double]
    ) -> [[FrontierCell?]] {
        func median(_ values: [Double]) -> Double { Quantile.median(zip(values, reliable).filter { $1 }.map(\.0)) }
        return (0..<estimators).map { e in
            let medians = lambdas.indices.map { l in ks.indices.map { k in median(cosine(e, l, k)) } }
            return thresholds.map { threshold in
                var best: FrontierCell?
                for (l, lambda) in lambdas.enumerated() {
                    for (kk, k) in ks.enumerated() {
                        let medianCosine = medians[l][kk]
                        guard medianCosine >= threshold else { continue }
                        let cost = median(vjps(e, l, kk))
                        guard cost.isFinite else { continue }
                        let rounded = Int(cost.rounded(.up))
                        let cell = FrontierCell(
                            k: k, lambda: lambda, medianCosine: medianCosine, cost: rounded, costRatio: Double(rounded) / exactCost)
                        if let b = best, (b.cost, -b.medianCosine) <= (cell.cost, -cell.medianCosine) { continue }
                        best = cell
                    }
                }
                return best
            }
        }
    }
}
