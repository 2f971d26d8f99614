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
/// Complexity per sample: forward and each JVP/VJP 2·9·E·C²·H·W multiply-adds for the two convolutions (GEMMs on
/// im2col patches) plus O(E·C·H·W) for the norms.
public struct MDEQCell: ComposedCell {
    public var composition: LayerComposition
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
        let c = g.channels, e = g.expansion * g.channels, hw = g.height * g.width
        func conv(_ name: String, _ cin: Int, _ cout: Int, bias: Bool) -> Conv2d {
            Conv2d(name, inChannels: cin, outChannels: cout, kernel: 3, height: g.height, width: g.width, bias: bias)
        }
        composition = LayerComposition(
            layers: [
                conv("injection", g.inChannels, c, bias: true),
                conv("cell.conv1", c, e, bias: false),
                GroupNorm("cell.gn1", groups: g.groups, channels: e, positions: hw, epsilon: normEpsilon),
                conv("cell.conv2", e, c, bias: false),
                GroupNorm("cell.gn2", groups: g.groups, channels: c, positions: hw, epsilon: normEpsilon),
                GroupNorm("cell.gn3", groups: g.groups, channels: c, positions: hw, epsilon: normEpsilon),
                ReLU("relu1", width: e * hw), ReLU("relu2", width: c * hw)
            ],
            nodes: [
                .sum([.affine(layer: 1, of: .state)]),  // 0: conv1 h
                .map(layer: 2, of: .node(0)),  // 1: gn1
                .map(layer: 6, of: .node(1)),  // 2: relu
                .sum([.affine(layer: 3, of: .node(2)), .affine(layer: 0, of: .input)]),  // 3: conv2(·) + u
                .map(layer: 4, of: .node(3)),  // 4: gn2
                .sum([.value(.node(4)), .value(.state)]),  // 5: + h
                .map(layer: 7, of: .node(5)),  // 6: relu
                .map(layer: 5, of: .node(6))
            ],  // 7: gn3
            stateDimension: g.stateDimension, inputDimension: g.inputDimension)
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
