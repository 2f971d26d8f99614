import PhantomLinearAlgebra

extension GraphOps {
    /// `BatchNormalization` in inference form (ONNX opset 15+, `training_mode` = 0, on per-sample shapes): inputs
    /// x [C, …] (channels first, then any spatial axes), scale γ, bias β, input_mean μ and input_var v, each [C];
    /// attributes `epsilon` ε (default 1e-5), `momentum` (default 0.9; stored, and without effect at inference) and
    /// `training_mode` (must be 0: the statistics are inputs, never the batch's). Per channel c, with σ_c = √(v_c + ε)
    /// and x̂ = (x − μ_c)/σ_c,
    ///
    ///     y[c, ·] = γ_c x̂[c, ·] + β_c.
    ///
    /// JVP: ẏ = (γ/σ)(ẋ − μ̇) + x̂ γ̇ + β̇ − (γ x̂ / 2σ²) v̇ (per channel). VJP: x̄ = (γ/σ) g, γ̄_c = Σ_positions g x̂,
    /// β̄_c = Σ_positions g, μ̄_c = −(γ_c/σ_c) Σ_positions g, v̄_c = −(γ_c/2σ_c²) Σ_positions g x̂. The four per-channel
    /// inputs must be shared (parameters, constants or functions of them; μ and v may be trained parameters); x may be
    /// batched or shared.
    public struct BatchNormalization: GraphOp {
        public static let type = "BatchNormalization"
        public let epsilon: Double
        public let momentum: Double

        public init(epsilon: Double = 1e-5, momentum: Double = 0.9) { (self.epsilon, self.momentum) = (epsilon, momentum) }

        public init(attributes: [String: GraphAttribute]) throws(OpProblem) {
            var reader = AttributeReader(attributes)
            epsilon = try normalizationEpsilon(&reader)
            momentum = try reader.float("momentum", default: 0.9)
            let training = try reader.int("training_mode", default: 0)
            guard training == 0 else {
                throw OpProblem("training_mode = \(training) is not implemented (inference only: the statistics are inputs)")
            }
            try reader.finish()
        }

        public var attributes: [String: GraphAttribute] {
            ["epsilon": .float(epsilon), "momentum": .float(momentum), "training_mode": .int(0)]
        }

        static let inputNames = ["x", "scale", "B", "input_mean", "input_var"]

        public func bind(_ inputs: [OpInput]) throws(OpProblem) -> any BoundOp {
            try expectInputs(inputs, 5...5)
            guard epsilon >= 0 else { throw OpProblem("epsilon = \(epsilon) is negative") }
            let x = inputs[0].shape
            guard let channels = x.first else { throw OpProblem("x must be [C, …], got a scalar") }
            _ = try NormConvShapes.count(x, "x")
            for k in 1..<5 {
                try NormConvShapes.expectShape(inputs[k], [channels], Self.inputNames[k], for: "the channels of x \(shapeText(x)),")
                try NormConvShapes.requireShared(inputs[k], Self.inputNames[k])
            }
            return BoundBatchNorm(
                outputShape: x, channels: channels, positions: x.dropFirst().reduce(1, *), epsilon: epsilon, xShared: inputs[0].shared)
        }
    }
}

struct BoundBatchNorm: BoundOp {
    let outputShape: [Int]
    let channels: Int
    /// The values per channel (the product of the spatial axes).
    let positions: Int
    let epsilon: Double
    let xShared: Bool

    func linearize(_ inputs: [Matrix]) -> (value: Matrix, point: any OpPoint) {
        let x = inputs[0], gamma = inputs[1].elements, beta = inputs[2].elements, mean = inputs[3].elements
        let sigma = inputs[4].elements.map { ($0 + epsilon).squareRoot() }
        var xhat = x, y = x
        let (p, columns) = (positions, x.columns)
        for r in 0..<x.rows {
            for c in 0..<channels {
                for q in (r * columns + c * p)..<(r * columns + (c + 1) * p) {
                    xhat.elements[q] = (x.elements[q] - mean[c]) / sigma[c]
                    y.elements[q] = gamma[c] * xhat.elements[q] + beta[c]
                }
            }
        }
        return (y, BatchNormPoint(bound: self, xhat: xhat, gamma: gamma, sigma: sigma))
    }
}

struct BatchNormPoint: OpPoint {
    let bound: BoundBatchNorm
    /// x̂ = (x − μ)/σ, one row per sample (one row when x is shared).
    let xhat: Matrix
    let gamma: [Double]
    let sigma: [Double]

    func jvp(_ tangents: [Matrix?]) -> Matrix? {
        guard tangents.contains(where: { $0 != nil }) else { return nil }
        let rows = tangents.reduce(xhat.rows) { max($0, $1?.rows ?? 1) }
        let (p, columns, channels) = (bound.positions, xhat.columns, bound.channels)
        var out = Matrix(zeros: rows, columns)
        /// Tangent k's value at row r, element j (nil: zero).
        func at(_ k: Int, _ r: Int, _ j: Int) -> Double {
            guard let t = tangents[k] else { return 0 }
            return t.elements[(t.rows == 1 ? 0 : r) * t.columns + j]
        }
        for r in 0..<rows {
            let xr = (xhat.rows == 1 ? 0 : r) * columns
            for c in 0..<channels {
                let slope = gamma[c] / sigma[c]
                let shift = at(2, r, c) - slope * at(3, r, c), dGamma = at(1, r, c)
                let dVar = -0.5 * slope / sigma[c] * at(4, r, c)
                for q in (c * p)..<((c + 1) * p) {
                    let xh = xhat.elements[xr + q]
                    out.elements[r * columns + q] = slope * at(0, r, q) + xh * dGamma + shift + xh * dVar
                }
            }
        }
        return out
    }

    func vjp(_ g: Matrix, wanted: [Bool], sumShared: Bool) -> [Matrix?] {
        let g = g.rows < xhat.rows ? g.expandingRows(to: xhat.rows) : g
        let (p, columns, channels) = (bound.positions, g.columns, bound.channels)
        var out = [Matrix?](repeating: nil, count: 5)
        if wanted[0] {
            var x = g
            for r in 0..<g.rows {
                for c in 0..<channels {
                    let slope = gamma[c] / sigma[c]
                    for q in (r * columns + c * p)..<(r * columns + (c + 1) * p) { x.elements[q] *= slope }
                }
            }
            out[0] = finishCotangent(x, shared: bound.xShared, sumShared: sumShared)
        }
        guard wanted[1...].contains(true) else { return out }
        // Per row and channel: Σ g and Σ g x̂ over the positions.
        var sums = Matrix(zeros: g.rows, channels), weighted = Matrix(zeros: g.rows, channels)
        for r in 0..<g.rows {
            let xr = (xhat.rows == 1 ? 0 : r) * columns
            for c in 0..<channels {
                var s = 0.0, sx = 0.0
                for q in (c * p)..<((c + 1) * p) {
                    let gv = g.elements[r * columns + q]
                    s += gv
                    sx += gv * xhat.elements[xr + q]
                }
                sums.elements[r * channels + c] = s
                weighted.elements[r * channels + c] = sx
            }
        }
        if sumShared { (sums, weighted) = (sums.rowSum, weighted.rowSum) }
        let slope = (0..<channels).map { gamma[$0] / sigma[$0] }
        if wanted[1] { out[1] = weighted }
        if wanted[2] { out[2] = sums }
        if wanted[3] { out[3] = sums.scalingColumns(by: slope.map { -$0 }) }
        if wanted[4] { out[4] = weighted.scalingColumns(by: (0..<channels).map { -0.5 * slope[$0] / sigma[$0] }) }
        return out
    }

    func selectingSamples(_ rows: [Int]) -> any OpPoint {
        bound.xShared ? self : BatchNormPoint(bound: bound, xhat: xhat.selectingRows(rows), gamma: gamma, sigma: sigma)
    }
}
