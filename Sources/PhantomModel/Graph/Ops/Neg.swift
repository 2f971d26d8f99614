import Foundation
import PhantomLinearAlgebra

extension GraphOps {
    /// `Neg`: y = −z.
    public struct Neg: ElementwiseOp, PlainOp {
        public static let type = "Neg"
        public init() {}
        public func valueAndSlope(_ input: Matrix) -> (value: Matrix, slope: Matrix) {
            input.mapWithSlope { z in (-z, -1) }
        }
    }
}
