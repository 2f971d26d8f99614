import Foundation
import PhantomLinearAlgebra

/// How an estimate ĝ compares with the exact gradient ∇.
public struct GradientMetrics: Sendable, Equatable {
    /// cos∠(ĝ, ∇) = ⟨ĝ, ∇⟩ / (‖ĝ‖ ‖∇‖).
    public var cosine: Double
    /// ‖ĝ − ∇‖ / ‖∇‖.
    public var relativeError: Double
    /// ‖ĝ‖ / ‖∇‖.
    public var normRatio: Double
    /// ⟨ĝ, ∇⟩ (its sign says whether ĝ is an ascent direction of the loss).
    public var inner: Double

    public init(cosine: Double, relativeError: Double, normRatio: Double, inner: Double) {
        self.cosine = cosine
        self.relativeError = relativeError
        self.normRatio = normRatio
        self.inner = inner
    }

    /// The angle in degrees (NaN when the cosine is).
    public var angleDegrees: Double { Self.angleDegrees(cosine: cosine) }

    /// arccos of a cosine, in degrees, clamped to [0°, 180°]; NaN for NaN.
    public static func angleDegrees(cosine: Double) -> Double {
        cosine.isNaN ? .nan : acos(max(-1, min(1, cosine))) * 180 / .pi
    }

    /// The sign of ⟨ĝ, ∇⟩: 1, 0 or −1 (NaN for NaN) — whether ĝ is an ascent direction of the loss.
    public static func sign(ofInner inner: Double) -> Double {
        inner.isNaN ? .nan : (inner > 0 ? 1 : inner < 0 ? -1 : 0)
    }

    /// Directly from the two vectors.
    public static func compare(_ estimate: [Double], _ exact: [Double]) -> GradientMetrics {
        let inner = BLAS.dot(estimate, exact)
        let ne = BLAS.nrm2(estimate), nx = BLAS.nrm2(exact)
        let diff = zip(estimate, exact).map { $0 - $1 }
        return GradientMetrics(
            cosine: inner / (ne * nx), relativeError: BLAS.nrm2(diff) / nx,
            normRatio: ne / nx, inner: inner)
    }

    /// From inner products: ⟨ĝ, ∇⟩, ‖ĝ‖², ‖∇‖², and ‖ĝ − ∇‖² when known without cancellation.
    static func fromInnerProducts(
        inner: Double, estimateSquared: Double, exactSquared: Double,
        differenceSquared: Double? = nil
    ) -> GradientMetrics {
        let ne = max(estimateSquared, 0).squareRoot(), nx = max(exactSquared, 0).squareRoot()
        let diff = differenceSquared ?? (estimateSquared - 2 * inner + exactSquared)
        return GradientMetrics(
            cosine: inner / (ne * nx), relativeError: max(diff, 0).squareRoot() / nx,
            normRatio: ne / nx, inner: inner)
    }
}
