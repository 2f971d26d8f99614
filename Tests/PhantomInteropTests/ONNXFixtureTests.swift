import Foundation
import PhantomGradients
import PhantomInterop
import PhantomLinearAlgebra
import PhantomModel
import PhantomModelIO
import PhantomTestSupport
import Testing

/// The committed ONNX fixtures (notebooks-data/scripts/make_onnx_fixtures.py: PyTorch float64 modules exported with
/// `torch.onnx.export(..., dynamo=True, optimize=False)`) against the values PyTorch computed for them.
enum ONNXFixtures {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/onnx")
    static let models = ["mdeq2", "attention", "gated", "mondeq"]

    static func path(_ name: String) -> String { folder.appendingPathComponent(name).path }

    static func expected(_ name: String) throws -> [String: Any] {
        let data = try Data(contentsOf: folder.appendingPathComponent("\(name).expected.json"))
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    static func doubles(_ any: Any?) throws -> [Double] {
        let list = try #require(any as? [Any])
        return try list.map { try #require(($0 as? NSNumber)?.doubleValue) }
    }

    static func row(_ v: [Double]) -> Matrix { Matrix(rows: 1, columns: v.count, elements: v) }
}

@Suite("ONNX fixtures exported from PyTorch")
struct ONNXFixtureTests {
    @Test("graph, shapes, parameter names and values, f and logits equal PyTorch's", arguments: ONNXFixtures.models)
    func valuesMatch(_ name: String) throws {
        let expected = try ONNXFixtures.expected(name)
        let model = try ModelFile.load(ONNXFixtures.path("\(name).onnx")).model
        let parameters = try #require(expected["parameters"] as? [[String: Any]])
        #expect(model.cell.layout.specs.map(\.name) == parameters.map { $0["name"] as? String })
        #expect(model.cell.layout.specs.map(\.shape) == parameters.map { ($0["shape"] as? [Int]) ?? [] })
        let head = try #require(expected["head_parameters"] as? [[String: Any]])
        #expect(model.head.layout.specs.map(\.name) == head.map { $0["name"] as? String })
        let stateShape = try #require(expected["state_shape"] as? [Int])
        #expect(model.stateDimension == stateShape.reduce(1, *))
        for point in try #require(expected["points"] as? [[String: Any]]) {
            let (h, x) = (ONNXFixtures.row(try ONNXFixtures.doubles(point["h"])), ONNXFixtures.row(try ONNXFixtures.doubles(point["x"])))
            let f = model.cell.forward(state: h, input: x)
            let fError = relativeError(f.elements, try ONNXFixtures.doubles(point["f"]))
            #expect(fError <= 1e-12, "\(name): f differs by \(fError)")
            let logits = model.head.logits(h)
            #expect(relativeError(logits.elements, try ONNXFixtures.doubles(point["logits"])) <= 1e-12, "\(name): logits")
        }
    }

    @Test("J, Jᵀ, M, Mᵀ, the loss, the exact gradient and UPG/NPG at h* equal PyTorch's", arguments: ONNXFixtures.models)
    func derivativesMatch(_ name: String) throws {
        let fixed = try #require(try ONNXFixtures.expected(name)["fixed_point"] as? [String: Any])
        let model = try ModelFile.load(ONNXFixtures.path("\(name).onnx")).model
        let x = ONNXFixtures.row(try ONNXFixtures.doubles(fixed["x"]))
        let label = try #require(fixed["label"] as? Int)
        let solver = try FixedPointConfiguration(method: .anderson, stopping: .absolute(1e-14), maxIterations: 2000)
        let problem = GradientProblem(model: model, inputs: x, targets: .labels([label]), solver: solver)
        let hStar = try ONNXFixtures.doubles(fixed["h_star"])
        #expect(relativeError(problem.states.elements, hStar) <= 1e-11, "\(name): h*")
        #expect(abs(problem.losses[0] - (fixed["loss"] as? Double ?? .nan)) <= 1e-11, "\(name): loss")
        // Derivatives at PyTorch's h*, so that they do not inherit the solve's differences.
        let point = model.cell.linearize(state: ONNXFixtures.row(hStar), input: x)
        let pairs: [(String, [Double], String)] = [
            ("J v", point.stateJVP(ONNXFixtures.row(try ONNXFixtures.doubles(fixed["v"]))).elements, "J_v"),
            ("Jᵀ u", point.stateVJP(ONNXFixtures.row(try ONNXFixtures.doubles(fixed["u"]))).elements, "JT_u"),
            ("M w", point.parameterJVP(try ONNXFixtures.doubles(fixed["w"])).elements, "M_w"),
            ("Mᵀ u", point.parameterVJP(ONNXFixtures.row(try ONNXFixtures.doubles(fixed["u"]))), "MT_u")
        ]
        for (label, ours, key) in pairs {
            let error = relativeError(ours, try ONNXFixtures.doubles(fixed[key]))
            #expect(error <= 1e-12, "\(name): \(label) differs by \(error)")
        }
        let exact = ExactGradient(solver: try AdjointSolver(method: .lu, tolerance: 1e-13)).estimate(problem, perSample: false)
        #expect(relativeError(exact.batchMean, try ONNXFixtures.doubles(fixed["exact"])) <= 1e-9, "\(name): exact gradient")
        #expect(relativeError(problem.headGradient, try ONNXFixtures.doubles(fixed["head_gradient"])) <= 1e-10, "\(name): head gradient")
        for (key, family) in [("upg", "upg"), ("npg", "npg")] {
            for entry in try #require(fixed[key] as? [[String: Any]]) {
                let k = try #require(entry["k"] as? Int), lambda = try #require((entry["lambda"] as? NSNumber)?.doubleValue)
                let estimate =
                    family == "upg"
                    ? try UnrolledPhantomGradient(steps: k, damping: lambda).estimate(problem, perSample: false)
                    : try NeumannPhantomGradient(steps: k, damping: lambda).estimate(problem, perSample: false)
                #expect(
                    relativeError(estimate.batchMean, try ONNXFixtures.doubles(entry["gradient"])) <= 1e-9,
                    "\(name): \(family)(\(k), \(lambda))")
            }
        }
    }
}

@Suite("THEORY identities on the imported ONNX models")
struct ONNXIdentityTests {
    @Test("UPG(1, λ) = NPG(1, λ) = λ·JFB; UPG(k, λ) = NPG(k, λ) at a tight h*; NPG(k, 1) → exact", arguments: ONNXFixtures.models)
    func identities(_ name: String) throws {
        let model = try ModelFile.load(ONNXFixtures.path("\(name).onnx")).model
        var rng = SplitMix64(seed: 5)
        let x = Matrix(rows: 3, columns: model.inputDimension, elements: (0..<(3 * model.inputDimension)).map { _ in rng.nextGaussian() })
        let solver = try FixedPointConfiguration(method: .anderson, stopping: .absolute(1e-14), maxIterations: 2000)
        let problem = GradientProblem(model: model, inputs: x, targets: .labels([0, 1, 2]), solver: solver)
        let jfb = JacobianFreeGradient().estimate(problem, perSample: false).batchMean
        for lambda in [0.5, 1.0] {
            let npg1 = try NeumannPhantomGradient(steps: 1, damping: lambda).estimate(problem, perSample: false).batchMean
            let upg1 = try UnrolledPhantomGradient(steps: 1, damping: lambda).estimate(problem, perSample: false).batchMean
            #expect(relativeError(npg1, jfb.map { lambda * $0 }) <= 1e-13, "\(name): NPG(1, \(lambda))")
            #expect(relativeError(upg1, jfb.map { lambda * $0 }) <= 1e-13, "\(name): UPG(1, \(lambda))")
            let npg = try NeumannPhantomGradient(steps: 6, damping: lambda).estimate(problem, perSample: false).batchMean
            let upg = try UnrolledPhantomGradient(steps: 6, damping: lambda).estimate(problem, perSample: false).batchMean
            #expect(relativeError(upg, npg) <= 1e-10, "\(name): UPG(6, \(lambda)) = NPG(6, \(lambda))")
        }
        let exact = ExactGradient(solver: try AdjointSolver(method: .lu, tolerance: 1e-13)).estimate(problem, perSample: false).batchMean
        let long = try NeumannPhantomGradient(steps: 200, damping: 1).estimate(problem, perSample: false).batchMean
        #expect(relativeError(long, exact) <= 1e-10, "\(name): NPG(200, 1) → exact")
    }
}
