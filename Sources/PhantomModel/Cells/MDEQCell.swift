import PhantomLinearAlgebra

/// MDEQ's BasicBlock at one resolution (TorchDEQ's deq-zoo `mdeq`), on states h ∈ R^{C×H×W} and inputs
/// x ∈ R^{C_in×H×W}, both flattened in NCHW order (d = C·H·W, n_in = C_in·H·W):
///
///     u = injection(x)                                   Conv2d(C_in → C, 3×3, bias)
///     f(h, x) = gn3(relu(gn2(conv2(relu(gn1(conv1 h))) + u) + h))
///
/// conv1: Conv2d(C → E·C, 3×3, no bias); conv2: Conv2d(E·C → C, 3×3, no bias); gn1 = GroupNorm(G, E·C),
/// gn2 = gn3 = GroupNorm(G, C), affine, ε = 1e-5 by default. Tensors: `injection.weight` [C, C_in, 3, 3],
/// `injection.bias` [C], `cell.conv1.weight` [E·C, C, 3, 3], `cell.gn1.weight`/`.bias` [E·C],
/// `cell.conv2.weight` [C, E·C, 3, 3], `cell.gn2.weight`/`.bias` [C], `cell.gn3.weight`/`.bias` [C].
///
/// The graph: ``BuiltinGraphs/mdeq(channels:inChannels:height:width:expansion:groups:normEpsilon:)``.
///
/// Complexity per sample: forward and each JVP/VJP 2·9·E·C²·H·W multiply-adds for the two convolutions (GEMMs on
/// im2col patches) plus O(E·C·H·W) for the norms.
public struct MDEQCell: GraphBackedCell {
    public var graphCell: GraphCell
    public var kind: CellKind { .mdeq }
    public let geometry: Geometry

    /// The integer dimensions of an mdeq cell (checkpoint attributes and `phantom.*` metadata of the same names).
    public struct Geometry: Sendable, Equatable {
        /// C, C_in, H, W, E, G.
        public var channels: Int, inChannels: Int, height: Int, width: Int, expansion: Int, groups: Int

        public init(channels: Int, inChannels: Int, height: Int, width: Int, expansion: Int, groups: Int) {
            (self.channels, self.inChannels, self.height, self.width, self.expansion, self.groups) = (
                channels, inChannels, height, width, expansion, groups
            )
        }

        /// The attribute names, in the order of ``values``.
        public static let names = ["channels", "in_channels", "height", "width", "expansion", "groups"]
        public var values: [Int] { [channels, inChannels, height, width, expansion, groups] }

        public init?(_ dimensions: [String: Int]) {
            guard let c = dimensions["channels"], let ci = dimensions["in_channels"], let h = dimensions["height"],
                let w = dimensions["width"], let e = dimensions["expansion"], let g = dimensions["groups"]
            else { return nil }
            self.init(channels: c, inChannels: ci, height: h, width: w, expansion: e, groups: g)
        }

        /// d = C·H·W.
        public var stateDimension: Int { channels * height * width }
        /// n_in = C_in·H·W.
        public var inputDimension: Int { inChannels * height * width }

        /// What is wrong with these dimensions for n_in and d (nil: nothing): all positive, G dividing C and E·C,
        /// C·H·W = d and C_in·H·W = n_in.
        public func problem(inputDimension n: Int, stateDimension d: Int) -> String? {
            for (name, value) in zip(Self.names, values) where value < 1 { return "\(name) = \(value) is not positive" }
            if channels % groups != 0 { return "groups = \(groups) does not divide channels = \(channels)" }
            if (expansion * channels) % groups != 0 {
                return "groups = \(groups) does not divide expansion·channels = \(expansion * channels)"
            }
            if stateDimension != d {
                return "channels·height·width = \(channels)·\(height)·\(width) = \(stateDimension) is not d = \(d)"
            }
            if inputDimension != n {
                return "in_channels·height·width = \(inChannels)·\(height)·\(width) = \(inputDimension) is not n_in = \(n)"
            }
            return nil
        }
    }

    /// PyTorch's initialisation of the norms (γ = 1, β = 0), zero convolution weights.
    public init(_ g: Geometry, normEpsilon: Double = ResMLPCell.layerNormEpsilon) {
        geometry = g
        graphCell = GraphCell(
            graph: BuiltinGraphs.mdeq(
                channels: g.channels, inChannels: g.inChannels, height: g.height, width: g.width, expansion: g.expansion,
                groups: g.groups, normEpsilon: normEpsilon))
        for (name, count) in [
            ("cell.gn1.weight", g.expansion * g.channels), ("cell.gn2.weight", g.channels), ("cell.gn3.weight", g.channels)
        ] {
            graphCell.setTensor(name, [Double](repeating: 1, count: count))
        }
    }

    /// The GroupNorms' ε: an attribute of the graph's nodes, so setting it rebuilds the graph (the parameters are kept).
    public var normEpsilon: Double {
        get { graphCell.normalizationEpsilon! }
        set {
            let theta = graphCell.parameters
            self = MDEQCell(geometry, normEpsilon: newValue)
            graphCell.parameters = theta
        }
    }

    /// The tensors of an mdeq cell of geometry g, computed without building it.
    public static func layout(_ g: Geometry) -> ParameterLayout {
        let c = g.channels, e = g.expansion * g.channels
        return ParameterLayout([
            ("injection.weight", [c, g.inChannels, 3, 3]), ("injection.bias", [c]),
            ("cell.conv1.weight", [e, c, 3, 3]), ("cell.gn1.weight", [e]), ("cell.gn1.bias", [e]),
            ("cell.conv2.weight", [c, e, 3, 3]), ("cell.gn2.weight", [c]), ("cell.gn2.bias", [c]),
            ("cell.gn3.weight", [c]), ("cell.gn3.bias", [c])
        ])
    }

    public var inputImageShape: [Int]? { [geometry.inChannels, geometry.height, geometry.width] }

    public var extraDimensions: [String: Int] { Dictionary(uniqueKeysWithValues: zip(Geometry.names, geometry.values)) }
}
