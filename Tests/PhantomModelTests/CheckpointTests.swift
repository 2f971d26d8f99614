import Foundation
import PhantomFileSystem
import PhantomHDF5
import PhantomLinearAlgebra
import PhantomModel
import PhantomModelIO
import PhantomTestSupport
import Testing

@Suite("Checkpoint files")
struct CheckpointTests {
    func sample(_ cellCase: Fixtures.CellCase) -> Checkpoint {
        Checkpoint(
            model: Fixtures.model(cellCase.make()), dataset: "digits", epoch: 5, step: 70, estimator: "upg",
            metadata: ["note": .string("trained by a test"), "lambda": .double(0.5), "ks": .integers([1, 5])],
            history: ["loss": HDF5Array(shape: [3], values: [2.3, 1.1, 0.7])])
    }

    @Test("a round trip is bitwise identical: values, metadata and the file's bytes", arguments: Fixtures.CellCase.allCases)
    func roundTrip(cellCase: Fixtures.CellCase) throws {
        let folder = makeTemporaryFolder()
        let original = sample(cellCase)
        try original.save(to: folder + "/a.h5")
        let loaded = try Checkpoint.load(folder + "/a.h5")
        #expect(loaded.model.cell.kind == original.model.cell.kind)
        #expect(loaded.model.cell.parameters == original.model.cell.parameters)
        #expect(loaded.model.head == original.model.head)
        #expect(loaded.dataset == "digits" && loaded.epoch == 5 && loaded.step == 70 && loaded.estimator == "upg")
        #expect(loaded.metadata == original.metadata)
        #expect(loaded.history["loss"]?.values == [2.3, 1.1, 0.7])
        Thread.sleep(forTimeInterval: 1.2)
        try loaded.save(to: folder + "/b.h5")
        let a = try Data(contentsOf: URL(fileURLWithPath: folder + "/a.h5"))
        let b = try Data(contentsOf: URL(fileURLWithPath: folder + "/b.h5"))
        #expect(a == b)
    }

    @Test("tensors stored as float32 are accepted and widened exactly")
    func float32Tensors() throws {
        let path = makeTemporaryFolder() + "/f32.h5"
        let cell = Fixtures.tanhCell(d: 3, n: 2)
        let model = Fixtures.model(cell, classes: 2)
        try HDF5File.write(to: path) { file in
            let root = file.root
            for (k, v) in [
                ("format", HDF5AttributeValue.string("phantom-checkpoint")), ("version", .integer(1)),
                ("cell", .string("tanh")), ("n_in", .integer(2)), ("d", .integer(3)), ("c", .integer(2))
            ] {
                try root.setAttribute(k, v)
            }
            let params = try root.createGroup("params")
            var offset = 0
            let values = model.cell.parameters + model.head.parameters
            for spec in model.allSpecs {
                let n = spec.shape.reduce(1, *)
                try params.write(spec.name, HDF5Array(shape: spec.shape, values: values[offset..<(offset + n)].map { Float($0) }))
                offset += n
            }
        }
        let loaded = try Checkpoint.load(path)
        #expect(loaded.model.cell.parameters == cell.parameters.map { Double(Float($0)) })
    }

    @Test(
        "bad checkpoints are errors naming the problem",
        arguments: [
            ("missing tensor", "params/cell.weight: missing tensor"),
            ("wrong shape", "params/cell.weight: shape [4, 5], expected [5, 5] (n_in = 3, d = 5, c = 3)"),
            ("NaN weight", "params/cell.weight: contains NaN or infinity"),
            ("unknown cell", "unknown cell kind 'lstm' (known: tanh, resmlp, mdeq, graph)"),
            ("unexpected tensor", "params/cell.extra: unexpected tensor for this cell"),
            ("wrong format", "not a phantom checkpoint (format is 'something-else', expected 'phantom-checkpoint')"),
            ("future version", "unsupported checkpoint version 2 (this tool reads version 1)"),
            ("bad dimension", "attribute 'd' = 0 is out of range")
        ])
    func badCheckpoints(label: String, expected: String) throws {
        let path = try damagedFile(label)
        let error = try #require(throws: InputError.self) { try Checkpoint.load(path) }
        #expect(error.description.hasPrefix(path + ": "))
        #expect(error.description.contains(expected), "\(label): \(error.description)")
    }

    /// Builds the damaged file for each case from scratch (HDF5 has no in-place tensor replacement here).
    func damagedFile(_ label: String) throws -> String {
        let path = makeTemporaryFolder() + "/bad.h5"
        let model = Fixtures.model(Fixtures.tanhCell(d: 5, n: 3))
        var attributes: [(String, HDF5AttributeValue)] = [
            ("format", .string("phantom-checkpoint")), ("version", .integer(1)), ("cell", .string("tanh")),
            ("n_in", .integer(3)), ("d", .integer(5)), ("c", .integer(3))
        ]
        var tensors: [(String, [Int], [Double])] = []
        var offset = 0
        let values = model.cell.parameters + model.head.parameters
        for spec in model.allSpecs {
            let n = spec.shape.reduce(1, *)
            tensors.append((spec.name, spec.shape, Array(values[offset..<(offset + n)])))
            offset += n
        }
        let w = tensors.firstIndex { $0.0 == "cell.weight" }!
        switch label {
        case "missing tensor": tensors.remove(at: w)
        case "wrong shape": tensors[w] = ("cell.weight", [4, 5], Array(tensors[w].2.prefix(20)))
        case "NaN weight": tensors[w].2[7] = .nan
        case "unknown cell": attributes[2] = ("cell", .string("lstm"))
        case "unexpected tensor": tensors.append(("cell.extra", [1], [0]))
        case "wrong format": attributes[0] = ("format", .string("something-else"))
        case "future version": attributes[1] = ("version", .integer(2))
        case "bad dimension": attributes[4] = ("d", .integer(0))
        default: Issue.record("unknown case \(label)")
        }
        try HDF5File.write(to: path) { file in
            for (k, v) in attributes { try file.root.setAttribute(k, v) }
            let params = try file.root.createGroup("params")
            for (name, shape, v) in tensors { try params.write(name, HDF5Array(shape: shape, values: v)) }
        }
        return path
    }

    @Test("a data file with wrong shapes, NaN or bad labels is an error naming the dataset")
    func badData() throws {
        let folder = makeTemporaryFolder()
        func write(_ name: String, _ body: (HDF5Group) throws -> Void) throws -> String {
            let path = folder + "/\(name).h5"
            try HDF5File.write(to: path) { try body($0.root) }
            return path
        }
        let good = try write("good") { root in
            try root.write("x", HDF5Array(shape: [2, 3], values: [0, 0.5, 1, 1, 0.5, 0]))
            try root.write("y", vector: [Int64(1), 0])
        }
        let data = try DataSet.load(good)
        #expect(data.count == 2 && data.y == .labels([1, 0]))
        let cases: [(String, (HDF5Group) throws -> Void, String)] = [
            ("nox", { try $0.write("y", vector: [Int64(1)]) }, "dataset 'x'"),
            ("rank", { try $0.write("x", vector: [1.0, 2]) }, "x: has rank 1"),
            ("nan", { try $0.write("x", HDF5Array(shape: [1, 2], values: [1.0, .nan])) }, "x: contains NaN"),
            (
                "count",
                {
                    try $0.write("x", HDF5Array(shape: [2, 1], values: [1.0, 2])); try $0.write("y", vector: [Int64(1)])
                }, "y: shape [1] does not fit 2 samples"
            ),
            (
                "negative",
                {
                    try $0.write("x", HDF5Array(shape: [1, 1], values: [1.0])); try $0.write("y", vector: [Int64(-1)])
                }, "labels must be integers in 0…16383"
            )
        ]
        for (name, body, expected) in cases {
            let path = try write(name, body)
            let error = try #require(throws: (any Error).self) { try DataSet.load(path) }
            #expect("\(error)".contains(expected), "\(name): \(error)")
            #expect("\(error)".contains(path))
        }
    }
}

@Suite("The LayerNorm ε travels with the model")
struct NormEpsilonTests {
    @Test("a resmlp checkpoint keeps its norm_eps; the forward pass uses it")
    func roundTrip() throws {
        var cell = Fixtures.resmlpCell(d: 5, n: 3, m: 7)
        cell.normEpsilon = 1e-3
        let model = Fixtures.model(cell)
        let path = makeTemporaryFolder() + "/eps.h5"
        try Checkpoint(model: model).save(to: path)
        let loaded = try #require(try Checkpoint.load(path).model.cell as? ResMLPCell)
        #expect(loaded.normEpsilon == 1e-3)
        var rng = SplitMix64(seed: 4)
        let h = Fixtures.gaussian(2, 5, &rng), x = Fixtures.gaussian(2, 3, &rng)
        var standard = loaded
        standard.normEpsilon = ResMLPCell.layerNormEpsilon
        #expect(loaded.forward(state: h, input: x) != standard.forward(state: h, input: x))
    }
}

@Suite("mdeq checkpoints and image data")
struct MDEQCheckpointTests {
    let geometry = MDEQCell.Geometry(channels: 4, inChannels: 2, height: 3, width: 5, expansion: 2, groups: 2)

    @Test(
        "the geometry and GroupNorm ε travel with the checkpoint; attributes that do not fit are errors naming them",
        arguments: [
            ("groups", Int64(3), "groups = 3 does not divide channels = 4"),
            ("height", 4, "channels·height·width = 4·4·5 = 80 is not d = 60"),
            ("in_channels", 3, "in_channels·height·width = 3·3·5 = 45 is not n_in = 30"),
            ("expansion", 0, "attribute 'expansion' = 0 is out of range")
        ])
    func geometryAttributes(name: String, value: Int64, message: String) throws {
        var cell = RandomModels.mdeq(geometry, c: 3, seed: 3).cell as! MDEQCell
        cell.normEpsilon = 1e-3
        let model = ImplicitModel(cell: cell, head: Fixtures.model(cell).head)
        let folder = makeTemporaryFolder()
        try Checkpoint(model: model).save(to: folder + "/good.h5")
        let loaded = try Checkpoint.load(folder + "/good.h5")
        let back = try #require(loaded.model.cell as? MDEQCell)
        #expect(back.geometry == geometry && back.normalizationEpsilon == 1e-3)
        #expect(back.parameters == cell.parameters)
        // The same checkpoint with one attribute changed.
        let bad = folder + "/bad.h5"
        var attributes: [String: HDF5AttributeValue] = [
            "format": .string(Checkpoint.format), "version": .integer(Int64(Checkpoint.version)),
            "cell": .string("mdeq"), "n_in": .integer(30), "d": .integer(60), "c": .integer(3)
        ]
        for (k, v) in cell.extraDimensions { attributes[k] = .integer(Int64(v)) }
        attributes[name] = .integer(value)
        try HDF5File.write(to: bad) { file in
            for (k, v) in attributes { try file.root.setAttribute(k, v) }
            let params = try file.root.createGroup("params")
            var offset = 0
            let values = model.cell.parameters + model.head.parameters
            for spec in model.allSpecs {
                let n = spec.shape.reduce(1, *)
                try params.write(spec.name, HDF5Array(shape: spec.shape, values: Array(values[offset..<(offset + n)])))
                offset += n
            }
        }
        let error = try #require(throws: (any Error).self) { try Checkpoint.load(bad) }
        #expect("\(error)".contains(message), "\(error)")
    }

    @Test("image data [N, C_in, H, W] is read in NCHW order; inputs that do not reshape to C_in×H×W are errors")
    func imageData() throws {
        let folder = makeTemporaryFolder()
        let values = (0..<60).map(Double.init)
        try HDF5File.write(to: folder + "/images.h5") { try $0.root.write("x", HDF5Array(shape: [2, 2, 3, 5], values: values)) }
        try HDF5File.write(to: folder + "/other.h5") { try $0.root.write("x", HDF5Array(shape: [2, 2, 5, 3], values: values)) }
        try HDF5File.write(to: folder + "/flat.h5") { try $0.root.write("x", HDF5Array(shape: [2, 30], values: values)) }
        try HDF5File.write(to: folder + "/short.h5") { try $0.root.write("x", HDF5Array(shape: [3, 20], values: values)) }
        let images = try DataSet.load(folder + "/images.h5")
        #expect(images.imageShape == [2, 3, 5] && images.x.row(1) == Array(values[30..<60]))
        let image = [2, 3, 5]
        try images.checkInputs(30, image: image, path: "images.h5", model: "the checkpoint")
        try DataSet.load(folder + "/flat.h5").checkInputs(30, image: image, path: "flat.h5", model: "the checkpoint")
        #expect {
            try DataSet.load(folder + "/other.h5").checkInputs(30, image: image, path: "other.h5", model: "the checkpoint")
        } throws: { "\($0)".contains("x holds images of shape [2, 5, 3] (C_in, H, W), the checkpoint expects [2, 3, 5]") }
        #expect {
            try DataSet.load(folder + "/short.h5").checkInputs(30, image: image, path: "short.h5", model: "the checkpoint")
        } throws: { "\($0)".contains("x has 20 features, the checkpoint expects C_in×H×W = 2×3×5 = 30 values per sample") }
    }
}
