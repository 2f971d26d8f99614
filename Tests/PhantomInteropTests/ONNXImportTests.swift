import Foundation
import PhantomFileSystem
import PhantomGradients
import PhantomInterop
import PhantomLinearAlgebra
import PhantomModel
import PhantomModelIO
import PhantomONNX
import PhantomTestSupport
import Testing

@Suite("ONNX import and export")
struct ONNXImportTests {
    static let builtins: [(String, ImplicitModel)] = [
        ("tanh", RandomModels.tanh(d: 6, n: 3, c: 3, norm: 0.8, injectionScale: 0.7, biasScale: 0.1, seed: 1)),
        ("resmlp", RandomModels.resmlp(d: 6, n: 3, m: 8, c: 3, normCenter: 0.6, seed: 2)),
        (
            "mdeq",
            RandomModels.mdeq(MDEQCell.Geometry(channels: 2, inChannels: 1, height: 3, width: 2, expansion: 2, groups: 1), c: 3, seed: 4)
        )
    ]

    static func roundTrip(_ model: ImplicitModel) throws -> ImplicitModel {
        let bytes = try ONNXFile.encode(ONNXExporter.export(model))
        let snapshot = FileSnapshot(path: "model.onnx", bytes: bytes)
        return try ONNXImporter.importModel(ONNXFile.read(snapshot), path: "model.onnx")
    }

    @Test("a built-in model exported to ONNX and imported again gives the built-in's results", arguments: [0, 1, 2])
    func builtinRoundTrip(_ k: Int) throws {
        let (name, model) = ONNXImportTests.builtins[k]
        let imported = try ONNXImportTests.roundTrip(model)
        #expect(imported.cell.layout.specs.map(\.name) == model.cell.layout.specs.map(\.name), "\(name)")
        #expect(imported.cell.parameters == model.cell.parameters && imported.head.parameters == model.head.parameters, "\(name)")
        var rng = SplitMix64(seed: 7)
        let x = gaussianMatrix(4, model.inputDimension, &rng)
        let solver = try FixedPointConfiguration(method: .anderson, stopping: .absolute(1e-13), maxIterations: 1000)
        let targets = Targets.labels([0, 1, 2, 0])
        let ours = GradientProblem(model: model, inputs: x, targets: targets, solver: solver)
        let theirs = GradientProblem(model: imported, inputs: x, targets: targets, solver: solver)
        #expect(relativeError(ours.states.elements, theirs.states.elements) <= 1e-12, "\(name): h*")
        #expect(relativeError(ours.losses, theirs.losses) <= 1e-12, "\(name): loss")
        let v = gaussianMatrix(4, model.stateDimension, &rng)
        #expect(relativeError(ours.linearization.stateJVP(v).elements, theirs.linearization.stateJVP(v).elements) <= 1e-12, "\(name): J v")
        #expect(relativeError(ours.linearization.parameterVJP(v), theirs.linearization.parameterVJP(v)) <= 1e-12, "\(name): Mᵀ u")
        let exact = ExactGradient(solver: try AdjointSolver(method: .lu, tolerance: 1e-13))
        #expect(
            relativeError(exact.estimate(ours, perSample: false).batchMean, exact.estimate(theirs, perSample: false).batchMean) <= 1e-12)
        let upg = try UnrolledPhantomGradient(steps: 3, damping: 0.5)
        #expect(relativeError(upg.estimate(ours, perSample: false).batchMean, upg.estimate(theirs, perSample: false).batchMean) <= 1e-12)
        #expect(relativeError(ours.headGradient, theirs.headGradient) <= 1e-12, "\(name): head gradient")
    }

    @Test("the sidecar (external data) and the inline file give the same model")
    func sidecarEqualsInline() throws {
        let inline = try ModelFile.load(ONNXFixtures.path("gated.onnx")).model
        let external = try ModelFile.load(ONNXFixtures.path("gated-external.onnx")).model
        #expect(inline.cell.parameters == external.cell.parameters)
        #expect(inline.head.parameters == external.head.parameters)
        #expect(inline.allSpecs.map(\.name) == external.allSpecs.map(\.name))
        let a = try #require(ModelShape(of: inline).graph), b = try #require(ModelShape(of: external).graph)
        #expect(a == b)
    }

    @Test("exporting an imported model with its file as template keeps the graph and writes the new parameters")
    func templateExport() throws {
        let path = ONNXFixtures.path("mondeq.onnx")
        var model = try ModelFile.load(path).model
        model.cell.parameters = model.cell.parameters.map { $0 * 0.5 }
        let template = try ONNXFile.read(path)
        let written = try ONNXExporter.export(model, template: template, templatePath: path)
        #expect(written.graph.nodes == template.graph.nodes)
        let again = try ONNXImporter.importModel(
            ONNXFile.read(FileSnapshot(path: path, bytes: try ONNXFile.encode(written))), path: path)
        #expect(again.cell.parameters == model.cell.parameters)
        #expect(again.head.parameters == model.head.parameters)
    }
}
