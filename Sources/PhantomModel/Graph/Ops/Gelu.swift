import Foundation
import PhantomLinearAlgebra

extension GraphOps {
    /// `Gelu` (exact, erf form): y = z Φ(z) with Φ(z) = ½(1 + erf(z/√2)); φ′ = Φ(z) + z φ(z), φ the standard normal
    /// density. Attribute `approximate` must be "none" (the tanh approximation is not implemented).
    public struct Gelu: ElementwiseOp {
        public static let type = "Gelu"
        public init() {}
        public init(attributes: [String: GraphAttribute]) throws(OpProblem) {
            var reader = AttributeReader(attributes)
            let approximate = try reader.string("approximate", default: "none")
            guard approximate == "none" else { throw OpProblem("approximate = \"\(approximate)\" is not implemented (only \"none\")") }
            try reader.finish()
        }
        public var attributes: [String: GraphAttribute] { ["approximate": .string("none")] }
        public func valueAndSlope(_ z: Matrix) -> (value: Matrix, slope: Matrix) {
            z.mapWithSlope { z in
                let cdf = 0.5 * (1 + Foundation.erf(z / 2.0.squareRoot()))
                let pdf = Foundation.exp(-0.5 * z * z) / (2 * Double.pi).squareRoot()
                return (z * cdf, cdf + z * pdf)
            }
        }
    }
}
