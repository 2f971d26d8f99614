import ArgumentParser
import Foundation
import PhantomLinearAlgebra

/// `phantom bench`: performance measurements (run them from a release build).
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure the toolkit's performance (use a release build: swift build -c release).",
        subcommands: [BenchGrid.self, BenchTrain.self]
    )
}

/// Timing helpers shared by the benchmarks: a warm-up call, then the median of `repeats` runs.
enum Stopwatch {
    static func seconds(_ body: () -> Void) -> Double {
        let start = DispatchTime.now().uptimeNanoseconds
        body()
        return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    }

    static func median(repeats: Int, warmUp: Bool = true, _ body: () -> Void) -> Double {
        if warmUp { body() }
        let times = (0..<max(repeats, 1)).map { _ in seconds(body) }.sorted()
        return times[times.count / 2]
    }

    /// One line naming the BLAS kernel and thread count, printed beside every figure.
    static var blasLine: String {
        "OpenBLAS core \(BLASInfo.coreName), \(BLASInfo.threadCount) threads"
            + (ProcessInfo.processInfo.environment.keys.contains { $0.hasPrefix("OPENBLAS_") } ? " (OPENBLAS_* set in the environment)" : "")
    }
}
