import PhantomFileSystem
import PhantomModel
import PhantomModelIO

/// Loads a model from a phantom checkpoint (.h5), a PyTorch state dict (.safetensors) or an ONNX model (.onnx).
public enum ModelFile {
    /// - Parameters:
    ///   - cell, prefix: for .safetensors files whose metadata does not say (``SafetensorsImporter``).
    public static func load(_ path: String, cell: CellKind? = nil, prefix: String? = nil, renames: [(String, String)] = []) throws
        -> Checkpoint
    {
        try load(FileSnapshot(path), cell: cell, prefix: prefix, renames: renames)
    }

    /// From a snapshot of the file: the model is parsed from exactly the bytes the snapshot's hash covers.
    public static func load(
        _ snapshot: FileSnapshot, cell: CellKind? = nil, prefix: String? = nil,
        renames: [(String, String)] = []
    ) throws -> Checkpoint {
        if isONNX(snapshot) { return try ONNXImporter.importCheckpoint(snapshot) }
        guard !isSafetensors(snapshot) else {
            var importer = SafetensorsImporter(cell: cell, prefix: prefix)
            importer.renames = renames
            return try importer.importCheckpoint(snapshot)
        }
        return try Checkpoint.load(snapshot)
    }

    /// An `.onnx` name.
    static func isONNX(_ snapshot: FileSnapshot) -> Bool { snapshot.path.hasSuffix(".onnx") }

    /// A `.safetensors` name, or a PyTorch file (`.pt`, `.pth`, `.bin`: the importer refuses it with the export
    /// route rather than calling it "not an HDF5 file").
    static func isSafetensors(_ snapshot: FileSnapshot) -> Bool {
        [".safetensors", ".pt", ".pth", ".bin"].contains { snapshot.path.hasSuffix($0) }
    }
}
