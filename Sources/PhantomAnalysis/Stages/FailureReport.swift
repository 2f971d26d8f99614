import Foundation
import PhantomGradients
import PhantomLinearAlgebra

/// Every value of an analysis that is not ``ValueStatus/ok``, counted per quantity and cause, with the first case of
/// each as an example ("sample 3, NPG(5, 0.5): LAPACK failure (dsygvd: B is not positive definite …)"). The summary
/// prints it; the results file stores each value's status beside the value (`*_status` arrays).
public struct FailureReport: Sendable, Equatable {
    /// What failed.
    public enum Quantity: String, Sendable, CaseIterable, Comparable {
        case errorNorm = "‖E‖₂", rhoStar = "ρ*", ascentMargin = "ascent margin", powerNorm = "‖B^k‖₂"
        case spectralRadius = "ρ(J)", jacobianNorm = "‖J‖₂", sigmaMin = "σ_min(M)", sigmaMax = "σ_max(M)"
        case stackedErrorNorm = "stacked ‖E‖₂", stackedRhoStar = "stacked ρ*", stackedAscentMargin = "stacked ascent margin"

        public static func < (a: Self, b: Self) -> Bool { allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)! }
    }

    public struct Entry: Sendable, Equatable {
        public let quantity: Quantity
        public let code: ValueStatus.Code
        public var count: Int
        /// The first case: where, and the full cause.
        public let example: String
    }

    public private(set) var entries: [Entry] = []

    public init() {}

    /// Counts `status` unless it is ok; `place` says where ("sample 3, NPG(5, 0.5)").
    public mutating func record(_ quantity: Quantity, _ status: ValueStatus, at place: @autoclosure () -> String) {
        guard !status.isOK else { return }
        if let i = entries.firstIndex(where: { $0.quantity == quantity && $0.code == status.code }) {
            entries[i].count += 1
        } else {
            entries.append(Entry(quantity: quantity, code: status.code, count: 1, example: "\(place()): \(status)"))
            entries.sort { ($0.quantity, Self.order($0.code)) < ($1.quantity, Self.order($1.code)) }
        }
    }

    /// Adds another report's counts (a later block of the same batch): its first cases are kept where this report has
    /// none of their kind.
    public mutating func absorb(_ other: FailureReport) {
        for entry in other.entries {
            if let i = entries.firstIndex(where: { $0.quantity == entry.quantity && $0.code == entry.code }) {
                entries[i].count += entry.count
            } else {
                entries.append(entry)
            }
        }
        entries.sort { ($0.quantity, Self.order($0.code)) < ($1.quantity, Self.order($1.code)) }
    }

    /// How many values failed in all.
    public var total: Int { entries.reduce(0) { $0 + $1.count } }

    /// How many values failed for `quantity`.
    public func count(_ quantity: Quantity) -> Int { entries.filter { $0.quantity == quantity }.reduce(0) { $0 + $1.count } }

    private static func order(_ code: ValueStatus.Code) -> Int { ValueStatus.Code.allCases.firstIndex(of: code)! }
}

extension FailureReport {
    /// Records one sample's four spectral values.
    mutating func record(spectra: SampleSpectra, sample s: Int) {
        for (quantity, status) in spectra.statuses { record(quantity, status, at: "sample \(s)") }
    }

    /// Records one certified sample's ‖B^k‖₂, [λ][k].
    mutating func record(powerNorms: [[ValueStatus]], sample s: Int, ks: [Int], lambdas: [Double]) {
        for (l, row) in powerNorms.enumerated() {
            for (k, status) in row.enumerated() { record(.powerNorm, status, at: "sample \(s), λ = \(lambdas[l]), k = \(ks[k])") }
        }
    }

    /// Records one family's [λ][k] certificates of one sample (`place`: "sample 3") or of the stacked batch.
    mutating func record(
        _ table: [[Certificate]], family: EstimatorFamily, ks: [Int], lambdas: [Double], place: String,
        stacked: Bool = false
    ) {
        for (l, row) in table.enumerated() {
            for (k, c) in row.enumerated() where c.errorNormStatus != StackedRoute.noStackedForm {
                let label = { () -> String in
                    do { return "\(place), \(try family.estimator(steps: ks[k], damping: lambdas[l]).label)" } catch {
                        return "\(place), \(family.id) (k = \(ks[k]), λ = \(lambdas[l]))"
                    }
                }
                record(stacked ? .stackedErrorNorm : .errorNorm, c.errorNormStatus, at: label())
                record(stacked ? .stackedRhoStar : .rhoStar, c.rhoStarStatus, at: label())
                record(stacked ? .stackedAscentMargin : .ascentMargin, c.ascentMarginStatus, at: label())
            }
        }
    }
}
