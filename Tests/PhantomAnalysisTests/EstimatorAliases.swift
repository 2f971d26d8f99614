import PhantomGradients

/// Short names for the built-in families in the tests.
extension EstimatorFamily {
    static let upg = UnrolledPhantomGradient.family
    static let npg = NeumannPhantomGradient.family
    static let jfb = JacobianFreeGradient.family
    static let rbp = NeumannRBP.family
    static let jfbDamped = DampedJacobianFreeGradient.family
    static let shine = SHINEGradient.family
}
