import Foundation
import PhantomGradients
import PhantomHDF5
import PhantomLinearAlgebra
import PhantomModel
import PhantomModelIO

/// One epoch's log line.
public struct EpochRecord: Sendable, Equatable {
    /// The column names of ``logLine``.
    public static let logHeader = "epoch   loss     train   test    fwd-iter  fwd-s    bwd-s    unconverged"

    /// One line of the training log, in the columns of ``logHeader``; unconverged solves are spelled out.
    public var logLine: String {
        func pad(_ s: String, _ width: Int) -> String {
            s.count >= width ? s + " " : s.padding(toLength: width, withPad: " ", startingAt: 0)
        }
        let warning =
            unconvergedForward + unconvergedAdjoint > 0
            ? "\(unconvergedForward) forward, \(unconvergedAdjoint) adjoint solves NOT converged" : "0"
        let columns: [(String, Double, Int)] = [
            ("%.4f", loss, 9), ("%.3f", trainAccuracy, 8), ("%.3f", testAccuracy, 8), ("%.1f", forwardIterations, 10),
            ("%.3f", forwardSeconds, 9), ("%.3f", backwardSeconds, 9)
        ]
        return pad("\(epoch)", 8) + columns.map { pad(String(format: $0.0, $0.1), $0.2) }.joined() + warning
    }

    public var epoch: Int
    public var loss: Double
    public var trainAccuracy: Double
    public var testAccuracy: Double
    public var forwardIterations: Double
    public var forwardSeconds: Double
    public var backwardSeconds: Double
    public var unconvergedForward: Int
    public var unconvergedAdjoint: Int
    public var steps: Int

    public init(
        epoch: Int, loss: Double, trainAccuracy: Double, testAccuracy: Double, forwardIterations: Double,
        forwardSeconds: Double, backwardSeconds: Double, unconvergedForward: Int, unconvergedAdjoint: Int, steps: Int
    ) {
        self.epoch = epoch
        self.loss = loss
        self.trainAccuracy = trainAccuracy
        self.testAccuracy = testAccuracy
        self.forwardIterations = forwardIterations
        self.forwardSeconds = forwardSeconds
        self.backwardSeconds = backwardSeconds
        self.unconvergedForward = unconvergedForward
        self.unconvergedAdjoint = unconvergedAdjoint
        self.steps = steps
    }
}

/// Minibatch training of an implicit model with a selectable gradient estimator.
///
/// Deterministic for a seed and a thread count: the weights are initialised from `seed`, and epoch e
/// shuffles with a generator seeded from (seed, e), so a resumed run needs no generator state.
public struct Trainer: Sendable {
    public let configuration: TrainingConfiguration
    public let train: DataSet
    public let test: DataSet
    public let classes: Int

    public init(configuration: TrainingConfiguration, train: DataSet, test: DataSet, classes: Int) {
        self.configuration = configuration
        self.train = train
        self.test = test
        self.classes = classes
    }

    /// A freshly initialised model: PyTorch's default uniform(±1/√fan_in) for every linear map, with the
    /// tanh cell's W scaled to ‖W‖₂ = 0.5, and resmlp's second layer scaled by 0.3 and its LayerNorm gain
    /// γ set to 0.5 (ρ(J) ≈ 0.5 instead of ≈ 0.96 with γ = 1), so that the first fixed points are easy to find;
    /// mdeq likewise: conv2 scaled by 0.3 and gn3's γ = 0.5.
    public func initialModel() -> ImplicitModel {
        var rng = SplitMix64(seed: configuration.seed)
        func uniform(_ rows: Int, _ columns: Int, fanIn: Int) -> Matrix {
            let bound = 1 / Double(fanIn).squareRoot()
            return Matrix(rows: rows, columns: columns, elements: (0..<(rows * columns)).map { _ in bound * (2 * rng.nextUniform() - 1) })
        }
        guard let builtin = configuration.cell.builtin else {
            preconditionFailure("a graph cell's run starts from its model (TrainingRun.start(…, from:))")
        }
        // The shape was checked when the run started (TrainingRun.start).
        let cell = builtin.initialized(try! configuration.modelShape(for: train, classes: classes)) { uniform($0, $1, fanIn: $2) }
        let dState = cell.stateDimension
        return ImplicitModel(
            cell: cell,
            head: OutputHead(
                weight: uniform(classes, dState, fanIn: dState),
                bias: uniform(1, classes, fanIn: dState).elements))
    }

    /// Runs epochs `startEpoch + 1 … configuration.epochs`, calling `onEpoch` after each.
    public func run(
        model: inout ImplicitModel, optimizer: inout Optimizer, startEpoch: Int,
        onEpoch: (EpochRecord, ImplicitModel, Optimizer) throws -> Void
    ) throws {
        let estimator = try configuration.gradientEstimator()
        let needsHistory = configuration.needsBroydenHistory
        guard let targets = train.y else { throw ConfigurationError("the training data has no targets") }
        guard startEpoch < configuration.epochs else { return }
        for epoch in (startEpoch + 1)...configuration.epochs {
            var rng = SplitMix64(seed: configuration.seed &* 0x9E37_79B9 &+ UInt64(epoch))
            let order = Array(0..<train.count).shuffled(using: &rng)
            var record = EpochRecord(
                epoch: epoch, loss: 0, trainAccuracy: 0, testAccuracy: 0, forwardIterations: 0,
                forwardSeconds: 0, backwardSeconds: 0, unconvergedForward: 0, unconvergedAdjoint: 0, steps: 0)
            var correct = 0.0, iterations = 0.0
            for start in stride(from: 0, to: order.count, by: configuration.batchSize) {
                let indices = Array(order[start..<min(start + configuration.batchSize, order.count)])
                let x = train.x.selectingRows(indices), y = targets.selecting(indices)
                let t0 = DispatchTime.now().uptimeNanoseconds
                let forward = model.solve(x, configuration.solver)
                let t1 = DispatchTime.now().uptimeNanoseconds
                var problem = GradientProblem(model: model, inputs: x, targets: y, forward: forward)
                if needsHistory { problem.attachBroydenHistories(solver: configuration.solver) }
                let gradient = estimator.estimate(problem, perSample: false)
                let t2 = DispatchTime.now().uptimeNanoseconds
                record.forwardSeconds += Double(t1 - t0) / 1e9
                record.backwardSeconds += Double(t2 - t1) / 1e9
                record.unconvergedForward += forward.statuses.filter { !$0.isConverged }.count
                record.unconvergedAdjoint += gradient.adjoint?.statuses.filter { !$0.isConverged }.count ?? 0
                iterations += Double(forward.iterations.max() ?? 0)
                let batchLoss = gradient.lossAtUnroll ?? problem.losses.reduce(0, +) / Double(indices.count)
                record.loss += batchLoss * Double(indices.count)
                if case .labels(let labels) = y {
                    correct += Loss.accuracy(logits: model.head.logits(forward.states), labels: labels) * Double(indices.count)
                }
                var parameters = model.cell.parameters + model.head.parameters
                let step = gradient.batchMean + (gradient.headGradientAtUnroll ?? problem.headGradient)
                // A diverged run stops here, before a non-finite value reaches the parameters or a checkpoint:
                // the last checkpoint written is the last good one.
                guard batchLoss.isFinite, step.allSatisfy(\.isFinite) else {
                    throw TrainingDiverged(epoch: epoch, step: optimizer.steps + 1, loss: batchLoss)
                }
                optimizer.step(&parameters, gradient: step)
                guard parameters.allSatisfy(\.isFinite) else {
                    throw TrainingDiverged(epoch: epoch, step: optimizer.steps, loss: batchLoss)
                }
                let p = model.cell.layout.count
                model.cell.parameters = Array(parameters[0..<p])
                model.head.parameters = Array(parameters[p...])
                if configuration.maxNorm > 0, var tanh = model.cell as? TanhCell {
                    let norm = (try? tanh.cellWeight.spectralNorm()) ?? 0
                    if norm > configuration.maxNorm {
                        BLAS.scal(configuration.maxNorm / norm, &tanh.cellWeight.elements)
                        model.cell = tanh
                    }
                }
                record.steps += 1
            }
            record.loss /= Double(train.count)
            record.trainAccuracy = correct / Double(train.count)
            record.forwardIterations = iterations / Double(max(record.steps, 1))
            record.testAccuracy = accuracy(model, test)
            try onEpoch(record, model, optimizer)
        }
    }

    /// Classification accuracy on a data set (0 for regression targets).
    public func accuracy(_ model: ImplicitModel, _ data: DataSet) -> Double {
        guard case .labels(let labels)? = data.y, data.count > 0 else { return 0 }
        let states = model.solve(data.x, configuration.solver).states
        return Loss.accuracy(logits: model.head.logits(states), labels: labels)
    }
}

/// Training produced a non-finite loss, gradient or parameter: it stops without saving the diverged model.
public struct TrainingDiverged: Error, CustomStringConvertible, Sendable {
    public let epoch: Int
    public let step: Int
    public let loss: Double
    public var description: String {
        "training diverged at epoch \(epoch), step \(step) (loss \(loss)); the last checkpoint written is the last good one — lower the "
            + "learning rate or add damping"
    }
}
