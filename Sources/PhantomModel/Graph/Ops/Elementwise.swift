import PhantomLinearAlgebra

/// An element-wise map y = φ(z) without parameters, whose Jacobian is diag φ′(z): an op of this kind only says how to
/// form y and φ′ (``valueAndSlope(_:)``); binding, JVP (t ⊙ φ′) and VJP (g ⊙ φ′) come from here.
public protocol ElementwiseOp: GraphOp {
    /// y = φ(z) and φ′(z), element by element.
    func valueAndSlope(_ z: Matrix) -> (value: Matrix, slope: Matrix)
}

extension ElementwiseOp {
    public func bind(_ inputs: [OpInput]) throws(OpProblem) -> any BoundOp {
        try expectInputs(inputs, 1...1)
        return BoundElementwise(op: self, shape: inputs[0].shape, shared: inputs[0].shared)
    }
}

/// An attribute-free op: no attributes stored, any given is unknown.
public protocol PlainOp: GraphOp {
    init()
}

extension PlainOp {
    public var attributes: [String: GraphAttribute] { [:] }
    public init(attributes: [String: GraphAttribute]) throws(OpProblem) {
        try AttributeReader(attributes).finish()
        self.init()
    }
}

struct BoundElementwise<Op: ElementwiseOp>: BoundOp {
    let op: Op
    let shape: [Int]
    let shared: Bool
    var outputShape: [Int] { shape }

    func evaluate(_ inputs: [Matrix]) -> Matrix { op.valueAndSlope(inputs[0]).value }

    func linearize(_ inputs: [Matrix]) -> (value: Matrix, point: any OpPoint) {
        let (y, slope) = op.valueAndSlope(inputs[0])
        return (y, ElementwiseOpPoint(slope: slope, shared: shared))
    }
}

/// The derivative of an element-wise map: ⊙ φ′(z) both ways.
struct ElementwiseOpPoint: OpPoint {
    let slope: Matrix
    let shared: Bool

    func jvp(_ tangents: [Matrix?]) -> Matrix? { tangents[0].map { multiplyBroadcasting($0, slope) } }

    func vjp(_ g: Matrix, wanted: [Bool], sumShared: Bool) -> [Matrix?] {
        [wanted[0] ? finishCotangent(multiplyBroadcasting(g, slope), shared: shared, sumShared: sumShared) : nil]
    }

    func selectingSamples(_ rows: [Int]) -> any OpPoint {
        shared ? self : ElementwiseOpPoint(slope: slope.selectingRows(rows), shared: shared)
    }
}

extension Matrix {
    /// (φ(z), φ′(z)) element by element, from one function giving both.
    func mapWithSlope(_ f: (Double) -> (Double, Double)) -> (value: Matrix, slope: Matrix) {
        var y = [Double](repeating: 0, count: elements.count), s = y
        for i in elements.indices { (y[i], s[i]) = f(elements[i]) }
        return (Matrix(rows: rows, columns: columns, elements: y), Matrix(rows: rows, columns: columns, elements: s))
    }
}

/// The namespace of the graph's op types, and their registry.
public enum GraphOps {}
