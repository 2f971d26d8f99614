import PhantomLinearAlgebra
import PhantomModel
import PhantomTestSupport
import Testing

/// Compares two linearizations of the same cell at the same point, product by product.
func expectSameLinearization(_ a: any CellLinearization, _ b: any CellLinearization, samples: Int, p: Int, tolerance: Double, _ label: String) {
    var rng = SplitMix64(seed: 11)
    let d = a.value.columns
    func close(_ x: [Double], _ y: [Double], _ what: String) {
        let error = relativeError(x, y)
        #expect(error <= tolerance, "\(label) \(what): \(error)")
    }
    close(a.value.elements, b.value.elements, "value")
    let v = gaussianMatrix(samples, d, &rng), u = gaussianMatrix(samples, d, &rng)
    close(a.stateJVP(v).elements, b.stateJVP(v).elements, "state JVP")
    close(a.stateVJP(u).elements, b.stateVJP(u).elements, "state VJP")
    close(a.parameterVJP(u), b.parameterVJP(u), "parameter VJP")
    let dtheta = (0..<p).map { _ in rng.nextGaussian() }
    close(a.parameterJVP(dtheta).elements, b.parameterJVP(dtheta).elements, "parameter JVP")
    let rows = gaussianMatrix(samples, p, &rng)
    close(a.parameterJVPRows(rows).elements, b.parameterJVPRows(rows).elements, "parameter JVP rows")
    close(a.parameterVJPRows(u).elements, b.parameterVJPRows(u).elements, "parameter VJP rows")
    close(a.parameterFactors(u).materialized.elements, b.parameterFactors(u).materialized.elements, "parameter factors")
    for c in [a, b] {
        let fu = c.parameterFactors(u), fv = c.parameterFactors(v)
        close(fu.rowInnerProducts(fv), fu.materialized.rowDots(fv.materialized), "factor inner products")
    }
    close(a.jacobian(sample: 1).elements, b.jacobian(sample: 1).elements, "Jacobian")
    close(a.restricted(toSamples: [2, 0]).stateVJP(u.selectingRows([2, 0])).elements, b.restricted(toSamples: [2, 0]).stateVJP(u.selectingRows([2, 0])).elements, "restricted VJP")
    close(a.parameterGram(sample: 0).elements, b.parameterGram(sample: 0).elements, "Gram")
    #expect((a.closedFormParameterGramDiagonal(sample: 2) == nil) == (b.closedFormParameterGramDiagonal(sample: 2) == nil), "\(label)")
    if let x = a.closedFormParameterGramDiagonal(sample: 2), let y = b.closedFormParameterGramDiagonal(sample: 2) { close(x, y, "closed-form Gram") }
    #expect((a.rowSeparableFactors(sample: 1) == nil) == (b.rowSeparableFactors(sample: 1) == nil), "\(label)")
    if let x = a.rowSeparableFactors(sample: 1), let y = b.rowSeparableFactors(sample: 1) {
        close(x.scale, y.scale, "separable scale")
        close(x.features, y.features, "separable features")
    }
    #expect(a.structuralGramNullSets(sample: 0) == b.structuralGramNullSets(sample: 0), "\(label)")
}

@Suite("Graph cells")
struct GraphCellTests {
    @Test("the tanh graph equals the hand-composed tanh cell")
    func tanhGraph() {
        let model = RandomModels.tanh(d: 7, n: 5, c: 3, norm: 0.9, injectionScale: 1, biasScale: 0.5, seed: 3)
        let graphCell = GraphCell(graph: BuiltinGraphs.tanh(stateDimension: 7, inputDimension: 5), parameters: model.cell.parameters)
        #expect(graphCell.layout == model.cell.layout)
        var rng = SplitMix64(seed: 5)
        let h = gaussianMatrix(4, 7, &rng), x = gaussianMatrix(4, 5, &rng)
        expectSameLinearization(
            graphCell.linearize(state: h, input: x), model.cell.linearize(state: h, input: x), samples: 4, p: model.cell.layout.count,
            tolerance: 1e-13, "tanh")
        #expect(relativeError(graphCell.forward(state: h, input: x).elements, model.cell.forward(state: h, input: x).elements) < 1e-15)
        // The closed forms of a row-separable cell are found in the graph; a gated cell has none.
        #expect(graphCell.linearize(state: h, input: x).closedFormParameterGramDiagonal(sample: 0) != nil)
        #expect(graphCell.linearize(state: h, input: x).rowSeparableFactors(sample: 0) != nil)
        let gated = TestGraphs.gatedModel(d: 7, n: 5).cell.linearize(state: h, input: x)
        #expect(gated.closedFormParameterGramDiagonal(sample: 0) == nil && gated.rowSeparableFactors(sample: 0) == nil)
    }

    @Test("the resmlp and mdeq graphs equal the hand-composed cells product by product")
    func resmlpAndMDEQGraphs() {
        let resmlp = RandomModels.resmlp(d: 6, n: 4, m: 9, c: 3, normCenter: 0.7, seed: 4)
        let g = MDEQCell.Geometry(channels: 4, inChannels: 2, height: 3, width: 5, expansion: 2, groups: 2)
        let mdeq = RandomModels.mdeq(g, c: 3, seed: 5)
        let cases: [(String, ImplicitModel, Graph)] = [
            ("resmlp", resmlp, BuiltinGraphs.resmlp(stateDimension: 6, inputDimension: 4, hiddenWidth: 9, normEpsilon: 1e-5)),
            ("mdeq", mdeq, BuiltinGraphs.mdeq(channels: 4, inChannels: 2, height: 3, width: 5, expansion: 2, groups: 2, normEpsilon: 1e-5)),
        ]
        for (label, model, graph) in cases {
            let cell = GraphCell(graph: graph, parameters: model.cell.parameters)
            #expect(cell.layout == model.cell.layout, "\(label)")
            var rng = SplitMix64(seed: 6)
            // Half the mdeq state negative, so that ReLUs are inactive and the structural null sets are not empty.
            let h = gaussianMatrix(4, model.stateDimension, &rng), x = gaussianMatrix(4, model.inputDimension, &rng)
            expectSameLinearization(
                cell.linearize(state: h, input: x), model.cell.linearize(state: h, input: x), samples: 4, p: model.cell.layout.count,
                tolerance: 1e-12, label)
        }
        var rng = SplitMix64(seed: 6)
        let h = gaussianMatrix(2, g.stateDimension, &rng), x = gaussianMatrix(2, g.inputDimension, &rng)
        let sets = GraphCell(graph: cases[1].2, parameters: mdeq.cell.parameters).linearize(state: h, input: x).structuralGramNullSets(sample: 0)
        #expect(!sets.isEmpty && sets == mdeq.cell.linearize(state: h, input: x).structuralGramNullSets(sample: 0))
    }
}
