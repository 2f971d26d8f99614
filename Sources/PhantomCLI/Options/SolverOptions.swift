import ArgumentParser
import PhantomLinearAlgebra
import PhantomModel

extension FixedPointMethod: ExpressibleByArgument {}

/// The forward solver's settings, shared by every command that solves fixed points.
struct SolverOptions: ParsableArguments {
    @Option(help: "Forward solver for h* = f(h*, x).") var solver: FixedPointMethod = .auto
    @Option(help: "Stop a sample when ‖f(h) − h‖/(‖f(h)‖ + 1e-12) ≤ this.") var tolerance = FixedPointConfiguration.analysisTolerance
    @Option(help: "Most forward-solver iterations per batch.") var maxIterations: Int = FixedPointConfiguration.analysisMaxIterations

    func validate() throws { _ = try configuration() }

    func configuration() throws -> FixedPointConfiguration {
        try FixedPointConfiguration(method: solver, stopping: .relative(tolerance), maxIterations: maxIterations)
    }
}
