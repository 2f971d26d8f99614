import Foundation
import PhantomLinearAlgebra

extension GraphOps {
    /// `Tanh`: y = tanh(z); φ′ = 1 − y² (as the tanh layer computes it).
    public struct Tanh: ElementwiseOp, PlainOp {
        public static let type = "Tanh"
        public init() {}
        public func valueAndSlope(_ z: Matrix) -> (value: Matrix, slope: Matrix) {
            let y = z.map(Foundation.tanh)
            return (y, y.map { 1 - $0 * $0 })
        }
    }
}
