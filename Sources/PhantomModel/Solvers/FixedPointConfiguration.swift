import PhantomLinearAlgebra

/// When a sample's fixed-point iteration counts as converged.
public enum StoppingCriterion: Sendable, Equatable {
    /// ‖f(h) − h‖ ≤ tolerance.
    case absolute(Double)
    /// ‖f(h) − h‖ / (‖f(h)‖ + 1e-12) ≤ tolerance.
    case relative(Double)

    public var tolerance: Double {
        switch self {
        case .absolute(let t), .relative(let t): return t
        }
    }

    public var isRelative: Bool {
        if case .relative = self { return true }
        return false
    }

    /// The residual this criterion measures, from ‖f(h) − h‖ and ‖f(h)‖.
    public func residual(absolute: Double, valueNorm: Double) -> Double {
        switch self {
        case .absolute: return absolute
        case .relative: return absolute / (valueNorm + 1e-12)
        }
    }
}

/// The forward solvers for h = f(h, x).
public enum FixedPointMethod: String, Sendable, CaseIterable {
    /// Anderson with a safeguarded restart, then Broyden, then damped iteration, then Newton polish, per
    /// sample, until one of them converges (``FixedPointSolver``).
    case auto
    /// Damped iteration h ← (1 − α) h + α f(h).
    case fixedPoint = "fixed-point"
    /// Anderson acceleration (type II) with memory m, mixing β and ridge regularisation.
    case anderson
    /// Limited-memory Broyden ("good" Broyden on the inverse Jacobian of g(h) = f(h) − h).
    case broyden
}

/// The method that produced a sample's final iterate.
public enum FixedPointStage: String, Sendable, CaseIterable {
    case anderson, broyden
    case fixedPoint = "fixed-point"
    case newton
}

/// A forward solver's settings, checked when built.
public struct FixedPointConfiguration: Sendable, Equatable {
    /// The analysis's defaults (`analyze`, `inspect`): a tight relative tolerance and a generous budget.
    public static let analysisTolerance = 1e-10
    public static let analysisMaxIterations = 200
    /// Training's defaults: each step needs a fixed point, not a reference.
    public static let trainingTolerance = 1e-6
    public static let trainingMaxIterations = 100

    /// The largest iteration limit, and the largest memory of Anderson and Broyden, recorded iterates and Newton
    /// steps: bounds on the work and on the per-sample traces (one residual per evaluation of f) before a solve
    /// starts, so that no setting can overflow `3 · maxIterations` or outgrow memory.
    public static let maximumIterations = 100_000
    public static let maximumMemory = 1000

    public var method: FixedPointMethod
    public var stopping: StoppingCriterion
    public var maxIterations: Int
    /// α for `.fixedPoint`, in (0, 1].
    public var damping: Double
    /// m for `.anderson`, ≥ 1.
    public var andersonMemory: Int
    /// β for `.anderson`, in (0, 1].
    public var andersonMixing: Double
    /// Ridge λ for `.anderson`'s least squares, relative to the Gram's scale, ≥ 0.
    public var andersonRegularization: Double
    /// Rank-one updates kept by `.broyden` before it restarts from −I, ≥ 1.
    public var broydenMemory: Int
    /// How many of the last inputs to f to keep in ``FixedPointSolution/recentIterates`` (for truncated
    /// backpropagation through the solver), ≥ 0.
    public var recordedIterates: Int
    /// `.auto`'s Newton polish: at most this many Newton steps after the iterative stages, ≥ 0.
    public var newtonSteps: Int
    /// `.auto`'s Newton polish solves (I − J) δ = g densely (LU) up to this d, by GMRES above.
    public var denseNewtonLimit: Int
    /// Above ``denseNewtonLimit``, the most GMRES iterations (restart 50) a Newton step's solve of (I − J)δ = g may
    /// take; one short of tolerance is reported (``SolverStatus/linearSolveShort``) when the solve ends unconverged.
    public var newtonLinearIterations = 500

    /// - Throws: ``ConfigurationError`` naming the first setting out of range.
    public init(
        method: FixedPointMethod = .auto, stopping: StoppingCriterion = .relative(1e-10),
        maxIterations: Int = 200, damping: Double = 1, andersonMemory: Int = 5,
        andersonMixing: Double = 1, andersonRegularization: Double = 1e-10,
        broydenMemory: Int = 30, recordedIterates: Int = 0, newtonSteps: Int = 20,
        denseNewtonLimit: Int = 1024
    ) throws(ConfigurationError) {
        guard stopping.tolerance > 0, stopping.tolerance.isFinite else {
            throw ConfigurationError("the solver tolerance must be a positive number, got \(stopping.tolerance)")
        }
        guard (1...Self.maximumIterations).contains(maxIterations) else {
            throw ConfigurationError("the solver's iteration limit must lie in 1…\(Self.maximumIterations), got \(maxIterations)")
        }
        for (what, value, lower) in [
            ("Anderson memory", andersonMemory, 1), ("Broyden memory", broydenMemory, 1), ("recorded iterates", recordedIterates, 0),
            ("Newton steps", newtonSteps, 0)
        ] where !(lower...Self.maximumMemory).contains(value) {
            throw ConfigurationError("\(what) must lie in \(lower)…\(Self.maximumMemory), got \(value)")
        }
        guard damping > 0, damping <= 1 else { throw ConfigurationError("damping must lie in (0, 1], got \(damping)") }
        guard andersonMixing > 0, andersonMixing <= 1 else {
            throw ConfigurationError("Anderson mixing β must lie in (0, 1], got \(andersonMixing)")
        }
        guard andersonRegularization >= 0, andersonRegularization.isFinite else {
            throw ConfigurationError("Anderson regularisation must be ≥ 0, got \(andersonRegularization)")
        }
        guard denseNewtonLimit >= 0 else { throw ConfigurationError("the dense Newton limit must be ≥ 0, got \(denseNewtonLimit)") }
        self.method = method
        self.stopping = stopping
        self.maxIterations = maxIterations
        self.damping = damping
        self.andersonMemory = andersonMemory
        self.andersonMixing = andersonMixing
        self.andersonRegularization = andersonRegularization
        self.broydenMemory = broydenMemory
        self.recordedIterates = recordedIterates
        self.newtonSteps = newtonSteps
        self.denseNewtonLimit = denseNewtonLimit
    }
}

/// The result of a batched forward solve, with every sample's pedigree.
public struct FixedPointSolution: Sendable {
    /// The lowest-residual iterate of each sample (B×d).
    public let states: Matrix
    /// Each sample's residual at `states`, in the configured criterion.
    public let residuals: [Double]
    /// Each sample's absolute residual ‖f(h) − h‖ at `states`.
    public let absoluteResiduals: [Double]
    /// Iterations run for each sample (up to convergence, or all of them).
    public let iterations: [Int]
    /// How each sample's solve ended; `.converged` only when its residual reached the tolerance.
    public let statuses: [SolverStatus]
    /// Each sample's residual (configured criterion) after each evaluation of f.
    public let traces: [[Double]]
    /// Batched evaluations of f.
    public let functionEvaluations: Int
    /// The method that produced each sample's final iterate.
    public let methods: [FixedPointStage]
    /// The last ``FixedPointConfiguration/recordedIterates`` batch inputs H_t to f, oldest first (rows of
    /// samples that had already converged stay at their frozen iterate).
    public var recentIterates: [Matrix] = []
    /// Per sample, the Broyden estimate H ≈ (∂g/∂h)⁻¹ that proposed its best iterate, when a Broyden stage produced
    /// it (``BroydenInverse``; SHINE's history, its pairs up to the best iterate); nil otherwise.
    public var broydenInverses: [BroydenInverse?] = []

    public var converged: [Bool] { statuses.map(\.isConverged) }
    /// Each sample's residual after its last evaluation of f (its best is ``residuals``).
    public var lastResiduals: [Double] { traces.map { $0.last ?? .nan } }
    public var allConverged: Bool { statuses.allSatisfy(\.isConverged) }
}
