import ArgumentParser
import PhantomLinearAlgebra
import PhantomModel

extension FixedPointMethod: ExpressibleByArgument {}

/// The forward solver's settings, shared by every command that solves fixed points.
struct SolverOptions: ParsableArguments {
    @Option(help: "Forward solver for h* = f(h*, x): \(FixedPointMethod.allCases.map(\.rawValue).joined(separator: ", ")).")
    var solver: FixedPointMethod = .anderson

    @Option(help: "Stop a sample when ‖f(h) − h‖/(‖f(h)‖ + 1e-12) falls to this value.")
    var tolerance: Double = 1e-10

    @Option(help: "Most forward-solver iterations per batch.")
    var maxIterations: Int = 200

    func validate() throws {
        guard tolerance > 0, tolerance.isFinite else { throw ValidationError("--tolerance must be a positive number, got \(tolerance)") }
        guard maxIterations >= 1 else { throw ValidationError("--max-iterations must be at least 1, got \(maxIterations)") }
    }

    func configuration() throws -> FixedPointConfiguration {
        try FixedPointConfiguration(method: solver, stopping: .relative(tolerance), maxIterations: maxIterations)
    }
}
