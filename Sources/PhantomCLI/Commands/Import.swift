import ArgumentParser
import Foundation
import PhantomFileSystem
import PhantomInterop
import PhantomModel
import PhantomModelIO

/// `phantom import`: a PyTorch model saved as safetensors, or any model exported to ONNX → a phantom checkpoint.
struct Import: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Convert a PyTorch state dict (safetensors) or an ONNX model into a phantom checkpoint.",
        discussion: """
            An .onnx file holds one graph with inputs h and x and outputs f and logits (README, "Bring your own model"); \
            its graph and parameters are stored with the file's SHA-256. For .safetensors: \
            Tensor names follow the checkpoint format (injection.weight, cell.weight, head.weight, …). The wrapper \
            prefixes module., _orig_mod. and model. are stripped in any order, then --prefix and the wrapper prefixes again, \
            then the first --rename that matches. \
            Weight norm and spectral norm (old hooks or torch.nn.utils.parametrizations, any dim, TorchDEQ's with or \
            without learn_scale) are folded into X.weight. The cell and dimensions come from __metadata__ \
            (\(SafetensorsImporter.metadataKeysDescription)), else --cell, else the tensor shapes. An mdeq file needs \
            phantom.groups (no tensor holds it) and, unless d/channels is a square, phantom.height and phantom.width. \
            Missing and unused tensors are errors; pickled .pt/.pth files are refused, never unpickled.
            """
    )

    @Argument(help: "A .safetensors or .onnx file.") var input: String
    @Option(name: .shortAndLong, help: "The checkpoint to write (.h5).") var output: String
    @OptionGroup var safetensors: SafetensorsOptions
    @Flag(help: "Overwrite an existing checkpoint.") var force = false

    func run() throws {
        let checkpoint: Checkpoint
        if input.hasSuffix(".onnx") {
            checkpoint = try ONNXImporter.importCheckpoint(input)
        } else {
            var importer = SafetensorsImporter(cell: safetensors.cell, prefix: safetensors.prefix)
            importer.renames = try safetensors.renames
            checkpoint = try importer.importCheckpoint(input)
        }
        try AtomicOutput.refuseReplacing([input], with: output)
        try checkpoint.save(to: output, overwrite: force)
        let m = checkpoint.model
        print(
            "wrote \(output): \(m.cell.kind.rawValue) cell, n_in = \(m.inputDimension), d = \(m.stateDimension), "
                + "c = \(m.outputDimension)")
    }
}

/// How `.safetensors` inputs of import, analyze and inspect are read when their metadata does not say.
struct SafetensorsOptions: ParsableArguments {
    @Option(help: "For .safetensors inputs without phantom.cell metadata: the cell kind.") var cell: CellKind?
    @Option(help: "For .safetensors: a prefix to strip from tensor names (after module., _orig_mod. and model.).") var prefix: String?
    @Option(help: "For .safetensors inputs: rename tensors, OLD=NEW replaces a leading OLD with NEW (repeatable; after the prefixes).")
    var rename: [String] = []

    /// `--rename`'s pairs (``SafetensorsImporter/renames(parsing:)``).
    var renames: [(String, String)] { get throws { try SafetensorsImporter.renames(parsing: rename) } }
}
