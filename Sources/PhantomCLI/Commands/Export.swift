import ArgumentParser
import Foundation
import PhantomFileSystem
import PhantomInterop
import PhantomONNX
import PhantomSafetensors

extension SafetensorsDType: ExpressibleByArgument {
    public init?(argument: String) { self.init(rawValue: argument.uppercased()) }
}

/// `phantom export`: a checkpoint → a PyTorch state dict (safetensors) with the `phantom.*` metadata, or an ONNX model.
struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a checkpoint's tensors as a PyTorch state dict (safetensors), with the metadata phantom import reads back.",
        discussion: """
            Tensor names are the checkpoint's (injection.weight, cell.weight, head.bias, …), loadable with \
            safetensors.torch.load_file and model.load_state_dict; __metadata__ carries the keys phantom import \
            reads (\(SafetensorsImporter.metadataKeysDescription); norm_eps for cells with a LayerNorm or GroupNorm). \
            A round trip phantom → PyTorch → phantom is exact in F64. \
            An OUTPUT ending in .onnx gets an ONNX model (inputs h, x; outputs f, logits; float64): with --template, the \
            model's original ONNX file with the checkpoint's parameters as its initializers (same graph); without, the \
            checkpoint's graph (any cell, the built-ins too) written as ONNX opset 21.
            """
    )

    @Argument(help: "A phantom checkpoint (.h5), a .safetensors or an .onnx file.") var checkpoint: String
    @Option(name: .shortAndLong, help: "The file to write: .safetensors, or .onnx.") var output: String
    @Option(help: "For .onnx output: the ONNX file the model was imported from; its graph is kept, its initializers replaced.")
    var template: String?
    @Option(help: "Element type: F64 or F32.") var dtype: SafetensorsDType = .f64
    @Flag(help: "Overwrite an existing file.") var force = false

    func validate() throws { guard dtype == .f64 || dtype == .f32 else { throw ValidationError("--dtype: F64 or F32") } }

    func run() throws {
        let loaded = try ModelFile.load(checkpoint)
        try AtomicOutput.refuseReplacing([checkpoint] + (template.map { [$0] } ?? []), with: output)
        if output.hasSuffix(".onnx") {
            let model =
                try template.map { try ONNXExporter.export(loaded.model, template: ONNXFile.read($0), templatePath: $0) }
                ?? ONNXExporter.export(loaded.model)
            try ONNXFile.write(model, to: output, overwrite: force)
            print(
                "wrote \(output): ONNX opset \(model.opset), \(model.graph.nodes.count) nodes, "
                    + "\(loaded.model.allSpecs.count) parameter tensors"
            )
            return
        }
        guard template == nil else { throw ValidationError("--template: for .onnx output only") }
        try SafetensorsExporter.export(loaded, to: output, overwrite: force, dtype: dtype)
        print("wrote \(output): \(loaded.model.cell.kind.rawValue) cell, \(loaded.model.allSpecs.count) tensors (\(dtype.rawValue))")
    }
}
