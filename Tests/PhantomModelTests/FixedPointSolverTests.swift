import PhantomLinearAlgebra
import PhantomModel
import PhantomTestSupport
import Testing

@Suite("Forward fixed-point solvers")
struct FixedPointSolverTests {
    static let methods = FixedPointMethod.allCases

    /// Independent check: ‖f(h) − h‖ per sample at the returned states.
    func recomputedResiduals(_ cell: any ImplicitCell, _ solution: FixedPointSolution, _ x: Matrix) -> [Double] {
        (cell.forward(state: solution.states, input: x) - solution.states).rowNorms
    }

    @Test("each solver reaches ‖f(h) − h‖ ≤ 1e-10 on a contractive tanh cell (‖W‖₂ = 0.9)", arguments: methods)
    func contractive(method: FixedPointMethod) throws {
        let cell = Fixtures.tanhCell(d: 32, n: 8, norm: 0.9)
        var rng = SplitMix64(seed: 30)
        let x = Fixtures.gaussian(6, 8, &rng)
        let configuration = try FixedPointConfiguration(method: method, stopping: .absolute(1e-10), maxIterations: 500)
        let model = Fixtures.model(cell)
        let solution = model.solve(x, configuration)
        #expect(solution.allConverged)
        let residuals = recomputedResiduals(cell, solution, x)
        #expect(residuals.allSatisfy { $0 <= 1e-10 })
        #expect(zip(residuals, solution.absoluteResiduals).allSatisfy { abs($0 - $1) <= 1e-15 + 1e-8 * $1 })
        #expect(solution.traces.allSatisfy { !$0.isEmpty && $0.count <= 500 })
    }

    @Test("near the edge of stability the Newton polish converges, or names its linear solve as the reason it did not")
    func newtonLinearSolve() throws {
        // ‖W‖₂ = 0.999: the iterations run out after 4 steps; Newton with GMRES (the dense limit set to 0) finishes.
        let cell = Fixtures.tanhCell(d: 24, n: 6, norm: 0.999)
        var rng = SplitMix64(seed: 31)
        let x = Fixtures.gaussian(4, 6, &rng)
        var configuration = try FixedPointConfiguration(
            method: .auto, stopping: .absolute(1e-10), maxIterations: 4, newtonSteps: 10, denseNewtonLimit: 0)
        let model = Fixtures.model(cell)
        let solved = model.solve(x, configuration)
        #expect(solved.allConverged, "\(solved.statuses)")
        #expect(recomputedResiduals(cell, solved, x).allSatisfy { $0 <= 1e-10 })
        #expect(solved.methods.contains(.newton))
        // The same with GMRES allowed one iteration per step: short of its tolerance, and the status says so.
        configuration.newtonLinearIterations = 1
        let short = model.solve(x, configuration)
        let unconverged = short.statuses.indices.filter { !short.statuses[$0].isConverged }
        #expect(!unconverged.isEmpty)
        #expect(unconverged.allSatisfy { short.statuses[$0] == .linearSolveShort }, "\(short.statuses)")
        #expect(SolverStatus.linearSolveShort.description.contains("linear solve"))
    }

    @Test("Anderson and Broyden need fewer f-evaluations than plain iteration on a slowly contracting cell")
    func accelerationPays() throws {
        // W symmetric with eigenvalues in [−0.2, 0.995]: plain iteration contracts by ≈ 0.99 per step.
        let d = 40
        var rng = SplitMix64(seed: 31)
        let q = try #require(try SymmetricEigen(Fixtures.gaussian(d, d, &rng) + Fixtures.gaussian(d, d, &rng).transposed).vectors)
        let eigenvalues = (0..<d).map { 0.995 - 1.195 * Double($0) / Double(d - 1) }
        let w = q * Matrix.diagonal(eigenvalues) * q.transposed
        let cell = TanhCell(
            injectionWeight: Fixtures.gaussian(d, 4, scale: 0.05, &rng),
            injectionBias: Fixtures.vector(d, scale: 0.01, &rng), cellWeight: w)
        let x = Fixtures.gaussian(4, 4, &rng)
        var counts: [FixedPointMethod: Int] = [:]
        for method in FixedPointMethod.allCases {
            let configuration = try FixedPointConfiguration(method: method, stopping: .absolute(1e-10), maxIterations: 5000)
            let solution = Fixtures.model(cell).solve(x, configuration)
            #expect(solution.allConverged, "\(method) did not converge")
            counts[method] = solution.iterations.max()
        }
        print(
            "f-evaluations to 1e-10 on a slowly contracting tanh cell (d = 40): "
                + FixedPointMethod.allCases.map { "\($0.rawValue) \(counts[$0] ?? -1)" }.joined(separator: ", "))
        let plain = try #require(counts[.fixedPoint])
        #expect(try #require(counts[.anderson]) * 3 < plain)
        #expect(try #require(counts[.broyden]) * 3 < plain)
    }

    @Test("plain iteration on a cell with ρ(J) > 1 at its fixed point is reported unconverged")
    func expansiveCell() throws {
        // f(h) = tanh(−1.5 h + 0.05): one fixed point near 0 with J ≈ −1.5 there; iteration falls into a 2-cycle.
        let d = 4
        let cell = TanhCell(
            injectionWeight: Matrix(zeros: d, 1), injectionBias: [Double](repeating: 0.05, count: d),
            cellWeight: -1.5 * Matrix.identity(d))
        let x = Matrix(zeros: 3, 1)
        let configuration = try FixedPointConfiguration(method: .fixedPoint, stopping: .absolute(1e-10), maxIterations: 300)
        let solution = Fixtures.model(cell).solve(x, configuration)
        #expect(!solution.allConverged)
        #expect(solution.statuses.allSatisfy { $0 == .stagnation || $0 == .maximumIterationsReached })
        #expect(solution.residuals.allSatisfy { $0 > 1e-3 })
        let lin = cell.linearize(state: solution.states, input: x)
        #expect(try lin.jacobian(sample: 0).spectralRadius() > 1)
    }

    @Test("NaN input and NaN iterates are reported, never as converged")
    func nonFinite() throws {
        let configuration = try FixedPointConfiguration(method: .anderson, stopping: .absolute(1e-10), maxIterations: 50)
        let solver = FixedPointSolver(configuration)
        let nanStart = solver.solve(initial: Matrix(rowArrays: [[.nan, 0]])) { $0 }
        #expect(nanStart.statuses == [.nonFiniteInput])
        // A map that produces NaN for the second sample only.
        let mixed = solver.solve(initial: Matrix(zeros: 2, 2)) { h in
            var out = h.map { 0.5 * $0 + 1 }
            out[1, 0] = .nan
            return out
        }
        #expect(mixed.statuses == [.converged, .nonFiniteIterate])
        #expect(abs(mixed.states[0, 0] - 2) < 1e-9)
    }

    @Test("the relative criterion is ‖f(h) − h‖/(‖f(h)‖ + 1e-12) and the best iterate is returned")
    func relativeCriterion() throws {
        let configuration = try FixedPointConfiguration(method: .fixedPoint, stopping: .relative(1e-6), maxIterations: 200)
        // f(h) = 0.5 h + 100: fixed point 200; relative residual hits 1e-6 long before the absolute one.
        let solution = FixedPointSolver(configuration).solve(initial: Matrix(zeros: 1, 1)) { $0.map { 0.5 * $0 + 100 } }
        #expect(solution.allConverged)
        let h = solution.states[0, 0], fh = 0.5 * h + 100
        #expect(abs(solution.residuals[0] - abs(fh - h) / (abs(fh) + 1e-12)) < 1e-15)
        #expect(solution.residuals[0] <= 1e-6 && solution.absoluteResiduals[0] > 1e-6)
    }

    @Test("invalid settings are rejected when the configuration is built")
    func configurationChecks() {
        #expect(throws: ConfigurationError.self) { try FixedPointConfiguration(stopping: .absolute(0)) }
        #expect(throws: ConfigurationError.self) { try FixedPointConfiguration(stopping: .relative(.nan)) }
        #expect(throws: ConfigurationError.self) { try FixedPointConfiguration(maxIterations: 0) }
        #expect(throws: ConfigurationError.self) { try FixedPointConfiguration(damping: 1.5) }
        #expect(throws: ConfigurationError.self) { try FixedPointConfiguration(andersonMemory: 0) }
        #expect(throws: ConfigurationError.self) { try FixedPointConfiguration(andersonMixing: 0) }
        #expect(throws: ConfigurationError.self) { try FixedPointConfiguration(broydenMemory: 0) }
    }

    @Test("the resmlp cell's fixed point is found by Anderson and Broyden", arguments: [FixedPointMethod.anderson, .broyden])
    func resmlp(method: FixedPointMethod) throws {
        let cell = Fixtures.resmlpCell(d: 16, n: 4, m: 24)
        var rng = SplitMix64(seed: 32)
        let x = Fixtures.gaussian(5, 4, &rng)
        let solution = Fixtures.model(cell).solve(
            x, try FixedPointConfiguration(method: method, stopping: .absolute(1e-10), maxIterations: 300))
        #expect(solution.allConverged)
        #expect(recomputedResiduals(cell, solution, x).allSatisfy { $0 <= 1e-10 })
    }
}
