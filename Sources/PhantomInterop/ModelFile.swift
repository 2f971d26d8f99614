import PhantomFileSystem
import PhantomModel
import PhantomModelIO

/// Loads a model from a phantom checkpoint (.h5) or a PyTorch state dict (.safetensors).
public enum ModelFile {
    /// - Parameters:
    ///   - cell, prefix: for .safetensors files whose metadata does not say (``SafetensorsImporter``).
    public static func load(_ path: String, cell: CellKind? = nil, prefix: String? = nil) throws -> Checkpoint {
        try load(FileSnapshot(path), cell: cell, prefix: prefix)
    }

    /// From a snapshot of the file: the model is parsed from exactly the bytes the snapshot's hash covers.
    public static func load(_ snapshot: FileSnapshot, cell: CellKind? = nil, prefix: String? = nil) throws -> Checkpoint {
        snapshot.path.hasSuffix(".safetensors")
            ? try SafetensorsImporter(cell: cell, prefix: prefix).importCheckpoint(snapshot)
            : try Checkpoint.load(snapshot)
    }
}
