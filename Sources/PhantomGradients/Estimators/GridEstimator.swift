import PhantomLinearAlgebra
import PhantomModel

/// A family of gradient estimators over the (k, λ) grid — UPG, NPG, JFB, RBP, … — as one type: a value of
/// the type is the estimator of one grid cell (a ``GradientEstimator``), and the type knows its identifier,
/// its label, how the whole grid is measured against the exact gradient and how each cell is certified
/// (docs/Theory.md §2–3).
///
/// Adding an estimator to the toolkit is one file: a type conforming to this protocol, listed in
/// ``Estimators/builtIn`` so that the command line, training, analysis, results and figures know it. The
/// analysis supplies what the families share — the exact gradient and the Neumann grid engine
/// (``GridMeasurement``) for the measurements, and the certification routes for the certificates — so a family only
/// says what it is made of: its measurement and its residual operator (``ResidualOperator``).
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

    /// The residual operator E = 𝒜(I − Jᵀ) − Mᵀ of cell (k, λ) (docs/Theory.md §3), declared once: every
    /// certification route (``CertificationRoute``) derives the cell's certificates from it. Nil when the family has no
    /// certificate form (its cells are reported as not computed).
    static func residual(k: Int, lambda: Double) -> ResidualOperator?
}

extension GridEstimator {
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
