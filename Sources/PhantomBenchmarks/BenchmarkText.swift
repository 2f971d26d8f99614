import Foundation
import PhantomLinearAlgebra

/// One benchmark: settings checked by ``validate()``, a ``run()`` and its report as text — `phantom bench` prints
/// ``headline`` before a run and ``lines(_:)`` after it.
public protocol Benchmark: Sendable {
    associatedtype Report
    func validate() throws
    func run() throws -> Report
    var headline: String { get }
    func lines(_ report: Report) -> [String]
}

extension GridBenchmark: Benchmark {}
extension TrainingBenchmark: Benchmark {}
extension CellBenchmark: Benchmark {}

/// `s` padded with spaces to `width` characters (at least one space after it).
func pad(_ s: String, _ width: Int) -> String {
    s.count >= width ? s + " " : s + String(repeating: " ", count: width - s.count)
}

extension GridBenchmark {
    public var headline: String {
        "phantom bench grid: tanh cell, d = \(stateDimension), B = \(batch), n_in = \(inputs), K = \(maxSteps), "
            + "\(lambdaCount) λ values; \(Stopwatch.blasLine)"
    }

    /// Each time with the ratios the targets are stated in: grid / one pass ≤ 1.5, direct / grid ≥ 20, UPG grid /
    /// one UPG pass ≤ 3, batched VJP / dgemm ≥ 0.5.
    public func lines(_ r: Report) -> [String] {
        let (k, lambdas) = (maxSteps, lambdaCount)
        func line(_ label: String, _ seconds: Double) -> String { pad(label, 44) + String(format: "%9.4f s", seconds) }
        return [
            "forward: \(r.forwardConverged ? "all converged" : "NOT all converged"); "
                + "exact adjoint: \(r.adjointConverged ? "converged" : "NOT converged")",
            line("one NPG(\(k), 0.5) pass (batch mean)", r.onePass),
            line("grid engine, per sample (\(k)×\(lambdas) cells)", r.gridPerSample),
            line("grid engine, per sample + batch mean", r.gridWithBatch),
            line("  of which not timed: Grams M Mᵀ (closed form)", r.grams),
            line("direct per-cell recomputation (scaled)", r.direct),
            String(
                format: "ratios: grid (per sample) / one pass = %.2f (target ≤ 1.5); grid (+ batch) / one pass = %.2f",
                r.gridPerSample / r.onePass, r.gridWithBatch / r.onePass),
            String(
                format: "        direct / grid (per sample) = %.0f, direct / grid (+ batch) = %.0f (target ≥ 20)",
                r.direct / r.gridPerSample, r.direct / r.gridWithBatch),
            line("one UPG(\(k), 0.5) pass (batch mean)", r.upgPass),
            line("UPG grid (\(k)×\(lambdas) cells, per sample + batch)", r.upgGrid),
            String(format: "        UPG grid / one UPG pass = %.1f (target ≤ 3)", r.upgGrid / r.upgPass),
            String(
                format: "batched state VJP %.1f GFLOP/s, dgemm (B×d·d×d) %.1f GFLOP/s: ratio %.2f (target ≥ 0.5)",
                r.vjpGFLOPS, r.gemmGFLOPS, r.vjpGFLOPS / r.gemmGFLOPS)
        ]
    }
}

extension TrainingBenchmark {
    public var headline: String {
        "phantom bench train: \(cell.rawValue) d = \(hidden), \(data), batch \(batch), \(epochs) epochs each; \(Stopwatch.blasLine)"
    }

    /// A row per gradient, then UPG's speed-ups s = t_exact / t_UPG of the backward pass and of the whole step.
    public func lines(_ r: Report) -> [String] {
        var lines = [pad("gradient", 30) + pad("backward/step", 15) + pad("total/step", 13) + pad("test acc", 10) + "unconverged adjoint"]
        for row in r.rows {
            lines.append(
                pad(row.label, 30) + pad(String(format: "%.2f ms", 1000 * row.backward), 15)
                    + pad(String(format: "%.2f ms", 1000 * row.total), 13)
                    + pad(String(format: "%.3f", row.testAccuracy), 10) + "\(row.unconvergedAdjoint)")
        }
        let (fixed, gmres, upg) = (r.rows[0], r.rows[1], r.rows[2])
        lines.append(
            String(
                format: "backward speed-up of UPG(5, 0.5): %.2f× vs the fixed-point adjoint, %.2f× vs GMRES (the paper reports ≈ 1.7×)",
                fixed.backward / upg.backward, gmres.backward / upg.backward))
        lines.append(
            String(format: "total step speed-up: %.2f× vs fixed-point, %.2f× vs GMRES", fixed.total / upg.total, gmres.total / upg.total))
        return lines
    }
}

extension CellBenchmark {
    public var headline: String { "phantom bench cell: mdeq C = \(channels), E = \(expansion), B = \(batch); \(Stopwatch.blasLine)" }

    /// dgemm's rate, then per image size the state VJP's time, rate and ratio to dgemm (target ≥ 0.3).
    public func lines(_ r: Report) -> [String] {
        [String(format: "dgemm 512×512·512×512: %.1f GFLOP/s", r.gemmGFLOPS)]
            + r.rows.map { row in
                String(
                    format: "%2d×%-2d (d = %6d): state VJP %.4f s, %.1f GFLOP/s, ratio to dgemm %.2f (target ≥ 0.3)",
                    row.size, row.size, row.stateDimension, row.seconds, row.gflops, row.gflops / r.gemmGFLOPS)
            }
    }

    /// Image sizes from a comma-separated list ("8,16").
    /// - Throws: ``ConfigurationError`` when an entry is not an integer.
    public static func sizes(parsing text: String) throws(ConfigurationError) -> [Int] {
        let parsed = text.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard parsed.allSatisfy({ $0 != nil }) else { throw ConfigurationError("--sizes: '\(text)' is not a list of integers") }
        return parsed.compactMap { $0 }
    }
}
