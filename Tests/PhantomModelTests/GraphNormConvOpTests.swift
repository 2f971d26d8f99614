import Foundation
import PhantomLinearAlgebra
import PhantomModel
import PhantomTestSupport
import Testing

/// Draws for a variance input (BatchNormalization's input_var).
@Sendable private func variance(_ rng: inout SplitMix64) -> Double { 0.2 + rng.nextUniform() }

/// A Conv from stored attributes (valid ones: the cases below).
private func convOp(kernel: Int? = nil, stride: Int = 1, pads: [Int]) -> GraphOps.Conv {
    var attributes: [String: GraphAttribute] = ["strides": .ints([stride, stride]), "pads": .ints(pads)]
    if let kernel { attributes["kernel_shape"] = .ints([kernel, kernel]) }
    return try! GraphOps.Conv(attributes: attributes)
}

private let normalizationCases: [OpCase] = [
    OpCase("Softmax axis 0", GraphOps.Softmax(axis: 0), [OpCheckInput([3, 4, 5])]),
    OpCase("Softmax axis 1", GraphOps.Softmax(axis: 1), [OpCheckInput([3, 4, 5])]),
    OpCase("Softmax axis -1", GraphOps.Softmax(), [OpCheckInput([3, 4, 5])]),
    OpCase("Softmax of a parameter", GraphOps.Softmax(axis: -2), [OpCheckInput([3, 2], shared: true)]),
    OpCase(
        "LayerNorm last axis", GraphOps.LayerNormalization(),
        [OpCheckInput([3, 4, 5]), OpCheckInput([5], shared: true), OpCheckInput([5], shared: true)]),
    OpCase(
        "LayerNorm last 2 axes", GraphOps.LayerNormalization(axis: -2, epsilon: 1e-3),
        [OpCheckInput([3, 4, 5]), OpCheckInput([4, 5], shared: true), OpCheckInput([4, 5], shared: true)]),
    OpCase(
        "LayerNorm all axes, no bias", GraphOps.LayerNormalization(axis: 0),
        [OpCheckInput([2, 3]), OpCheckInput([2, 3], shared: true)]),
    OpCase(
        "LayerNorm of a parameter", GraphOps.LayerNormalization(),
        [OpCheckInput([3, 4], shared: true), OpCheckInput([4], shared: true), OpCheckInput([4], shared: true)]),
    OpCase(
        "GroupNorm 3 groups", GraphOps.GroupNormalization(numGroups: 3),
        [OpCheckInput([6, 3, 5]), OpCheckInput([6], shared: true), OpCheckInput([6], shared: true)]),
    OpCase(
        "GroupNorm of a parameter", GraphOps.GroupNormalization(numGroups: 2),
        [OpCheckInput([4, 3], shared: true), OpCheckInput([4], shared: true), OpCheckInput([4], shared: true)]),
    OpCase(
        "InstanceNorm", GraphOps.InstanceNormalization(epsilon: 1e-4),
        [OpCheckInput([3, 5, 7]), OpCheckInput([3], shared: true), OpCheckInput([3], shared: true)]),
    OpCase(
        "BatchNorm all inputs", GraphOps.BatchNormalization(),
        [
            OpCheckInput([3, 5, 7]), OpCheckInput([3], shared: true), OpCheckInput([3], shared: true),
            OpCheckInput([3], shared: true), OpCheckInput([3], shared: true, draw: variance)
        ]),
    OpCase(
        "BatchNorm of a parameter, no spatial axes", GraphOps.BatchNormalization(epsilon: 1e-3),
        [
            OpCheckInput([4], shared: true), OpCheckInput([4], shared: true), OpCheckInput([4], shared: true),
            OpCheckInput([4], shared: true), OpCheckInput([4], shared: true, draw: variance)
        ])
]

private let convolutionCases: [OpCase] = [
    OpCase(
        "Conv k3 s1 same (Conv2d)", convOp(kernel: 3, pads: [1, 1, 1, 1]),
        [OpCheckInput([3, 5, 7]), OpCheckInput([4, 3, 3, 3], shared: true), OpCheckInput([4], shared: true)]),
    OpCase(
        "Conv k1 s1 (Conv2d), no bias", convOp(pads: [0, 0, 0, 0]),
        [OpCheckInput([3, 5, 7]), OpCheckInput([2, 3, 1, 1], shared: true)]),
    OpCase(
        "Conv k3 s2 asymmetric pads", convOp(kernel: 3, stride: 2, pads: [1, 0, 2, 1]),
        [OpCheckInput([3, 5, 7]), OpCheckInput([4, 3, 3, 3], shared: true), OpCheckInput([4], shared: true)]),
    OpCase(
        "Conv k5 s1 asymmetric pads, no bias", convOp(kernel: 5, pads: [2, 1, 0, 3]),
        [OpCheckInput([2, 5, 7]), OpCheckInput([3, 2, 5, 5], shared: true)]),
    OpCase(
        "Conv k5 s2 no pads", convOp(stride: 2, pads: [0, 0, 0, 0]),
        [OpCheckInput([2, 7, 9]), OpCheckInput([3, 2, 5, 5], shared: true), OpCheckInput([3], shared: true)]),
    OpCase(
        "Conv k1 s2", convOp(kernel: 1, stride: 2, pads: [0, 1, 0, 0]),
        [OpCheckInput([3, 5, 7]), OpCheckInput([2, 3, 1, 1], shared: true), OpCheckInput([2], shared: true)]),
    OpCase(
        "Conv k3 s1 valid", convOp(kernel: 3, pads: [0, 0, 0, 0]),
        [OpCheckInput([2, 5, 7]), OpCheckInput([3, 2, 3, 3], shared: true), OpCheckInput([3], shared: true)]),
    OpCase(
        "Conv of a parameter", convOp(kernel: 3, stride: 2, pads: [1, 1, 1, 1]),
        [OpCheckInput([2, 5, 7], shared: true), OpCheckInput([3, 2, 3, 3], shared: true), OpCheckInput([3], shared: true)]),
    OpCase(
        "Conv of a parameter (Conv2d)", convOp(kernel: 3, pads: [1, 1, 1, 1]),
        [OpCheckInput([2, 3, 5], shared: true), OpCheckInput([3, 2, 3, 3], shared: true)])
]

/// ‖a − b‖ / max(‖a‖, ‖b‖) (0 exactly when a and b are equal bit for bit, up to the sign of zeros).
private func relativeDifference(_ a: [Double], _ b: [Double]) -> Double {
    guard a.count == b.count else { return .infinity }
    let scale = max(BLAS.nrm2(a), BLAS.nrm2(b), 1e-300)
    return BLAS.nrm2(zip(a, b).map { $0 - $1 }) / scale
}

private func relativeDifference(_ a: Matrix?, _ b: Matrix?) -> Double {
    guard let a, let b, a.rows == b.rows else { return .infinity }
    return relativeDifference(a.elements, b.elements)
}

/// Columns `range` of every row.
private func columns(_ m: Matrix, _ range: Range<Int>) -> Matrix {
    Matrix(rows: m.rows, columns: range.count, elements: (0..<m.rows).flatMap { m.row($0)[range] })
}

@Suite("Graph ops: normalisations, softmax, convolutions")
struct GraphNormConvOpTests {
    @Test("normalisations and softmax", arguments: normalizationCases)
    func normalizations(_ c: OpCase) throws {
        GraphOpTests.expectReport(try OpChecks.check(c.op, c.inputs), c.label)
    }

    @Test("convolutions", arguments: convolutionCases)
    func convolutions(_ c: OpCase) throws {
        GraphOpTests.expectReport(try OpChecks.check(c.op, c.inputs), c.label)
    }

    /// Tangents of the shared inputs with a row per sample (per-sample parameter JVPs) against the point of each sample
    /// alone, and several directions of shared tangents and cotangents at a one-sample point against one at a time:
    /// paths that the op checks, whose shared tangents have one row, do not reach.
    @Test("per-sample and multi-direction tangents of shared inputs", arguments: normalizationCases + convolutionCases)
    func sharedRows(_ c: OpCase) throws {
        guard c.inputs.contains(where: { !$0.shared }) && c.inputs.contains(where: \.shared) else { return }
        var rng = SplitMix64(seed: 3)
        let samples = 3, directions = 4
        let bound = try c.op.bind(c.inputs.map { OpInput(shape: $0.shape, shared: $0.shared) })
        let outCount = bound.outputShape.reduce(1, *)
        let x = c.inputs.map { input in
            Matrix(
                rows: input.shared ? 1 : samples, columns: input.count,
                elements: (0..<((input.shared ? 1 : samples) * input.count)).map { _ in input.draw(&rng) })
        }
        let (_, point) = bound.linearize(x)
        let rowTangents = c.inputs.map { $0.shared ? gaussianMatrix(samples, $0.count, &rng) : nil }
        let together = try #require(point.jvp(rowTangents))
        for i in 0..<samples {
            let alone = point.selectingSamples([i]).jvp(rowTangents.map { $0?.selectingRows([i]) })
            #expect(relativeDifference(together.selectingRows([i]), alone) < 1e-13, "\(c.label): sample \(i)")
        }
        let one = point.selectingSamples([1])
        let directionTangents = c.inputs.map { $0.shared ? gaussianMatrix(directions, $0.count, &rng) : nil }
        let g = gaussianMatrix(directions, outCount, &rng)
        let wanted = c.inputs.map(\.shared)
        let jvps = try #require(one.jvp(directionTangents))
        let rows = one.vjp(g, wanted: wanted, sumShared: false), sums = one.vjp(g, wanted: wanted, sumShared: true)
        for r in 0..<directions {
            let alone = one.jvp(directionTangents.map { $0?.selectingRows([r]) })
            #expect(relativeDifference(jvps.selectingRows([r]), alone) < 1e-13, "\(c.label): direction \(r)")
            let back = one.vjp(g.selectingRows([r]), wanted: wanted, sumShared: false)
            for k in c.inputs.indices where wanted[k] {
                #expect(relativeDifference(rows[k]?.selectingRows([r]), back[k]) < 1e-13, "\(c.label): input \(k), direction \(r)")
            }
        }
        for k in c.inputs.indices where wanted[k] {
            #expect(relativeDifference(sums[k], rows[k]?.rowSum) < 1e-13, "\(c.label): input \(k), summed directions")
        }
    }

    // MARK: Forward values against direct loops

    @Test("Conv equals a direct convolution (stride 2, asymmetric pads; stride 1 through Conv2d)")
    func naiveConv() throws {
        var rng = SplitMix64(seed: 11)
        let (cIn, h, w, cOut) = (3, 5, 7, 4)
        for (k, s, pads) in [(3, 2, [1, 0, 2, 1]), (5, 1, [2, 1, 0, 3]), (3, 1, [1, 1, 1, 1]), (1, 2, [0, 1, 1, 0])] {
            let op = try GraphOps.Conv(kernelShape: [k, k], strides: [s, s], pads: pads)
            let bound = try op.bind([
                OpInput(shape: [cIn, h, w], shared: false), OpInput(shape: [cOut, cIn, k, k], shared: true),
                OpInput(shape: [cOut], shared: true)
            ])
            let hOut = (h + pads[0] + pads[2] - k) / s + 1, wOut = (w + pads[1] + pads[3] - k) / s + 1
            #expect(bound.outputShape == [cOut, hOut, wOut])
            let x = gaussianMatrix(2, cIn * h * w, &rng), weight = gaussianMatrix(1, cOut * cIn * k * k, &rng)
            let bias = gaussianMatrix(1, cOut, &rng)
            let y = bound.evaluate([x, weight, bias])
            var expected = [Double]()
            for i in 0..<2 {
                for o in 0..<cOut {
                    for oy in 0..<hOut {
                        for ox in 0..<wOut {
                            var sum = bias[0, o]
                            for c in 0..<cIn {
                                for dy in 0..<k {
                                    for dx in 0..<k {
                                        let iy = oy * s + dy - pads[0], ix = ox * s + dx - pads[1]
                                        guard iy >= 0 && iy < h && ix >= 0 && ix < w else { continue }
                                        sum += weight[0, ((o * cIn + c) * k + dy) * k + dx] * x[i, (c * h + iy) * w + ix]
                                    }
                                }
                            }
                            expected.append(sum)
                        }
                    }
                }
            }
            #expect(y.rows == 2 && relativeDifference(y.elements, expected) < 1e-13, "k \(k), stride \(s), pads \(pads)")
        }
    }

    @Test("Softmax equals a direct softmax on every axis, also for large inputs")
    func naiveSoftmax() throws {
        var rng = SplitMix64(seed: 12)
        let shape = [3, 4, 5]
        var x = gaussianMatrix(2, 60, &rng)
        x.elements[7] = 800  // exp(800) overflows: the max must be subtracted
        for axis in 0..<3 {
            let y = try GraphOps.Softmax(axis: axis - 3 * (axis % 2)).bind([OpInput(shape: shape, shared: false)]).evaluate([x])
            var expected = [Double](repeating: 0, count: 120)
            for i in 0..<2 {
                for a in 0..<3 {
                    for b in 0..<4 {
                        for c in 0..<5 {
                            // The line through (a, b, c) along the axis.
                            var index = [a, b, c]
                            var values: [Double] = []
                            for j in 0..<shape[axis] {
                                index[axis] = j
                                values.append(x[i, (index[0] * 4 + index[1]) * 5 + index[2]])
                            }
                            let m = values.max()!
                            let total = values.reduce(0) { $0 + exp($1 - m) }
                            expected[i * 60 + (a * 4 + b) * 5 + c] = exp(x[i, (a * 4 + b) * 5 + c] - m) / total
                        }
                    }
                }
            }
            #expect(y.isFinite && relativeDifference(y.elements, expected) < 1e-14, "axis \(axis)")
        }
    }

    @Test("LayerNormalization equals a direct normalisation over the last two axes")
    func naiveLayerNorm() throws {
        var rng = SplitMix64(seed: 13)
        let (a, b, c, eps) = (3, 4, 5, 1e-3)
        let x = gaussianMatrix(2, a * b * c, &rng), scale = gaussianMatrix(1, b * c, &rng), bias = gaussianMatrix(1, b * c, &rng)
        let bound = try GraphOps.LayerNormalization(axis: 1, epsilon: eps).bind([
            OpInput(shape: [a, b, c], shared: false), OpInput(shape: [b, c], shared: true), OpInput(shape: [b, c], shared: true)
        ])
        let y = bound.evaluate([x, scale, bias])
        var expected: [Double] = []
        for i in 0..<2 {
            for block in 0..<a {
                let values = (0..<(b * c)).map { x[i, block * b * c + $0] }
                let mean = values.reduce(0, +) / Double(b * c)
                let variance = values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(b * c)
                for j in 0..<(b * c) { expected.append((values[j] - mean) / (variance + eps).squareRoot() * scale[0, j] + bias[0, j]) }
            }
        }
        #expect(relativeDifference(y.elements, expected) < 1e-14)
    }

    @Test("BatchNormalization equals scale (x − mean)/√(var + ε) + B per channel")
    func naiveBatchNorm() throws {
        var rng = SplitMix64(seed: 14)
        let (channels, positions, eps) = (3, 35, 1e-2)
        let x = gaussianMatrix(2, channels * positions, &rng)
        let stats = (0..<4).map { k in
            Matrix(rows: 1, columns: channels, elements: (0..<channels).map { _ in k == 3 ? variance(&rng) : rng.nextGaussian() })
        }
        let bound = try GraphOps.BatchNormalization(epsilon: eps).bind(
            [OpInput(shape: [channels, 5, 7], shared: false)] + (0..<4).map { _ in OpInput(shape: [channels], shared: true) })
        let y = bound.evaluate([x] + stats)
        var expected: [Double] = []
        for i in 0..<2 {
            for c in 0..<channels {
                for q in 0..<positions {
                    let (scale, shift, mean, v) = (stats[0][0, c], stats[1][0, c], stats[2][0, c], stats[3][0, c])
                    expected.append(scale * (x[i, c * positions + q] - mean) / (v + eps).squareRoot() + shift)
                }
            }
        }
        #expect(relativeDifference(y.elements, expected) < 1e-14)
    }

    // MARK: Delegation to the layers

    @Test("Conv with stride 1 and pads k/2 is the Conv2d layer, bit for bit", arguments: [(3, true), (1, false)])
    func conv2dDelegation(_ kernel: Int, _ hasBias: Bool) throws {
        var rng = SplitMix64(seed: 21)
        let (cIn, cOut, h, w, samples) = (3, 4, 5, 7, 3)
        var layer = Conv2d("conv", inChannels: cIn, outChannels: cOut, kernel: kernel, height: h, width: w, bias: hasBias)
        layer.parameters = gaussianMatrix(1, layer.parameterCount, &rng).elements
        let p = kernel / 2
        let op = try GraphOps.Conv(kernelShape: [kernel, kernel], pads: [p, p, p, p])
        let inputs =
            [OpInput(shape: [cIn, h, w], shared: false), OpInput(shape: [cOut, cIn, kernel, kernel], shared: true)]
            + (hasBias ? [OpInput(shape: [cOut], shared: true)] : [])
        let bound = try op.bind(inputs)
        let x = gaussianMatrix(samples, layer.inputWidth, &rng)
        let values =
            [x, Matrix(rows: 1, columns: layer.weight.count, elements: layer.weight)]
            + (hasBias ? [Matrix(rows: 1, columns: cOut, elements: layer.bias)] : [])
        let (y, point) = bound.linearize(values)
        // Forward: apply + addBias on the layer's operand.
        let operand = layer.operand(x)
        var expected = Matrix(zeros: samples, layer.outputWidth)
        layer.apply(operand, weight: nil, into: &expected, accumulate: false)
        layer.addBias(nil, to: &expected)
        #expect(relativeDifference(y, expected) == 0)
        // Input JVP (apply on the tangent's operand) and VJP (applyTranspose).
        let dx = gaussianMatrix(samples, layer.inputWidth, &rng), g = gaussianMatrix(samples, layer.outputWidth, &rng)
        var jvp = Matrix(zeros: samples, layer.outputWidth)
        layer.apply(layer.operand(dx), weight: nil, into: &jvp, accumulate: false)
        #expect(relativeDifference(point.jvp([dx, nil] + (hasBias ? [nil] : [])), jvp) == 0)
        var back = Matrix(zeros: samples, layer.inputWidth)
        layer.applyTranspose(g, into: &back, accumulate: false)
        let all = [Bool](repeating: true, count: inputs.count)
        let summed = point.vjp(g, wanted: all, sumShared: false)
        #expect(relativeDifference(summed[0], back) == 0)
        // Parameter VJPs, summed and per sample, (W̄, b̄) flat as the layer's parameters.
        let sums = point.vjp(g, wanted: all, sumShared: true)
        let flat = sums[1]!.elements + (hasBias ? sums[2]!.elements : [])
        #expect(relativeDifference(flat, layer.parameterVJP(g, operand: operand)) == 0)
        let count = layer.parameterCount
        var rows = Matrix(zeros: samples, count)
        rows.elements.withUnsafeMutableBufferPointer { layer.parameterVJPRows(g, operand: operand, into: $0, stride: count, offset: 0) }
        let perSample = point.vjp(g, wanted: all, sumShared: false)
        let opRows = (0..<samples).flatMap { i in
            perSample[1]!.row(i) + (hasBias ? perSample[2]!.row(i) : [])
        }
        #expect(relativeDifference(opRows, rows.elements) == 0)
        // Per-sample parameter JVPs: the layer's addParameterJVPRows.
        let dthetas = gaussianMatrix(samples, count, &rng)
        var layerJVP = Matrix(zeros: samples, layer.outputWidth)
        layer.addParameterJVPRows(dthetas, offset: 0, operand: operand, to: &layerJVP)
        let weights = layer.weight.count
        let tangents = [nil, columns(dthetas, 0..<weights)] + (hasBias ? [columns(dthetas, weights..<count)] : [])
        #expect(relativeDifference(point.jvp(tangents), layerJVP) < 1e-14)
    }

    @Test("GroupNormalization is the GroupNorm layer, bit for bit")
    func groupNormDelegation() throws {
        var rng = SplitMix64(seed: 22)
        let (channels, groups, positions, samples) = (6, 3, 15, 3)
        var layer = GroupNorm("gn", groups: groups, channels: channels, positions: positions, epsilon: 1e-4)
        layer.parameters = gaussianMatrix(1, 2 * channels, &rng).elements
        let bound = try GraphOps.GroupNormalization(numGroups: groups, epsilon: 1e-4).bind([
            OpInput(shape: [channels, 3, 5], shared: false), OpInput(shape: [channels], shared: true),
            OpInput(shape: [channels], shared: true)
        ])
        let x = gaussianMatrix(samples, channels * positions, &rng)
        let (y, point) = bound.linearize([
            x, Matrix(rows: 1, columns: channels, elements: layer.weight), Matrix(rows: 1, columns: channels, elements: layer.bias)
        ])
        let (expected, layerPoint) = layer.forward(x)
        #expect(relativeDifference(y, expected) == 0)
        let dx = gaussianMatrix(samples, layer.inputWidth, &rng), g = gaussianMatrix(samples, layer.outputWidth, &rng)
        #expect(relativeDifference(point.jvp([dx, nil, nil]), layerPoint.jvp(dx)) == 0)
        let all = [true, true, true]
        let rows = point.vjp(g, wanted: all, sumShared: false), sums = point.vjp(g, wanted: all, sumShared: true)
        #expect(relativeDifference(rows[0], layerPoint.vjp(g)) == 0)
        #expect(relativeDifference(sums[1]!.elements + sums[2]!.elements, layerPoint.parameterVJP(g)) == 0)
        var layerRows = Matrix(zeros: samples, 2 * channels)
        layerRows.elements.withUnsafeMutableBufferPointer { layerPoint.parameterVJPRows(g, into: $0, stride: 2 * channels, offset: 0) }
        let opRows = (0..<samples).flatMap { rows[1]!.row($0) + rows[2]!.row($0) }
        #expect(relativeDifference(opRows, layerRows.elements) == 0)
        // Parameter JVPs: shared (γ̇, β̇) and one per sample.
        let dtheta = gaussianMatrix(1, 2 * channels, &rng)
        var layerJVP: Matrix?
        layerPoint.addParameterJVP(dtheta.elements[...], to: &layerJVP)
        let dGamma = Matrix(rows: 1, columns: channels, elements: Array(dtheta.elements[..<channels]))
        let dBeta = Matrix(rows: 1, columns: channels, elements: Array(dtheta.elements[channels...]))
        #expect(relativeDifference(point.jvp([nil, dGamma, dBeta]), layerJVP) == 0)
        let dthetas = gaussianMatrix(samples, 2 * channels, &rng)
        var layerRowsJVP: Matrix?
        layerPoint.addParameterJVPRows(dthetas, offset: 0, count: 2 * channels, to: &layerRowsJVP)
        let split = [nil, columns(dthetas, 0..<channels), columns(dthetas, channels..<(2 * channels))]
        #expect(relativeDifference(point.jvp(split), layerRowsJVP) == 0)
    }

    // MARK: Refusals

    @Test("ops refuse what they do not implement, naming the attribute or the shapes")
    func refusals() {
        let x = OpInput(shape: [3, 5, 7], shared: false)
        #expect(throws: OpProblem("kernel_shape [4, 4]: only odd kernel sizes are implemented")) {
            try GraphOps.Conv(attributes: ["kernel_shape": .ints([4, 4])])
        }
        #expect(throws: OpProblem("kernel_shape [3, 5] is not square (only square kernels are implemented)")) {
            try GraphOps.Conv(attributes: ["kernel_shape": .ints([3, 5])])
        }
        #expect(throws: OpProblem("W [4, 3, 2, 2]: only odd kernel sizes are implemented")) {
            try GraphOps.Conv(attributes: [:]).bind([x, OpInput(shape: [4, 3, 2, 2], shared: true)])
        }
        #expect(throws: OpProblem("strides [3, 3] are not implemented (only 1 and 2)")) {
            try GraphOps.Conv(attributes: ["strides": .ints([3, 3])])
        }
        #expect(throws: OpProblem("strides [1, 2] differ (only equal strides are implemented)")) {
            try GraphOps.Conv(attributes: ["strides": .ints([1, 2])])
        }
        #expect(throws: OpProblem("dilations [2, 2] are not implemented (only [1, 1])")) {
            try GraphOps.Conv(attributes: ["dilations": .ints([2, 2])])
        }
        #expect(throws: OpProblem("group = 2 is not implemented (only 1)")) { try GraphOps.Conv(attributes: ["group": .int(2)]) }
        #expect(throws: OpProblem("auto_pad = SAME_UPPER is not implemented (only NOTSET, with explicit pads)")) {
            try GraphOps.Conv(attributes: ["auto_pad": .string("SAME_UPPER")])
        }
        #expect(throws: OpProblem("pads [1, 1, 1] is not 4 values [top, left, bottom, right]")) {
            try GraphOps.Conv(attributes: ["pads": .ints([1, 1, 1])])
        }
        #expect(throws: OpProblem("pads [0, -1, 0, 0] are outside 0...1048576")) {
            try GraphOps.Conv(attributes: ["pads": .ints([0, -1, 0, 0])])
        }
        #expect(throws: OpProblem("W [4, 2, 3, 3] expects 2 input channels, x [3, 5, 7] has 3")) {
            try GraphOps.Conv(attributes: [:]).bind([x, OpInput(shape: [4, 2, 3, 3], shared: true)])
        }
        #expect(throws: OpProblem("W [4, 3, 3, 3] must be shared (a parameter or constant), but it depends on the sample")) {
            try GraphOps.Conv(attributes: [:]).bind([x, OpInput(shape: [4, 3, 3, 3], shared: false)])
        }
        #expect(throws: OpProblem("bias [4] must be shared (a parameter or constant), but it depends on the sample")) {
            try GraphOps.Conv(attributes: [:]).bind([x, OpInput(shape: [4, 3, 3, 3], shared: true), OpInput(shape: [4], shared: false)])
        }
        #expect(throws: OpProblem("bias [3] does not match the output channels of W [4, 3, 3, 3], [4]")) {
            try GraphOps.Conv(attributes: [:]).bind([x, OpInput(shape: [4, 3, 3, 3], shared: true), OpInput(shape: [3], shared: true)])
        }
        #expect(throws: OpProblem("kernel_shape [5, 5] does not match W [4, 3, 3, 3]")) {
            try GraphOps.Conv(attributes: ["kernel_shape": .ints([5, 5])]).bind([x, OpInput(shape: [4, 3, 3, 3], shared: true)])
        }
        #expect(throws: OpProblem("the 7×7 kernel does not fit x [3, 5, 7] with pads [0, 0, 1, 0]")) {
            try GraphOps.Conv(attributes: ["pads": .ints([0, 0, 1, 0])]).bind([x, OpInput(shape: [4, 3, 7, 7], shared: true)])
        }
        #expect(throws: OpProblem("the output [4096, 4096, 4096] has more than 2^28 elements per sample")) {
            try GraphOps.Conv(attributes: [:]).bind([
                OpInput(shape: [1, 4096, 4096], shared: false), OpInput(shape: [4096, 1, 1, 1], shared: true)
            ])
        }
        #expect(throws: OpProblem("x [3, -5, 7] has a dimension below 1")) {
            try GraphOps.Conv(attributes: [:]).bind([OpInput(shape: [3, -5, 7], shared: false), OpInput(shape: [4, 3, 1, 1], shared: true)])
        }
        #expect(throws: OpProblem("x [65536, 65536, 65536] has more than 2^28 elements per sample")) {
            try GraphOps.Softmax().bind([OpInput(shape: [65536, 65536, 65536], shared: false)])
        }
        #expect(throws: OpProblem("unknown attribute dilation")) { try GraphOps.Conv(attributes: ["dilation": .ints([1, 1])]) }
        #expect(throws: OpProblem("unknown attribute beta")) { try GraphOps.Softmax(attributes: ["beta": .float(1)]) }
        #expect(throws: OpProblem("axis = 3 is outside −3..<3")) { try GraphOps.Softmax(axis: 3).bind([x]) }
        #expect(throws: OpProblem("axis = -4 is outside −3..<3")) {
            try GraphOps.LayerNormalization(axis: -4).bind([x, OpInput(shape: [7], shared: true)])
        }
        #expect(throws: OpProblem("training_mode = 1 is not implemented (inference only: the statistics are inputs)")) {
            try GraphOps.BatchNormalization(attributes: ["training_mode": .int(1)])
        }
        let channels = OpInput(shape: [3], shared: true)
        #expect(throws: OpProblem("input_var [3] must be shared (a parameter or constant), but it depends on the sample")) {
            try GraphOps.BatchNormalization().bind([x, channels, channels, channels, OpInput(shape: [3], shared: false)])
        }
        #expect(throws: OpProblem("B [4] does not match the channels of x [3, 5, 7], [3]")) {
            try GraphOps.BatchNormalization().bind([x, channels, OpInput(shape: [4], shared: true), channels, channels])
        }
        #expect(throws: OpProblem("scale [7] must be shared (a parameter or constant), but it depends on the sample")) {
            try GraphOps.LayerNormalization().bind([x, OpInput(shape: [7], shared: false)])
        }
        #expect(throws: OpProblem("scale [7] does not match the normalised shape of x [3, 5, 7], [5, 7]")) {
            try GraphOps.LayerNormalization(axis: -2).bind([x, OpInput(shape: [7], shared: true)])
        }
        #expect(throws: OpProblem("stash_type = 2 is not implemented (only 1; statistics are computed in float64)")) {
            try GraphOps.LayerNormalization(attributes: ["stash_type": .int(2)])
        }
        #expect(throws: OpProblem("epsilon = -0.1 is negative")) { try GraphOps.LayerNormalization(attributes: ["epsilon": .float(-0.1)]) }
        #expect(throws: OpProblem("num_groups = 2 does not divide the 3 channels of x [3, 5, 7]")) {
            try GraphOps.GroupNormalization(numGroups: 2).bind([x, channels, channels])
        }
        #expect(throws: OpProblem("num_groups = 0 is not positive")) {
            try GraphOps.GroupNormalization(attributes: ["num_groups": .int(0)])
        }
        #expect(throws: OpProblem("attribute num_groups is missing")) { try GraphOps.GroupNormalization(attributes: [:]) }
        #expect(throws: OpProblem("bias [3] must be shared (a parameter or constant), but it depends on the sample")) {
            try GraphOps.GroupNormalization(numGroups: 3).bind([x, channels, OpInput(shape: [3], shared: false)])
        }
        #expect(throws: OpProblem("scale [4] does not match the channels of x [3, 5, 7], [3]")) {
            try GraphOps.InstanceNormalization().bind([x, OpInput(shape: [4], shared: true), channels])
        }
        #expect(throws: OpProblem("takes 3 inputs, got 2")) { try GraphOps.InstanceNormalization().bind([x, channels]) }
    }

    @Test("stored attributes round-trip, defaults included")
    func attributes() throws {
        let ops: [any GraphOp] = [
            GraphOps.Softmax(axis: 1), GraphOps.LayerNormalization(axis: -2, epsilon: 1e-3), GraphOps.GroupNormalization(numGroups: 3),
            GraphOps.InstanceNormalization(epsilon: 1e-4), GraphOps.BatchNormalization(epsilon: 1e-3, momentum: 0.5),
            try GraphOps.Conv(kernelShape: [3, 3], strides: [2, 2], pads: [1, 0, 2, 1]), try GraphOps.Conv()
        ]
        for op in ops {
            let again = try type(of: op).init(attributes: op.attributes)
            #expect(again.attributes == op.attributes, "\(op.type)")
        }
        #expect(GraphOps.Conv.type == "Conv" && GraphOps.Softmax.type == "Softmax")
        #expect(try GraphOps.Conv(attributes: [:]).attributes["kernel_shape"] == nil)
        #expect(try GraphOps.BatchNormalization(attributes: ["momentum": .float(0.99)]).attributes["momentum"] == .float(0.99))
    }
}
