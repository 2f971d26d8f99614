import PhantomLinearAlgebra

/// Per-sample diagnostics at a fixed point h*: how contractive the layer is there.
public struct FixedPointDiagnostics: Sendable {
    /// ‖J‖₂ = σ_max(J), J = ∂f/∂h at h*.
    public let jacobianNorm: Double
    /// ρ(J), the largest |eigenvalue| of J. ρ(J) < 1 is needed for plain fixed-point iteration and for the
    /// Neumann series of (I − J)⁻¹ to converge.
    public let spectralRadius: Double
    /// ‖f(h*) − h*‖.
    public let residual: Double
    /// True when J was formed densely (LAPACK); false for matrix-free estimates (Lanczos, Arnoldi).
    public let dense: Bool

    /// Dense LAPACK at d ≤ `denseLimit`; otherwise Lanczos for ‖J‖₂ and Arnoldi Ritz values for ρ(J).
    public static func compute(
        model: ImplicitModel, states: Matrix, inputs: Matrix,
        denseLimit: Int = 256
    ) -> [FixedPointDiagnostics] {
        let linearization = model.cell.linearize(state: states, input: inputs)
        let residuals = (linearization.value - states).rowNorms
        let d = model.stateDimension
        return (0..<states.rows).map { i in
            if d <= denseLimit {
                let jacobian = linearization.jacobian(sample: i)
                return FixedPointDiagnostics(
                    jacobianNorm: (try? jacobian.spectralNorm()) ?? .nan,
                    spectralRadius: (try? jacobian.spectralRadius()) ?? .nan,
                    residual: residuals[i], dense: true)
            }
            let op = linearization.stateJacobian(sample: i)
            let norm = (try? SpectralNormEstimator(tolerance: 1e-8).estimate(op).value) ?? .nan
            return FixedPointDiagnostics(
                jacobianNorm: norm,
                spectralRadius: ArnoldiSpectralRadius.estimate(op, steps: 60).spectralRadius,
                residual: residuals[i], dense: false)
        }
    }
}
