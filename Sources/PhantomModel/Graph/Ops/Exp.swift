import Foundation
import PhantomLinearAlgebra

extension GraphOps {
    /// `Exp`: y = eᶻ.
    public struct Exp: ElementwiseOp, PlainOp {
        public static let type = "Exp"
        public init() {}
        public func valueAndSlope(_ input: Matrix) -> (value: Matrix, slope: Matrix) {
            input.mapWithSlope { z in
                {
                    let y = Foundation.exp(z); return (y, y)
                }()
            }
        }
    }
}
