import Foundation
import PhantomLinearAlgebra

extension GraphOps {
    /// `Sqrt`: y = √z; φ′ = 1/(2y) (z must stay positive: at z = 0 the slope is infinite).
    public struct Sqrt: ElementwiseOp, PlainOp {
        public static let type = "Sqrt"
        public init() {}
        public func valueAndSlope(_ input: Matrix) -> (value: Matrix, slope: Matrix) {
            input.mapWithSlope { z in
                {
                    let y = z.squareRoot(); return (y, 0.5 / y)
                }()
            }
        }
    }
}
