import Foundation
import PhantomLinearAlgebra

extension GraphOps {
    /// `Softmax` (ONNX opset 13+, on per-sample shapes): along `axis` (default −1; negative counts from the end; the
    /// batch dimension is not an axis), y = exp(x − max x) / Σ exp(x − max x), each line along the axis on its own.
    ///
    /// The Jacobian of one line is diag(y) − y yᵀ, symmetric, so JVP and VJP have one form:
    /// JVP ẏ = y ⊙ (t − Σ_axis y ⊙ t), VJP x̄ = y ⊙ (g − Σ_axis y ⊙ g).
    public struct Softmax: GraphOp {
        public static let type = "Softmax"
        public let axis: Int

        public init(axis: Int = -1) { self.axis = axis }

        public init(attributes: [String: GraphAttribute]) throws(OpProblem) {
            var reader = AttributeReader(attributes)
            axis = try reader.int("axis", default: -1)
            try reader.finish()
        }

        public var attributes: [String: GraphAttribute] { ["axis": .int(axis)] }

        public func bind(_ inputs: [OpInput]) throws(OpProblem) -> any BoundOp {
            try expectInputs(inputs, 1...1)
            let shape = inputs[0].shape
            _ = try NormConvShapes.count(shape, "x")
            let a = try NormConvShapes.axis(axis, rank: shape.count)
            return BoundSoftmax(
                outputShape: shape, outer: shape[..<a].reduce(1, *), length: shape[a],
                inner: shape[(a + 1)...].reduce(1, *), shared: inputs[0].shared)
        }
    }
}

/// Per-sample shape checks of the normalisation, softmax and convolution ops: what binding refuses so that no size or
/// axis from a stored graph reaches a precondition.
enum NormConvShapes {
    /// The largest number of elements of a per-sample value (and of a convolution's per-sample patches).
    static let maximumCount = 1 << 28

    /// The element count of `shape`, refusing dimensions below 1 and counts above ``maximumCount`` (without overflow).
    static func count(_ shape: [Int], _ name: String) throws(OpProblem) -> Int {
        var total = 1
        for d in shape {
            guard d >= 1 else { throw OpProblem("\(name) \(shapeText(shape)) has a dimension below 1") }
            let (p, overflow) = total.multipliedReportingOverflow(by: d)
            guard !overflow, p <= maximumCount else {
                throw OpProblem("\(name) \(shapeText(shape)) has more than 2^28 elements per sample")
            }
            total = p
        }
        return total
    }

    /// A per-sample axis in −rank..<rank as 0..<rank.
    static func axis(_ axis: Int, rank: Int, _ name: String = "axis") throws(OpProblem) -> Int {
        guard rank >= 1 else { throw OpProblem("\(name) = \(axis): the input is a scalar (rank 0)") }
        guard axis >= -rank && axis < rank else { throw OpProblem("\(name) = \(axis) is outside −\(rank)..<\(rank)") }
        return axis < 0 ? axis + rank : axis
    }

    /// Refuses an input that depends on the sample where the op needs a parameter or constant.
    static func requireShared(_ input: OpInput, _ name: String) throws(OpProblem) {
        guard input.shared else {
            throw OpProblem("\(name) \(shapeText(input.shape)) must be shared (a parameter or constant), but it depends on the sample")
        }
    }

    /// Refuses an input whose shape is not `expected`.
    static func expectShape(_ input: OpInput, _ expected: [Int], _ name: String, for what: String) throws(OpProblem) {
        guard input.shape == expected else {
            throw OpProblem("\(name) \(shapeText(input.shape)) does not match \(what) \(shapeText(expected))")
        }
    }
}

struct BoundSoftmax: BoundOp {
    let outputShape: [Int]
    /// The per-sample layout: `outer` blocks of `length` × `inner` values, the axis of `length` in the middle.
    let outer: Int, length: Int, inner: Int
    let shared: Bool

    func linearize(_ inputs: [Matrix]) -> (value: Matrix, point: any OpPoint) {
        let x = inputs[0]
        var y = x
        let columns = x.columns
        y.elements.withUnsafeMutableBufferPointer { yp in
            x.elements.withUnsafeBufferPointer { xp in
                for r in 0..<x.rows {
                    for o in 0..<outer {
                        for i in 0..<inner {
                            let start = r * columns + o * length * inner + i
                            var m = -Double.infinity
                            for j in 0..<length { m = max(m, xp[start + j * inner]) }
                            var sum = 0.0
                            for j in 0..<length {
                                let e = Foundation.exp(xp[start + j * inner] - m)
                                yp[start + j * inner] = e
                                sum += e
                            }
                            for j in 0..<length { yp[start + j * inner] /= sum }
                        }
                    }
                }
            }
        }
        return (y, SoftmaxPoint(bound: self, y: y))
    }
}

struct SoftmaxPoint: OpPoint {
    let bound: BoundSoftmax
    let y: Matrix

    /// y ⊙ (t − Σ_axis y ⊙ t) per line, row r of t at point row r (or at the only point row); a one-row t on a batch
    /// point gives the batch's rows.
    func apply(_ t: Matrix) -> Matrix {
        let rows = max(t.rows, y.rows), columns = y.columns
        let (outer, length, inner) = (bound.outer, bound.length, bound.inner)
        var out = Matrix(zeros: rows, columns)
        out.elements.withUnsafeMutableBufferPointer { op in
            t.elements.withUnsafeBufferPointer { tp in
                y.elements.withUnsafeBufferPointer { yp in
                    for r in 0..<rows {
                        let tr = (t.rows == 1 ? 0 : r) * columns, yr = (y.rows == 1 ? 0 : r) * columns, orow = r * columns
                        for o in 0..<outer {
                            for i in 0..<inner {
                                let start = o * length * inner + i
                                var dot = 0.0
                                for j in 0..<length { dot += yp[yr + start + j * inner] * tp[tr + start + j * inner] }
                                for j in 0..<length {
                                    let q = start + j * inner
                                    op[orow + q] = yp[yr + q] * (tp[tr + q] - dot)
                                }
                            }
                        }
                    }
                }
            }
        }
        return out
    }

    func jvp(_ tangents: [Matrix?]) -> Matrix? { tangents[0].map(apply) }

    func vjp(_ g: Matrix, wanted: [Bool], sumShared: Bool) -> [Matrix?] {
        [wanted[0] ? finishCotangent(apply(g), shared: bound.shared, sumShared: sumShared) : nil]
    }

    func selectingSamples(_ rows: [Int]) -> any OpPoint {
        bound.shared ? self : SoftmaxPoint(bound: bound, y: y.selectingSampleRows(rows))
    }
}
