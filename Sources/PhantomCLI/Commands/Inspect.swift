import ArgumentParser
import Foundation
import PhantomAnalysis
import PhantomHDF5
import PhantomModel
import PhantomModelIO

/// `phantom inspect`: what a checkpoint holds, and how its fixed points behave on a few samples.
struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show what a checkpoint holds; with --data, solve a few fixed points and print diagnostics.",
        discussion: """
            Without --data: the cell, its dimensions, every tensor with its shape, and the metadata.
            With --data FILE (an HDF5 file with x [N, n_in]): for the samples analyze takes (the test split first, \
            then the first --samples), the data row, the forward solve's method, iterations, residuals and status, \
            ‖J‖₂ and ρ(J) at h*, the predicted class (argmax of the logits) and the loss.
            """
    )

    @Argument(help: "A phantom checkpoint (.h5) or a PyTorch state dict (.safetensors).") var checkpoint: String
    @Option(help: "An HDF5 data file with x [N, n_in]; solves the first --samples fixed points.") var data: String?
    @Option(help: "How many samples to solve with --data.") var samples: Int = Inspection.defaultSamples
    @OptionGroup var solverOptions: SolverOptions
    @OptionGroup var safetensorsOptions: SafetensorsOptions

    func run() throws {
        // Everything is checked before anything is printed.
        let inspection = try Inspection(
            checkpoint, cell: safetensorsOptions.cell, prefix: safetensorsOptions.prefix,
            renames: try safetensorsOptions.renames, data: data,
            samples: samples, solver: try solverOptions.configuration())
        for line in inspection.describe() + inspection.sampleTable(solver: try solverOptions.configuration()) { print(line) }
    }
}
