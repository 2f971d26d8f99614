import ArgumentParser
import Foundation
import PhantomFileSystem
import PhantomInterop
import PhantomModel
import PhantomModelIO

/// `phantom import`: a PyTorch model saved as safetensors → a phantom checkpoint.
struct Import: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Convert a PyTorch state dict saved as safetensors into a phantom checkpoint.",
        discussion: """
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

    @Argument(help: "A .safetensors file.") var input: String
    @Option(name: .shortAndLong, help: "The checkpoint to write (.h5).") var output: String
    @OptionGroup var safetensors: SafetensorsOptions
    @Flag(help: "Overwrite an existing checkpoint.") var force = false

    func run() throws {
        var importer = SafetensorsImporter(cell: safetensors.cell, prefix: safetensors.prefix)
        importer.renames = try safetensors.renames
        let checkpoint = try importer.importCheckpoint(input)
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
