import PhantomLinearAlgebra
import PhantomModel

/// The settings some estimator families take beyond (k, λ), checked when built: SHINE's fallback threshold and the
/// truncated adjoints' stopping rule. One value serves an analysis or a training run; the families that do not use a
/// setting ignore it.
public struct EstimatorSettings: Sendable, Equatable {
    /// SHINE's fallback is off by default, as in the authors' code (`fallback=False`).
    public static let defaultShineFallback = 0.0
    /// TorchDEQ's backward stopping rule: absolute residual 10⁻⁶ (`b_tol = 1e-6`, `b_stop_mode = 'abs'`).
    public static let defaultTruncatedStop = StoppingCriterion.absolute(1e-6)
    /// TorchDEQ's backward budget (`b_max_iter = 40`): the truncated adjoints' budget in training.
    public static let defaultAdjointBudget = 40
    /// The largest budget (the k grid's bound).
    public static let maximumAdjointBudget = 1000

    /// SHINE's per-sample fallback: ŵ = g (JFB) when ‖ŵ‖ > `shineFallback`·‖g‖; 0 turns it off (the authors' threshold,
    /// Ramzi et al. 2022, is 1.8).
    public var shineFallback: Double
    /// When the truncated adjoints (`fp-adjoint`, `gmres-adjoint`) stop before their budget: absolute, or relative
    /// to ‖f_t‖ (fixed point) or ‖g‖ (GMRES).
    public var truncatedStop: StoppingCriterion

    /// - Throws: ``ConfigurationError`` for a negative or non-finite fallback or a tolerance that is not a positive number.
    public init(
        shineFallback: Double = defaultShineFallback, truncatedStop: StoppingCriterion = defaultTruncatedStop
    ) throws(ConfigurationError) {
        guard shineFallback >= 0, shineFallback.isFinite else {
            throw ConfigurationError("--shine-fallback must be a number ≥ 0 (0: no fallback), got \(shineFallback)")
        }
        guard truncatedStop.tolerance > 0, truncatedStop.tolerance.isFinite else {
            throw ConfigurationError("--truncated-tolerance must be a positive number, got \(truncatedStop.tolerance)")
        }
        (self.shineFallback, self.truncatedStop) = (shineFallback, truncatedStop)
    }

    /// The defaults.
    public static let standard = try! EstimatorSettings()

    /// How the truncated adjoints' residual is measured: absolute, or relative.
    public enum StopMode: String, Sendable, CaseIterable {
        case abs, rel

        /// The criterion of this mode at tolerance τ.
        public func criterion(_ tolerance: Double) -> StoppingCriterion { self == .rel ? .relative(tolerance) : .absolute(tolerance) }
    }

    /// The settings from the options given (nil: the default) for a job of families `ids`.
    /// - Throws: ``ConfigurationError`` for a setting out of range, or one given when no family of `ids` uses it.
    public init(
        shineFallback: Double?, truncatedStop mode: StopMode?, truncatedTolerance: Double?, for ids: [EstimatorID]
    ) throws(ConfigurationError) {
        if shineFallback != nil, !ids.contains(SHINEGradient.id) { throw ConfigurationError("--shine-fallback applies to shine only") }
        if mode != nil || truncatedTolerance != nil, ids.allSatisfy({ ![FixedPointAdjoint.id, GMRESAdjoint.id].contains($0) }) {
            throw ConfigurationError("--truncated-stop and --truncated-tolerance apply to fp-adjoint and gmres-adjoint only")
        }
        try self.init(
            shineFallback: shineFallback ?? Self.defaultShineFallback,
            truncatedStop: (mode ?? Self.standard.truncatedStopMode).criterion(truncatedTolerance ?? Self.defaultTruncatedStop.tolerance))
    }

    /// The mode of ``truncatedStop``.
    public var truncatedStopMode: StopMode { truncatedStop.isRelative ? .rel : .abs }

    /// The settings as lines of text, numbers by bit pattern (for job fingerprints).
    public var lines: [String] {
        [
            "shine_fallback \(String(shineFallback.bitPattern, radix: 16))",
            "truncated_stop \(truncatedStopMode.rawValue) \(String(truncatedStop.tolerance.bitPattern, radix: 16))"
        ]
    }
}
