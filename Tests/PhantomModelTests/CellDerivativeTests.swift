import PhantomLinearAlgebra
import PhantomModel
import PhantomTestSupport
import Testing

/// Central difference of a batch map along a direction.
private func centralDifference(_ f: (Double) -> Matrix, step: Double = 1e-6) -> Matrix {
    let plus = f(step), minus = f(-step)
    return (1 / (2 * step)) * (plus - minus)
}

private func frobeniusDot(_ a: Matrix, _ b: Matrix) -> Double { BLAS.dot(a.elements, b.elements) }

@Suite("Cell derivatives: finite differences, adjointness, batching")
struct CellDerivativeTests {
    let batch = 3

    func point(_ cell: any ImplicitCell, seed: UInt64 = 7) -> (h: Matrix, x: Matrix) {
        var rng = SplitMix64(seed: seed)
        return (
            Fixtures.gaussian(batch, cell.stateDimension, scale: 0.7, &rng),
            Fixtures.gaussian(batch, cell.inputDimension, &rng)
        )
    }

    @Test("JVP in the state equals a central finite difference", arguments: Fixtures.CellCase.allCases)
    func stateJVP(cellCase: Fixtures.CellCase) {
        let cell = cellCase.make()
        let (h, x) = point(cell)
        var rng = SplitMix64(seed: 8)
        let v = Fixtures.gaussian(batch, cell.stateDimension, &rng)
        let fd = centralDifference { t in cell.forward(state: h + t * v, input: x) }
        let jvp = cell.linearize(state: h, input: x).stateJVP(v)
        #expect(relativeError(jvp.elements, fd.elements) <= 1e-6)
    }

    @Test("JVP in the parameters equals a central finite difference", arguments: Fixtures.CellCase.allCases)
    func parameterJVP(cellCase: Fixtures.CellCase) {
        let cell = cellCase.make()
        let (h, x) = point(cell)
        var rng = SplitMix64(seed: 9)
        let dtheta = Fixtures.vector(cell.layout.count, &rng)
        let theta = cell.parameters
        let fd = centralDifference { t in
            var moved = cell
            moved.parameters = zip(theta, dtheta).map { $0 + t * $1 }
            return moved.forward(state: h, input: x)
        }
        let jvp = cell.linearize(state: h, input: x).parameterJVP(dtheta)
        #expect(relativeError(jvp.elements, fd.elements) <= 1e-6)
    }

    @Test(
        "VJPs in the state and the parameters equal coordinate-wise finite differences of ⟨u, f⟩",
        arguments: Fixtures.CellCase.allCases)
    func vjpByCoordinates(cellCase: Fixtures.CellCase) {
        let cell = cellCase.make()
        let (h, x) = point(cell)
        var rng = SplitMix64(seed: 10)
        let u = Fixtures.gaussian(batch, cell.stateDimension, &rng)
        let lin = cell.linearize(state: h, input: x)
        // State: ∂⟨u, f(H)⟩/∂H[i, j]
        var fdState = Matrix(zeros: batch, cell.stateDimension)
        for k in 0..<h.elements.count {
            var e = Matrix(zeros: batch, cell.stateDimension)
            e.elements[k] = 1
            fdState.elements[k] = frobeniusDot(u, centralDifference { t in cell.forward(state: h + t * e, input: x) })
        }
        #expect(relativeError(lin.stateVJP(u).elements, fdState.elements) <= 1e-6)
        // Parameters: ∂⟨u, f(θ)⟩/∂θ_k
        let theta = cell.parameters
        let fdTheta = (0..<theta.count).map { k in
            frobeniusDot(
                u,
                centralDifference { t in
                    var moved = cell
                    var p = theta
                    p[k] += t
                    moved.parameters = p
                    return moved.forward(state: h, input: x)
                })
        }
        #expect(relativeError(lin.parameterVJP(u), fdTheta) <= 1e-6)
    }

    @Test("adjointness ⟨Jv, u⟩ = ⟨v, Jᵀu⟩ and ⟨Mv, u⟩ = ⟨v, Mᵀu⟩ to 1e-12", arguments: Fixtures.CellCase.allCases)
    func adjointness(cellCase: Fixtures.CellCase) {
        let cell = cellCase.make()
        let (h, x) = point(cell)
        let lin = cell.linearize(state: h, input: x)
        var rng = SplitMix64(seed: 11)
        for _ in 0..<5 {
            let u = Fixtures.gaussian(batch, cell.stateDimension, &rng)
            let v = Fixtures.gaussian(batch, cell.stateDimension, &rng)
            let lhs = frobeniusDot(lin.stateJVP(v), u), rhs = frobeniusDot(v, lin.stateVJP(u))
            #expect(abs(lhs - rhs) <= 1e-12 * max(1, abs(lhs)))
            let dtheta = Fixtures.vector(cell.layout.count, &rng)
            let plhs = frobeniusDot(lin.parameterJVP(dtheta), u), prhs = BLAS.dot(dtheta, lin.parameterVJP(u))
            #expect(abs(plhs - prhs) <= 1e-12 * max(1, abs(plhs)))
        }
    }

    @Test(
        "batched products equal per-sample products; J_i dense equals its JVP columns",
        arguments: Fixtures.CellCase.allCases)
    func batchedEqualsPerSample(cellCase: Fixtures.CellCase) {
        let cell = cellCase.make()
        let (h, x) = point(cell)
        let lin = cell.linearize(state: h, input: x)
        var rng = SplitMix64(seed: 12)
        let v = Fixtures.gaussian(batch, cell.stateDimension, &rng)
        let dtheta = Fixtures.vector(cell.layout.count, &rng)
        let batchedJVP = lin.stateJVP(v), batchedVJP = lin.stateVJP(v), batchedM = lin.parameterJVP(dtheta)
        var summedMT = [Double](repeating: 0, count: cell.layout.count)
        let rowsMT = lin.parameterVJPRows(v)
        // Per-sample parameter tangents: row i of the batched JVP is M_i δθ_i (δθ_i distinct per sample).
        let dthetas = Fixtures.gaussian(batch, cell.layout.count, &rng)
        let rowsM = lin.parameterJVPRows(dthetas)
        for i in 0..<batch {
            let single = cell.linearize(state: h.selectingRows([i]), input: x.selectingRows([i]))
            #expect(relativeError(single.parameterJVP(dthetas.row(i)).elements, rowsM.row(i)) <= 1e-14)
        }
        for i in 0..<batch {
            let single = cell.linearize(state: h.selectingRows([i]), input: x.selectingRows([i]))
            let row = v.selectingRows([i])
            #expect(relativeError(single.value.elements, lin.value.row(i)) <= 1e-15)
            #expect(relativeError(single.stateJVP(row).elements, batchedJVP.row(i)) <= 1e-14)
            #expect(relativeError(single.stateVJP(row).elements, batchedVJP.row(i)) <= 1e-14)
            #expect(relativeError(single.parameterJVP(dtheta).elements, batchedM.row(i)) <= 1e-14)
            BLAS.axpy(1, single.parameterVJP(row), &summedMT)
            #expect(relativeError(rowsMT.row(i), single.parameterVJP(row)) <= 1e-14)
            let restricted = lin.restricted(toSample: i)
            #expect(relativeError(restricted.stateJVP(row).elements, batchedJVP.row(i)) <= 1e-14)
            let dense = lin.jacobian(sample: i)
            #expect(relativeError(dense.elements, lin.stateJacobian(sample: i).materialized().elements) <= 1e-14)
            #expect(relativeError(dense.transposed.elements, lin.stateJacobian(sample: i).transposed.materialized().elements) <= 1e-14)
        }
        #expect(relativeError(lin.parameterVJP(v), summedMT) <= 1e-13)
    }

    @Test("the loss gradient ∂L/∂logits equals finite differences (cross-entropy and MSE)")
    func lossGradient() {
        var rng = SplitMix64(seed: 13)
        let z = Fixtures.gaussian(4, 3, &rng)
        let targets: [Targets] = [.labels([0, 2, 1, 2]), .values(Fixtures.gaussian(4, 3, &rng))]
        for target in targets {
            let (_, gradient) = Loss.evaluate(logits: z, targets: target)
            let fd = (0..<z.elements.count).map { k -> Double in
                var plus = z, minus = z
                plus.elements[k] += 1e-6
                minus.elements[k] -= 1e-6
                return (Loss.evaluate(logits: plus, targets: target).value - Loss.evaluate(logits: minus, targets: target).value) / 2e-6
            }
            #expect(relativeError(gradient.elements, fd) <= 1e-6)
        }
        // log(3) for uniform logits
        #expect(abs(Loss.evaluate(logits: Matrix(zeros: 2, 3), targets: .labels([0, 1])).value - 1.0986122886681098) < 1e-15)
    }
}
