import PhantomModel
import PhantomModelIO

/// Loads a model from a phantom checkpoint (.h5) or a PyTorch state dict (.safetensors).
public enum ModelFile {
    /// - Parameters:
    ///   - cell, prefix: for .safetensors files whose metadata does not say (``SafetensorsImporter``).
    public static func load(_ path: String, cell: CellKind? = nil, prefix: String? = nil) throws -> Checkpoint {
        path.hasSuffix(".safetensors")
            ? try SafetensorsImporter(cell: cell, prefix: prefix).importCheckpoint(path)
            : try Checkpoint.load(path)
    }
}
