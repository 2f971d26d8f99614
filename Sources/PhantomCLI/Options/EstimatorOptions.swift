import ArgumentParser
import PhantomGradients

extension EstimatorSettings.StopMode: ExpressibleByArgument {}

/// The families' settings beyond (k, λ) (``EstimatorSettings``), each refused when no family of the command uses it.
struct EstimatorOptions: ParsableArguments {
    @Option(help: "SHINE: JFB where the estimate exceeds this multiple of ‖g‖ (authors: 1.8; 0: none).") var shineFallback: Double?
    @Option(help: "fp-adjoint, gmres-adjoint: stop on the abs or rel residual.") var truncatedStop: EstimatorSettings.StopMode?
    @Option(help: "τ of --truncated-stop (default: TorchDEQ's 1e-06).") var truncatedTolerance: Double?

    func settings(for ids: [EstimatorID]) throws -> EstimatorSettings {
        try EstimatorSettings(shineFallback: shineFallback, truncatedStop: truncatedStop, truncatedTolerance: truncatedTolerance, for: ids)
    }
}
