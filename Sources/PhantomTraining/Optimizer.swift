import Foundation
import PhantomLinearAlgebra

/// The optimisers `phantom train` offers.
public enum OptimizerKind: String, Sendable, CaseIterable {
    /// SGD with momentum 0.9: v ← 0.9 v + g; θ ← θ − η v.
    case sgd
    /// Adam (β₁ = 0.9, β₂ = 0.999, ε = 1e-8), with bias correction.
    case adam
}

/// An optimiser with its state, so that a resumed run continues exactly.
///
/// Weight decay is the L2 kind: g ← g + wd·θ before the update.
public struct Optimizer: Sendable, Equatable {
    public let kind: OptimizerKind
    public let learningRate: Double
    public let weightDecay: Double
    /// Momentum (SGD) or first moment (Adam).
    public var first: [Double]
    /// Second moment (Adam; empty for SGD).
    public var second: [Double]
    /// Steps taken.
    public var steps: Int

    public init(kind: OptimizerKind, learningRate: Double, weightDecay: Double, parameterCount: Int) {
        self.kind = kind
        self.learningRate = learningRate
        self.weightDecay = weightDecay
        first = [Double](repeating: 0, count: parameterCount)
        second = kind == .adam ? [Double](repeating: 0, count: parameterCount) : []
        steps = 0
    }

    public mutating func step(_ parameters: inout [Double], gradient: [Double]) {
        precondition(parameters.count == gradient.count && first.count == gradient.count, "optimizer: size mismatch")
        steps += 1
        switch kind {
        case .sgd:
            for i in 0..<parameters.count {
                let g = gradient[i] + weightDecay * parameters[i]
                first[i] = 0.9 * first[i] + g
                parameters[i] -= learningRate * first[i]
            }
        case .adam:
            let c1 = 1 - pow(0.9, Double(steps)), c2 = 1 - pow(0.999, Double(steps))
            for i in 0..<parameters.count {
                let g = gradient[i] + weightDecay * parameters[i]
                first[i] = 0.9 * first[i] + 0.1 * g
                second[i] = 0.999 * second[i] + 0.001 * g * g
                parameters[i] -= learningRate * (first[i] / c1) / ((second[i] / c2).squareRoot() + 1e-8)
            }
        }
    }
}
