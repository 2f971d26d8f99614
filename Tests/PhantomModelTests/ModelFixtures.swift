import PhantomLinearAlgebra
import PhantomModel
import PhantomTestSupport
import Testing

/// Random cells and batches for the model tests (deterministic seeds).
enum Fixtures {
    static func gaussian(_ rows: Int, _ columns: Int, scale: Double = 1, _ rng: inout SplitMix64) -> Matrix {
        gaussianMatrix(rows, columns, scale: scale, &rng)
    }

    static func vector(_ n: Int, scale: Double = 1, _ rng: inout SplitMix64) -> [Double] {
        (0..<n).map { _ in scale * rng.nextGaussian() }
    }

    /// A tanh cell whose W has ‖W‖₂ = `norm` exactly.
    static func tanhCell(d: Int, n: Int, norm: Double = 0.9, seed: UInt64 = 1) -> TanhCell {
        var rng = SplitMix64(seed: seed)
        var w = gaussian(d, d, &rng)
        let sigma = (try? w.spectralNorm()) ?? 1
        BLAS.scal(norm / sigma, &w.elements)
        return TanhCell(
            injectionWeight: gaussian(d, n, scale: 1 / Double(n).squareRoot(), &rng),
            injectionBias: vector(d, scale: 0.1, &rng), cellWeight: w)
    }

    /// A resmlp cell with random (non-trivial) weights, γ near 1 and β near 0.
    static func resmlpCell(d: Int, n: Int, m: Int, seed: UInt64 = 2) -> ResMLPCell {
        var rng = SplitMix64(seed: seed)
        var cell = ResMLPCell(stateDimension: d, inputDimension: n, hiddenWidth: m)
        cell.linear1Weight = gaussian(m, d, scale: 1 / Double(d).squareRoot(), &rng)
        cell.linear1Bias = vector(m, scale: 0.1, &rng)
        cell.linear2Weight = gaussian(d, m, scale: 0.5 / Double(m).squareRoot(), &rng)
        cell.linear2Bias = vector(d, scale: 0.1, &rng)
        cell.normWeight = vector(d, scale: 0.1, &rng).map { 1 + $0 }
        cell.normBias = vector(d, scale: 0.1, &rng)
        cell.injectionWeight = gaussian(d, n, scale: 1 / Double(n).squareRoot(), &rng)
        cell.injectionBias = vector(d, scale: 0.5, &rng)
        return cell
    }

    static func model(_ cell: any ImplicitCell, classes c: Int = 3, seed: UInt64 = 3) -> ImplicitModel {
        var rng = SplitMix64(seed: seed)
        let d = cell.stateDimension
        return ImplicitModel(
            cell: cell,
            head: OutputHead(
                weight: gaussian(c, d, scale: 1 / Double(d).squareRoot(), &rng),
                bias: vector(c, scale: 0.1, &rng)))
    }

    /// The cells the toolkit ships, small (mdeq on odd sizes: C_in ≠ C, H ≠ W).
    enum CellCase: String, CaseIterable, CustomTestStringConvertible, Sendable {
        case tanh, resmlp, mdeq
        /// Graph cells that are not built in (``TestGraphs``).
        case gated, attention, monotone, twoResolution
        var testDescription: String { rawValue }
        func make() -> any ImplicitCell {
            switch self {
            case .tanh: return Fixtures.tanhCell(d: 5, n: 3)
            case .resmlp: return Fixtures.resmlpCell(d: 5, n: 3, m: 7)
            case .mdeq:
                return RandomModels.mdeq(
                    MDEQCell.Geometry(channels: 4, inChannels: 3, height: 3, width: 4, expansion: 2, groups: 2),
                    c: 2, scale: 1, gain: 1, seed: 5
                ).cell
            case .gated: return TestGraphs.gatedModel(d: 5, n: 3).cell
            case .attention: return TestGraphs.attentionModel().cell
            case .monotone: return TestGraphs.monotoneModel(d: 5, n: 3).cell
            case .twoResolution: return TestGraphs.twoResolutionModel().cell
            }
        }
    }
}
