import PhantomFileSystem
import Foundation
import PhantomHDF5
import PhantomLinearAlgebra
import PhantomModel
import PhantomModelIO
import PhantomSafetensors

/// Turns a PyTorch state dict saved as safetensors into a phantom checkpoint.
///
/// Names: `module.` and `model.` prefixes (DataParallel, wrappers) and a user-given prefix are stripped.
/// Normalised weights are folded back (THEORY.md §6):
/// - weight normalisation, `X.weight_g` and `X.weight_v` → X.weight = g · v / ‖v‖ per output row
///   (PyTorch's default dim 0: the norm runs over every axis but the first);
/// - spectral normalisation, `X.weight_orig`, `X.weight_u`, `X.weight_v` → X.weight = W / σ with
///   σ = uᵀ W v (the estimate PyTorch's forward uses).
///
/// The cell kind and dimensions come from `__metadata__` (`phantom.cell`, `phantom.n_in`, `phantom.d`,
/// `phantom.c`, `phantom.m`, `phantom.dataset`), else from options, else from the tensor shapes when that
/// is unambiguous. Every expected tensor must be present with its shape and finite values; tensors that are
/// left over are an error that lists them.
public struct SafetensorsImporter: Sendable {
    public var cell: CellKind?
    public var prefix: String?

    public init(cell: CellKind? = nil, prefix: String? = nil) {
        self.cell = cell
        self.prefix = prefix
    }

    static let metadataKeys: Set<String> = ["phantom.cell", "phantom.n_in", "phantom.d", "phantom.c", "phantom.m", "phantom.dataset"]

    public func importCheckpoint(_ path: String) throws -> Checkpoint {
        try importCheckpoint(FileSnapshot(path))
    }

    /// Imports from a snapshot of the file (the bytes its hash covers).
    public func importCheckpoint(_ snapshot: FileSnapshot) throws -> Checkpoint {
        let path = snapshot.path
        let (raw, metadata) = try Safetensors.read(bytes: snapshot.bytes, path: path)
        func fail(_ message: String) -> SafetensorsError { SafetensorsError(path: path, message: message) }
        if let unknown = metadata.keys.sorted().first(where: { $0.hasPrefix("phantom.") && !Self.metadataKeys.contains($0) }) {
            throw fail("unknown metadata key '\(unknown)' (known: \(Self.metadataKeys.sorted().joined(separator: ", ")))")
        }
        var tensors = try normalizedNames(raw, fail)
        try foldNormalizations(&tensors, fail)

        // The cell kind: metadata, option, or inferred.
        var kind: CellKind
        let candidates = CellKind.allCases.filter { tensors[$0 == .tanh ? "cell.weight" : "cell.linear1.weight"] != nil }
        if let name = metadata["phantom.cell"] {
            guard let k = CellKind(rawValue: name) else { throw fail("metadata phantom.cell = '\(name)' is not a known cell (tanh, resmlp)") }
            kind = k
        } else if let cell {
            kind = cell
        } else {
            guard candidates.count == 1, let only = candidates.first else {
                throw fail("cannot tell the cell kind from the tensors (candidates: \(candidates.isEmpty ? "none" : candidates.map(\.rawValue).joined(separator: ", "))); name the cell kind, or set __metadata__ phantom.cell")
            }
            kind = only
        }
        if let cell, cell != kind { throw fail("the requested cell \(cell.rawValue) contradicts the file's metadata phantom.cell = \(kind.rawValue)") }

        // Dimensions: from the shapes, checked against the metadata.
        func dimension(_ key: String, tensor: String, axis: Int) throws -> Int {
            guard let t = tensors[tensor] else { throw fail("missing tensor '\(tensor)' (needed for the \(kind.rawValue) cell)") }
            guard t.shape.count > axis else { throw fail("tensor '\(tensor)' has shape \(t.shape); expected rank \(axis + 1) or more") }
            let value = t.shape[axis]
            let limit = key == "c" ? InputLimits.maximumClasses : InputLimits.maximumDimension
            guard (1...limit).contains(value) else {
                throw fail("tensor '\(tensor)' has shape \(t.shape): \(key) = \(value) is out of range (1…\(limit))")
            }
            if let declared = metadata["phantom.\(key)"] {
                guard let d = Int(declared), d == value else {
                    throw fail("metadata phantom.\(key) = \(declared) does not match tensor '\(tensor)' of shape \(t.shape)")
                }
            }
            return value
        }
        let d = try dimension("d", tensor: "injection.weight", axis: 0)
        let n = try dimension("n_in", tensor: "injection.weight", axis: 1)
        let c = try dimension("c", tensor: "head.weight", axis: 0)
        let m = kind == .resmlp ? try dimension("m", tensor: "cell.linear1.weight", axis: 0) : 0
        let cellLayout = kind == .tanh ? TanhCell.layout(stateDimension: d, inputDimension: n)
                                       : ResMLPCell.layout(stateDimension: d, inputDimension: n, hiddenWidth: m)
        let total = (cellLayout.specs + OutputHead.layout(classes: c, stateDimension: d).specs).reduce(0) { $0 + $1.count }
        guard total <= InputLimits.maximumModelParameters else {
            throw fail("the tensors' shapes imply \(total) parameters, more than the \(InputLimits.maximumModelParameters) a model may have")
        }
        var model: ImplicitModel
        switch kind {
        case .tanh:
            model = ImplicitModel(cell: TanhCell(stateDimension: d, inputDimension: n), head: OutputHead(classes: c, stateDimension: d))
        case .resmlp:
            model = ImplicitModel(cell: ResMLPCell(stateDimension: d, inputDimension: n, hiddenWidth: m), head: OutputHead(classes: c, stateDimension: d))
        }
        let specs = model.cell.layout.specs + model.head.layout.specs
        let expected = Set(specs.map(\.name))
        let missing = specs.map(\.name).filter { tensors[$0] == nil }
        let unused = tensors.keys.filter { !expected.contains($0) }.sorted()
        if !missing.isEmpty || !unused.isEmpty {
            var parts: [String] = []
            if !missing.isEmpty { parts.append("missing tensors: \(missing.joined(separator: ", "))") }
            if !unused.isEmpty { parts.append("unused tensors: \(unused.joined(separator: ", "))") }
            throw fail(parts.joined(separator: "; ") + " (for a \(kind.rawValue) cell with n_in = \(n), d = \(d), c = \(c))")
        }
        var values: [String: [Double]] = [:]
        for spec in specs {
            guard let t = tensors[spec.name] else { throw fail("missing tensor '\(spec.name)'") }
            guard t.shape == spec.shape else { throw fail("tensor '\(spec.name)' has shape \(t.shape), expected \(spec.shape)") }
            guard t.values.allSatisfy(\.isFinite) else { throw fail("tensor '\(spec.name)' contains NaN or infinity") }
            values[spec.name] = t.values
        }
        model.cell.parameters = model.cell.layout.specs.flatMap { values[$0.name] ?? [] }
        model.head.parameters = model.head.layout.specs.flatMap { values[$0.name] ?? [] }
        var kept: [String: HDF5AttributeValue] = [:]
        for (key, value) in metadata where !Self.metadataKeys.contains(key) { kept[key] = .string(value) }
        kept["imported_from"] = .string(path)
        return Checkpoint(model: model, dataset: metadata["phantom.dataset"], metadata: kept)
    }

    /// Strips `module.`, `model.` and the user prefix; two tensors that strip to one name are an error.
    func normalizedNames(_ raw: [String: SafetensorsTensor], _ fail: (String) -> SafetensorsError) throws -> [String: SafetensorsTensor] {
        var out: [String: SafetensorsTensor] = [:]
        for (name, tensor) in raw {
            var stripped = name
            if let prefix, !prefix.isEmpty {
                let full = prefix.hasSuffix(".") ? prefix : prefix + "."
                if stripped.hasPrefix(full) { stripped.removeFirst(full.count) }
            }
            while let p = ["module.", "model."].first(where: { stripped.hasPrefix($0) }) { stripped.removeFirst(p.count) }
            if out[stripped] != nil { throw fail("tensors '\(name)' and another both become '\(stripped)' once prefixes are stripped") }
            out[stripped] = tensor
        }
        return out
    }

    /// Folds weight and spectral normalisation into plain `X.weight` tensors.
    func foldNormalizations(_ tensors: inout [String: SafetensorsTensor], _ fail: (String) -> SafetensorsError) throws {
        for name in tensors.keys.sorted() where name.hasSuffix(".weight_orig") {
            let base = String(name.dropLast(".weight_orig".count))
            guard let w = tensors[name], let u = tensors[base + ".weight_u"], let v = tensors[base + ".weight_v"] else {
                throw fail("spectral norm of '\(base)': needs \(base).weight_orig, \(base).weight_u and \(base).weight_v")
            }
            let rows = w.shape.first ?? 0, columns = rows == 0 ? 0 : w.values.count / rows
            guard u.values.count == rows, v.values.count == columns else {
                throw fail("spectral norm of '\(base)': u has \(u.values.count) values and v \(v.values.count); weight_orig is \(w.shape)")
            }
            let matrix = Matrix(rows: rows, columns: columns, elements: w.values)
            let sigma = BLAS.dot(u.values, matrix * v.values)
            guard sigma.isFinite, sigma != 0 else { throw fail("spectral norm of '\(base)': σ = uᵀ W v is \(sigma)") }
            tensors[base + ".weight"] = SafetensorsTensor(dtype: w.dtype, shape: w.shape, values: w.values.map { $0 / sigma })
            for suffix in [".weight_orig", ".weight_u", ".weight_v"] { tensors[base + suffix] = nil }
        }
        for name in tensors.keys.sorted() where name.hasSuffix(".weight_g") {
            let base = String(name.dropLast(".weight_g".count))
            guard let g = tensors[name], let v = tensors[base + ".weight_v"] else {
                throw fail("weight norm of '\(base)': needs \(base).weight_g and \(base).weight_v")
            }
            let rows = v.shape.first ?? 0, columns = rows == 0 ? 0 : v.values.count / rows
            guard g.values.count == rows else {
                throw fail("weight norm of '\(base)': weight_g has \(g.values.count) values for \(rows) rows of weight_v")
            }
            var folded = v.values
            for r in 0..<rows {
                let row = Array(v.values[(r * columns)..<((r + 1) * columns)])
                let norm = BLAS.nrm2(row)
                guard norm > 0 else { throw fail("weight norm of '\(base)': row \(r) of weight_v is zero") }
                for j in 0..<columns { folded[r * columns + j] = g.values[r] * row[j] / norm }
            }
            tensors[base + ".weight"] = SafetensorsTensor(dtype: v.dtype, shape: v.shape, values: folded)
            tensors[name] = nil
            tensors[base + ".weight_v"] = nil
        }
    }
}
