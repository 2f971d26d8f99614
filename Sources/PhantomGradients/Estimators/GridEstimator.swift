import PhantomLinearAlgebra
import PhantomModel

/// A family of gradient estimators over the (k, λ) grid — UPG, NPG, JFB, RBP, … — as one type: a value of
/// the type is the estimator of one grid cell (a ``GradientEstimator``), and the type knows its identifier,
/// its label, how the whole grid is measured against the exact gradient and how each cell is certified
/// (THEORY.md §2–3).
///
/// Adding an estimator to the toolkit is one file: a type conforming to this protocol, listed in
/// ``Estimators/builtIn`` so that the command line, training, analysis, results and figures know it. The
/// analysis (``GridMeasurement``, ``SampleCertification``, ``StackedCertification``) supplies what the
/// families share — the exact gradient, the Neumann grid engine, Jacobians, Grams and their powers — so a
/// family only says which of them it is made of.
public protocol GridEstimator: GradientEstimator {
    /// The name on the command line, in checkpoints, results files and figures.
    static var id: EstimatorID { get }
    /// What the estimator is, for help texts and summaries: "undamped Neumann series, k terms".
    static var summary: String { get }
    /// The grid axes its value depends on.
    static var axes: EstimatorAxes { get }

    /// The estimator of one cell. `training` selects a training-mode variant where the family has one
    /// (UPG evaluates the loss at h_k).
    /// - Throws: ``ConfigurationError`` unless k ≥ 1 and λ ∈ (0, 1].
    init(steps k: Int, damping lambda: Double, training: Bool) throws(ConfigurationError)

    /// The measured metrics of every cell: per sample and for the batch mean, [λ index][k index] of the
    /// measurement's grid.
    static func measure(_ measurement: GridMeasurement) throws -> MeasuredGrid

    /// The certificates of every cell for one sample, [λ index][k index].
    static func certify(_ sample: SampleCertification) -> [[Certificate]]

    /// The certificates of the batch as one stacked system, [λ index][k index], or nil when the family has
    /// no stacked form (UPG).
    static func certifyStacked(_ batch: StackedCertification) -> [[Certificate]]?

    /// The certificates without d×d matrices (the matrix-free route), per certified sample [sample][λ index][k
    /// index], or nil when the family has no matrix-free form yet (UPG).
    static func certifyMatrixFree(_ samples: MatrixFreeCertification) -> [[[Certificate]]]?
}

extension GridEstimator {
    public static func certifyStacked(_ batch: StackedCertification) -> [[Certificate]]? { nil }
    public static func certifyMatrixFree(_ samples: MatrixFreeCertification) -> [[[Certificate]]]? { nil }

    /// The family as a value, for lists of families.
    public static var family: EstimatorFamily { EstimatorFamily(Self.self) }
}

/// A grid estimator type as a value (an element of ``Estimators/builtIn`` or of an analysis configuration).
public struct EstimatorFamily: Sendable, Hashable, CustomStringConvertible {
    public let type: any GridEstimator.Type
    public init(_ type: any GridEstimator.Type) { self.type = type }

    public var id: EstimatorID { type.id }
    public var axes: EstimatorAxes { type.axes }
    public var summary: String { type.summary }
    public var description: String { id.rawValue }
    public static func == (a: Self, b: Self) -> Bool { a.id == b.id }
    public func hash(into hasher: inout Hasher) { hasher.combine(id) }

    /// The estimator of one cell.
    public func estimator(steps k: Int, damping lambda: Double, training: Bool = false) throws(ConfigurationError) -> any GridEstimator {
        try type.init(steps: k, damping: lambda, training: training)
    }
}

/// Measured metrics of a family on a grid.
public struct MeasuredGrid: Sendable {
    /// [sample][λ index][k index].
    public var perSample: [[[GradientMetrics]]]
    /// [λ index][k index], nil when the batch mean is not measured.
    public var batch: [[GradientMetrics]]?

    public init(perSample: [[[GradientMetrics]]], batch: [[GradientMetrics]]?) {
        self.perSample = perSample
        self.batch = batch
    }
}
