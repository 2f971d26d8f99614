/// A failure reported by LAPACK (its `info` code) or by a check on a matrix before a LAPACK call.
public enum LinearAlgebraError: Error, Hashable, Sendable, CustomStringConvertible {
    /// LU found U(i, i) = 0 (1-based `pivot`, as LAPACK reports it): the matrix is singular.
    case singular(routine: String, pivot: Int)
    /// LAPACK rejected argument number `argument` (a negative `info`): a bug in the caller.
    case illegalArgument(routine: String, argument: Int)
    /// An iterative LAPACK routine did not converge (`info` > 0 for eigen/SVD drivers).
    case noConvergence(routine: String, info: Int)
    /// The generalized eigenproblem's B is not positive definite (`dsygvd` info > n).
    case notPositiveDefinite(routine: String, minor: Int)
    /// A NaN or ±∞ in the input; LAPACK's result would be meaningless.
    case nonFiniteInput(routine: String)
    /// The matrix has the wrong shape for the routine (e.g. not square).
    case shape(routine: String, detail: String)

    public var description: String {
        switch self {
        case let .singular(routine, pivot):
            return "\(routine): the matrix is singular (U(\(pivot),\(pivot)) = 0)"
        case let .illegalArgument(routine, argument):
            return "\(routine): illegal value of argument \(argument)"
        case let .noConvergence(routine, info):
            return "\(routine): the algorithm did not converge (info = \(info))"
        case let .notPositiveDefinite(routine, minor):
            return "\(routine): B is not positive definite (leading minor of order \(minor))"
        case let .nonFiniteInput(routine):
            return "\(routine): the input contains NaN or infinity"
        case let .shape(routine, detail):
            return "\(routine): \(detail)"
        }
    }
}

/// Turns a LAPACK `info` into a thrown error. `positive` maps a positive `info` to the routine's meaning.
func checkLAPACK(
    _ info: Int32, _ routine: String,
    positive: (Int) -> LinearAlgebraError
) throws(LinearAlgebraError) {
    if info < 0 { throw .illegalArgument(routine: routine, argument: Int(-info)) }
    if info > 0 { throw positive(Int(info)) }
}
