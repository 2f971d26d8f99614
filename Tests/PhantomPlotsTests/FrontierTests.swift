import Foundation
import PhantomAnalysis
import PhantomGradients
import PhantomLinearAlgebra
import PhantomModel
import PhantomResults
import PhantomTestSupport
import Testing

@Suite("The frontier: the cheapest cell reaching a median cosine")
struct FrontierTests {
    @Test("is the minimum-cost cell at or above the threshold (brute force), and survives the results file")
    func cheapest() throws {
        let model = RandomModels.tanh(d: 6, n: 3, c: 2, norm: 0.8, injectionScale: 0.7, biasScale: 0.1, seed: 31)
        var rng = SplitMix64(seed: 32)
        let x = gaussianMatrix(10, 3, &rng)
        let configuration = try AnalysisConfiguration(
            ks: Array(1...8), lambdas: [0.3, 0.6, 1.0], estimators: [.upg, .npg, .jfb],
            adjoint: try AdjointSolver(method: .lu))
        let result = try Analyzer(configuration).analyze(
            model: model, inputs: x, targets: .labels((0..<10).map { $0 % 2 }),
            solver: try FixedPointConfiguration(stopping: .relative(1e-12)))
        let exact = result.exactCost
        let rhos = result.spectra.map(\.spectralRadius).sorted()
        func count(_ rho: Double) -> Double { (log(1e-10) / log(rho)).rounded(.up) + 1 }
        #expect(exact.isFinite && exact >= count(rhos.first!) && exact <= count(rhos.last!))
        for (e, id) in result.estimators.enumerated() {
            for (t, threshold) in Frontier.thresholds.enumerated() {
                var best: (cost: Int, median: Double)?
                for l in result.lambdas.indices {
                    for (kk, k) in result.ks.enumerated() {
                        let median = result.medianCosine(id, lambda: l, k: kk)
                        guard median >= threshold else { continue }
                        let cost = result.estimatorAxes[e].dependsOnK ? k : 1  // UPG, NPG: k VJPs; JFB: 1
                        if best == nil || cost < best!.cost || (cost == best!.cost && median > best!.median) { best = (cost, median) }
                    }
                }
                let cell = result.frontier[e][t]
                #expect(cell?.cost == best?.cost && cell?.medianCosine == best?.median, "\(id) \(threshold)")
                if let cell { #expect(abs(cell.costRatio - Double(cell.cost) / exact) < 1e-15) }
            }
        }
        let path = makeTemporaryFolder() + "/r.h5"
        try ResultsFile.write(
            [SeriesEntry(path: "m", sha256: "", epoch: 1, step: 1, result: result)], sampleIndices: Array(0..<10), to: path,
            overwrite: false, attributes: [:])
        let data = try ResultsData.read(path)
        #expect(data.thresholds == Frontier.thresholds)
        #expect(data.frontier[.cost]?.values.prefix(2).map { $0.isNaN ? nil : Int($0) } == result.frontier[0].map { $0?.cost })
        #expect(data.batch[.exactCost]?.values == [exact])
    }
}
