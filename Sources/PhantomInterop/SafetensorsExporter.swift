import Foundation
import PhantomFileSystem
import PhantomModel
import PhantomModelIO
import PhantomSafetensors

/// Writes a phantom checkpoint's tensors as safetensors (F64, or F32), with the `phantom.*` metadata that
/// lets ``SafetensorsImporter`` read it back without options.
public enum SafetensorsExporter {
    /// Writes atomically; refuses an existing file unless `overwrite`.
    public static func export(_ checkpoint: Checkpoint, to path: String, overwrite: Bool = false, dtype: SafetensorsDType = .f64) throws {
        let model = checkpoint.model
        let values = model.cell.parameters + model.head.parameters
        var offset = 0
        var tensors: [(name: String, tensor: SafetensorsTensor)] = []
        for spec in model.allSpecs {
            let count = spec.shape.reduce(1, *)
            tensors.append(
                (spec.name, SafetensorsTensor(dtype: dtype, shape: spec.shape, values: Array(values[offset..<(offset + count)]))))
            offset += count
        }
        var metadata = [
            "phantom.cell": model.cell.kind.rawValue, "phantom.n_in": "\(model.inputDimension)",
            "phantom.d": "\(model.stateDimension)", "phantom.c": "\(model.outputDimension)"
        ]
        for (name, value) in model.cell.extraDimensions { metadata["phantom.\(name)"] = "\(value)" }
        if let epsilon = model.cell.normalizationEpsilon { metadata["phantom.norm_eps"] = "\(epsilon)" }
        if let dataset = checkpoint.dataset { metadata["phantom.dataset"] = dataset }
        let bytes = try Safetensors.encode(tensors, metadata: metadata)
        try AtomicOutput.write(bytes, to: path, overwrite: overwrite)
    }
}
