import PhantomLinearAlgebra

extension GraphOps {
    /// `GroupNormalization`, our definition (PyTorch's `nn.GroupNorm`, which ONNX opset 21 matches): inputs x [C, …]
    /// (channels first, then any spatial axes, possibly none), scale γ [C] and bias β [C]; attributes `num_groups` G
    /// (required, dividing C), `epsilon` ε (default 1e-5) and `stash_type` (only 1 accepted and ignored: everything is
    /// computed in float64). The C/G consecutive channels of a group are normalised together over all their spatial
    /// positions, with the biased variance: per group, n = (x − μ)/σ, σ = √(var x + ε), and y[c, ·] = γ_c n[c, ·] + β_c.
    ///
    /// Per group, ∂n/∂x = (1/σ)(I − 11ᵀ/L − n nᵀ/L) (L = (C/G)·positions) is symmetric, so
    /// JVP ẏ = γ ⊙ (ṫ − mean ṫ − n mean(n ⊙ ṫ))/σ + n ⊙ γ̇ + β̇ and VJP x̄ = (γg − mean γg − n mean(n ⊙ γg))/σ,
    /// γ̄_c = Σ_positions g ⊙ n, β̄_c = Σ_positions g. It is computed by the ``GroupNorm`` layer's kernels
    /// (`SegmentNormalization`, docs/LayerDerivatives.md), so its numbers are the layer's bit for bit. γ and β must be
    /// shared (parameters, constants or functions of them); x may be batched or shared.
    public struct GroupNormalization: GraphOp {
        public static let type = "GroupNormalization"
        public let numGroups: Int
        public let epsilon: Double

        public init(numGroups: Int, epsilon: Double = 1e-5) { (self.numGroups, self.epsilon) = (numGroups, epsilon) }

        public init(attributes: [String: GraphAttribute]) throws(OpProblem) {
            var reader = AttributeReader(attributes)
            numGroups = try reader.int("num_groups")
            guard numGroups >= 1 else { throw OpProblem("num_groups = \(numGroups) is not positive") }
            epsilon = try normalizationEpsilon(&reader)
            try acceptStashType(&reader)
            try reader.finish()
        }

        public var attributes: [String: GraphAttribute] {
            ["num_groups": .int(numGroups), "epsilon": .float(epsilon), "stash_type": .int(1)]
        }

        public func bind(_ inputs: [OpInput]) throws(OpProblem) -> any BoundOp {
            try expectInputs(inputs, 3...3)
            guard numGroups >= 1, epsilon >= 0 else { throw OpProblem("num_groups = \(numGroups), epsilon = \(epsilon) out of range") }
            let x = inputs[0].shape
            guard !x.isEmpty else { throw OpProblem("x must be [C, …], got a scalar") }
            _ = try NormConvShapes.count(x, "x")
            let channels = x[0]
            guard channels % numGroups == 0 else {
                throw OpProblem("num_groups = \(numGroups) does not divide the \(channels) channels of x \(shapeText(x))")
            }
            try NormConvShapes.expectShape(inputs[1], [channels], "scale", for: "the channels of x \(shapeText(x)),")
            try NormConvShapes.expectShape(inputs[2], [channels], "bias", for: "the channels of x \(shapeText(x)),")
            try NormConvShapes.requireShared(inputs[1], "scale")
            try NormConvShapes.requireShared(inputs[2], "bias")
            return BoundSegmentNorm(
                outputShape: x,
                normalization: SegmentNormalization(segments: numGroups, repeats: x.dropFirst().reduce(1, *), epsilon: epsilon),
                tiles: 1, coefficients: channels, xShared: inputs[0].shared, hasBias: true)
        }
    }
}

/// ε of a normalisation: default 1e-5, finite and not negative.
func normalizationEpsilon(_ reader: inout AttributeReader) throws(OpProblem) -> Double {
    let epsilon = try reader.float("epsilon", default: 1e-5)
    guard epsilon >= 0 else { throw OpProblem("epsilon = \(epsilon) is negative") }
    return epsilon
}

/// ONNX's `stash_type` (the precision of the statistics): only 1 (float) is accepted, and it changes nothing here, where
/// everything is float64.
func acceptStashType(_ reader: inout AttributeReader) throws(OpProblem) {
    let stash = try reader.int("stash_type", default: 1)
    guard stash == 1 else { throw OpProblem("stash_type = \(stash) is not implemented (only 1; statistics are computed in float64)") }
}

/// A normalisation of segments of each sample followed by a per-coefficient affine map, computed by the layers'
/// ``SegmentNormalization`` (LayerNormalization, GroupNormalization, InstanceNormalization).
///
/// Inputs x (batched or shared), γ and β (shared, `coefficients` values each; β optional). The map's coefficients are
/// γ and β repeated `tiles` times along the row (a LayerNormalization over trailing axes has one copy per leading
/// index), each covering `normalization.repeats` consecutive values (the positions of a channel).
struct BoundSegmentNorm: BoundOp, ChannelNormalizationBoundOp {
    let outputShape: [Int]
    let normalization: SegmentNormalization
    let tiles: Int
    let coefficients: Int
    let xShared: Bool
    let hasBias: Bool

    /// One γ_c, β_c per channel of `positions` consecutive values, the channels' statistics shared within a segment.
    var channelLayout: (channels: Int, positions: Int)? { tiles == 1 ? (coefficients, normalization.repeats) : nil }

    /// A coefficient vector repeated `tiles` times.
    func tiled<C: Collection<Double>>(_ v: C) -> [Double] {
        tiles == 1 ? Array(v) : [Double]((0..<tiles).map { _ in v }.joined())
    }

    func linearize(_ inputs: [Matrix]) -> (value: Matrix, point: any OpPoint) {
        let gamma = tiled(inputs[1].elements)
        let beta = hasBias ? tiled(inputs[2].elements) : [Double](repeating: 0, count: tiles * coefficients)
        let (y, map) = normalization.forward(inputs[0], weight: gamma, bias: beta)
        return (y, SegmentNormPoint(bound: self, map: map, samples: inputs[0].rows))
    }
}

/// The derivatives of a ``BoundSegmentNorm``: the layers' ``MapPoint`` for x and for the flat (γ, β) of the map, its
/// coefficient cotangents summed over the tiles.
struct SegmentNormPoint: OpPoint {
    let bound: BoundSegmentNorm
    let map: any MapPoint
    /// The rows of the point (1 when x is shared).
    let samples: Int

    /// The map's number of γ coefficients (γ repeated over the tiles).
    var width: Int { bound.tiles * bound.coefficients }

    /// A batch with at least the point's rows (a one-row tangent on a batch point stands for every row).
    private func covering(_ m: Matrix) -> Matrix { m.rows < samples ? m.expandingRows(to: samples) : m }

    func jvp(_ tangents: [Matrix?]) -> Matrix? {
        var out: Matrix?
        if let dx = tangents[0] { out = map.jvp(covering(dx)) }
        let dGamma = tangents[1], dBeta = tangents.count > 2 ? tangents[2] : nil
        if dGamma != nil || dBeta != nil { out = addBroadcasting(out, parameterJVP(dGamma, dBeta)) }
        return out
    }

    /// n ⊙ δγ + δβ through the map's parameter JVPs: one call for one-row tangents, the map's per-sample rows for a
    /// tangent row per sample, one call per direction at a one-sample point.
    private func parameterJVP(_ dGamma: Matrix?, _ dBeta: Matrix?) -> Matrix? {
        let rows = max(dGamma?.rows ?? 1, dBeta?.rows ?? 1), c = bound.coefficients
        func theta(_ r: Int) -> [Double] {
            let g = dGamma.map { Array($0.elements[(($0.rows == 1 ? 0 : r) * c)..<(($0.rows == 1 ? 0 : r) * c + c)]) }
            let b = dBeta.map { Array($0.elements[(($0.rows == 1 ? 0 : r) * c)..<(($0.rows == 1 ? 0 : r) * c + c)]) }
            let zeros = [Double](repeating: 0, count: c)
            return bound.tiled(g ?? zeros) + bound.tiled(b ?? zeros)
        }
        if rows == 1 {
            var y: Matrix?
            map.addParameterJVP(theta(0)[...], to: &y)
            return y
        }
        if rows == samples {
            let dthetas = Matrix(rows: rows, columns: 2 * width, elements: (0..<rows).flatMap(theta))
            var y: Matrix?
            map.addParameterJVPRows(dthetas, offset: 0, count: 2 * width, to: &y)
            return y
        }
        var elements: [Double] = []
        for r in 0..<rows {
            var y: Matrix?
            map.addParameterJVP(theta(r)[...], to: &y)
            elements += y?.elements ?? []
        }
        return Matrix(rows: rows, columns: elements.count / rows, elements: elements)
    }

    func vjp(_ g: Matrix, wanted: [Bool], sumShared: Bool) -> [Matrix?] {
        var out = [Matrix?](repeating: nil, count: wanted.count)
        let g = covering(g)
        if wanted[0] { out[0] = finishCotangent(map.vjp(g), shared: bound.xShared, sumShared: sumShared) }
        let wantBias = wanted.count > 2 && wanted[2]
        guard wanted[1] || wantBias else { return out }
        let (gamma, beta) = parameterVJP(g, sum: sumShared)
        if wanted[1] { out[1] = gamma }
        if wantBias { out[2] = beta }
        return out
    }

    /// γ̄ and β̄, summed over the rows (`sum`) or per row, from the map's flat (γ, β) cotangents folded over the tiles.
    private func parameterVJP(_ g: Matrix, sum: Bool) -> (Matrix, Matrix) {
        let p = 2 * width
        var flat: Matrix
        if sum && g.rows == samples {
            flat = Matrix(rows: 1, columns: p, elements: map.parameterVJP(g))
        } else {
            flat = Matrix(zeros: g.rows, p)
            flat.elements.withUnsafeMutableBufferPointer { o in
                if g.rows == samples {
                    map.parameterVJPRows(g, into: o, stride: p, offset: 0)
                } else {
                    // Several directions at a one-sample point: one direction at a time.
                    for r in 0..<g.rows { map.parameterVJPRows(g.selectingRows([r]), into: o, stride: p, offset: r * p) }
                }
            }
            if sum { flat = flat.rowSum }
        }
        let c = bound.coefficients
        var gamma = Matrix(zeros: flat.rows, c), beta = Matrix(zeros: flat.rows, c)
        for r in 0..<flat.rows {
            for t in 0..<bound.tiles {
                for k in 0..<c {
                    gamma.elements[r * c + k] += flat.elements[r * p + t * c + k]
                    beta.elements[r * c + k] += flat.elements[r * p + width + t * c + k]
                }
            }
        }
        return (gamma, beta)
    }

    func selectingSamples(_ rows: [Int]) -> any OpPoint {
        bound.xShared ? self : SegmentNormPoint(bound: bound, map: map.selectingSamples(rows), samples: rows.count)
    }
}
