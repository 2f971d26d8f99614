import PhantomLinearAlgebra
import PhantomModel

/// UPG(k, λ), the unrolled phantom gradient (Geng et al. 2021): backpropagation through k damped steps
///
///     h_{t+1} = (1 − λ) h_t + λ f(h_t),   t = 0 … k − 1,   h_0 = h* (detached)
///
/// Backward (docs/Theory.md §2): w_k = g; for t = k − 1 … 0: ĝ += λ M_tᵀ w_{t+1}; w_t = B_tᵀ w_{t+1} with
/// B_t = λ J_t + (1 − λ) I and J_t, M_t taken at the iterate h_t.
///
/// Modes: `.analysis` takes the cotangent g at h* (every estimator then sees the same g);
/// `.training` evaluates the loss at h_k, as the paper's training code does, and also reports that loss
/// and the head gradient at h_k.
///
/// Mathematical Properties: UPG(1, λ) = λ·JFB; when h* is an exact fixed point the iterates stay at h*
/// and UPG(k, λ) = NPG(k, λ); they differ through the forward solver's error ‖f(h*) − h*‖.
///
/// Complexity: k batched f evaluations forward, k state and k parameter VJPs backward; memory O(k)
/// linearizations.
///
/// References: Geng, Zhang, Bai, Wang, Lin, "On Training Implicit Models", NeurIPS 2021.
public struct UnrolledPhantomGradient: GridEstimator {
    public enum Mode: String, Sendable, CaseIterable { case analysis, training }

    public static let id = EstimatorID("upg")
    public static let summary = "unrolled phantom gradient: backpropagation through k damped steps"
    public static let axes = EstimatorAxes.kAndLambda

    public let steps: Int
    public let damping: Double
    public let mode: Mode

    /// - Throws: ``ConfigurationError`` unless k ≥ 1 and λ ∈ (0, 1].
    public init(steps k: Int, damping lambda: Double, mode: Mode = .analysis) throws(ConfigurationError) {
        try checkSteps(k, lambda)
        steps = k
        damping = lambda
        self.mode = mode
    }

    public init(steps k: Int, damping lambda: Double, training: Bool) throws(ConfigurationError) {
        try self.init(steps: k, damping: lambda, mode: training ? .training : .analysis)
    }

    public var label: String { "UPG(\(steps), \(damping))" }

    public func estimate(_ problem: GradientProblem, perSample: Bool) -> GradientEstimate {
        let (linearizations, h) = Self.unroll(problem, steps: steps, damping: damping)
        var g = problem.cotangents
        var loss: Double?, head: [Double]?
        if mode == .training {
            let atUnroll = GradientProblem.lossCotangents(model: problem.model, states: h, targets: problem.targets)
            g = atUnroll.cotangents
            loss = atUnroll.losses.reduce(0, +) / Double(max(atUnroll.losses.count, 1))
            head = atUnroll.headGradient
        }
        var estimate = Self.backpropagate(
            through: linearizations, cotangents: g, damping: damping,
            perSample: perSample)
        estimate.lossAtUnroll = loss
        estimate.headGradientAtUnroll = head
        return estimate
    }

    /// The damped unroll h_{t+1} = (1 − λ) h_t + λ f(h_t) from h_0 = h*: the linearizations at h_0 … h_{k−1}
    /// and h_k.
    static func unroll(_ problem: GradientProblem, steps: Int, damping: Double) -> ([any CellLinearization], Matrix) {
        unroll(
            problem.model.cell, from: problem.states, inputs: problem.inputs, linearizedAtStart: problem.linearization,
            steps: steps, damping: damping)
    }

    /// The damped unroll of any batch of rows (states h_0 with their inputs), given the linearization at h_0:
    /// the linearizations at h_0 … h_{k−1} and h_k. The one unroll behind UPG's estimate, its grid and its
    /// certificates.
    ///
    /// - Parameter step: how λ a + (1 − λ) b is evaluated. The certificates use ``dampedStepUnfused(_:_:_:)``,
    ///   which rounds λa and (1 − λ)b separately; the estimates use ``dampedStep(_:_:_:)`` (one axpy, which a
    ///   BLAS kernel may fuse). Both are kept so that results stay bit-identical to the versions before the two
    ///   unrolls were merged; they differ in the last bit only.
    static func unroll(
        _ cell: any ImplicitCell, from start: Matrix, inputs x: Matrix, linearizedAtStart first: any CellLinearization,
        steps: Int, damping: Double, step: (Matrix, Matrix, Double) -> Matrix = dampedStep
    ) -> ([any CellLinearization], Matrix) {
        var h = start
        var linearizations: [any CellLinearization] = []
        for t in 0..<steps {
            let lin = t == 0 ? first : cell.linearize(state: h, input: x)
            linearizations.append(lin)
            h = step(lin.value, h, damping)
        }
        return (linearizations, h)
    }

    /// Backpropagation through h_{t+1} = (1 − λ) h_t + λ f(h_t) given the linearizations at h_0 … h_{k−1}.
    /// `factored`: also return each step's per-sample parameter VJP λ M_tᵀ w_{t+1} in factored form (steps k − 1 … 0).
    static func backpropagate(
        through linearizations: [any CellLinearization], cotangents g: Matrix,
        damping: Double, perSample: Bool, factored: Bool = false
    ) -> GradientEstimate {
        let b = g.rows
        var w = g
        var sum: [Double]? = nil
        var rows: Matrix? = nil
        var factors: [ParameterFactors] = []
        for lin in linearizations.reversed() {
            var u = w
            BLAS.scal(damping, &u.elements)
            let contribution: [Double]
            if factored {
                let both = lin.parameterVJPAndFactors(u)
                contribution = both.sum
                factors.append(both.factors)
            } else {
                contribution = lin.parameterVJP(u)
            }
            if sum == nil { sum = contribution } else { BLAS.axpy(1, contribution, &sum!) }
            if perSample {
                let step = lin.parameterVJPRows(u)
                if rows == nil { rows = step } else { BLAS.axpy(1, step.elements, &rows!.elements) }
            }
            w = dampedStep(lin.stateVJP(w), w, damping)  // w_t = B_tᵀ w_{t+1}
        }
        var mean = sum ?? []
        BLAS.scal(1 / Double(max(b, 1)), &mean)
        var estimate = GradientEstimate(batchMean: mean, perSample: rows, stateCotangents: nil, adjoint: nil)
        if factored { estimate.factors = factors }
        return estimate
    }
}

extension UnrolledPhantomGradient {
    /// Every UPG(k, λ): one unroll per λ (``UPGGrid``), reported per λ. The λ are independent, so they run on the cores
    /// in parallel when that many unrolls fit ``parallelMemoryBudget`` (each λ's arithmetic is the same either way: BLAS
    /// is single-threaded in the analysis, so the results do not depend on it).
    public static func measure(_ m: GridMeasurement) throws -> MeasuredGrid {
        var perSample = [[[GradientMetrics]]](repeating: [], count: m.batchSize)
        var batch: [[GradientMetrics]] = [], means: [[[Double]]] = []
        let count = m.lambdas.count, workers = min(Parallel.workerCount, count)
        let unrollBytes = 8 * 50 * Double(m.batchSize) * Double(m.problem.stateDimension) * Double(m.maxK)
        let (problem, exact, ks, lambdas, maxK, progress, keep) = (
            m.problem, m.exact, m.ks, m.lambdas, m.maxK, m.progress, m.keepsBatchMeans
        )
        @Sendable func grid(_ l: Int) -> Result<UPGGridResult, ConfigurationError> {
            progress?(l, count)
            return Result { () throws(ConfigurationError) in
                try UPGGrid(maxSteps: maxK, lambdas: [lambdas[l]], steps: ks).evaluate(
                    problem, exact: exact, perSample: true, keepMeans: keep)
            }
        }
        let grids =
            try
            (workers > 1 && Double(workers) * unrollBytes <= Double(parallelMemoryBudget)
            ? Parallel.map(count) { grid($0) } : (0..<count).map { grid($0) }).map { try $0.get() }
        for g in grids {
            let samples = g.perSample ?? []
            for s in 0..<m.batchSize { perSample[s].append(samples[s][0]) }
            batch.append(g.batch[0])
            if let m = g.batchMeans { means.append(m[0]) }
        }
        return MeasuredGrid(perSample: perSample, batch: batch, batchMeans: keep ? means : nil)
    }

    /// The most memory the parallel λ unrolls may take, modelled at 50 doubles per state entry and step (a conv cell's
    /// linearization keeps its im2col patches): 2 GiB.
    public static let parallelMemoryBudget = 2 << 30

    /// E from UPG's own unroll (``UnrolledResidual``): not a polynomial in one J.
    public static func residual(k: Int, lambda: Double) -> ResidualOperator? { .unrolled(steps: k, damping: lambda) }
}

/// λ a + (1 − λ) b: one damped step, forward (h ← λ f(h) + (1 − λ) h) or transposed (w ← λ Jᵀw + (1 − λ) w).
func dampedStep(_ a: Matrix, _ b: Matrix, _ lambda: Double) -> Matrix {
    var out = a
    BLAS.scal(lambda, &out.elements)
    BLAS.axpy(1 - lambda, b.elements, &out.elements)
    return out
}

/// λ a + (1 − λ) b with λa and (1 − λ)b rounded separately (the certificates' arithmetic).
func dampedStepUnfused(_ a: Matrix, _ b: Matrix, _ lambda: Double) -> Matrix {
    (lambda * a) + ((1 - lambda) * b)
}
