import PhantomLinearAlgebra
import PhantomModel

/// Models for the fallback chain of `.auto`.
public enum SolverModels {
    /// f = tanh(W h + U x + b) with W = 0.97 I + 0.9 S (S the shift: one eigenvalue 0.97, strongly non-normal,
    /// ‖W‖₂ ≈ 1.8): Anderson(5) stalls on some samples (residual 1e-2…1e-1), Broyden or Newton do not.
    public static func nonNormal() -> (ImplicitModel, Matrix) {
        let d = 32
        var w = Matrix(zeros: d, d)
        for i in 0..<d { w[i, i] = 0.97; if i + 1 < d { w[i, i + 1] = 0.9 } }
        var rng = SplitMix64(seed: 7)
        let cell = TanhCell(
            injectionWeight: gaussianMatrix(d, 3, scale: 0.3, &rng), injectionBias: (0..<d).map { _ in 0.1 * rng.nextGaussian() },
            cellWeight: w)
        let model = ImplicitModel(cell: cell, head: OutputHead(weight: gaussianMatrix(2, d, &rng), bias: [0, 0]))
        return (model, gaussianMatrix(6, 3, &rng))
    }

    /// f = tanh(−1.5 h + 3 x + 0.05) per coordinate (d = 4): at x = 0 the fixed point h ≈ 0.02 repels
    /// (J ≈ −1.5 I); at |x| = 2 the map saturates and its fixed point attracts.
    public static func oneRepelling() -> (ImplicitModel, Matrix) {
        let d = 4
        let cell = TanhCell(
            injectionWeight: Matrix(rows: d, columns: 1, elements: [Double](repeating: 3, count: d)),
            injectionBias: [Double](repeating: 0.05, count: d), cellWeight: -1.5 * Matrix.identity(d))
        let model = ImplicitModel(
            cell: cell,
            head: OutputHead(
                weight: Matrix(rows: 2, columns: d, elements: [Double](repeating: 0.5, count: 2 * d)),
                bias: [0, 0]))
        return (model, Matrix(rowArrays: [[0], [2], [-2], [2.5]]))
    }
}
