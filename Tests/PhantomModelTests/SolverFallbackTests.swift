import Foundation
import PhantomLinearAlgebra
import PhantomModel
import PhantomTestSupport
import Testing

@Suite("The forward solve's fallback chain (.auto)")
struct SolverFallbackTests {
    func relativeResiduals(_ model: ImplicitModel, _ s: FixedPointSolution, _ x: Matrix) -> [Double] {
        let f = model.cell.forward(state: s.states, input: x)
        return zip((f - s.states).rowNorms, f.rowNorms).map { $0 / ($1 + 1e-12) }
    }

    @Test("a non-normal model where Anderson stalls converges by default; Anderson alone reports it unconverged")
    func andersonStalls() throws {
        let (model, x) = SolverModels.nonNormal()
        let anderson = model.solve(x, try FixedPointConfiguration(method: .anderson, stopping: .relative(1e-10), maxIterations: 200))
        let stalled = (0..<x.rows).filter { !anderson.statuses[$0].isConverged }
        #expect(!stalled.isEmpty, "the fixture no longer makes Anderson stall")
        #expect(stalled.allSatisfy { anderson.residuals[$0] > 1e-4 })
        let auto = model.solve(x, try FixedPointConfiguration(stopping: .relative(1e-10), maxIterations: 200))
        #expect(auto.allConverged, "\(auto.statuses) \(auto.residuals)")
        #expect(relativeResiduals(model, auto, x).allSatisfy { $0 <= 1e-10 })
        // The stalled samples were finished by a later method; the others by Anderson itself.
        #expect(stalled.allSatisfy { auto.methods[$0] != .anderson })
        #expect((0..<x.rows).filter { !stalled.contains($0) }.allSatisfy { auto.methods[$0] == .anderson })
        #expect(auto.lastResiduals.count == x.rows)
    }

    @Test("a repelling fixed point is never reported as an attractive converged one, and does not hold up the batch")
    func repelling() throws {
        let (model, x) = SolverModels.oneRepelling()
        let solution = model.solve(x, try FixedPointConfiguration(stopping: .relative(1e-10), maxIterations: 200))
        #expect((1..<x.rows).allSatisfy { solution.statuses[$0].isConverged })
        let jacobian = model.cell.linearize(state: solution.states, input: x).jacobian(sample: 0)
        let radius = try jacobian.spectralRadius()
        // Either no method reached it, or it was reached and is reported for what it is.
        if solution.statuses[0].isConverged {
            #expect(radius >= 1, "converged at ρ(J) = \(radius)")
        } else {
            #expect(solution.statuses[0] != .converged)
        }
        // Newton polish reaches it and flags it.
        if solution.methods[0] == .newton, solution.residuals[0] <= 1e-10 { #expect(solution.statuses[0] == .unstable) }
        print("repelling sample: \(solution.statuses[0]) by \(solution.methods[0]), residual \(solution.residuals[0]), ρ(J) = \(radius)")
        // Plain iteration never converges there.
        let plain = model.solve(x, try FixedPointConfiguration(method: .fixedPoint, stopping: .relative(1e-10), maxIterations: 200))
        #expect(!plain.statuses[0].isConverged)
    }

    @Test("the budget is per sample: easy samples take the same iterations with or without a hard one in the batch")
    func perSampleBudget() throws {
        let (model, x) = SolverModels.oneRepelling()
        let configuration = try FixedPointConfiguration(stopping: .relative(1e-10), maxIterations: 200)
        let together = model.solve(x, configuration)
        let alone = model.solve(x.selectingRows([1, 2, 3]), configuration)
        #expect(Array(together.iterations[1...]) == alone.iterations)
        #expect(together.iterations[0] > alone.iterations.max()!)
    }

    @Test("results are bit-identical at 1 and 2 BLAS threads", arguments: [FixedPointMethod.auto, .anderson, .broyden])
    func threadCount(method: FixedPointMethod) throws {
        let (model, x) = SolverModels.nonNormal()
        let configuration = try FixedPointConfiguration(method: method, stopping: .relative(1e-10), maxIterations: 200)
        let one = BLASInfo.withThreads(1) { model.solve(x, configuration) }
        let two = BLASInfo.withThreads(2) { model.solve(x, configuration) }
        #expect(one.states.elements == two.states.elements)
        #expect(one.iterations == two.iterations && one.methods == two.methods && one.statuses == two.statuses)
    }

    @Test("a batch large enough for threaded GEMMs (d = 256, B = 96) solves bit-identically at 1 and 2 BLAS threads")
    func threadCountLarge() throws {
        let model = RandomModels.tanh(d: 256, n: 16, c: 3, norm: 0.95, injectionScale: 0.5, biasScale: 0.1, seed: 41)
        var rng = SplitMix64(seed: 42)
        let x = gaussianMatrix(96, 16, &rng)
        let configuration = try FixedPointConfiguration(stopping: .relative(1e-12), maxIterations: 300)
        let one = BLASInfo.withThreads(1) { model.solve(x, configuration) }
        let two = BLASInfo.withThreads(2) { model.solve(x, configuration) }
        #expect(one.allConverged)
        #expect(one.states.elements == two.states.elements && one.iterations == two.iterations)
    }
}

@Suite("Slow contraction near ρ(J) = 1 (.auto)")
struct SlowContractionTests {
    /// f(h) = A tanh(h) + c per row with A = ρ·(a rotation by small angles in 2×2 blocks) and a spread of moduli: ρ(J) at
    /// the fixed point is just below ρ, so plain iteration contracts by about ρ per step and Anderson steadily but slowly.
    static func map(d: Int, rho: Double) -> @Sendable (Matrix) -> Matrix {
        var rng = SplitMix64(seed: 7)
        var a = Matrix(zeros: d, d)
        for block in 0..<(d / 2) {
            let modulus = rho * (1 - 0.5 * Double(block) / Double(d)), angle = 0.3 * rng.nextGaussian()
            let (i, j) = (2 * block, 2 * block + 1)
            a[i, i] = modulus * cos(angle); a[i, j] = -modulus * sin(angle)
            a[j, i] = modulus * sin(angle); a[j, j] = modulus * cos(angle)
        }
        let c = (0..<d).map { _ in 0.05 * rng.nextGaussian() }
        let matrix = a
        return { h in
            var out = Matrix(zeros: h.rows, d)
            for r in 0..<h.rows {
                let t = h.row(r).map { Foundation.tanh($0) }
                for i in 0..<d {
                    var s = c[i]
                    for j in 0..<d { s += matrix[i, j] * t[j] }
                    out[r, i] = s
                }
            }
            return out
        }
    }

    @Test("an Anderson stage that still improves goes on past its iterations, on the later stages' budget")
    func andersonContinues() throws {
        let f = Self.map(d: 40, rho: 0.999)
        let initial = Matrix(zeros: 2, 40)
        // Anderson alone needs 305 iterations here.
        let auto = FixedPointSolver(try FixedPointConfiguration(stopping: .relative(1e-10), maxIterations: 200)).solve(initial: initial, f)
        #expect(auto.allConverged, "\(auto.statuses) \(auto.residuals)")
        #expect(
            auto.iterations.allSatisfy { $0 > 200 } && auto.methods.allSatisfy { $0 == .anderson }, "\(auto.iterations) \(auto.methods)")
        // With 40 iterations per stage the whole budget of 120 goes to Anderson (never stalled), reported as such.
        let short = FixedPointSolver(try FixedPointConfiguration(stopping: .relative(1e-10), maxIterations: 40)).solve(initial: initial, f)
        #expect(short.methods.allSatisfy { $0 == .anderson } && short.iterations.allSatisfy { $0 == 120 }, "\(short.methods)")
        #expect(short.statuses.allSatisfy { $0 == .maximumIterationsReached }, "\(short.statuses)")
        let anderson = FixedPointSolver(try FixedPointConfiguration(method: .anderson, stopping: .relative(1e-10), maxIterations: 120))
            .solve(initial: initial, f)
        #expect(!anderson.allConverged, "the fixture converges within 3 × 40 Anderson iterations")
    }
}
