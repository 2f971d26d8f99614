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
public struct MDEQCell: BuiltinCell {
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

    public static let extraDimensionNames = Geometry.names
    public static let hasNormalization = true
    public static let signatureTensor = "cell.conv1.weight"
    /// The geometry's problem: all positive, G dividing C and E·C, C·H·W = d, C_in·H·W = n_in.
    public static func problem(_ shape: ModelShape) -> String? {
        Geometry(shape.extraDimensions)?.problem(inputDimension: shape.inputDimension, stateDimension: shape.stateDimension)
    }
    public static func layout(_ shape: ModelShape) -> ParameterLayout { layout(Geometry(shape.extraDimensions)!) }
    public init(shape: ModelShape, normEpsilon: Double?) {
        self.init(Geometry(shape.extraDimensions)!, normEpsilon: normEpsilon ?? ResMLPCell.layerNormEpsilon)
    }

    /// C and C_in from `injection.weight` [C, C_in, 3, 3], E·C from `cell.conv1.weight`, d from `head.weight` [c, d]; H and
    /// W from `phantom.height`/`phantom.width` (or H = W = √(d/C) when d/C is a square); G from `phantom.groups`, which no
    /// tensor holds. Every value is checked against its metadata.
    public static func stateDictShape(
        classes c: Int, metadata: [String: String], dimension: (String, String, Int) throws -> Int,
        declared: (String) throws -> Int?, fail: (String) -> any Error
    ) throws -> ModelShape {
        let channels = try dimension("channels", "injection.weight", 0)
        let inChannels = try dimension("in_channels", "injection.weight", 1)
        let d = try dimension("d", "head.weight", 1)
        let wide = try dimension("expansion·channels", "cell.conv1.weight", 0)
        guard wide % channels == 0 else {
            throw fail(
                "tensor 'cell.conv1.weight' has \(wide) output channels, not a multiple of channels = \(channels) (from 'injection.weight')"
            )
        }
        if let e = try declared("expansion"), e * channels != wide {
            throw fail("metadata phantom.expansion = \(e) does not match tensor 'cell.conv1.weight' (\(wide) = E·\(channels) channels)")
        }
        guard d % channels == 0 else { throw fail("tensor 'head.weight' has d = \(d) columns, not a multiple of channels = \(channels)") }
        var height = try declared("height"), width = try declared("width")
        if height == nil || width == nil {
            let area = d / channels, side = Int(Double(area).squareRoot().rounded())
            guard side * side == area else {
                throw fail("metadata phantom.height and phantom.width are missing and d/channels = \(area) is not a square; set them")
            }
            height = height ?? side
            width = width ?? side
        }
        guard let groups = try declared("groups") else {
            throw fail("metadata phantom.groups is missing (GroupNorm's group count is in no tensor); set it")
        }
        let shape = ModelShape(
            kind: .mdeq, inputDimension: inChannels * height! * width!, stateDimension: d, outputDimension: c,
            extraDimensions: [
                "channels": channels, "in_channels": inChannels, "height": height!, "width": width!,
                "expansion": wide / channels, "groups": groups
            ])
        if let problem = shape.problem { throw fail("the mdeq cell does not fit: \(problem)") }
        if let text = metadata["phantom.n_in"], Int(text) != shape.inputDimension {
            throw fail("metadata phantom.n_in = \(text) does not match in_channels·height·width = \(shape.inputDimension)")
        }
        return shape
    }

    /// PyTorch's initialisation of the convolutions, conv2 scaled by 0.3 and gn3's γ = 0.5, so that the first fixed
    /// points are easy to find.
    public static func initialized(_ shape: ModelShape, uniform: (Int, Int, Int) -> Matrix) -> MDEQCell {
        var c = MDEQCell(Geometry(shape.extraDimensions)!)
        let g = c.geometry, e = g.expansion * g.channels
        func conv(_ name: String, _ cout: Int, _ cin: Int, scale: Double = 1) {
            c.graphCell.setTensor(name, uniform(1, cout * cin * 9, cin * 9).elements.map { scale * $0 })
        }
        conv("injection.weight", g.channels, g.inChannels)
        c.graphCell.setTensor("injection.bias", uniform(1, g.channels, g.inChannels * 9).elements)
        conv("cell.conv1.weight", e, g.channels)
        conv("cell.conv2.weight", g.channels, e, scale: 0.3)
        c.graphCell.setTensor("cell.gn3.weight", [Double](repeating: 0.5, count: g.channels))
        return c
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
