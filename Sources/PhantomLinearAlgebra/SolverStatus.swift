/// How an iterative solve ended. Every solve reports one, so that a number is never used without its
/// pedigree: only `.converged` means the requested tolerance was reached.
public enum SolverStatus: String, Sendable, Equatable, CaseIterable, CustomStringConvertible {
    case converged
    case maximumIterationsReached
    /// A full restart cycle made no progress.
    case stagnation
    /// The Krylov space became invariant before the tolerance was met (a singular or inconsistent system).
    case breakdown
    case nonFiniteInput
    case nonFiniteIterate
    /// The residual grew far beyond the best one seen (the iteration is moving away from a fixed point).
    case diverged
    /// A direct solve finished but its recomputed residual is above tolerance (a nearly singular system).
    case inaccurate
    /// The fixed point was found but repels (ρ(J) ≥ 1 there): no iteration converges to it, and the implicit
    /// function theorem's linearization is not a contraction.
    case unstable
    /// The Newton polish could not finish because its linear solve of (I − J)δ = g fell short of its tolerance
    /// (ρ(J) near 1 makes I − J nearly singular).
    case linearSolveShort

    public var isConverged: Bool { self == .converged }

    public var description: String {
        switch self {
        case .converged: return "converged"
        case .maximumIterationsReached:
            return "not converged: maximum iterations reached (raise the iteration limit or loosen the tolerance)"
        case .stagnation: return "not converged: the residual stopped decreasing (the system may be singular or badly conditioned)"
        case .breakdown: return "not converged: the Krylov space became invariant above tolerance (the operator is likely singular)"
        case .nonFiniteInput: return "not converged: the input contains NaN or infinity"
        case .nonFiniteIterate: return "not converged: an iterate became NaN or infinite (the iteration diverged)"
        case .inaccurate: return "not converged: the residual of the direct solve is above tolerance (the system is nearly singular)"
        case .unstable: return "not converged: the fixed point is repelling (ρ(J) ≥ 1); the model is not contractive here"
        case .linearSolveShort:
            return "not converged: the Newton polish's linear solve of (I − J)δ = g fell short of its tolerance (ρ(J) near 1)"
        case .diverged:
            return "not converged: the residual grew far above its best value (the map may not be contractive; add damping or use Anderson)"
        }
    }
}

/// An invalid solver setting, rejected when the configuration is built.
public struct ConfigurationError: Error, Equatable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// The result of a linear solve A x = b.
public struct LinearSolution: Sendable {
    public let solution: [Double]
    public let status: SolverStatus
    /// Krylov iterations (matrix–vector products in the Arnoldi process).
    public let iterations: Int
    /// Operator applications in all, including residual recomputations.
    public let matvecs: Int
    /// The relative residual after each iteration, as GMRES tracks it (‖r₀‖/‖b‖ first).
    public let residualHistory: [Double]
    /// The true relative residual ‖b − A x‖ / ‖b‖ of the returned solution, recomputed (0 when b = 0).
    public let relativeResidual: Double
}
