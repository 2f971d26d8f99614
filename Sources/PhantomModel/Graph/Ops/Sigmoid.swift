import Foundation
import PhantomLinearAlgebra

extension GraphOps {
    /// `Sigmoid`: y = 1/(1 + e⁻ᶻ); φ′ = y(1 − y).
    public struct Sigmoid: ElementwiseOp, PlainOp {
        public static let type = "Sigmoid"
        public init() {}
        public func valueAndSlope(_ input: Matrix) -> (value: Matrix, slope: Matrix) {
            input.mapWithSlope { z in
                {
                    let y = 1 / (1 + Foundation.exp(-z)); return (y, y * (1 - y))
                }()
            }
        }
    }
}
