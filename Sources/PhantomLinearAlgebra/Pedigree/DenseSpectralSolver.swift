import Numerics

/// The dense eigen- and singular-value computations the analysis makes on d×d matrices, as one value, so that a
/// route can be run with another implementation — in tests, one that fails on purpose, to check that a failure is
/// reported with its cause and never becomes a certificate.
///
/// ``LAPACKSpectralSolver`` is the implementation every analysis uses.
public protocol DenseSpectralSolver: Sendable {
    /// The eigenvalues of a symmetric matrix, ascending (`dsyevd`).
    func symmetricEigenvalues(_ a: Matrix) throws(LinearAlgebraError) -> [Double]
    /// Eigenvalues (ascending) and eigenvectors (columns) of a symmetric matrix (`dsyevd`).
    func symmetricEigen(_ a: Matrix) throws(LinearAlgebraError) -> SymmetricEigen
    /// The eigenvalues of A x = λ B x, B symmetric positive definite, ascending (`dsygvd`).
    func generalizedEigenvalues(_ a: Matrix, _ b: Matrix) throws(LinearAlgebraError) -> [Double]
    /// The eigenvalues of a general square matrix (`dgeev`).
    func eigenvalues(_ a: Matrix) throws(LinearAlgebraError) -> [Complex<Double>]
    /// ‖A‖₂ = σ_max(A) (`dgesdd`).
    func spectralNorm(_ a: Matrix) throws(LinearAlgebraError) -> Double
}

/// The LAPACK drivers behind ``DenseSpectralSolver``.
public struct LAPACKSpectralSolver: DenseSpectralSolver {
    public init() {}
    public func symmetricEigenvalues(_ a: Matrix) throws(LinearAlgebraError) -> [Double] {
        try SymmetricEigen(a, computeVectors: false).values
    }
    public func symmetricEigen(_ a: Matrix) throws(LinearAlgebraError) -> SymmetricEigen { try SymmetricEigen(a) }
    public func generalizedEigenvalues(_ a: Matrix, _ b: Matrix) throws(LinearAlgebraError) -> [Double] {
        try SymmetricEigen(a, b, computeVectors: false).values
    }
    public func eigenvalues(_ a: Matrix) throws(LinearAlgebraError) -> [Complex<Double>] { try a.eigenvalues() }
    public func spectralNorm(_ a: Matrix) throws(LinearAlgebraError) -> Double { try a.spectralNorm() }
}

extension DenseSpectralSolver {
    /// The largest or smallest eigenvalue of the symmetric part of `a`, with its pedigree.
    public func extreme(_ a: Matrix, largest: Bool) -> (value: Double, status: ValueStatus) {
        do throws(LinearAlgebraError) {
            let values = try symmetricEigenvalues(a.symmetricPart)
            guard let value = largest ? values.last : values.first else { return (.nan, .notComputed("an empty matrix")) }
            return (value, .ok)
        } catch {
            return (.nan, .lapackFailure(error))
        }
    }
}
