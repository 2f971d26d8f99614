import PhantomFileSystem
import PhantomHDF5
import PhantomLinearAlgebra
import PhantomModel

/// A model on disk: the phantom checkpoint format (HDF5), version 1.
///
/// Root attributes: `format` = "phantom-checkpoint", `version` = 1, `cell` ("tanh" | "resmlp" | "mdeq" | "graph"; a graph cell
/// stores its graph in the string attribute `graph`, docs/Graphs.md),
/// integer dimensions `n_in`, `d`, `c` and, for resmlp, `m` and optionally `norm_eps` (the LayerNorm's ε); optional
/// `dataset`, `epoch`, `step`, `estimator`; any further attributes are kept as ``metadata``. Group `params`: one dataset per tensor,
/// named as in PyTorch's state dict ("cell.weight", "head.bias", …), float64 or float32. Optional groups
/// `history` (training curves, one float dataset each) and `optimizer` (the optimiser's state).
public struct Checkpoint: Sendable {
    public static let format = "phantom-checkpoint"
    public static let version: Int64 = 1
    /// Root attributes the format defines; every other one is free-form metadata.
    static let reservedAttributes: Set<String> = Set(
        ["format", "version", "cell", "graph", "n_in", "d", "c", "dataset", "epoch", "step", "estimator", "norm_eps"]
            + CellKind.builtins.flatMap(ModelShape.extraDimensionNames))

    public var model: ImplicitModel
    /// A bundled data set name ("digits") or a path.
    public var dataset: String?
    public var epoch: Int?
    public var step: Int?
    /// What the model was trained with ("exact", "upg", …).
    public var estimator: String?
    /// Further root attributes, kept verbatim.
    public var metadata: [String: HDF5AttributeValue]
    /// Training curves by name.
    public var history: [String: HDF5Array<Double>]
    /// The optimiser's state (group `optimizer`), so that a resumed run continues exactly.
    public var optimizerState: [String: HDF5Array<Double>] = [:]

    public init(
        model: ImplicitModel, dataset: String? = nil, epoch: Int? = nil, step: Int? = nil,
        estimator: String? = nil, metadata: [String: HDF5AttributeValue] = [:],
        history: [String: HDF5Array<Double>] = [:]
    ) {
        self.model = model
        self.dataset = dataset
        self.epoch = epoch
        self.step = step
        self.estimator = estimator
        self.metadata = metadata
        self.history = history
    }

    // MARK: - Writing

    /// Writes the checkpoint atomically (float64 tensors). Refuses an existing file unless `overwrite`.
    public func save(to path: String, overwrite: Bool = false) throws {
        if let problem = ModelShape(of: model).limitProblem {
            throw OutputError(path: path, message: "refusing to write a checkpoint this tool could not read back: \(problem)")
        }
        try HDF5File.write(to: path, overwrite: overwrite) { file in
            let root = file.root
            try root.setAttribute("format", .string(Self.format))
            try root.setAttribute("version", .integer(Self.version))
            try root.setAttribute("cell", .string(model.cell.kind.rawValue))
            if let graph = (model.cell as? GraphCell)?.graph { try root.setAttribute("graph", .string(graph.serialized())) }
            try root.setAttribute("n_in", .integer(Int64(model.inputDimension)))
            try root.setAttribute("d", .integer(Int64(model.stateDimension)))
            try root.setAttribute("c", .integer(Int64(model.outputDimension)))
            for (name, value) in model.cell.extraDimensions.sorted(by: { $0.key < $1.key }) {
                try root.setAttribute(name, .integer(Int64(value)))
            }
            if let epsilon = model.cell.normalizationEpsilon { try root.setAttribute("norm_eps", .double(epsilon)) }
            if let dataset { try root.setAttribute("dataset", .string(dataset)) }
            if let epoch { try root.setAttribute("epoch", .integer(Int64(epoch))) }
            if let step { try root.setAttribute("step", .integer(Int64(step))) }
            if let estimator { try root.setAttribute("estimator", .string(estimator)) }
            for (name, value) in metadata.sorted(by: { $0.key < $1.key }) where !Self.reservedAttributes.contains(name) {
                try root.setAttribute(name, value)
            }
            let params = try root.createGroup("params")
            let values = model.cell.parameters + model.head.parameters
            var offset = 0
            for spec in model.allSpecs {
                let count = spec.shape.reduce(1, *)
                try params.write(spec.name, HDF5Array(shape: spec.shape, values: Array(values[offset..<(offset + count)])))
                offset += count
            }
            for (groupName, arrays) in [("history", history), ("optimizer", optimizerState)] where !arrays.isEmpty {
                let group = try root.createGroup(groupName)
                for (name, array) in arrays.sorted(by: { $0.key < $1.key }) { try group.write(name, array) }
            }
        }
    }

    // MARK: - Reading

    /// Loads and validates a checkpoint.
    ///
    /// - Throws: ``InputError`` naming the first problem — not a phantom checkpoint, an unsupported
    ///   version, an unknown cell kind, a missing or non-positive dimension, a missing, unexpected,
    ///   wrongly shaped or non-finite tensor — or ``HDF5Error`` when the file cannot be read.
    public static func load(_ path: String) throws -> Checkpoint {
        try load(FileSnapshot(path))
    }

    /// Loads a checkpoint from a snapshot of its file (the bytes its hash covers).
    public static func load(_ snapshot: FileSnapshot) throws -> Checkpoint {
        let path = snapshot.path
        return try HDF5File.withFile(snapshot) { file in
            let root = file.root
            func fail(_ message: String) -> InputError { InputError(path: path, message: message) }
            guard root.hasAttribute("format"), case .string(let format) = try root.attribute("format") else {
                throw fail("not a phantom checkpoint (no 'format' attribute)")
            }
            guard format == Self.format else { throw fail("not a phantom checkpoint (format is '\(format)', expected '\(Self.format)')") }
            guard root.hasAttribute("version"), let version = try root.attribute("version").integerValue else {
                throw fail("attribute 'version' is missing or not an integer")
            }
            guard version == Self.version else {
                throw fail("unsupported checkpoint version \(version) (this tool reads version \(Self.version))")
            }
            guard root.hasAttribute("cell"), case .string(let cellName) = try root.attribute("cell") else {
                throw fail("attribute 'cell' is missing or not a string")
            }
            guard let kind = CellKind(rawValue: cellName) else {
                throw fail("unknown cell kind '\(cellName)' (known: \(CellKind.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            var graph: Graph?
            if kind == .graph {
                guard root.hasAttribute("graph"), case .string(let text) = try root.attribute("graph") else {
                    throw fail("attribute 'graph' is missing or not a string (a graph cell stores its graph there)")
                }
                do {
                    graph = try Graph(serialized: text)
                } catch {
                    throw fail("attribute 'graph': \(error)")
                }
            } else if root.hasAttribute("graph") {
                throw fail("attribute 'graph' is set, but the cell is \(kind.rawValue), not graph")
            }
            func dimension(_ name: String, limit: Int = InputLimits.maximumDimension) throws -> Int {
                guard root.hasAttribute(name) else { throw fail("attribute '\(name)' is missing") }
                guard let value = try root.attribute(name).integerValue else { throw fail("attribute '\(name)' is not an integer") }
                guard let int = InputLimits.integer(value, in: 1...limit) else {
                    throw fail("attribute '\(name)' = \(value) is out of range (1…\(limit))")
                }
                return int
            }
            let n = try dimension("n_in"), d = try dimension("d"), c = try dimension("c", limit: InputLimits.maximumClasses)
            var extra: [String: Int] = [:]
            for name in ModelShape.extraDimensionNames(kind) { extra[name] = try dimension(name) }
            // The shapes the dimensions imply, checked against the file (and the size ceiling) before the model
            // or any tensor is allocated.
            let shape = ModelShape(
                kind: kind, inputDimension: n, stateDimension: d, outputDimension: c, extraDimensions: extra, graph: graph)
            if let problem = shape.problem { throw fail("the \(kind.rawValue) cell's attributes do not fit: \(problem)") }
            let specs = shape.specs, dimensions = shape.dimensions
            let total = shape.parameterCount
            guard total <= InputLimits.maximumModelParameters else {
                throw fail(
                    "declares \(total) parameters (\(dimensions)), more than the \(InputLimits.maximumModelParameters) a model may have")
            }
            // Every attribute is checked before any tensor is read.
            let dataset = try optionalString(root, "dataset", fail), estimator = try optionalString(root, "estimator", fail)
            let epoch = try optionalInt(root, "epoch", fail), step = try optionalInt(root, "step", fail)
            let tensors = try readTensors(root, specs, path: path, dimensions: dimensions)
            var normEpsilon: Double?
            if shape.hasNormalization, root.hasAttribute("norm_eps") {
                guard let eps = try root.attribute("norm_eps").doubleValue, ResMLPCell.isValidNormEpsilon(eps) else {
                    throw fail("attribute 'norm_eps' must be a number in (0, 1]")
                }
                normEpsilon = eps
            }
            var checkpoint = Checkpoint(model: shape.model(tensors: tensors, normEpsilon: normEpsilon))
            (checkpoint.dataset, checkpoint.estimator, checkpoint.epoch, checkpoint.step) = (dataset, estimator, epoch, step)
            for name in try root.attributeNames() where !reservedAttributes.contains(name) {
                checkpoint.metadata[name] = try root.attribute(name)
            }
            // Training curves (one value per epoch) and the optimiser's moments (one per parameter): their
            // declared lengths are checked before they are read.
            for (groupName, keyPath, limit) in [("history", \Checkpoint.history, 1 << 20), ("optimizer", \Checkpoint.optimizerState, total)]
            where root.kind(of: groupName) == .group {
                let group = try root.group(groupName)
                for child in try group.children() where child.kind == .dataset {
                    let shape = try group.datasetInfo(child.name).shape
                    guard shape.count == 1, shape[0] <= limit else {
                        throw fail("\(groupName)/\(child.name): shape \(shape), expected a vector of at most \(limit) values")
                    }
                    checkpoint[keyPath: keyPath][child.name] = try group.readDoubles(child.name)
                }
            }
            for child in try root.children() where !["params", "history", "optimizer"].contains(child.name) {
                throw fail("unexpected object '\(child.name)' (a checkpoint holds the groups params, history and optimizer)")
            }
            return checkpoint
        }
    }

    private static func readTensors(
        _ root: HDF5Group, _ specs: [ParameterSpec], path: String,
        dimensions: String
    ) throws -> [String: [Double]] {
        guard root.kind(of: "params") == .group else {
            throw InputError(path: path, message: "group 'params' is missing")
        }
        let params = try root.group("params")
        let expected = Set(specs.map(\.name))
        for child in try params.children() where !expected.contains(child.name) {
            throw InputError(
                path: path,
                message: "params/\(child.name): unexpected tensor for this cell (expected: \(specs.map(\.name).joined(separator: ", ")))")
        }
        var tensors: [String: [Double]] = [:]
        for spec in specs {
            guard params.contains(spec.name) else {
                throw InputError(path: path, message: "params/\(spec.name): missing tensor")
            }
            // The stored shape first (metadata only), then the values.
            let stored = try params.datasetInfo(spec.name).shape
            guard stored == spec.shape else {
                throw InputError(path: path, message: "params/\(spec.name): shape \(stored), expected \(spec.shape) (\(dimensions))")
            }
            let array = try params.readDoubles(spec.name)
            guard array.values.allSatisfy(\.isFinite) else {
                throw InputError(path: path, message: "params/\(spec.name): contains NaN or infinity")
            }
            tensors[spec.name] = array.values
        }
        return tensors
    }

    private static func optionalString(_ root: HDF5Group, _ name: String, _ fail: (String) -> InputError) throws -> String? {
        guard root.hasAttribute(name) else { return nil }
        guard case .string(let s) = try root.attribute(name) else { throw fail("attribute '\(name)' is not a string") }
        return s
    }

    private static func optionalInt(_ root: HDF5Group, _ name: String, _ fail: (String) -> InputError) throws -> Int? {
        guard root.hasAttribute(name) else { return nil }
        guard let v = try root.attribute(name).integerValue else { throw fail("attribute '\(name)' is not an integer") }
        guard let int = InputLimits.integer(v, in: 0...Int(Int32.max)) else {
            throw fail("attribute '\(name)' = \(v) is out of range (0…\(Int32.max))")
        }
        return int
    }
}
