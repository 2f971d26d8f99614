import Foundation
import PhantomFileSystem
import PhantomHDF5
import PhantomLinearAlgebra
import PhantomModel
import PhantomModelIO
import PhantomSafetensors

/// Turns a PyTorch state dict saved as safetensors into a phantom checkpoint.
///
/// Names: wrapper prefixes (`module.`, `_orig_mod.`, `model.`), a user-given prefix and renames are applied in
/// the order of ``normalizedNames(_:_:)``. Normalised weights are folded back exactly as PyTorch's and TorchDEQ's
/// forward passes compute them, at any axis, or refused (``Normalizations``). A PyTorch pickle (`.pt`, `.pth`) is
/// never unpickled: it is refused with the export route.
///
/// The cell kind and dimensions come from `__metadata__` (`phantom.cell`, `phantom.n_in`, `phantom.d`,
/// `phantom.c`, `phantom.m`, `phantom.dataset`), else from options, else from the tensor shapes when that
/// is unambiguous. Every expected tensor must be present with its shape and finite values; tensors that are
/// left over are an error that lists them.
public struct SafetensorsImporter: Sendable {
    public var cell: CellKind?
    public var prefix: String?
    /// `OLD=NEW` name renames, applied in order, the first that matches a name's start.
    public var renames: [(String, String)] = []

    /// Renames from `OLD=NEW` texts (the command line's `--rename`); OLD must not be empty.
    /// - Throws: ``ConfigurationError`` naming the first text that is not OLD=NEW.
    public static func renames(parsing texts: [String]) throws(ConfigurationError) -> [(String, String)] {
        try texts.map { (text) throws(ConfigurationError) -> (String, String) in
            let parts = text.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2, !parts[0].isEmpty else { throw ConfigurationError("--rename: '\(text)' is not OLD=NEW") }
            return (String(parts[0]), String(parts[1]))
        }
    }

    public init(cell: CellKind? = nil, prefix: String? = nil) {
        self.cell = cell
        self.prefix = prefix
    }

    /// The `phantom.*` metadata keys the importer reads (and the exporter writes), for help texts: the shared ones,
    /// then each cell's extra dimensions.
    public static var metadataKeysDescription: String {
        let shared = ["cell", "n_in", "d", "c", "dataset", "norm_eps", "norm_target", "norm_clip"].map { "phantom.\($0)" }
            .joined(separator: ", ")
        let cells = CellKind.builtins.filter { !ModelShape.extraDimensionNames($0).isEmpty }.map { kind in
            "for \(kind.rawValue) " + ModelShape.extraDimensionNames(kind).map { "phantom.\($0)" }.joined(separator: ", ")
        }
        return ([shared] + cells).joined(separator: "; ")
    }

    static let metadataKeys: Set<String> = Set(
        [
            "phantom.cell", "phantom.n_in", "phantom.d", "phantom.c", "phantom.dataset",
            "phantom.norm_target", "phantom.norm_clip", "phantom.norm_eps"
        ]
            + CellKind.builtins.flatMap(ModelShape.extraDimensionNames).map { "phantom.\($0)" })

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
        try foldNormalizations(&tensors, metadata: metadata, fail)

        // The cell kind: metadata, option, or inferred.
        var kind: CellKind
        let candidates = CellKind.builtins.filter { tensors[$0.builtin!.signatureTensor] != nil }
        if let name = metadata["phantom.cell"] {
            guard let k = CellKind.builtin(named: name) else {
                throw fail(
                    "metadata phantom.cell = '\(name)' is not a known cell (\(CellKind.builtins.map(\.rawValue).joined(separator: ", ")))")
            }
            kind = k
        } else if let cell {
            kind = cell
        } else {
            guard candidates.count == 1, let only = candidates.first else {
                // Say, per cell kind, what it needs and what is missing, and what the file holds.
                let perKind = CellKind.builtins.map { kind -> String in
                    let names = ModelShape.tensorNames(kind)
                    let missing = names.filter { tensors[$0] == nil }
                    return "a \(kind.rawValue) cell needs \(names.joined(separator: ", "))"
                        + (missing.isEmpty ? "" : " (missing: \(missing.joined(separator: ", ")))")
                }
                let found = tensors.keys.sorted()
                throw fail(
                    "cannot tell the cell kind from the tensors (candidates: "
                        + "\(candidates.isEmpty ? "none" : candidates.map(\.rawValue).joined(separator: ", "))): "
                        + perKind.joined(separator: "; ")
                        + "; the file holds "
                        + "\(found.prefix(12).joined(separator: ", "))\(found.count > 12 ? ", … (\(found.count) in all)" : "")"
                        + "; name the cell kind, set __metadata__ phantom.cell, or rename tensors")
            }
            kind = only
        }
        guard kind != .graph else { throw fail("a graph cell cannot be imported from safetensors (its graph is not in the file)") }
        if let cell, cell != kind {
            throw fail("the requested cell \(cell.rawValue) contradicts the file's metadata phantom.cell = \(kind.rawValue)")
        }

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
        let c = try dimension("c", tensor: "head.weight", axis: 0)
        func declared(_ key: String) throws -> Int? {
            guard let text = metadata["phantom.\(key)"] else { return nil }
            guard let value = Int(text), (1...InputLimits.maximumDimension).contains(value) else {
                throw fail("metadata phantom.\(key) = '\(text)' is not an integer in 1…\(InputLimits.maximumDimension)")
            }
            return value
        }
        let shape = try kind.builtin!.stateDictShape(
            classes: c, metadata: metadata, dimension: { try dimension($0, tensor: $1, axis: $2) }, declared: declared, fail: fail)
        let (n, d) = (shape.inputDimension, shape.stateDimension)
        let total = shape.parameterCount
        guard total <= InputLimits.maximumModelParameters else {
            throw fail(
                "the tensors' shapes imply \(total) parameters, more than the \(InputLimits.maximumModelParameters) a model may have")
        }
        var normEpsilon: Double?
        if shape.hasNormalization, let text = metadata["phantom.norm_eps"] {
            guard let eps = Double(text), ResMLPCell.isValidNormEpsilon(eps) else {
                throw fail("metadata phantom.norm_eps = '\(text)' is not a number in (0, 1]")
            }
            normEpsilon = eps
        }
        let specs = shape.specs
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
        let model = shape.model(tensors: values, normEpsilon: normEpsilon)
        var kept: [String: HDF5AttributeValue] = [:]
        for (key, value) in metadata where !Self.metadataKeys.contains(key) { kept[key] = .string(value) }
        kept["imported_from"] = .string(path)
        return Checkpoint(model: model, dataset: metadata["phantom.dataset"], metadata: kept)
    }

    /// Wrapper prefixes, stripped from the front of every name in any order and number: DataParallel's
    /// `module.`, torch.compile's `_orig_mod.`, and `model.`.
    static let wrapperPrefixes = ["module.", "_orig_mod.", "model."]

    /// Names in a documented order: wrapper prefixes, then the user's `--prefix`, then wrapper prefixes again,
    /// then each `--rename OLD=NEW` (a name starting with OLD starts with NEW instead), then the
    /// parametrisations API's names as hook names (``Normalizations/canonicalNames(_:)``). Two tensors that end
    /// up with one name are an error.
    func normalizedNames(_ raw: [String: SafetensorsTensor], _ fail: (String) -> SafetensorsError) throws -> [String: SafetensorsTensor] {
        func stripWrappers(_ name: inout String) {
            while let p = Self.wrapperPrefixes.first(where: { name.hasPrefix($0) }) { name.removeFirst(p.count) }
        }
        var out: [String: SafetensorsTensor] = [:], origin: [String: String] = [:]
        for (name, tensor) in raw.sorted(by: { $0.key < $1.key }) {
            var stripped = name
            stripWrappers(&stripped)
            if let prefix, !prefix.isEmpty {
                let full = prefix.hasSuffix(".") ? prefix : prefix + "."
                if stripped.hasPrefix(full) { stripped.removeFirst(full.count) }
                stripWrappers(&stripped)
            }
            for (old, new) in renames where stripped.hasPrefix(old) {
                stripped = new + stripped.dropFirst(old.count)
                break
            }
            stripped = Normalizations.canonicalNames(stripped)
            if let other = origin[stripped] {
                throw fail("tensors '\(other)' and '\(name)' both become '\(stripped)' once prefixes are stripped and names renamed")
            }
            origin[stripped] = name
            out[stripped] = tensor
        }
        return out
    }

    /// Folds weight and spectral normalisation into plain `X.weight` tensors (``Normalizations``).
    func foldNormalizations(_ tensors: inout [String: SafetensorsTensor], metadata: [String: String], _ fail: (String) -> SafetensorsError)
        throws
    {
        var options = Normalizations.Options()
        if let text = metadata["phantom.norm_target"] {
            guard let value = Double(text), value.isFinite, value > 0 else {
                throw fail("metadata phantom.norm_target = '\(text)' is not a positive number")
            }
            options.targetNorm = value
        }
        if let text = metadata["phantom.norm_clip"] {
            guard let value = Bool(text.lowercased()) else { throw fail("metadata phantom.norm_clip = '\(text)' is not true or false") }
            options.clip = value
        }
        try Normalizations.fold(&tensors, options: options, fail)
    }
}

extension SafetensorsImporter {
}
