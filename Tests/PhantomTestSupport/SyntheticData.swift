import Foundation
import PhantomLinearAlgebra
import PhantomModel
import PhantomModelIO

/// Small synthetic data sets for tests and examples (deterministic for a seed).
public enum SyntheticData {
    /// Regression on a teacher DEQ: y = head(h*(x)) for a random contractive tanh teacher (‖W‖₂ = 0.7),
    /// x ~ N(0, I). Targets are [N, c] floats.
    public static func teacherRegression(count: Int, inputs n: Int, hidden d: Int, outputs c: Int, seed: UInt64) -> DataSet {
        var rng = SplitMix64(seed: seed)
        func gaussian(_ r: Int, _ k: Int, _ s: Double) -> Matrix {
            Matrix(rows: r, columns: k, elements: (0..<(r * k)).map { _ in s * rng.nextGaussian() })
        }
        var w = gaussian(d, d, 1)
        BLAS.scal(0.7 / ((try? w.spectralNorm()) ?? 1), &w.elements)
        let teacher = ImplicitModel(
            cell: TanhCell(
                injectionWeight: gaussian(d, n, 1 / Double(n).squareRoot()), injectionBias: gaussian(1, d, 0.1).elements, cellWeight: w),
            head: OutputHead(weight: gaussian(c, d, 1 / Double(d).squareRoot()), bias: gaussian(1, c, 0.1).elements))
        let x = gaussian(count, n, 1)
        let configuration = (try? FixedPointConfiguration(method: .anderson, stopping: .relative(1e-12), maxIterations: 500))!
        let states = teacher.solve(x, configuration).states
        return DataSet(
            name: "teacher-regression", x: x, y: .values(teacher.head.logits(states)),
            split: (0..<count).map { $0 % 5 == 4 ? 1 : 0 })
    }

    /// Two Gaussian blobs in R^n with means ±μ (‖μ‖ = separation/2) and unit variance; labels 0 and 1.
    public static func twoClass(count: Int, inputs n: Int, separation: Double = 3, seed: UInt64) -> DataSet {
        var rng = SplitMix64(seed: seed)
        var direction = (0..<n).map { _ in rng.nextGaussian() }
        BLAS.scal(separation / 2 / BLAS.nrm2(direction), &direction)
        var x = Matrix(zeros: count, n)
        var labels = [Int](repeating: 0, count: count)
        for i in 0..<count {
            labels[i] = i % 2
            let sign = labels[i] == 0 ? -1.0 : 1.0
            for j in 0..<n { x[i, j] = sign * direction[j] + rng.nextGaussian() }
        }
        return DataSet(name: "two-class", x: x, y: .labels(labels), split: (0..<count).map { $0 % 5 == 4 ? 1 : 0 })
    }
}
