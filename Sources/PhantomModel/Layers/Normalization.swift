import Foundation
import PhantomLinearAlgebra

/// PyTorch's `nn.LayerNorm(d)` over the whole sample, affine: y = γ ⊙ n + β with
/// n = (z − mean z)/σ, σ = √(var z + ε) (biased variance), γ = `<name>.weight` [d], β = `<name>.bias` [d].
public struct LayerNorm: NormalizationLayer {
    public let name: String
    public let inputWidth: Int
    public var outputWidth: Int { inputWidth }
    public var epsilon: Double
    public var weight: [Double]
    public var bias: [Double]

    /// γ = 1, β = 0 (PyTorch's initialisation), ε = 1e-5 by default.
    public init(_ name: String, width: Int, epsilon: Double = 1e-5) {
        self.name = name
        inputWidth = width
        self.epsilon = epsilon
        weight = [Double](repeating: 1, count: width)
        bias = [Double](repeating: 0, count: width)
    }

    public var tensors: [(name: String, shape: [Int])] { [("\(name).weight", [inputWidth]), ("\(name).bias", [inputWidth])] }

    public var parameters: [Double] {
        get { weight + bias }
        set { weight = Array(newValue[0..<inputWidth]); bias = Array(newValue[inputWidth...]) }
    }

    public func forward(_ z: Matrix) -> (value: Matrix, point: any MapPoint) {
        SegmentNormalization(segments: 1, repeats: 1, epsilon: epsilon).forward(z, weight: weight, bias: bias)
    }
}

/// PyTorch's `nn.GroupNorm(G, C)` on C×H×W samples (NCHW), affine: the C channels split into G groups of C/G
/// consecutive channels; each group of (C/G)·H·W values is normalised as in LayerNorm, then
/// y[c, ·] = γ_c n[c, ·] + β_c with γ = `<name>.weight` [C], β = `<name>.bias` [C]. G = 1 normalises the
/// whole sample; G = C each channel (InstanceNorm with an affine map).
public struct GroupNorm: NormalizationLayer {
    public let name: String
    public let groups: Int
    public let channels: Int
    /// H·W.
    public let positions: Int
    public var epsilon: Double
    public var weight: [Double]
    public var bias: [Double]

    /// γ = 1, β = 0, ε = 1e-5 by default. Precondition: G divides C.
    public init(_ name: String, groups: Int, channels: Int, positions: Int, epsilon: Double = 1e-5) {
        precondition(groups > 0 && channels % groups == 0, "GroupNorm: \(groups) groups do not divide \(channels) channels")
        self.name = name
        self.groups = groups
        self.channels = channels
        self.positions = positions
        self.epsilon = epsilon
        weight = [Double](repeating: 1, count: channels)
        bias = [Double](repeating: 0, count: channels)
    }

    public var inputWidth: Int { channels * positions }
    public var outputWidth: Int { inputWidth }
    public var tensors: [(name: String, shape: [Int])] { [("\(name).weight", [channels]), ("\(name).bias", [channels])] }

    public var parameters: [Double] {
        get { weight + bias }
        set { weight = Array(newValue[0..<channels]); bias = Array(newValue[channels...]) }
    }

    public func forward(_ z: Matrix) -> (value: Matrix, point: any MapPoint) {
        SegmentNormalization(segments: groups, repeats: positions, epsilon: epsilon).forward(z, weight: weight, bias: bias)
    }
}

/// Normalisation of each row in `segments` equal, consecutive segments, followed by an affine map whose
/// coefficients each cover `repeats` consecutive values (LayerNorm: 1 segment, repeats 1; GroupNorm: G
/// segments, repeats H·W).
struct SegmentNormalization: Sendable {
    let segments: Int
    let repeats: Int
    let epsilon: Double

    /// A per-channel vector expanded to one value per column.
    func expand(_ v: [Double]) -> [Double] {
        repeats == 1 ? v : v.flatMap { [Double](repeating: $0, count: repeats) }
    }

    func forward(_ z: Matrix, weight: [Double], bias: [Double]) -> (value: Matrix, point: any MapPoint) {
        let length = z.columns / segments
        var n = z
        var sigmas = [Double](repeating: 0, count: z.rows * segments)
        let count = Double(length)
        for i in 0..<z.rows {
            for s in 0..<segments {
                let start = i * z.columns + s * length
                let segment = z.elements[start..<(start + length)]
                let mean = segment.reduce(0, +) / count
                let variance = segment.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / count
                let sigma = (variance + epsilon).squareRoot()
                sigmas[i * segments + s] = sigma
                for j in start..<(start + length) { n.elements[j] = (z.elements[j] - mean) / sigma }
            }
        }
        let gamma = expand(weight)
        var y = n.scalingColumns(by: gamma)
        y.addToEachRow(expand(bias))
        return (y, NormalizationPoint(shape: self, normalized: n, sigma: sigmas, gamma: gamma))
    }
}

/// The derivatives of a ``SegmentNormalization`` at z. Per segment, ∂n/∂z = (1/σ)(I − 11ᵀ/L − n nᵀ/L) is
/// symmetric, so one routine gives JVP and VJP: dn = (dz − mean(dz) − n · mean(n ⊙ dz))/σ.
struct NormalizationPoint: MapPoint {
    let shape: SegmentNormalization
    let normalized: Matrix
    let sigma: [Double]
    /// γ, one value per column.
    let gamma: [Double]

    /// Applies ∂n/∂z to each row of `dz` (row i at point row i, or at the only point row).
    func derivative(_ dz: Matrix) -> Matrix {
        var out = dz
        let segments = shape.segments, length = dz.columns / segments, columns = dz.columns
        let count = Double(length)
        let broadcast = normalized.rows == 1
        out.elements.withUnsafeMutableBufferPointer { o in
            dz.elements.withUnsafeBufferPointer { d in
                normalized.elements.withUnsafeBufferPointer { n in
                    for i in 0..<dz.rows {
                        let pi = broadcast ? 0 : i
                        for s in 0..<segments {
                            let start = i * columns + s * length, pstart = pi * columns + s * length
                            var meanD = 0.0, meanND = 0.0
                            for j in 0..<length {
                                meanD += d[start + j]
                                meanND += n[pstart + j] * d[start + j]
                            }
                            meanD /= count
                            meanND /= count
                            let sigma = self.sigma[pi * segments + s]
                            for j in 0..<length { o[start + j] = (d[start + j] - meanD - n[pstart + j] * meanND) / sigma }
                        }
                    }
                }
            }
        }
        return out
    }

    func jvp(_ dz: Matrix) -> Matrix { derivative(dz).scalingColumns(by: gamma) }

    func vjp(_ g: Matrix) -> Matrix { derivative(g.scalingColumns(by: gamma)) }

    /// y + n ⊙ δγ + δβ.
    func addParameterJVP(_ dtheta: ArraySlice<Double>, to y: inout Matrix?) {
        let c = dtheta.count / 2
        let dGamma = Array(dtheta.prefix(c)), dBeta = Array(dtheta.suffix(c))
        let scaled = normalized.scalingColumns(by: shape.expand(dGamma))
        var out = y.map { $0 + scaled } ?? scaled
        out.addToEachRow(shape.expand(dBeta))
        y = out
    }

    /// Row i: y_i += x̂_i ⊙ δγ_i + δβ_i (each coefficient repeated over its columns).
    func addParameterJVPRows(_ dthetas: Matrix, offset: Int, count: Int, to y: inout Matrix?) {
        let c = count / 2, r = shape.repeats, width = normalized.columns
        var out = y ?? Matrix(zeros: normalized.rows, width)
        out.elements.withUnsafeMutableBufferPointer { o in
            for i in 0..<normalized.rows {
                let base = i * dthetas.columns + offset
                for k in 0..<c {
                    let dGamma = dthetas.elements[base + k], dBeta = dthetas.elements[base + c + k]
                    for q in (k * r)..<((k + 1) * r) { o[i * width + q] += normalized.elements[i * width + q] * dGamma + dBeta }
                }
            }
        }
        y = out
    }

    /// Column sums reduced over each coefficient's `repeats` columns.
    private func reduce(_ columnSums: [Double]) -> [Double] {
        let r = shape.repeats
        guard r > 1 else { return columnSums }
        return (0..<(columnSums.count / r)).map { c in columnSums[(c * r)..<((c + 1) * r)].reduce(0, +) }
    }

    func parameterVJP(_ g: Matrix) -> [Double] {
        reduce(g.hadamard(normalized).columnSums) + reduce(g.columnSums)
    }

    func parameterVJPRows(_ g: Matrix, into o: UnsafeMutableBufferPointer<Double>, stride p: Int, offset: Int) {
        let r = shape.repeats, width = g.columns, c = width / r
        for i in 0..<g.rows {
            let base = i * p + offset
            for k in 0..<c {
                var sg = 0.0, sn = 0.0
                for q in (k * r)..<((k + 1) * r) {
                    let gv = g.elements[i * width + q]
                    sn += gv * normalized.elements[i * width + q]
                    sg += gv
                }
                o[base + k] = sn
                o[base + c + k] = sg
            }
        }
    }

    func selectingSamples(_ rows: [Int]) -> any MapPoint {
        NormalizationPoint(
            shape: shape, normalized: normalized.selectingRows(rows),
            sigma: rows.flatMap { i in Array(sigma[(i * shape.segments)..<((i + 1) * shape.segments)]) },
            gamma: gamma)
    }
}
