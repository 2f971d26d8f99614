import Foundation
import PhantomLinearAlgebra

/// Timing for the benchmarks: a warm-up call, then the median of `repeats` runs (STACK.md: medians and ratios
/// in one run, in a release build, with the BLAS kernel printed beside the figures).
public enum Stopwatch {
    public static func seconds(_ body: () throws -> Void) rethrows -> Double {
        let start = DispatchTime.now().uptimeNanoseconds
        try body()
        return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    }

    public static func median(repeats: Int, warmUp: Bool = true, _ body: () throws -> Void) rethrows -> Double {
        if warmUp { try body() }
        var times: [Double] = []
        for _ in 0..<max(repeats, 1) { times.append(try seconds(body)) }
        times.sort()
        return times[times.count / 2]
    }

    /// One line naming the BLAS kernel and thread count, printed beside every figure.
    public static var blasLine: String {
        "OpenBLAS core \(BLASInfo.coreName), \(BLASInfo.threadCount) threads"
            + (ProcessInfo.processInfo.environment.keys.contains { $0.hasPrefix("OPENBLAS_") }
                ? " (OPENBLAS_* set in the environment)" : "")
    }
}
