import Foundation
import PhantomLinearAlgebra

extension GraphOps {
    /// `Softplus`: y = log(1 + eᶻ) (computed as max(z, 0) + log1p(e^{−|z|})); φ′ = σ(z).
    public struct Softplus: ElementwiseOp, PlainOp {
        public static let type = "Softplus"
        public init() {}
        public func valueAndSlope(_ input: Matrix) -> (value: Matrix, slope: Matrix) {
            input.mapWithSlope { z in (max(z, 0) + Foundation.log1p(Foundation.exp(-abs(z))), 1 / (1 + Foundation.exp(-z))) }
        }
    }
}
