import Foundation

/// Why a computed number can, or cannot, be trusted: the pedigree every spectral value and certificate carries
/// beside itself. Only ``ok`` values enter certified fractions; every other status is stored, counted and reported
/// with its cause, never turned into a number that looks like a result.
public enum ValueStatus: Sendable, Hashable, CustomStringConvertible {
    /// Computed: exact to rounding (LAPACK) or within its tolerance (Krylov, with the residual reached).
    case ok
    /// An iterative estimate that stopped short of its tolerance; the residual it reached.
    case notConverged(residual: Double)
    /// A LAPACK routine failed (its `info`, or a check before the call).
    case lapackFailure(LinearAlgebraError)
    /// A Krylov process broke down: a vector turned non-finite.
    case breakdown
    /// Not attempted on this route, for the stated reason (e.g. "no matrix-free form", "beyond the column budget").
    case notComputed(String)

    /// The status as stored in results files (``Code``).
    public var code: Code {
        switch self {
        case .ok: .ok
        case .notConverged: .notConverged
        case .lapackFailure: .lapackFailure
        case .breakdown: .breakdown
        case .notComputed: .notComputed
        }
    }

    public var isOK: Bool { self == .ok }

    public var description: String {
        switch self {
        case .ok: "ok"
        case .notConverged(let residual): "short of tolerance (residual \(String(format: "%.2e", residual)))"
        case .lapackFailure(let error): "LAPACK failure (\(error))"
        case .breakdown: "Krylov breakdown (a non-finite vector)"
        case .notComputed(let reason): "not computed (\(reason))"
        }
    }

    /// The pedigree of a Krylov estimate: converged, broken down (NaN value and residual), or short of tolerance.
    public init(_ ritz: RitzValue) {
        if ritz.converged {
            self = .ok
        } else if ritz.value.isNaN && ritz.residual.isNaN {
            self = .breakdown
        } else {
            self = .notConverged(residual: ritz.residual)
        }
    }

    /// The kind of status, as results files store it (an int32 index into ``Code/allCases``' raw values).
    public enum Code: String, Sendable, CaseIterable {
        case ok
        case notConverged = "not_converged"
        case lapackFailure = "lapack_failure"
        case breakdown
        case notComputed = "not_computed"

        /// What the code means in a summary line.
        public var phrase: String {
            switch self {
            case .ok: "ok"
            case .notConverged: "short of tolerance"
            case .lapackFailure: "LAPACK failure"
            case .breakdown: "Krylov breakdown"
            case .notComputed: "not computed"
            }
        }
    }
}
