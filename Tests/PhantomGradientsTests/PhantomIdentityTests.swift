import PhantomGradients
import PhantomLinearAlgebra
import PhantomModel
import PhantomTestSupport
import Testing

@Suite("Phantom gradients: the identities of docs/Theory.md §2")
struct PhantomIdentityTests {
    @Test("UPG(1, λ) = NPG(1, λ) = λ·JFB, per sample and for the batch", arguments: GradientFixtures.ModelCase.allCases)
    func oneStep(modelCase: GradientFixtures.ModelCase) throws {
        let problem = GradientFixtures.problem(modelCase.model)
        let jfb = JacobianFreeGradient().estimate(problem, perSample: true)
        for lambda in [0.3, 0.5, 1.0] {
            let npg = try NeumannPhantomGradient(steps: 1, damping: lambda).estimate(problem, perSample: true)
            let upg = try UnrolledPhantomGradient(steps: 1, damping: lambda).estimate(problem, perSample: true)
            let scaled = jfb.batchMean.map { lambda * $0 }
            #expect(relativeError(npg.batchMean, scaled) <= 1e-14)
            #expect(relativeError(upg.batchMean, scaled) <= 1e-14)
            #expect(relativeError(try #require(upg.perSample).elements, (lambda * (try #require(jfb.perSample))).elements) <= 1e-14)
        }
    }

    @Test(
        "UPG(k, λ) = NPG(k, λ) to 1e-10 at a converged h*, and they differ when the solve stopped at 1e-3",
        arguments: GradientFixtures.ModelCase.allCases)
    func unrolledEqualsNeumann(modelCase: GradientFixtures.ModelCase) throws {
        let model = modelCase.model
        let tight = GradientFixtures.problem(model)
        #expect(tight.forward.absoluteResiduals.allSatisfy { $0 <= 1e-13 })
        let loose = GradientFixtures.problem(
            model, solver: try FixedPointConfiguration(method: .fixedPoint, stopping: .absolute(1e-3), maxIterations: 500))
        #expect(loose.forward.absoluteResiduals.allSatisfy { $0 <= 1e-3 && $0 > 1e-5 })
        for (k, lambda) in [(2, 0.5), (5, 0.5), (5, 1.0), (9, 0.8)] {
            let upg = try UnrolledPhantomGradient(steps: k, damping: lambda).estimate(tight, perSample: true)
            let npg = try NeumannPhantomGradient(steps: k, damping: lambda).estimate(tight, perSample: true)
            #expect(relativeError(upg.batchMean, npg.batchMean) <= 1e-10)
            #expect(relativeError(try #require(upg.perSample).elements, try #require(npg.perSample).elements) <= 1e-10)
            let looseUPG = try UnrolledPhantomGradient(steps: k, damping: lambda).estimate(loose, perSample: false)
            let looseNPG = try NeumannPhantomGradient(steps: k, damping: lambda).estimate(loose, perSample: false)
            #expect(relativeError(looseUPG.batchMean, looseNPG.batchMean) > 1e-6)
        }
    }

    @Test("NPG(k, λ) → exact as k grows, with monotonically falling error for a symmetric contractive J")
    func convergesToExact() throws {
        // h* = 0 exactly (x = 0, b = 0): J = W symmetric with ‖W‖₂ = 0.9 and M Mᵀ = I (docs/Theory.md §3).
        let d = 10
        var rng = SplitMix64(seed: 61)
        let r = GradientFixtures.gaussian(d, d, &rng)
        let q = try #require(try SymmetricEigen(r + r.transposed).vectors)
        let w = q * Matrix.diagonal((0..<d).map { 0.9 - 1.7 * Double($0) / Double(d - 1) }) * q.transposed
        let cell = TanhCell(injectionWeight: Matrix(zeros: d, 2), injectionBias: [Double](repeating: 0, count: d), cellWeight: w)
        let model = ImplicitModel(cell: cell, head: OutputHead(weight: GradientFixtures.gaussian(3, d, &rng), bias: [0.3, -0.2, 0.1]))
        let problem = GradientProblem(
            model: model, inputs: Matrix(zeros: 3, 2), targets: .labels([0, 1, 2]),
            solver: GradientFixtures.tightSolver())
        let exact = GradientFixtures.exact(problem).batchMean
        for lambda in [0.5, 0.8, 1.0] {
            var previous = Double.infinity
            var errors: [Double] = []
            for k in 1...60 {
                let npg = try NeumannPhantomGradient(steps: k, damping: lambda).estimate(problem, perSample: false)
                let error = GradientMetrics.compare(npg.batchMean, exact).relativeError
                errors.append(error)
                #expect(error < previous, "λ = \(lambda), k = \(k): \(error) ≥ \(previous)")
                previous = error
            }
            // ρ(B) ≤ 1 − λ(1 − 0.9): the error falls like ρ(B)^k, below 1e-6 by k = 400 for every λ here.
            let far = try NeumannPhantomGradient(steps: 400, damping: lambda).estimate(problem, perSample: false)
            #expect(GradientMetrics.compare(far.batchMean, exact).relativeError < 1e-6, "λ = \(lambda)")
        }
    }

    @Test("Neumann-RBP with k terms = NPG(k, 1); truncated BPTT through converged iterates equals UPG(K, 1)")
    func rbpAndBPTT() throws {
        let model = GradientFixtures.tanhModel()
        let (x, y) = GradientFixtures.inputs(model)
        // Plain iteration run far past convergence, recording its last iterates.
        let solver = try FixedPointConfiguration(method: .fixedPoint, stopping: .absolute(1e-13), maxIterations: 2000, recordedIterates: 4)
        let problem = GradientProblem(model: model, inputs: x, targets: y, solver: solver)
        #expect(problem.forward.recentIterates.count == 4)
        let rbp = try NeumannRBP(terms: 5).estimate(problem, perSample: false)
        let npg = try NeumannPhantomGradient(steps: 5, damping: 1).estimate(problem, perSample: false)
        #expect(relativeError(rbp.batchMean, npg.batchMean) <= 1e-15)
        let bptt = try TruncatedBPTT(steps: 4).estimate(problem, perSample: false)
        let upg = try UnrolledPhantomGradient(steps: 4, damping: 1).estimate(problem, perSample: false)
        #expect(relativeError(bptt.batchMean, upg.batchMean) <= 1e-9)
        #expect(throws: ConfigurationError.self) { try NeumannPhantomGradient(steps: 0, damping: 0.5) }
        #expect(throws: ConfigurationError.self) { try UnrolledPhantomGradient(steps: 3, damping: 1.5) }
        #expect(throws: ConfigurationError.self) { try NeumannPhantomGradient(steps: 2, damping: 0) }
    }

    @Test("training-mode UPG evaluates the loss at h_k")
    func trainingMode() throws {
        let model = GradientFixtures.tanhModel()
        let loose = GradientFixtures.problem(
            model, solver: try FixedPointConfiguration(method: .fixedPoint, stopping: .absolute(1e-2), maxIterations: 500))
        let training = try UnrolledPhantomGradient(steps: 5, damping: 0.5, mode: .training).estimate(loose, perSample: false)
        let analysis = try UnrolledPhantomGradient(steps: 5, damping: 0.5, mode: .analysis).estimate(loose, perSample: false)
        let loss = try #require(training.lossAtUnroll)
        #expect(abs(loss - loose.losses.reduce(0, +) / Double(loose.batchSize)) > 1e-8)
        #expect(relativeError(training.batchMean, analysis.batchMean) > 1e-8)
        #expect(training.headGradientAtUnroll?.count == model.head.layout.count)
    }
}
