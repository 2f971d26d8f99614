import Foundation
import PhantomGradients

/// The numbers `phantom analyze` reports: median cosines per (λ, k) per estimator, how often Theorem 1 (and
/// the sharper certificates) certify ascent, and how many solves did not converge. Fractions are over the
/// reliable samples' cells where the value was computed (``CertifiedFraction``).
public struct AnalysisSummary: Encodable, Sendable {
    public struct Checkpoint: Encodable, Sendable {
        public let path: String
        public let epoch: Int?
        public let samples: Int
        public let certifiedSamples: Int
        public let unconvergedForward: Int
        public let unconvergedAdjoint: Int
        /// Converged samples whose fixed point repels (ρ(J) ≥ 1): flagged and excluded like unconverged ones.
        public let unstable: Int
        /// Samples with a spectral value (ρ(J), ‖J‖₂, σ_min, σ_max) that did not reach its tolerance on the iterative
        /// route: flagged; excluded from the fractions when it is ρ(J).
        public let unconvergedSpectra: Int
        /// "dense" or "iterative" (``SpectraRoute``).
        public let spectraRoute: String
        /// For each sample with a value short of its tolerance: "sample S: quantity (residual r)", at most eight.
        public let unconvergedSpectraDetail: [String]
        /// The samples this run analysed: all of them, or a shard's blocks' (the batch-mean values come with the merge).
        public let analysedSamples: Int
        /// Why the unconverged forward solves stopped: status → count (``PhantomLinearAlgebra/SolverStatus``).
        public let forwardReasons: [String: Int]
        /// Unconverged forward solves whose best iterate has ρ(J) ≥ ``AnalysisSummary/edgeOfStability`` (a converged
        /// estimate): a contraction too slow for the iteration budget, or no attractive fixed point nearby.
        public let nearEdge: Int
        /// Every value that is not ok (certificates, ‖B^k‖₂, spectra), per quantity and cause, with its first case.
        public let failures: [Failure]
        /// The exact gradient's cost in VJPs per sample (``Frontier``).
        public let exactCost: Double
        public let estimators: [Estimator]
        /// The batch as one stacked system: fraction of (estimator, λ, k) cells where each condition holds.
        public let stacked: StackedSummary?
    }
    public struct Failure: Encodable, Sendable {
        /// "ρ*", "ascent margin", "σ_min(M)", …
        public let quantity: String
        /// "LAPACK failure", "short of tolerance", "Krylov breakdown", "not computed".
        public let cause: String
        public let count: Int
        /// The first case, with the full cause.
        public let example: String
    }
    public struct StackedSummary: Encodable, Sendable {
        public let theorem1: Double?
        public let rhoStarBelowOne: Double?
        public let ascentMarginNonNegative: Double?
    }
    public struct Estimator: Encodable, Sendable {
        public let name: EstimatorID
        /// The grid axes its value depends on.
        public let axes: EstimatorAxes
        /// What it is, e.g. "undamped Neumann series, k terms" (empty for families this build lacks).
        public let description: String
        /// [λ][k]
        public let medianCosine: [[Double?]]
        public let theorem1: Double?
        public let weakCondition: Double?
        public let rhoStarBelowOne: Double?
        public let ascentMarginNonNegative: Double?
        /// Per threshold of ``Frontier/thresholds``: the cheapest cell reaching it (nil: none does).
        public let frontier: [FrontierEntry]
        /// How the samples' backward passes ended in the largest-k cell (``BackwardStatus``), for families whose passes
        /// differ per sample (SHINE's histories and fallbacks, the truncated adjoints' convergence); empty for the others.
        public let backward: [String: Int]
    }
    public struct FrontierEntry: Encodable, Sendable {
        public let threshold: Double
        public let cell: Cell?
        public struct Cell: Encodable, Sendable {
            public let k: Int
            public let lambda: Double
            public let medianCosine: Double
            public let cost: Int
            public let costRatio: Double
        }
    }

    public let output: String
    public let ks: [Int]
    public let lambdas: [Double]
    public let checkpoints: [Checkpoint]

    public init(series: [SeriesEntry], output: String) {
        self.output = output
        ks = series.first?.result.ks ?? []
        lambdas = series.first?.result.lambdas ?? []
        checkpoints = series.map { entry in
            let r = entry.result
            let frontier = r.frontier
            let reliable = r.reliable
            let estimators = r.estimators.enumerated().map { (e, id) -> Estimator in
                /// The cells of estimator e over the reliable samples.
                func cells(_ grid: CellGrid) -> [Double] {
                    var values: [Double] = []
                    for l in 0..<r.lambdas.count {
                        for k in 0..<r.ks.count {
                            for s in 0..<r.sampleCount where reliable[s] {
                                values.append(grid[e, l, k, s])
                            }
                        }
                    }
                    return values
                }
                let c = r.certificates
                return Estimator(
                    name: id, axes: r.estimatorAxes[e], description: Estimators.builtIn.first { $0.id == id }?.summary ?? "",
                    medianCosine: r.medianCosines(estimator: e).map { $0.map { $0.isNaN ? nil : $0 } },
                    theorem1: CertifiedFraction.of(cells(c.theorem1), holds: CertifiedFraction.flagHolds),
                    weakCondition: CertifiedFraction.of(cells(c.weakCondition), holds: CertifiedFraction.flagHolds),
                    rhoStarBelowOne: CertifiedFraction.of(cells(c.rhoStar)) { $0 < 1 },
                    ascentMarginNonNegative: CertifiedFraction.of(cells(c.ascentMargin)) { $0 >= 0 },
                    frontier: zip(Frontier.thresholds, frontier[e]).map { threshold, cell in
                        FrontierEntry(
                            threshold: threshold,
                            cell: cell.map {
                                FrontierEntry.Cell(
                                    k: $0.k, lambda: $0.lambda, medianCosine: $0.medianCosine, cost: $0.cost, costRatio: $0.costRatio)
                            })
                    },
                    backward: Dictionary(
                        uniqueKeysWithValues: BackwardStatus.allCases.filter { $0 != .fixed }.compactMap { status in
                            let n = r.backward.count(status, estimator: e)
                            return n > 0 ? (status.rawValue, n) : nil
                        }))
            }
            let stacked = r.stacked.map { s -> StackedSummary in
                let c = s.certificates
                // Cells where the stacked system was computed (families without a stacked form are NaN).
                let computed = c.errorNorm.values.indices.filter { !c.errorNorm.values[$0].isNaN }
                func values(_ grid: CellGrid) -> [Double] { computed.map { grid.values[$0] } }
                return StackedSummary(
                    theorem1: CertifiedFraction.of(values(c.theorem1), holds: CertifiedFraction.flagHolds),
                    rhoStarBelowOne: CertifiedFraction.of(values(c.rhoStar)) { $0 < 1 },
                    ascentMarginNonNegative: CertifiedFraction.of(values(c.ascentMargin)) { $0 >= 0 })
            }
            // A shard's part of a checkpoint: counts over its own samples.
            let analysed = r.analysed
            func count(_ holds: (Int) -> Bool) -> Int { (0..<r.sampleCount).filter { analysed[$0] && holds($0) }.count }
            return Checkpoint(
                path: entry.path, epoch: entry.epoch, samples: r.sampleCount, certifiedSamples: r.certifiedSamples,
                unconvergedForward: count { !r.forwardConverged[$0] },
                unconvergedAdjoint: count { !r.adjointConverged[$0] },
                unstable: count { r.forwardConverged[$0] && !r.stable[$0] },
                unconvergedSpectra: count { !r.spectra[$0].converged },
                spectraRoute: r.spectra.first?.route.rawValue ?? SpectraRoute.dense.rawValue,
                unconvergedSpectraDetail: Self.unconvergedDetail(r.spectra, analysed: analysed),
                analysedSamples: analysed.filter { $0 }.count,
                forwardReasons: Dictionary(
                    zip(r.forwardStatus, analysed).filter { $1 && !$0.isConverged }.map { ($0.0.rawValue, 1) }, uniquingKeysWith: +),
                nearEdge: count {
                    !r.forwardConverged[$0] && r.spectra[$0].spectralRadiusConverged
                        && r.spectra[$0].spectralRadius >= Self.edgeOfStability
                },
                failures: r.failures.entries.map {
                    Failure(quantity: $0.quantity.rawValue, cause: $0.code.phrase, count: $0.count, example: $0.example)
                },
                exactCost: r.exactCost, estimators: estimators, stacked: stacked)
        }
    }

    /// ρ(J) at or above which an unconverged forward solve is reported as near the edge of stability.
    public static let edgeOfStability = 0.999

    /// "sample S: ρ(J) short of tolerance (residual r), σ_min(M) LAPACK failure (…)" for the first eight samples with a
    /// spectral value that is not ok, each with its true cause.
    static func unconvergedDetail(_ spectra: [SampleSpectra], analysed: [Bool]) -> [String] {
        spectra.enumerated().filter { !$0.element.converged && analysed[$0.offset] }.prefix(8).map { s, x in
            "sample \(s): " + x.statuses.filter { !$0.status.isOK }.map { "\($0.quantity.rawValue) \($0.status)" }.joined(separator: ", ")
        }
    }

    /// The summary as pretty-printed JSON (NaN and infinities as strings).
    public func json() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }
}
