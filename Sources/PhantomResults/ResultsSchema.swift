import PhantomAnalysis
import PhantomFileSystem
import PhantomGradients
import PhantomLinearAlgebra
import PhantomModel

/// The results file's layout (HDF5, format "phantom-analysis", version 2; version 1 files, which lack the spectra's
/// pedigree arrays, are read too), defined once for the writer and
/// the reader: every array's group, name, axes and encoding.
///
///     /                      attrs: format, version, command, tool_version, created, estimators, estimator_axes, cell, data
///     /axes/k [K]  /axes/lambda [L]  /axes/sample [S] (data row of each sample)  /axes/epoch [T]  /axes/step [T]
///     /axes/series_index [T]  /axes/threshold [thresholds]   the coordinates (``CoordinateArray``)
///     /series/<t>            attrs: path, sha256, epoch, step, adjoint_method   (t = 0 … T−1)
///     /samples/<name>        per-sample pedigree and spectra (``SampleArray``)
///     /cells/<name>          [T, E, L, K, S]: measured metrics and certificates (``CellArray``)
///     /batch/<name>          the batch-mean gradient and the stacked system (``BatchArray``)
///
/// Every dataset carries an `axes` attribute naming its axes (``Axis``), one per dimension: "series,sample",
/// "k", … (files written before the coordinates had it lack it on `/axes/*`; nothing reads it back).
///
/// Flags are int32: 1 true, 0 false, −1 not computed (signs: 1, 0, −1, and −2 not computed); values that were not computed are NaN. In
/// memory a
/// flag is a Double, 1, 0 or NaN (``decodeFlag(_:)``/``encodeFlag(_:)``).
public enum ResultsSchema {
    public static let format = "phantom-analysis"
    public static let version: Int64 = 2
    /// The versions this build reads.
    public static let readableVersions: Set<Int64> = [1, 2]
    /// The longest series (checkpoints) a results file or a job may have: ``AnalysisRun/maximumSeries`` (each
    /// checkpoint is a `series/<t>` group, and a group holds at most ``HDF5Group/maximumChildren`` links).
    public static let maximumSeries = AnalysisRun.maximumSeries

    /// The checks a reader applies to the axes before anything is indexed by them: k ascending and distinct in
    /// 1…``AnalysisConfiguration/maximumK``, 1…``AnalysisConfiguration/maximumLambdas`` values of λ in (0, 1],
    /// 1…``maximumSeries`` checkpoints and sample rows that are data rows (≥ 0, below 2²⁴).
    static func checkAxes(
        ks: [Int], lambdas: [Double], series: Int, sampleRows: [Int], _ fail: (String) -> InputError
    ) throws(InputError) {
        guard (1...AnalysisConfiguration.maximumK).contains(ks.count),
            ks.allSatisfy({ (1...AnalysisConfiguration.maximumK).contains($0) }), zip(ks, ks.dropFirst()).allSatisfy({ $0 < $1 })
        else {
            throw fail("/axes/k must hold 1…\(AnalysisConfiguration.maximumK) ascending values in 1…\(AnalysisConfiguration.maximumK)")
        }
        guard (1...AnalysisConfiguration.maximumLambdas).contains(lambdas.count), lambdas.allSatisfy({ $0 > 0 && $0 <= 1 }) else {
            throw fail("/axes/lambda must hold 1…\(AnalysisConfiguration.maximumLambdas) values in (0, 1]")
        }
        guard (1...maximumSeries).contains(series) else {
            throw fail("/axes/epoch has \(series) checkpoints; a results file holds 1…\(maximumSeries)")
        }
        guard sampleRows.allSatisfy({ (0..<InputLimits.maximumSamples).contains($0) }) else {
            throw fail("/axes/sample holds a row outside 0…\(InputLimits.maximumSamples - 1)")
        }
    }

    public enum Axis: String, Sendable {
        case series, estimator, lambda, k, sample, threshold
    }

    /// How an array's values are stored.
    public enum Encoding: Sendable {
        /// float64, NaN for not computed.
        case real
        /// int32 1/0/−1.
        case flag
        /// int32 1/0/−1 for the sign of a value, −2 not computed.
        case sign
        /// int32 index into the names listed in the dataset's `codes` attribute (comma-separated), −1 none.
        case code([String])
    }

    /// In memory → on disk: NaN → −1.
    public static func encodeFlag(_ value: Double) -> Int32 { value.isNaN ? -1 : Int32(value) }
    /// On disk → in memory: −1 (or anything but 0 and 1) → NaN.
    public static func decodeFlag(_ value: Int64) -> Double { value == 1 ? 1 : value == 0 ? 0 : .nan }
    /// A sign in memory (1, 0, −1, NaN) → on disk (NaN → −2).
    public static func encodeSign(_ value: Double) -> Int32 { value.isNaN ? -2 : Int32(value) }
    /// On disk → in memory: 1, 0, −1, anything else NaN.
    public static func decodeSign(_ value: Int64) -> Double { (-1...1).contains(value) ? Double(value) : .nan }

    /// A value's status (``PhantomLinearAlgebra/ValueStatus/Code``), −1 where none applies.
    public static let statusCodes = Encoding.code(ValueStatus.Code.allCases.map(\.rawValue))

    public static func axesAttribute(_ axes: [Axis]) -> String { axes.map(\.rawValue).joined(separator: ",") }

    /// The lengths of the axes of a file (series, estimators, λ, k, samples).
    public struct Extents: Sendable, Equatable {
        public var series, estimators, lambdas, ks, samples: Int
        public var thresholds = Frontier.thresholds.count

        /// The shape an array with these axes must have.
        public func shape(_ axes: [Axis]) -> [Int] {
            axes.map { axis in
                switch axis {
                case .series: series
                case .estimator: estimators
                case .lambda: lambdas
                case .k: ks
                case .sample: samples
                case .threshold: thresholds
                }
            }
        }
    }
}

/// `/axes/<name>`: the coordinates along the other arrays' axes — the grid (k, λ), each sample's data row, and per
/// checkpoint of the series its epoch, step and position in the unsharded job; the frontier's thresholds.
public enum CoordinateArray: String, CaseIterable, Sendable {
    case k, lambda, sample, epoch, step, seriesIndex = "series_index", threshold

    public static let group = "axes"
    public var path: String { "\(Self.group)/\(rawValue)" }
    /// The one axis a coordinate runs along.
    public var axes: [ResultsSchema.Axis] {
        switch self {
        case .k: return [.k]
        case .lambda: return [.lambda]
        case .sample: return [.sample]
        case .epoch, .step, .seriesIndex: return [.series]
        case .threshold: return [.threshold]
        }
    }
}

/// An array of a results file: its group, name, axes and encoding.
public protocol ResultsArray: RawRepresentable<String>, CaseIterable, Hashable, Sendable {
    static var group: String { get }
    var axes: [ResultsSchema.Axis] { get }
    var encoding: ResultsSchema.Encoding { get }
    /// Stored with chunked gzip compression.
    var compressed: Bool { get }
}

extension ResultsArray {
    public var path: String { "\(Self.group)/\(rawValue)" }
}

/// `/samples/<name>`: [T, S], except damped_radius [T, L, S] and power_norm [T, L, K, S].
public enum SampleArray: String, ResultsArray {
    case forwardResidual = "forward_residual", forwardIterations = "forward_iterations", adjointResidual = "adjoint_residual"
    case loss, sigmaMin = "sigma_min", sigmaMax = "sigma_max", conditionM = "condition_m"
    case jacobianNorm = "jacobian_norm", spectralRadius = "spectral_radius"
    case forwardConverged = "forward_converged", adjointConverged = "adjoint_converged", certified
    /// ρ(J) < 1 at h* (an attractive fixed point).
    case stable
    /// The forward solver's method that produced h* (codes: ``FixedPointStage``), and its last residual.
    case forwardMethod = "forward_method", forwardLastResidual = "forward_last_residual"
    /// How each forward solve ended (codes: ``PhantomLinearAlgebra/SolverStatus``): why an unconverged one stopped —
    /// e.g. `linearSolveShort`, the Newton polish's GMRES short of its tolerance where ρ(J) is near 1. Files written
    /// before it lack it.
    case forwardStatus = "forward_status"
    case dampedRadius = "damped_radius", powerNorm = "power_norm"
    /// Version 2: how the spectra were computed (codes: dense, iterative) and each value's pedigree — the Ritz
    /// residual (0 on the dense route) and whether it met its tolerance.
    case spectraRoute = "spectra_route"
    case sigmaMinResidual = "sigma_min_residual", sigmaMinConverged = "sigma_min_converged"
    case sigmaMaxResidual = "sigma_max_residual", sigmaMaxConverged = "sigma_max_converged"
    case jacobianNormResidual = "jacobian_norm_residual", jacobianNormConverged = "jacobian_norm_converged"
    case spectralRadiusResidual = "spectral_radius_residual", spectralRadiusConverged = "spectral_radius_converged"
    /// Each spectral value's status (codes: ``PhantomLinearAlgebra/ValueStatus/Code``): why a value that is not ok is NaN
    /// or unconverged — short of tolerance, a LAPACK failure, a Krylov breakdown, not computed.
    case sigmaMinStatus = "sigma_min_status", sigmaMaxStatus = "sigma_max_status"
    case jacobianNormStatus = "jacobian_norm_status", spectralRadiusStatus = "spectral_radius_status"
    /// ‖B^k‖₂'s status per λ and k (−1 for samples that are not certified).
    case powerNormStatus = "power_norm_status"

    public static let group = "samples"
    public var axes: [ResultsSchema.Axis] {
        switch self {
        case .dampedRadius: return [.series, .lambda, .sample]
        case .powerNorm, .powerNormStatus: return [.series, .lambda, .k, .sample]
        default: return [.series, .sample]
        }
    }
    public var encoding: ResultsSchema.Encoding {
        switch self {
        case .forwardConverged, .adjointConverged, .certified, .stable, .sigmaMinConverged, .sigmaMaxConverged,
            .jacobianNormConverged, .spectralRadiusConverged:
            return .flag
        case .forwardMethod: return .code(FixedPointStage.allCases.map(\.rawValue))
        case .forwardStatus: return .code(SolverStatus.allCases.map(\.rawValue))
        case .spectraRoute: return .code([SpectraRoute.dense.rawValue, SpectraRoute.iterative.rawValue])
        case .sigmaMinStatus, .sigmaMaxStatus, .jacobianNormStatus, .spectralRadiusStatus, .powerNormStatus:
            return ResultsSchema.statusCodes
        default: return .real
        }
    }
    public var compressed: Bool {
        if case .real = encoding { return true }
        return false
    }
}

/// `/cells/<name>`: [T, E, L, K, S].
public enum CellArray: String, ResultsArray {
    case cosine, angleDegrees = "angle_deg", relativeError = "relative_error", normRatio = "norm_ratio"
    case innerSign = "inner_sign", errorNorm = "error_norm", theorem1, weakCondition = "weak_condition"
    case rho, cosineBound = "cosine_bound", rhoStar = "rho_star", ascentMargin = "ascent_margin"
    /// The status of ‖E‖₂ (and of what follows from it: Theorem 1, ‖E‖ ≤ σ_min, ρ, the cosine bound), of ρ* and of the
    /// margin (codes: ``PhantomLinearAlgebra/ValueStatus/Code``; −1 for samples that are not certified).
    case errorNormStatus = "error_norm_status", rhoStarStatus = "rho_star_status", ascentMarginStatus = "ascent_margin_status"
    /// Each sample's backward pass (``PhantomGradients/BackwardRecord``): VJPs through f it used, the residual its own
    /// stopping rule measured (NaN for families that do not iterate), and how it ended (codes:
    /// ``PhantomGradients/BackwardStatus``). Files written before SHINE and the truncated adjoints lack them.
    case vjps, backwardResidual = "backward_residual", backwardStatus = "backward_status"

    public static let group = "cells"
    public var axes: [ResultsSchema.Axis] { [.series, .estimator, .lambda, .k, .sample] }
    public var encoding: ResultsSchema.Encoding {
        switch self {
        case .innerSign: return .sign
        case .theorem1, .weakCondition: return .flag
        case .errorNormStatus, .rhoStarStatus, .ascentMarginStatus: return ResultsSchema.statusCodes
        case .backwardStatus: return .code(BackwardStatus.allCases.map(\.rawValue))
        default: return .real
        }
    }
    public var compressed: Bool { true }

    /// The grid of one analysis behind this array.
    public func grid(_ r: AnalysisResult) -> CellGrid {
        switch self {
        case .cosine: return r.metrics.cosine
        case .angleDegrees: return r.metrics.angleDegrees
        case .relativeError: return r.metrics.relativeError
        case .normRatio: return r.metrics.normRatio
        case .innerSign:
            var g = r.metrics.inner
            g.values = g.values.map(GradientMetrics.sign(ofInner:))
            return g
        case .errorNorm: return r.certificates.errorNorm
        case .theorem1: return r.certificates.theorem1
        case .weakCondition: return r.certificates.weakCondition
        case .rho: return r.certificates.rho
        case .cosineBound: return r.certificates.cosineBound
        case .rhoStar: return r.certificates.rhoStar
        case .ascentMargin: return r.certificates.ascentMargin
        case .errorNormStatus: return r.certificates.errorNormStatus
        case .rhoStarStatus: return r.certificates.rhoStarStatus
        case .ascentMarginStatus: return r.certificates.ascentMarginStatus
        case .vjps: return r.backward.vjps
        case .backwardResidual: return r.backward.residual
        case .backwardStatus: return r.backward.status
        }
    }
}

/// `/batch/<name>`: [T, E, L, K] for the batch-mean metrics and the stacked certificates, [T] for norms.
public enum BatchArray: String, ResultsArray {
    case cosine, relativeError = "relative_error", normRatio = "norm_ratio"
    case stackedErrorNorm = "stacked_error_norm", stackedTheorem1 = "stacked_theorem1"
    case stackedWeakCondition = "stacked_weak_condition", stackedRho = "stacked_rho", stackedRhoStar = "stacked_rho_star"
    case stackedAscentMargin = "stacked_ascent_margin"
    case stackedSigmaMin = "stacked_sigma_min", stackedSigmaMax = "stacked_sigma_max"
    case headGradientNorm = "head_gradient_norm", exactGradientNorm = "exact_gradient_norm"
    /// The exact gradient's cost in VJPs (``Frontier``).
    case exactCost = "exact_cost"

    public static let group = "batch"
    public var axes: [ResultsSchema.Axis] {
        switch self {
        case .stackedSigmaMin, .stackedSigmaMax, .headGradientNorm, .exactGradientNorm, .exactCost: return [.series]
        default: return [.series, .estimator, .lambda, .k]
        }
    }
    public var encoding: ResultsSchema.Encoding {
        switch self {
        case .stackedTheorem1, .stackedWeakCondition: return .flag
        default: return .real
        }
    }
    public var compressed: Bool { false }
}

/// `/frontier/<name>`: [T, E, thresholds] — per estimator and median-cosine threshold (`axes/threshold`), the
/// cheapest (k, λ) cell reaching it and its cost (``Frontier``); NaN where no cell does.
public enum FrontierArray: String, ResultsArray {
    case k, lambda, medianCosine = "median_cosine", cost, costRatio = "cost_ratio"

    public static let group = "frontier"
    public var axes: [ResultsSchema.Axis] { [.series, .estimator, .threshold] }
    public var encoding: ResultsSchema.Encoding { .real }
    public var compressed: Bool { false }

    func values(_ cell: FrontierCell?) -> Double {
        guard let cell else { return .nan }
        switch self {
        case .k: return Double(cell.k)
        case .lambda: return cell.lambda
        case .medianCosine: return cell.medianCosine
        case .cost: return Double(cell.cost)
        case .costRatio: return cell.costRatio
        }
    }
}
