import PhantomLinearAlgebra
import PhantomModel
import PhantomTestSupport
import Testing

@Suite("Fixed-point diagnostics")
struct DiagnosticsTests {
    @Test("matrix-free ‖J‖₂ and ρ(J) agree with the dense LAPACK route", arguments: Fixtures.CellCase.allCases)
    func denseVersusMatrixFree(cellCase: Fixtures.CellCase) throws {
        let cell: any ImplicitCell =
            cellCase == .tanh
            ? Fixtures.tanhCell(d: 48, n: 6, norm: 0.9)
            : Fixtures.resmlpCell(d: 48, n: 6, m: 32)
        let model = Fixtures.model(cell)
        var rng = SplitMix64(seed: 40)
        let x = Fixtures.gaussian(3, 6, &rng)
        let solution = model.solve(x, try FixedPointConfiguration(stopping: .absolute(1e-12), maxIterations: 500))
        #expect(solution.allConverged)
        let dense = FixedPointDiagnostics.compute(model: model, states: solution.states, inputs: x, denseLimit: 256)
        let free = FixedPointDiagnostics.compute(model: model, states: solution.states, inputs: x, denseLimit: 0)
        for (a, b) in zip(dense, free) {
            #expect(a.dense && !b.dense)
            #expect(abs(a.jacobianNorm - b.jacobianNorm) <= 1e-7 * a.jacobianNorm)
            #expect(abs(a.spectralRadius - b.spectralRadius) <= 1e-6 * max(a.spectralRadius, 1e-3))
            #expect(a.residual <= 1e-12)
            #expect(a.spectralRadius <= a.jacobianNorm * (1 + 1e-12))
        }
    }

    @Test("tanh: ‖J‖₂ at h* = 0 with zero input is ‖W‖₂, and ρ(J) is W's spectral radius")
    func closedForm() throws {
        let d = 12
        let cell = TanhCell(
            injectionWeight: Matrix(zeros: d, 2), injectionBias: [Double](repeating: 0, count: d),
            cellWeight: Fixtures.tanhCell(d: d, n: 2, norm: 0.7).cellWeight)
        let model = Fixtures.model(cell)
        let h = Matrix(zeros: 1, d), x = Matrix(zeros: 1, 2)  // h* = 0 exactly: tanh(0) = 0
        let diagnostic = try #require(FixedPointDiagnostics.compute(model: model, states: h, inputs: x).first)
        #expect(abs(diagnostic.jacobianNorm - 0.7) < 1e-13)
        #expect(abs(diagnostic.spectralRadius - (try cell.cellWeight.spectralRadius())) < 1e-13)
        #expect(diagnostic.residual == 0)
    }
}
