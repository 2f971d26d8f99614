import PhantomLinearAlgebra
import PhantomModel

/// One input of an op under test: its per-sample shape, whether it is shared (one row for every sample), and how its
/// values are drawn (Gaussian by default; e.g. positive for a divisor or a square root).
public struct OpCheckInput: Sendable {
    public let shape: [Int]
    public let shared: Bool
    public let draw: @Sendable (inout SplitMix64) -> Double

    public init(_ shape: [Int], shared: Bool = false, draw: (@Sendable (inout SplitMix64) -> Double)? = nil) {
        self.shape = shape
        self.shared = shared
        self.draw = draw ?? { $0.nextGaussian() }
    }

    public var count: Int { shape.reduce(1, *) }
}

/// The worst discrepancies an op check found, each relative to the scale of what it compares.
public struct OpCheckReport: Sendable, CustomStringConvertible {
    /// Central finite differences of the value against the JVP, per input (the largest).
    public var finiteDifference = 0.0
    /// ⟨JVP t, g⟩ against Σ_k ⟨t_k, VJP_k g⟩, per-sample and summed-shared modes.
    public var adjointness = 0.0
    /// The batch evaluated at once against each sample alone (value, JVP, VJP) and the point's restriction.
    public var batching = 0.0
    /// A one-sample point applied to several tangent rows against each row alone.
    public var directions = 0.0
    /// Summed-shared cotangents against the sum of the per-sample ones.
    public var sharedSums = 0.0
    /// Factored parameter gradients against the dense per-sample rows.
    public var factors = 0.0

    public var description: String {
        "fd \(finiteDifference), adjoint \(adjointness), batch \(batching), directions \(directions), sums \(sharedSums), factors \(factors)"
    }
}

/// Checks an op's derivatives through its protocol only (``BoundOp``, ``OpPoint``) at a random batch point.
public enum OpChecks {
    static func random(_ input: OpCheckInput, rows: Int, _ rng: inout SplitMix64) -> Matrix {
        Matrix(rows: rows, columns: input.count, elements: (0..<(rows * input.count)).map { _ in input.draw(&rng) })
    }

    static func gaussian(_ rows: Int, _ columns: Int, _ rng: inout SplitMix64) -> Matrix {
        Matrix(rows: rows, columns: columns, elements: (0..<(rows * columns)).map { _ in rng.nextGaussian() })
    }

    static func inner(_ a: Matrix, _ b: Matrix) -> Double {
        let r = max(a.rows, b.rows)
        return BLAS.dot(a.expandingRows(to: r).elements, b.expandingRows(to: r).elements)
    }

    static func difference(_ a: Matrix, _ b: Matrix) -> Double {
        let r = max(a.rows, b.rows)
        let x = a.expandingRows(to: r), y = b.expandingRows(to: r)
        let scale = max(x.frobeniusNorm, y.frobeniusNorm, 1e-300)
        return (x - y).frobeniusNorm / scale
    }

    /// Runs every check of `op` bound to `inputs` at a batch of `samples`.
    public static func check(
        _ op: any GraphOp, _ inputs: [OpCheckInput], samples: Int = 3, step: Double = 1e-6, seed: UInt64 = 1
    ) throws -> OpCheckReport {
        var rng = SplitMix64(seed: seed)
        let bound = try op.bind(inputs.map { OpInput(shape: $0.shape, shared: $0.shared) })
        let allShared = inputs.allSatisfy(\.shared)
        let rows = allShared ? 1 : samples
        let x = inputs.map { random($0, rows: $0.shared ? 1 : samples, &rng) }
        let (y, point) = bound.linearize(x)
        let outCount = bound.outputShape.reduce(1, *)
        precondition(y.columns == outCount && y.rows == rows, "\(op.type): output \(y.rows)×\(y.columns)")
        var report = OpCheckReport()
        // Tangents: a shared input's is shared (one row), as a shared δθ is.
        let t = inputs.map { gaussian($0.shared ? 1 : samples, $0.count, &rng) }
        // 1. Finite differences, input by input.
        for k in inputs.indices {
            var plus = x, minus = x
            plus[k] = x[k] + step * t[k]
            minus[k] = x[k] - step * t[k]
            let fd = (1 / (2 * step)) * (bound.evaluate(plus).expandingRows(to: rows) - bound.evaluate(minus).expandingRows(to: rows))
            var only = [Matrix?](repeating: nil, count: inputs.count)
            only[k] = t[k]
            let jvp = point.jvp(only) ?? Matrix(zeros: rows, outCount)
            report.finiteDifference = max(report.finiteDifference, difference(fd, jvp))
        }
        // 2. Adjointness, per-sample cotangents and summed shared ones.
        let g = gaussian(rows, outCount, &rng)
        let everything = point.jvp(t.map { Optional($0) }) ?? Matrix(zeros: rows, outCount)
        let lhs = inner(everything, g)
        for sum in [false, true] {
            let c = point.vjp(g, wanted: inputs.map { _ in true }, sumShared: sum)
            var rhs = 0.0
            for k in inputs.indices { if let ck = c[k] { rhs += inner(t[k], ck) } }
            report.adjointness = max(report.adjointness, abs(lhs - rhs) / max(abs(lhs), everything.frobeniusNorm * g.frobeniusNorm, 1e-300))
            // 5. A summed shared cotangent has one row and equals the sum of the per-sample rows.
            if sum {
                let rowsMode = point.vjp(g, wanted: inputs.map { _ in true }, sumShared: false)
                for k in inputs.indices where inputs[k].shared {
                    guard let s = c[k], let r = rowsMode[k] else { continue }
                    precondition(s.rows == 1, "\(op.type): summed shared cotangent has \(s.rows) rows")
                    report.sharedSums = max(report.sharedSums, difference(s, r.rowSum))
                }
            }
        }
        // 6. Factors against dense rows.
        let rowsMode = point.vjp(g, wanted: inputs.map { _ in true }, sumShared: false)
        for k in inputs.indices where inputs[k].shared {
            guard let part = point.factor(g, input: k), let dense = rowsMode[k] else { continue }
            let materialized = ParameterFactors(parts: [part]).materialized
            report.factors = max(report.factors, difference(materialized, dense))
        }
        guard !allShared else { return report }
        // 3a. A shared input's tangent with one row per sample (a per-sample δθ_i, the Gram's parameter JVP rows): row i
        // of the JVP is the JVP of row i's tangent alone.
        for k in inputs.indices where inputs[k].shared {
            let rowsTangent = gaussian(samples, inputs[k].count, &rng)
            var perSample = [Matrix?](repeating: nil, count: inputs.count)
            perSample[k] = rowsTangent
            let together = point.jvp(perSample) ?? Matrix(zeros: samples, outCount)
            for i in 0..<samples {
                perSample[k] = rowsTangent.selectingRows([i])
                let one = point.jvp(perSample) ?? Matrix(zeros: 1, outCount)
                report.batching = max(
                    report.batching, difference(together.selectingRows([i]), one.expandingRows(to: samples).selectingRows([i])))
            }
        }
        // 3. Batched = per sample, and the point's restriction = the point of one sample.
        for i in 0..<samples {
            let xi = zip(inputs, x).map { $0.shared ? $1 : $1.selectingRows([i]) }
            let (yi, pi) = bound.linearize(xi)
            report.batching = max(report.batching, difference(yi, y.selectingRows([i])))
            let ti = zip(inputs, t).map { Optional($0.shared ? $1 : $1.selectingRows([i])) }
            let restricted = point.selectingSamples([i])
            for candidate in [pi, restricted] {
                let j = candidate.jvp(ti) ?? Matrix(zeros: 1, outCount)
                report.batching = max(report.batching, difference(j, everything.selectingRows([i])))
                let c = candidate.vjp(g.selectingRows([i]), wanted: inputs.map { _ in true }, sumShared: false)
                for k in inputs.indices {
                    guard let ck = c[k], let full = rowsMode[k] else { continue }
                    report.batching = max(report.batching, difference(ck, full.expandingRows(to: samples).selectingRows([i])))
                }
            }
            // 4. The one-sample point on several directions (rows) at once, for the batched inputs.
            let directions = 3
            let td = zip(inputs, t).map { input, _ in input.shared ? nil : Optional(gaussian(directions, input.count, &rng)) }
            let together = pi.jvp(td)
            let gd = gaussian(directions, outCount, &rng)
            let back = pi.vjp(gd, wanted: inputs.map { !$0.shared }, sumShared: false)
            for r in 0..<directions {
                let one = pi.jvp(td.map { $0?.selectingRows([r]) })
                if let together, let one { report.directions = max(report.directions, difference(together.selectingRows([r]), one)) }
                let oneBack = pi.vjp(gd.selectingRows([r]), wanted: inputs.map { !$0.shared }, sumShared: false)
                for k in inputs.indices where !inputs[k].shared {
                    guard let a = back[k], let b = oneBack[k] else { continue }
                    report.directions = max(report.directions, difference(a.selectingRows([r]), b))
                }
            }
        }
        return report
    }
}
