import PhantomGradients
import PhantomLinearAlgebra
import PhantomModel
import PhantomTestSupport
import Testing

@Suite("The exact implicit gradient")
struct ExactGradientTests {
    @Test("equals a central finite difference of the loss in every parameter", arguments: GradientFixtures.ModelCase.allCases)
    func finiteDifferences(modelCase: GradientFixtures.ModelCase) throws {
        let model = modelCase.model
        let (x, y) = GradientFixtures.inputs(model)
        let problem = GradientProblem(model: model, inputs: x, targets: y, solver: GradientFixtures.tightSolver())
        #expect(problem.forward.allConverged)
        let exact = GradientFixtures.exact(problem)
        #expect(exact.isReliable)
        func loss(_ theta: [Double]) -> Double {
            var moved = model
            moved.cell.parameters = theta
            let solution = moved.solve(x, GradientFixtures.tightSolver())
            let logits = moved.head.logits(solution.states)
            return Loss.evaluate(logits: logits, targets: y).value
        }
        let theta = model.cell.parameters
        let step = 1e-6
        let fd = (0..<theta.count).map { k -> Double in
            var plus = theta, minus = theta
            plus[k] += step
            minus[k] -= step
            return (loss(plus) - loss(minus)) / (2 * step)
        }
        #expect(relativeError(exact.batchMean, fd) <= 1e-6)
        // The batch mean is the mean of the per-sample gradients.
        let rows = try #require(exact.perSample)
        let mean = rows.columnSums.map { $0 / Double(rows.rows) }
        #expect(relativeError(mean, exact.batchMean) <= 1e-13)
    }

    @Test(
        "the LU, GMRES and fixed-point adjoints agree to 1e-9 and report their residuals",
        arguments: GradientFixtures.ModelCase.allCases)
    func adjointsAgree(modelCase: GradientFixtures.ModelCase) throws {
        let problem = GradientFixtures.problem(modelCase.model)
        let lu = GradientFixtures.exact(problem, .lu)
        for method in [AdjointMethod.gmres, .fixedPoint] {
            let other = GradientFixtures.exact(problem, method)
            let adjoint = try #require(other.adjoint)
            #expect(adjoint.allConverged, "\(method)")
            #expect(adjoint.method == method)
            #expect(adjoint.relativeResiduals.allSatisfy { $0 <= 1e-12 })
            #expect(relativeError(other.batchMean, lu.batchMean) <= 1e-9)
            #expect(relativeError(try #require(other.perSample).elements, try #require(lu.perSample).elements) <= 1e-9)
        }
        #expect(try #require(lu.adjoint).method == .lu)
        #expect(GradientFixtures.exact(problem, .auto).adjoint?.method == .lu)  // d ≤ 512
    }

    @Test(
        "an exact solve with I − J singular is reported unconverged, never as exact",
        arguments: [AdjointMethod.lu, .gmres, .fixedPoint])
    func nearlySingular(method: AdjointMethod) throws {
        // h* = 0 (x = 0, b = 0), so J = W exactly; W symmetric with eigenvalue 1 makes I − J singular.
        let d = 8
        var rng = SplitMix64(seed: 60)
        let r = GradientFixtures.gaussian(d, d, &rng)
        let q = try #require(try SymmetricEigen(r + r.transposed).vectors)
        let w = q * Matrix.diagonal((0..<d).map { $0 == 0 ? 1 : 0.5 - 0.05 * Double($0) }) * q.transposed
        let cell = TanhCell(injectionWeight: Matrix(zeros: d, 2), injectionBias: [Double](repeating: 0, count: d), cellWeight: w)
        let model = ImplicitModel(cell: cell, head: OutputHead(weight: GradientFixtures.gaussian(3, d, &rng), bias: [0.3, -0.2, 0.1]))
        let problem = GradientProblem(
            model: model, inputs: Matrix(zeros: 2, 2), targets: .labels([0, 1]),
            solver: GradientFixtures.tightSolver())
        #expect(problem.forward.allConverged)
        let estimate = ExactGradient(solver: try AdjointSolver(method: method, tolerance: 1e-10, maxIterations: 300)).estimate(
            problem, perSample: false)
        let adjoint = try #require(estimate.adjoint)
        #expect(!estimate.isReliable)
        #expect(adjoint.statuses.allSatisfy { !$0.isConverged })
        #expect(adjoint.relativeResiduals.allSatisfy { !($0 <= 1e-10) })
    }
}
