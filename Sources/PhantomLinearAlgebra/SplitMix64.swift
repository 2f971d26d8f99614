import Foundation

/// A small deterministic random number generator (SplitMix64, Steele et al. 2014).
///
/// Used wherever the toolkit needs reproducible randomness: start vectors of Krylov methods, weight
/// initialisation, data shuffling, synthetic data and tests. The same seed gives the same stream on every
/// machine.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1), 53 random bits.
    public mutating func nextUniform() -> Double {
        Double(next() >> 11) * 0x1.0p-53
    }

    /// Standard normal by Box–Muller.
    public mutating func nextGaussian() -> Double {
        let u1 = max(nextUniform(), 0x1.0p-60)
        let u2 = nextUniform()
        return (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
    }
}
