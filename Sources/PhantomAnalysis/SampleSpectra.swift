import PhantomGradients
import PhantomLinearAlgebra
import PhantomModel

/// The spectral facts of one sample at h* that do not depend on the estimator (THEORY.md §3):
/// σ(M) from the Gram G = M Mᵀ, ‖J‖₂ and ρ(J), and for each λ: ρ(B) and ‖B^k‖₂.
public struct SampleSpectra: Sendable {
    public let sigmaMin: Double
    public let sigmaMax: Double
    /// κ(M) = σ_max/σ_min.
    public var conditionNumber: Double { sigmaMax / sigmaMin }
    public let jacobianNorm: Double
    public let spectralRadius: Double
    /// ρ(B) per λ.
    public let dampedRadius: [Double]
    /// ‖B^k‖₂ per λ and k (the configuration's ks); NaN for samples that are not certified.
    public let powerNorms: [[Double]]

    /// ρ(B) from the eigenvalues μ of J (those of B are 1 − λ(1 − μ)); ‖B^k‖₂ from the certification's powers.
    init(_ c: SampleCertification, certify: Bool) {
        let jacobianEigen = (try? c.jacobian.eigenvalues()) ?? []
        sigmaMin = c.sigmaMin
        sigmaMax = c.sigmaMax
        jacobianNorm = (try? c.jacobian.spectralNorm()) ?? .nan
        spectralRadius = jacobianEigen.map(\.magnitude).max() ?? .nan
        dampedRadius = c.lambdas.map { lambda in
            jacobianEigen.map { ComplexValue(real: 1 - lambda * (1 - $0.real), imaginary: lambda * $0.imaginary).magnitude }.max() ?? .nan
        }
        powerNorms = c.lambdas.indices.map { l in
            certify ? c.dampedPowers(l).map { (try? $0.spectralNorm()) ?? .nan } : Array(repeating: .nan, count: c.ks.count)
        }
    }
}
