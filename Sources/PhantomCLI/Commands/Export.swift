import ArgumentParser
import Foundation
import PhantomFileSystem
import PhantomInterop
import PhantomSafetensors

extension SafetensorsDType: ExpressibleByArgument {
    public init?(argument: String) { self.init(rawValue: argument.uppercased()) }
}

/// `phantom export`: a checkpoint → a PyTorch state dict (safetensors) with the `phantom.*` metadata.
struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a checkpoint's tensors as a PyTorch state dict (safetensors), with the metadata phantom import reads back.",
        discussion: """
            Tensor names are the checkpoint's (injection.weight, cell.weight, head.bias, …), loadable with \
            safetensors.torch.load_file and model.load_state_dict; __metadata__ carries the keys phantom import \
            reads (\(SafetensorsImporter.metadataKeysDescription); norm_eps for cells with a LayerNorm or GroupNorm). \
            A round trip phantom → PyTorch → phantom is exact in F64.
            """
    )

    @Argument(help: "A phantom checkpoint (.h5) or a .safetensors file.") var checkpoint: String
    @Option(name: .shortAndLong, help: "The safetensors file to write.") var output: String
    @Option(help: "Element type: F64 or F32.") var dtype: SafetensorsDType = .f64
    @Flag(help: "Overwrite an existing file.") var force = false

    func validate() throws { guard dtype == .f64 || dtype == .f32 else { throw ValidationError("--dtype: F64 or F32") } }

    func run() throws {
        let loaded = try ModelFile.load(checkpoint)
        try AtomicOutput.refuseReplacing([checkpoint], with: output)
        try SafetensorsExporter.export(loaded, to: output, overwrite: force, dtype: dtype)
        print("wrote \(output): \(loaded.model.cell.kind.rawValue) cell, \(loaded.model.allSpecs.count) tensors (\(dtype.rawValue))")
    }
}
