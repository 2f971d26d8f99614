import Foundation
import PhantomLinearAlgebra

/// The residual-MLP cell with layer normalisation.
///
///     a = relu(W₁ h + b₁)
///     s = h + W₂ a + b₂ + U x + b
///     f(h, x) = γ ⊙ LayerNorm(relu(s)) + β,   LayerNorm(r) = (r − mean r) / √(var r + ε),   ε = 1e-5 by default
///
/// Tensors: W₁ = `cell.linear1.weight` [m, d], b₁ = `cell.linear1.bias` [m], W₂ = `cell.linear2.weight`
/// [d, m], b₂ = `cell.linear2.bias` [d], γ = `cell.norm.weight` [d], β = `cell.norm.bias` [d],
/// U = `injection.weight` [d, n_in], b = `injection.bias` [d]. The variance is the biased one (PyTorch).
/// relu′(0) = 0, as in PyTorch.
///
/// Complexity: forward three GEMMs; JVP/VJP in the state two or three GEMMs.
public struct ResMLPCell: ImplicitCell {
    /// PyTorch's LayerNorm default ε.
    public static let layerNormEpsilon = 1e-5

    public var kind: CellKind { .resmlp }
    public let stateDimension: Int
    public let inputDimension: Int
    /// m, the hidden width of the MLP.
    public let hiddenWidth: Int
    public var linear1Weight: Matrix
    public var linear1Bias: [Double]
    public var linear2Weight: Matrix
    public var linear2Bias: [Double]
    public var normWeight: [Double]
    public var normBias: [Double]
    public var injectionWeight: Matrix
    public var injectionBias: [Double]
    /// The LayerNorm's ε (checkpoint attribute `norm_eps`, safetensors metadata `phantom.norm_eps`), > 0.
    public var normEpsilon: Double = ResMLPCell.layerNormEpsilon

    /// Whether ε may be used from a file: a finite number in (0, 1].
    public static func isValidNormEpsilon(_ epsilon: Double) -> Bool { epsilon.isFinite && epsilon > 0 && epsilon <= 1 }

    /// Zero parameters except γ = 1 (PyTorch's LayerNorm initialisation).
    public init(stateDimension d: Int, inputDimension n: Int, hiddenWidth m: Int) {
        stateDimension = d
        inputDimension = n
        hiddenWidth = m
        linear1Weight = Matrix(zeros: m, d)
        linear1Bias = [Double](repeating: 0, count: m)
        linear2Weight = Matrix(zeros: d, m)
        linear2Bias = [Double](repeating: 0, count: d)
        normWeight = [Double](repeating: 1, count: d)
        normBias = [Double](repeating: 0, count: d)
        injectionWeight = Matrix(zeros: d, n)
        injectionBias = [Double](repeating: 0, count: d)
    }

    public static func layout(stateDimension d: Int, inputDimension n: Int, hiddenWidth m: Int) -> ParameterLayout {
        ParameterLayout([
            ("cell.linear1.weight", [m, d]), ("cell.linear1.bias", [m]),
            ("cell.linear2.weight", [d, m]), ("cell.linear2.bias", [d]),
            ("cell.norm.weight", [d]), ("cell.norm.bias", [d]),
            ("injection.weight", [d, n]), ("injection.bias", [d]),
        ])
    }

    public var layout: ParameterLayout {
        Self.layout(stateDimension: stateDimension, inputDimension: inputDimension, hiddenWidth: hiddenWidth)
    }
    public var extraDimensions: [String: Int] { ["m": hiddenWidth] }

    public var parameters: [Double] {
        get {
            linear1Weight.elements + linear1Bias + linear2Weight.elements + linear2Bias
                + normWeight + normBias + injectionWeight.elements + injectionBias
        }
        set {
            let p = layout.split(newValue).map { Array($0.values) }
            linear1Weight.elements = p[0]; linear1Bias = p[1]
            linear2Weight.elements = p[2]; linear2Bias = p[3]
            normWeight = p[4]; normBias = p[5]
            injectionWeight.elements = p[6]; injectionBias = p[7]
        }
    }

    public func forward(state h: Matrix, input x: Matrix) -> Matrix {
        forwardPass(h, x).value
    }

    public func linearize(state h: Matrix, input x: Matrix) -> any CellLinearization {
        forwardPass(h, x)
    }

    func forwardPass(_ h: Matrix, _ x: Matrix) -> ResMLPLinearization {
        var aPre = Matrix(zeros: h.rows, hiddenWidth)
        BLAS.gemm(h, linear1Weight, transposeB: true, into: &aPre)
        aPre.addToEachRow(linear1Bias)
        let maskA = aPre.map { $0 > 0 ? 1 : 0 }
        let a = aPre.hadamard(maskA)
        var s = h
        BLAS.gemm(a, linear2Weight, transposeB: true, beta: 1, into: &s)
        BLAS.gemm(x, injectionWeight, transposeB: true, beta: 1, into: &s)
        s.addToEachRow(linear2Bias)
        s.addToEachRow(injectionBias)
        let maskS = s.map { $0 > 0 ? 1 : 0 }
        let r = s.hadamard(maskS)
        let (n, sigma) = LayerNorm.normalize(r, epsilon: normEpsilon)
        var f = n.scalingColumns(by: normWeight)
        f.addToEachRow(normBias)
        return ResMLPLinearization(cell: self, h: h, x: x, a: a, maskA: maskA, maskS: maskS,
                                  normalized: n, sigma: sigma, value: f)
    }
}

/// Row-wise layer normalisation and its (symmetric) Jacobian.
enum LayerNorm {
    /// n = (r − mean r)/σ per row, σ = √(var r + ε); returns n and σ per row.
    static func normalize(_ r: Matrix, epsilon: Double) -> (Matrix, [Double]) {
        var n = r
        var sigmas = [Double](repeating: 0, count: r.rows)
        let d = Double(r.columns)
        for i in 0..<r.rows {
            let row = r.row(i)
            let mean = row.reduce(0, +) / d
            let variance = row.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / d
            let sigma = (variance + epsilon).squareRoot()
            sigmas[i] = sigma
            for j in 0..<r.columns { n[i, j] = (row[j] - mean) / sigma }
        }
        return (n, sigmas)
    }

    /// dn = (dr − mean(dr) − n · mean(n ⊙ dr)) / σ per row. The Jacobian
    /// (1/σ)(I − 11ᵀ/d − n nᵀ/d) is symmetric, so this is also the VJP.
    static func derivative(_ dr: Matrix, normalized n: Matrix, sigma: [Double]) -> Matrix {
        var out = dr
        let d = Double(dr.columns)
        for i in 0..<dr.rows {
            var meanD = 0.0, meanND = 0.0
            for j in 0..<dr.columns { meanD += dr[i, j]; meanND += n[i, j] * dr[i, j] }
            meanD /= d
            meanND /= d
            for j in 0..<dr.columns { out[i, j] = (dr[i, j] - meanD - n[i, j] * meanND) / sigma[i] }
        }
        return out
    }
}

/// Derivatives of ``ResMLPCell`` at (H, X).
struct ResMLPLinearization: CellLinearization {
    let cell: ResMLPCell
    let h: Matrix
    let x: Matrix
    let a: Matrix
    let maskA: Matrix
    let maskS: Matrix
    let normalized: Matrix
    let sigma: [Double]
    let value: Matrix

    /// From a perturbation of s to a perturbation of f: γ ⊙ LN′(relu′(s) ⊙ ds).
    private func throughNorm(_ ds: Matrix) -> Matrix {
        LayerNorm.derivative(ds.hadamard(maskS), normalized: normalized, sigma: sigma).scalingColumns(by: cell.normWeight)
    }

    /// From a cotangent of f to a cotangent of s.
    private func backToS(_ u: Matrix) -> Matrix {
        LayerNorm.derivative(u.scalingColumns(by: cell.normWeight), normalized: normalized, sigma: sigma).hadamard(maskS)
    }

    func stateJVP(_ v: Matrix) -> Matrix {
        let da = BLAS.gemm(v, cell.linear1Weight, transposeB: true).hadamard(maskA)
        var ds = v
        BLAS.gemm(da, cell.linear2Weight, transposeB: true, beta: 1, into: &ds)
        return throughNorm(ds)
    }

    func stateVJP(_ u: Matrix) -> Matrix {
        let gs = backToS(u)
        let ga = BLAS.gemm(gs, cell.linear2Weight).hadamard(maskA)
        var gh = gs
        BLAS.gemm(ga, cell.linear1Weight, beta: 1, into: &gh)
        return gh
    }

    func parameterVJP(_ u: Matrix) -> [Double] {
        let gs = backToS(u)
        let ga = BLAS.gemm(gs, cell.linear2Weight).hadamard(maskA)
        let gsSums = gs.columnSums
        return BLAS.gemm(ga, transposeA: true, h).elements      // cell.linear1.weight
            + ga.columnSums                                    // cell.linear1.bias
            + BLAS.gemm(gs, transposeA: true, a).elements      // cell.linear2.weight
            + gsSums                                           // cell.linear2.bias
            + u.hadamard(normalized).columnSums                // cell.norm.weight
            + u.columnSums                                     // cell.norm.bias
            + BLAS.gemm(gs, transposeA: true, x).elements      // injection.weight
            + gsSums                                           // injection.bias
    }

    func parameterJVP(_ dtheta: [Double]) -> Matrix {
        let p = cell.layout.split(dtheta).map { Array($0.values) }
        let c = cell
        var daPre = BLAS.gemm(h, Matrix(rows: c.hiddenWidth, columns: c.stateDimension, elements: p[0]), transposeB: true)
        daPre.addToEachRow(p[1])
        let da = daPre.hadamard(maskA)
        var ds = BLAS.gemm(da, c.linear2Weight, transposeB: true)
        BLAS.gemm(a, Matrix(rows: c.stateDimension, columns: c.hiddenWidth, elements: p[2]), transposeB: true, beta: 1, into: &ds)
        BLAS.gemm(x, Matrix(rows: c.stateDimension, columns: c.inputDimension, elements: p[6]), transposeB: true, beta: 1, into: &ds)
        ds.addToEachRow(p[3])
        ds.addToEachRow(p[7])
        var df = throughNorm(ds) + normalized.scalingColumns(by: p[4])
        df.addToEachRow(p[5])
        return df
    }

    func restricted(toSample i: Int) -> any CellLinearization {
        let one = [i]
        return ResMLPLinearization(cell: cell, h: h.selectingRows(one), x: x.selectingRows(one),
                                   a: a.selectingRows(one), maskA: maskA.selectingRows(one),
                                   maskS: maskS.selectingRows(one), normalized: normalized.selectingRows(one),
                                   sigma: [sigma[i]], value: value.selectingRows(one))
    }
}
