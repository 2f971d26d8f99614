import PhantomLinearAlgebra
import PhantomModel

/// A matrix of independent N(0, scale²) entries.
public func gaussianMatrix(_ rows: Int, _ columns: Int, scale: Double = 1, _ rng: inout SplitMix64) -> Matrix {
    Matrix(rows: rows, columns: columns, elements: (0..<(rows * columns)).map { _ in scale * rng.nextGaussian() })
}

/// Random models for the tests (deterministic for a seed).
public enum RandomModels {
    /// A tanh model with ‖W‖₂ = `norm`, injection N(0, injectionScale²), bias N(0, biasScale²), a Gaussian
    /// head, and a head bias drawn N(0, 0.01) unless given.
    public static func tanh(
        d: Int, n: Int, c: Int, norm: Double, injectionScale: Double, biasScale: Double,
        headBias: [Double]? = nil, seed: UInt64
    ) -> ImplicitModel {
        var rng = SplitMix64(seed: seed)
        var w = gaussianMatrix(d, d, &rng)
        BLAS.scal(norm / ((try? w.spectralNorm()) ?? 1), &w.elements)
        let cell = TanhCell(
            injectionWeight: gaussianMatrix(d, n, scale: injectionScale, &rng),
            injectionBias: (0..<d).map { _ in biasScale * rng.nextGaussian() }, cellWeight: w)
        let head = gaussianMatrix(c, d, &rng)
        return ImplicitModel(cell: cell, head: OutputHead(weight: head, bias: headBias ?? (0..<c).map { _ in 0.1 * rng.nextGaussian() }))
    }

    /// A resmlp model with LayerNorm gain around `normCenter`.
    public static func resmlp(d: Int, n: Int, m: Int, c: Int, normCenter: Double, headBias: [Double]? = nil, seed: UInt64) -> ImplicitModel
    {
        var rng = SplitMix64(seed: seed)
        var cell = ResMLPCell(stateDimension: d, inputDimension: n, hiddenWidth: m)
        cell.linear1Weight = gaussianMatrix(m, d, scale: 0.5, &rng)
        cell.linear1Bias = (0..<m).map { _ in 0.1 * rng.nextGaussian() }
        cell.linear2Weight = gaussianMatrix(d, m, scale: 0.3, &rng)
        cell.linear2Bias = (0..<d).map { _ in 0.1 * rng.nextGaussian() }
        cell.normWeight = (0..<d).map { _ in normCenter + 0.1 * rng.nextGaussian() }
        cell.normBias = (0..<d).map { _ in 0.1 * rng.nextGaussian() }
        cell.injectionWeight = gaussianMatrix(d, n, &rng)
        cell.injectionBias = (0..<d).map { _ in 0.5 * rng.nextGaussian() }
        let head = gaussianMatrix(c, d, &rng)
        return ImplicitModel(cell: cell, head: OutputHead(weight: head, bias: headBias ?? (0..<c).map { _ in 0.1 * rng.nextGaussian() }))
    }
}

extension RandomModels {
    /// An mdeq model: convolutions N(0, (scale/√fan_in)²), GroupNorm gains around 1 (gn3's around `gain`),
    /// biases N(0, 0.01), a Gaussian head.
    public static func mdeq(_ g: MDEQCell.Geometry, c: Int, scale: Double = 0.5, gain: Double = 0.5, seed: UInt64) -> ImplicitModel {
        var rng = SplitMix64(seed: seed)
        var cell = MDEQCell(g)
        for spec in cell.layout.specs {
            let values: [Double]
            if spec.shape.count == 4 {
                let fanIn = Double(spec.shape[1] * 9)
                values = (0..<spec.count).map { _ in scale / fanIn.squareRoot() * rng.nextGaussian() }
            } else if spec.name.hasSuffix(".weight") {
                let center = spec.name == "cell.gn3.weight" ? gain : 1
                values = (0..<spec.count).map { _ in center + 0.1 * rng.nextGaussian() }
            } else {
                values = (0..<spec.count).map { _ in 0.1 * rng.nextGaussian() }
            }
            cell.graphCell.setTensor(spec.name, values)
        }
        let d = g.stateDimension
        let head = gaussianMatrix(c, d, scale: 1 / Double(d).squareRoot(), &rng)
        return ImplicitModel(cell: cell, head: OutputHead(weight: head, bias: (0..<c).map { _ in 0.1 * rng.nextGaussian() }))
    }
}
