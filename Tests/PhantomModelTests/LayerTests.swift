import PhantomLinearAlgebra
import PhantomModel
import PhantomTestSupport
import Testing

/// One layer seen through its protocol only (``AffineLayer`` or ``MapLayer``): its value and derivatives at a batch z.
struct LayerUnderTest: Sendable, CustomTestStringConvertible {
    let label: String
    var layer: any Layer
    var testDescription: String { label }

    var affine: (any AffineLayer)? { layer as? any AffineLayer }

    func forward(_ z: Matrix) -> Matrix {
        if let a = affine {
            var y = Matrix(zeros: z.rows, a.outputWidth)
            a.apply(a.operand(z), weight: nil, into: &y, accumulate: false)
            a.addBias(nil, to: &y)
            return y
        }
        return (layer as! any MapLayer).forward(z).value
    }
    func point(_ z: Matrix) -> any MapPoint { (layer as! any MapLayer).forward(z).point }

    func jvp(_ z: Matrix, _ dz: Matrix) -> Matrix {
        if let a = affine {
            var y = Matrix(zeros: dz.rows, a.outputWidth)
            a.apply(a.operand(dz), weight: nil, into: &y, accumulate: false)
            return y
        }
        return point(z).jvp(dz)
    }
    func vjp(_ z: Matrix, _ g: Matrix) -> Matrix {
        if let a = affine {
            var x = Matrix(zeros: g.rows, a.inputWidth)
            a.applyTranspose(g, into: &x, accumulate: false)
            return x
        }
        return point(z).vjp(g)
    }
    func parameterJVP(_ z: Matrix, _ dtheta: [Double]) -> Matrix {
        if let a = affine {
            let biasCount = a.biasCount
            var y = Matrix(zeros: z.rows, a.outputWidth)
            a.apply(a.operand(z), weight: dtheta[0..<(dtheta.count - biasCount)], into: &y, accumulate: false)
            if a.hasBias { a.addBias(dtheta[(dtheta.count - biasCount)...], to: &y) }
            return y
        }
        var y: Matrix?
        point(z).addParameterJVP(dtheta[...], to: &y)
        return y!
    }
    func parameterVJP(_ z: Matrix, _ g: Matrix) -> [Double] {
        if let a = affine { return a.parameterVJP(g, operand: a.operand(z)) }
        return point(z).parameterVJP(g)
    }
    func parameterVJPRows(_ z: Matrix, _ g: Matrix) -> Matrix {
        let p = layer.parameterCount
        var out = Matrix(zeros: g.rows, p)
        out.elements.withUnsafeMutableBufferPointer { o in
            if let a = affine {
                a.parameterVJPRows(g, operand: a.operand(z), into: o, stride: p, offset: 0)
            } else {
                point(z).parameterVJPRows(g, into: o, stride: p, offset: 0)
            }
        }
        return out
    }

    /// Every layer kind, on odd sizes, with random parameters.
    static let all: [LayerUnderTest] = {
        var rng = SplitMix64(seed: 31)
        func randomized(_ layer: any Layer) -> any Layer {
            var l = layer
            l.parameters = (0..<l.parameterCount).map { _ in 1 + 0.5 * rng.nextGaussian() }
            return l
        }
        return [
            LayerUnderTest(
                label: "Conv2d 3×3, 2→3 channels, 4×5, bias",
                layer: randomized(Conv2d("c", inChannels: 2, outChannels: 3, kernel: 3, height: 4, width: 5, bias: true))),
            LayerUnderTest(
                label: "Conv2d 3×3, 3→2 channels, 1×3, no bias",
                layer: randomized(Conv2d("c", inChannels: 3, outChannels: 2, kernel: 3, height: 1, width: 3, bias: false))),
            LayerUnderTest(
                label: "Conv2d 1×1, 3→2 channels, 3×2, bias",
                layer: randomized(Conv2d("c", inChannels: 3, outChannels: 2, kernel: 1, height: 3, width: 2, bias: true))),
            LayerUnderTest(label: "GroupNorm G = 1, C = 4", layer: randomized(GroupNorm("g", groups: 1, channels: 4, positions: 3))),
            LayerUnderTest(label: "GroupNorm G = 2, C = 4", layer: randomized(GroupNorm("g", groups: 2, channels: 4, positions: 3))),
            LayerUnderTest(label: "GroupNorm G = C = 4", layer: randomized(GroupNorm("g", groups: 4, channels: 4, positions: 3))),
            LayerUnderTest(label: "LayerNorm 5", layer: randomized(LayerNorm("n", width: 5)))
        ]
    }()
}

private func centralDifference(_ f: (Double) -> Matrix, step: Double = 1e-6) -> Matrix {
    (1 / (2 * step)) * (f(step) - f(-step))
}

@Suite("Layers: finite differences, adjointness, batching; Conv2d against a direct convolution")
struct LayerTests {
    let batch = 3

    func input(_ t: LayerUnderTest, seed: UInt64 = 41) -> Matrix {
        var rng = SplitMix64(seed: seed)
        // Values away from ReLU's kink at 0, so that finite differences see one side only.
        return Matrix(
            rows: batch, columns: t.layer.inputWidth,
            elements: (0..<(batch * t.layer.inputWidth)).map { _ in
                let v = rng.nextGaussian()
                return v + (v >= 0 ? 0.1 : -0.1)
            })
    }

    @Test("state and parameter JVPs equal central finite differences", arguments: LayerUnderTest.all)
    func finiteDifferences(t: LayerUnderTest) {
        let z = input(t)
        var rng = SplitMix64(seed: 42)
        let dz = gaussianMatrix(batch, t.layer.inputWidth, &rng)
        let fd = centralDifference { s in t.forward(z + s * dz) }
        #expect(relativeError(t.jvp(z, dz).elements, fd.elements) <= 1e-7)
        guard t.layer.parameterCount > 0 else { return }
        let theta = t.layer.parameters
        let dtheta = (0..<theta.count).map { _ in rng.nextGaussian() }
        let fdTheta = centralDifference { s in
            var moved = t
            moved.layer.parameters = zip(theta, dtheta).map { $0 + s * $1 }
            return moved.forward(z)
        }
        #expect(relativeError(t.parameterJVP(z, dtheta).elements, fdTheta.elements) <= 1e-7)
    }

    @Test("adjointness ⟨JVP v, w⟩ = ⟨v, VJP w⟩ in the state and the parameters, to 1e-12 relative", arguments: LayerUnderTest.all)
    func adjointness(t: LayerUnderTest) {
        let z = input(t)
        var rng = SplitMix64(seed: 43)
        for _ in 0..<4 {
            let v = gaussianMatrix(batch, t.layer.inputWidth, &rng), w = gaussianMatrix(batch, t.layer.outputWidth, &rng)
            let lhs = BLAS.dot(t.jvp(z, v).elements, w.elements), rhs = BLAS.dot(v.elements, t.vjp(z, w).elements)
            #expect(abs(lhs - rhs) <= 1e-12 * max(abs(lhs), 1e-300) + 1e-14)
            guard t.layer.parameterCount > 0 else { continue }
            let dtheta = (0..<t.layer.parameterCount).map { _ in rng.nextGaussian() }
            let plhs = BLAS.dot(t.parameterJVP(z, dtheta).elements, w.elements), prhs = BLAS.dot(dtheta, t.parameterVJP(z, w))
            #expect(abs(plhs - prhs) <= 1e-12 * max(abs(plhs), 1e-300) + 1e-14)
        }
    }

    @Test("batched products equal per-sample ones; per-sample parameter VJP rows sum to the batch's", arguments: LayerUnderTest.all)
    func batching(t: LayerUnderTest) {
        let z = input(t)
        var rng = SplitMix64(seed: 44)
        let v = gaussianMatrix(batch, t.layer.inputWidth, &rng), w = gaussianMatrix(batch, t.layer.outputWidth, &rng)
        let y = t.forward(z), jv = t.jvp(z, v), vw = t.vjp(z, w)
        let rows = t.parameterVJPRows(z, w)
        var summed = [Double](repeating: 0, count: t.layer.parameterCount)
        for i in 0..<batch {
            let zi = z.selectingRows([i])
            #expect(relativeError(t.forward(zi).elements, y.row(i)) <= 1e-14)
            #expect(relativeError(t.jvp(zi, v.selectingRows([i])).elements, jv.row(i)) <= 1e-14)
            #expect(relativeError(t.vjp(zi, w.selectingRows([i])).elements, vw.row(i)) <= 1e-14)
            guard t.layer.parameterCount > 0 else { continue }
            let single = t.parameterVJP(zi, w.selectingRows([i]))
            #expect(relativeError(rows.row(i), single) <= 1e-14)
            BLAS.axpy(1, single, &summed)
        }
        guard t.layer.parameterCount > 0 else { return }
        #expect(relativeError(t.parameterVJP(z, w), summed) <= 1e-13)
        if let a = t.affine {
            let w2 = gaussianMatrix(batch, t.layer.outputWidth, &rng)
            let fused = a.parameterVJPs([w, w2], operand: a.operand(z))
            #expect(relativeError(fused[0], t.parameterVJP(z, w)) <= 1e-14)
            #expect(relativeError(fused[1], t.parameterVJP(z, w2)) <= 1e-14)
        }
    }

    @Test(
        "a one-sample map point acts on a batch of tangents (the dense-Jacobian route)",
        arguments: LayerUnderTest.all.filter { $0.affine == nil })
    func broadcasting(t: LayerUnderTest) {
        let z = input(t).selectingRows([1])
        var rng = SplitMix64(seed: 45)
        let v = gaussianMatrix(4, t.layer.inputWidth, &rng)
        let point = t.point(z)
        let jv = point.jvp(v), vv = point.vjp(v)
        for r in 0..<4 {
            #expect(relativeError(jv.row(r), point.jvp(v.selectingRows([r])).elements) <= 1e-15)
            #expect(relativeError(vv.row(r), point.vjp(v.selectingRows([r])).elements) <= 1e-15)
        }
    }

    /// y[o, y, x] = b[o] + Σ_{c, dy, dx} W[o, c, dy, dx] z[c, y + dy − k/2, x + dx − k/2], zero outside.
    func directConvolution(_ conv: Conv2d, _ z: [Double]) -> [Double] {
        let (h, w, k, pad) = (conv.height, conv.width, conv.kernel, conv.kernel / 2)
        var out = [Double](repeating: 0, count: conv.outputWidth)
        for o in 0..<conv.outChannels {
            for y in 0..<h {
                for x in 0..<w {
                    var s = conv.hasBias ? conv.bias[o] : 0
                    for c in 0..<conv.inChannels {
                        for dy in 0..<k {
                            for dx in 0..<k {
                                let sy = y + dy - pad, sx = x + dx - pad
                                guard sy >= 0, sy < h, sx >= 0, sx < w else { continue }
                                s += conv.weight[((o * conv.inChannels + c) * k + dy) * k + dx] * z[(c * h + sy) * w + sx]
                            }
                        }
                    }
                    out[(o * h + y) * w + x] = s
                }
            }
        }
        return out
    }

    @Test(
        "Conv2d equals a direct convolution (odd sizes, C_in ≠ C_out, H ≠ W, 1×1 and 3×3)",
        arguments: LayerUnderTest.all.filter { $0.layer is Conv2d })
    func convolution(t: LayerUnderTest) {
        let conv = t.layer as! Conv2d
        let z = input(t)
        let y = t.forward(z)
        for i in 0..<batch { #expect(relativeError(y.row(i), directConvolution(conv, z.row(i))) <= 1e-14) }
    }

    @Test("GroupNorm with G = 1 is LayerNorm over the sample with per-channel γ, β; each group has mean β and std γ")
    func groupNorm() {
        var rng = SplitMix64(seed: 46)
        let z = gaussianMatrix(2, 12, &rng)
        let g = GroupNorm("g", groups: 1, channels: 4, positions: 3)
        let l = LayerNorm("l", width: 12)
        #expect(relativeError(g.forward(z).value.elements, l.forward(z).value.elements) <= 1e-15)
        let perChannel = GroupNorm("g", groups: 4, channels: 4, positions: 3).forward(z).value
        for i in 0..<2 {
            for c in 0..<4 {
                let values = Array(perChannel.row(i)[(c * 3)..<(c * 3 + 3)])
                let mean = values.reduce(0, +) / 3
                let variance = values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / 3
                #expect(abs(mean) < 1e-14)
                // var(n) = var/(var + ε) < 1
                #expect(variance < 1 && variance > 0.99)
            }
        }
    }
}
