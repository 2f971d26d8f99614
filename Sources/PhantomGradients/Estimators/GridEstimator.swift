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

    /// The estimator of one cell under `settings` (default: ``init(steps:damping:training:)``; families that take a
    /// setting implement this).
    init(steps k: Int, damping lambda: Double, training: Bool, settings: EstimatorSettings) throws(ConfigurationError)

    /// The residual operator of cell (k, λ) for the analysed batch (default: ``residual(k:lambda:)``; a family whose
    /// 𝒜 depends on per-sample data, such as SHINE's Broyden histories, implements this).
    static func residual(k: Int, lambda: Double, problem: GradientProblem, settings: EstimatorSettings) -> ResidualOperator?

    /// The family needs every sample's Broyden history (``GradientProblem/broydenHistories``) (default: false).
    static var needsBroydenHistory: Bool { get }

    /// The family's k is an iteration budget (the truncated adjoints): training takes it from `--adjoint-budget`
    /// (default: false).
    static var stepsAreBudget: Bool { get }
}

extension GridEstimator {
    /// The family as a value, for lists of families.
    public static var family: EstimatorFamily { EstimatorFamily(Self.self) }

    public init(steps k: Int, damping lambda: Double, training: Bool, settings: EstimatorSettings) throws(ConfigurationError) {
        try self.init(steps: k, damping: lambda, training: training)
    }

    public static func residual(k: Int, lambda: Double, problem: GradientProblem, settings: EstimatorSettings) -> ResidualOperator? {
        residual(k: k, lambda: lambda)
    }

    public static var needsBroydenHistory: Bool { false }
    public static var stepsAreBudget: Bool { false }
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

    /// The family suits a forward solver: one that needs a Broyden history (SHINE) cannot run after `anderson` or
    /// `fixed-point`, which build none (`auto` and `broyden` do, with a Broyden re-solve where another method won).
    /// - Throws: ``ConfigurationError`` naming the family and the solver.
    public func check(solver method: FixedPointMethod) throws(ConfigurationError) {
        guard type.needsBroydenHistory, method == .anderson || method == .fixedPoint else { return }
        throw ConfigurationError(
            "\(id) needs the forward Broyden solve's history; --solver \(method.rawValue) builds none "
                + "(use --solver broyden, or auto: samples another method finished get a Broyden re-solve)")
    }

    /// The estimator of one cell.
    public func estimator(
        steps k: Int, damping lambda: Double, training: Bool = false, settings: EstimatorSettings = .standard
    ) throws(ConfigurationError) -> any GridEstimator {
        try type.init(steps: k, damping: lambda, training: training, settings: settings)
    }
}

/// Measured metrics of a family on a grid.
public struct MeasuredGrid: Sendable {
    /// [sample][λ index][k index].
    public var perSample: [[[GradientMetrics]]]
    /// [λ index][k index], nil when the batch mean is not measured.
    public var batch: [[GradientMetrics]]?
    /// [sample][λ index][k index]: what each sample's backward pass used and reached, for families whose cost or
    /// outcome differs per sample (nil: the family's fixed cost, ``BackwardRecord/fixed(axes:k:)``).
    public var backward: [[[BackwardRecord]]]?
    /// [λ index][k index]: the cell's batch-mean estimate (1/B) Σ_i ĝ_i ∈ R^p, when the measurement asked for it
    /// (``GridMeasurement/keepsBatchMeans``); all NaN where the batch mean is not computed.
    public var batchMeans: [[[Double]]]?

    public init(
        perSample: [[[GradientMetrics]]], batch: [[GradientMetrics]]?, backward: [[[BackwardRecord]]]? = nil,
        batchMeans: [[[Double]]]? = nil
    ) {
        self.perSample = perSample
        self.batch = batch
        self.backward = backward
        self.batchMeans = batchMeans
    }
}

/// One sample's backward pass in one cell: its cost in VJPs through f and, for iterative families, the residual its
/// own stopping rule measured and how it ended.
public struct BackwardRecord: Sendable, Equatable {
    /// VJPs through f (state and parameters together, as autograd counts one backward step): k for UPG, NPG and RBP,
    /// 1 for JFB and SHINE, the iterations used + 1 for the truncated adjoints.
    public var vjps: Double
    /// The residual the family's stopping rule measured, in its criterion (NaN for families that do not iterate).
    public var residual: Double
    public var status: BackwardStatus

    public init(vjps: Double, residual: Double = .nan, status: BackwardStatus = .fixed) {
        (self.vjps, self.residual, self.status) = (vjps, residual, status)
    }

    /// A family whose cost is fixed by its cell: k VJPs when it depends on k, else 1.
    public static func fixed(axes: EstimatorAxes, k: Int) -> BackwardRecord {
        BackwardRecord(vjps: Double(axes.dependsOnK ? k : 1))
    }

    /// A sample whose estimate could not be formed.
    public static let missing = BackwardRecord(vjps: .nan, status: .noHistory)
}

/// How a sample's backward pass ended (the results file's `cells/backward_status` codes, in this order).
public enum BackwardStatus: String, Sendable, CaseIterable {
    /// A fixed number of steps (UPG, NPG, RBP, JFB): nothing to report.
    case fixed
    /// An iterative family met its tolerance before its budget.
    case converged
    /// An iterative family used its whole budget.
    case budget
    /// SHINE with the forward solve's own Broyden history, or a Broyden re-solve's.
    case forwardHistory = "forward-history"
    case resolveHistory = "resolve-history"
    /// SHINE's fallback replaced the estimate by JFB's.
    case fallback
    /// SHINE without a Broyden history: not computed, counted in the summary.
    case noHistory = "no-history"
}
