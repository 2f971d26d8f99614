import Foundation

/// Work split over the machine's cores.
public enum Parallel {
    /// CPUs Slurm gave this task (`SLURM_CPUS_PER_TASK`, 1…4096), when set.
    public static let slurmCPUs: Int? = ProcessInfo.processInfo.environment["SLURM_CPUS_PER_TASK"]
        .flatMap { Int($0) }.flatMap { (1...4096).contains($0) ? $0 : nil }

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
