import PhantomLinearAlgebra
import PhantomModel
import PhantomTestSupport
import Testing

@Suite("Graph cells: structure found in the graph")
struct GraphCellTests {
    static func point(_ model: ImplicitModel, samples: Int = 3, seed: UInt64 = 5) -> any CellLinearization {
        var rng = SplitMix64(seed: seed)
        let h = gaussianMatrix(samples, model.stateDimension, &rng), x = gaussianMatrix(samples, model.inputDimension, &rng)
        return model.cell.linearize(state: h, input: x)
    }

    @Test("tanh: the closed-form Gram diagonal and row factors equal the dense M_i from parameter VJPs")
    func rowSeparable() throws {
        let model = RandomModels.tanh(d: 7, n: 5, c: 3, norm: 0.9, injectionScale: 1, biasScale: 0.5, seed: 3)
        let lin = Self.point(model)
        for i in 0..<3 {
            let m = lin.parameterJacobian(sample: i)
            let gram = BLAS.gemm(m, m, transposeB: true)
            let diagonal = try #require(lin.closedFormParameterGramDiagonal(sample: i))
            #expect(relativeError(diagonal, (0..<7).map { gram[$0, $0] }) < 1e-13)
            // Off the diagonal the Gram of a row-separable cell is zero.
            #expect((0..<7).allSatisfy { r in (0..<7).allSatisfy { c in r == c || abs(gram[r, c]) < 1e-13 } })
            for j in 0..<3 {
                let (si, fi) = try #require(lin.rowSeparableFactors(sample: i)), (sj, fj) = try #require(lin.rowSeparableFactors(sample: j))
                let cross = BLAS.gemm(m, lin.parameterJacobian(sample: j), transposeB: true)
                let dot = BLAS.dot(fi, fj)
                #expect(relativeError((0..<7).map { si[$0] * sj[$0] * dot }, (0..<7).map { cross[$0, $0] }) < 1e-13)
            }
        }
        // A cell that is not row-separable has neither.
        let gated = Self.point(TestGraphs.gatedModel(d: 7, n: 5))
        #expect(gated.closedFormParameterGramDiagonal(sample: 0) == nil && gated.rowSeparableFactors(sample: 0) == nil)
    }

    @Test("mdeq: every structural null set of G found in the graph is a set of equal rows of the dense M_i")
    func structuralNullSets() {
        let g = MDEQCell.Geometry(channels: 4, inChannels: 2, height: 3, width: 5, expansion: 2, groups: 2)
        let lin = Self.point(RandomModels.mdeq(g, c: 3, seed: 5), samples: 2, seed: 6)
        var found = 0
        for i in 0..<2 {
            let m = lin.parameterJacobian(sample: i)
            for set in lin.structuralGramNullSets(sample: i) {
                found += 1
                for j in set.dropFirst() { #expect(m.row(j) == m.row(set[0]) || relativeError(m.row(j), m.row(set[0])) < 1e-13) }
            }
        }
        #expect(found > 0)
    }
}
