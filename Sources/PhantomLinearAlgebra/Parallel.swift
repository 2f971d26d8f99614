import Foundation

/// Work split over the machine's cores.
public enum Parallel {
    /// The threads this process uses under Slurm: `SLURM_CPUS_PER_TASK`, at most the machine's active cores (a
    /// task cannot use more cores than the node has; OpenBLAS at 64+ threads under an address-space limit has been
    /// seen to deadlock); nil when the variable is unset or invalid (``slurmCPUs(in:cores:)`` says why — the
    /// command checks it at start).
    public static let slurmCPUs: Int? = try? slurmCPUs(in: ProcessInfo.processInfo.environment) ?? nil

    /// `SLURM_CPUS_PER_TASK` from `environment`, clamped to `cores`.
    /// - Throws: ``ConfigurationError`` when it is set but not a whole number in 1…2²⁰.
    public static func slurmCPUs(
        in environment: [String: String], cores: Int = ProcessInfo.processInfo.activeProcessorCount
    ) throws(ConfigurationError) -> Int? {
        guard let text = environment["SLURM_CPUS_PER_TASK"] else { return nil }
        guard let value = Int(text.trimmingCharacters(in: .whitespaces)), (1...(1 << 20)).contains(value) else {
            throw ConfigurationError(
                "the environment variable SLURM_CPUS_PER_TASK is '\(text.prefix(40))', expected a whole number of CPUs ≥ 1")
        }
        return min(value, max(cores, 1))
    }

    /// Workers used by ``map(_:_:)``: the active cores, at most Slurm's CPUs per task.
    public static let workerCount: Int = min(ProcessInfo.processInfo.activeProcessorCount, slurmCPUs ?? Int.max)

    /// `(0..<count).map(transform)`, with the indices dealt round-robin to one worker per core so that slow
    /// and fast items mix. `transform` must be safe to call concurrently. Small BLAS calls made inside run
    /// single-threaded in their worker.
    public static func map<T: Sendable>(_ count: Int, _ transform: @Sendable (Int) -> T) -> [T] {
        let results = Results<T>(count)
        let workers = max(1, min(count, workerCount))
        BLASInfo.withThreads(workers > 1 ? 1 : BLASInfo.threadCount) {
            DispatchQueue.concurrentPerform(iterations: workers) { worker in
                var local: [(Int, T)] = []
                var i = worker
                while i < count {
                    local.append((i, transform(i)))
                    i += workers
                }
                results.store(local)
            }
        }
        return results.values.map { $0! }
    }
}

/// Result slots filled by the workers of ``Parallel/map(_:_:)``.
private final class Results<T>: @unchecked Sendable {
    private let lock = NSLock()
    private(set) var values: [T?]
    init(_ count: Int) { values = Array(repeating: nil, count: count) }
    func store(_ items: [(Int, T)]) {
        lock.lock()
        for (i, value) in items { values[i] = value }
        lock.unlock()
    }
}
