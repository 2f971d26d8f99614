import PhantomLinearAlgebra

/// The estimator families this build knows: the one list the command line, training, analysis, results and
/// figures consult. A new family is a file with a ``GridEstimator`` type plus its line here — an explicit,
/// reviewable list rather than a global mutable registry; a library caller can also pass any family of its own
/// to an analysis without listing it.
public enum Estimators {
    public static let builtIn: [EstimatorFamily] = [
        UnrolledPhantomGradient.family,
        NeumannPhantomGradient.family,
        JacobianFreeGradient.family,
        NeumannRBP.family,
        DampedJacobianFreeGradient.family,
        FixedPointAdjoint.family,
        GMRESAdjoint.family,
        SHINEGradient.family
    ]

    /// The analysis default: UPG, NPG and JFB.
    public static let analysisDefault: [EstimatorFamily] = [
        UnrolledPhantomGradient.family, NeumannPhantomGradient.family,
        JacobianFreeGradient.family
    ]

    /// The family named `id`.
    /// - Throws: ``ConfigurationError`` listing the known names.
    public static func family(_ id: EstimatorID) throws(ConfigurationError) -> EstimatorFamily {
        guard let family = builtIn.first(where: { $0.id == id }) else {
            throw ConfigurationError("unknown estimator '\(id)' (known: \(knownNames))")
        }
        return family
    }

    /// The family named by a string, checked as an identifier first.
    public static func family(named name: String) throws(ConfigurationError) -> EstimatorFamily {
        guard let id = EstimatorID(rawValue: name) else {
            throw ConfigurationError("'\(name)' is not an estimator name (known: \(knownNames))")
        }
        return try family(id)
    }

    /// "upg (summary); npg (summary); …" for help texts.
    public static var described: String { builtIn.map { "\($0.id) (\($0.summary))" }.joined(separator: "; ") }

    public static var knownNames: String { builtIn.map(\.id.rawValue).joined(separator: ", ") }
}
