import Foundation
import PhantomHDF5
import PhantomLinearAlgebra
import PhantomModel
import PhantomModelIO
import PhantomResults
import PhantomTestSupport
import Testing

/// A user-defined graph cell through the executable: inspect prints its graph, analyze runs the whole pipeline on it.
@Suite("Graph checkpoints through phantom")
struct GraphCommandTests {
    let phantom = phantomExecutable()

    @Test("inspect prints the graph; analyze measures and certifies a gated graph cell on the digits")
    func inspectAndAnalyze() throws {
        let folder = makeTemporaryFolder()
        let checkpoint = folder + "/gated.h5"
        try Checkpoint(model: TestGraphs.gatedModel(d: 8, n: 64, c: 10, seed: 4), dataset: "digits", epoch: 0).save(to: checkpoint)
        let inspect = try runProgram(phantom, ["inspect", checkpoint])
        #expect(inspect.status == 0, "\(inspect.stderr)")
        #expect(inspect.stdout.contains("cell        graph (n_in = 64, d = 8, c = 10)"))
        #expect(inspect.stdout.contains("graph       17 nodes; h [8], x [64]; d = 8, p = 1752 in 9 tensors"))
        #expect(inspect.stdout.contains("  keep = Sub(one, z) → [8]"))
        #expect(
            inspect.stdout.contains("  uz   = Gemm(x, gate_z.U, gate_z.b) {alpha=1.0, beta=1.0, transA=0, transB=1} → [8], 520 parameters"))
        let out = folder + "/results.h5"
        let analyze = try runProgram(
            phantom, ["analyze", checkpoint, "--samples", "6", "--k", "1,3", "--lambda", "0.5,1", "--certify-samples", "2", "-o", out])
        #expect(analyze.status == 0, "\(analyze.stderr)")
        let results = try ResultsData.read(out)
        let cosine = try #require(results.cells[.cosine])
        #expect(cosine.values.filter(\.isFinite).allSatisfy { $0 > 0 && $0 <= 1 + 1e-12 })
        #expect(cosine.values.filter(\.isFinite).count >= cosine.values.count / 2)
    }
}
