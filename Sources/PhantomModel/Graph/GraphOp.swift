import PhantomLinearAlgebra

/// One operation type of a cell graph (docs/Graphs.md): MatMul, Conv, Tanh, … Each op lives in one file of
/// `Graph/Ops/` and is listed once in ``GraphOps/all``; nothing else knows which ops exist.
///
/// An op is its type name and typed attributes. Bound to its inputs' per-sample shapes (``bind(_:)``), it checks them
/// and gives a ``BoundOp`` that evaluates batches and linearizes.
public protocol GraphOp: Sendable {
    /// The type name stored in checkpoints and printed by `inspect` (ONNX's name where ONNX has the op).
    static var type: String { get }
    /// The attributes, as stored (every one, defaults included, so that a stored graph does not depend on defaults).
    var attributes: [String: GraphAttribute] { get }
    /// The op from stored attributes; an unknown attribute, a missing one without default, or a value outside what the
    /// op implements is an ``OpProblem``.
    init(attributes: [String: GraphAttribute]) throws(OpProblem)
    /// The op bound to its inputs: their per-sample shapes (no batch dimension) and whether each is *shared* — the
    /// same for every sample, i.e. a parameter, a constant or a function of those only. Wrong arity, shapes that do
    /// not fit, or a combination the op does not implement (a convolution weight that depends on the state) is an
    /// ``OpProblem`` naming the shapes.
    func bind(_ inputs: [OpInput]) throws(OpProblem) -> any BoundOp
}

extension GraphOp {
    public var type: String { Self.type }

}

/// What an op knows of one input when it is bound.
public struct OpInput: Sendable, Equatable {
    public let shape: [Int]
    /// True when the input is the same for every sample (a function of parameters and constants only).
    public let shared: Bool
    public init(shape: [Int], shared: Bool) { (self.shape, self.shared) = (shape, shared) }
    public var count: Int { shape.reduce(1, *) }
}

/// An op bound to its input shapes.
///
/// **Batches.** A value of per-sample shape s is a `Matrix` with one row per sample and `s.reduce(1, *)` columns
/// (row-major). A shared value has one row. ``evaluate(_:)`` gets each input with 1 row (shared) or B rows and
/// returns B rows when any input is batched, else 1.
public protocol BoundOp: Sendable {
    var outputShape: [Int] { get }
    /// The output for a batch of inputs.
    func evaluate(_ inputs: [Matrix]) -> Matrix
    /// The output and the point that holds what the derivatives at these inputs need.
    func linearize(_ inputs: [Matrix]) -> (value: Matrix, point: any OpPoint)
}

extension BoundOp {
    public func evaluate(_ inputs: [Matrix]) -> Matrix { linearize(inputs).value }
}

/// The derivatives of a bound op at one batch point.
///
/// **Rows of tangents and cotangents.** In one pass every batched tangent has R rows: R = B, the point's samples, or
/// any R when B = 1 (then each row is another direction at the one sample: dense Jacobians). A tangent with one row is
/// the same for every row (a shared parameter perturbation). Results have R rows, or 1 when every contribution has 1.
public protocol OpPoint: Sendable {
    /// The output tangent for input tangents (nil: zero). Nil when every input tangent is nil.
    func jvp(_ tangents: [Matrix?]) -> Matrix?
    /// The input cotangents for output cotangent g, for the inputs with `wanted[k]` (nil elsewhere). For a shared input,
    /// `sumShared` asks for Σ over rows (one row: the batch's summed parameter gradient); otherwise R rows (per sample).
    func vjp(_ g: Matrix, wanted: [Bool], sumShared: Bool) -> [Matrix?]
    /// The point of samples `rows` only (shared data stays as it is).
    func selectingSamples(_ rows: [Int]) -> any OpPoint
    /// Input k's per-sample cotangent rows in factored form (docs/FactoredGradients.md), for an input that is a
    /// parameter used by this op alone; nil when the op has no cheaper form than dense rows.
    func factor(_ g: Matrix, input k: Int) -> ParameterFactors.Part?
}

extension OpPoint {
    public func factor(_ g: Matrix, input k: Int) -> ParameterFactors.Part? { nil }
}

/// A typed attribute value of an op.
public enum GraphAttribute: Sendable, Equatable, CustomStringConvertible {
    case int(Int)
    case ints([Int])
    case float(Double)
    case string(String)

    public var description: String {
        switch self {
        case .int(let v): "\(v)"
        case .ints(let v): "[" + v.map(String.init).joined(separator: ", ") + "]"
        case .float(let v): "\(v)"
        case .string(let v): "\"\(v)\""
        }
    }
}

/// What is wrong with an op's attributes or inputs (the graph adds the node's name).
public struct OpProblem: Error, Sendable, Equatable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Reads an op's attributes: each read removes the key, and ``finish()`` refuses any key left (unknown keys are errors).
public struct AttributeReader {
    private var remaining: [String: GraphAttribute]
    public init(_ attributes: [String: GraphAttribute]) { remaining = attributes }

    public mutating func int(_ key: String, default value: Int? = nil) throws(OpProblem) -> Int {
        switch remaining.removeValue(forKey: key) {
        case .int(let v): return v
        case nil:
            if let value { return value }
            throw OpProblem("attribute \(key) is missing")
        case let other?: throw OpProblem("attribute \(key) = \(other) is not an integer")
        }
    }

    public mutating func ints(_ key: String, default value: [Int]? = nil) throws(OpProblem) -> [Int] {
        switch remaining.removeValue(forKey: key) {
        case .ints(let v): return v
        case .int(let v): return [v]
        case nil:
            if let value { return value }
            throw OpProblem("attribute \(key) is missing")
        case let other?: throw OpProblem("attribute \(key) = \(other) is not a list of integers")
        }
    }

    public mutating func float(_ key: String, default value: Double? = nil) throws(OpProblem) -> Double {
        switch remaining.removeValue(forKey: key) {
        case .float(let v):
            guard v.isFinite else { throw OpProblem("attribute \(key) = \(v) is not finite") }
            return v
        case .int(let v): return Double(v)
        case nil:
            if let value { return value }
            throw OpProblem("attribute \(key) is missing")
        case let other?: throw OpProblem("attribute \(key) = \(other) is not a number")
        }
    }

    public mutating func string(_ key: String, default value: String? = nil) throws(OpProblem) -> String {
        switch remaining.removeValue(forKey: key) {
        case .string(let v): return v
        case nil:
            if let value { return value }
            throw OpProblem("attribute \(key) is missing")
        case let other?: throw OpProblem("attribute \(key) = \(other) is not a string")
        }
    }

    /// Refuses attributes nobody read.
    public func finish() throws(OpProblem) {
        if let key = remaining.keys.sorted().first { throw OpProblem("unknown attribute \(key)") }
    }
}

/// Checks the number of inputs.
public func expectInputs(_ inputs: [OpInput], _ counts: ClosedRange<Int>) throws(OpProblem) {
    guard counts.contains(inputs.count) else {
        let want = counts.lowerBound == counts.upperBound ? "\(counts.lowerBound)" : "\(counts.lowerBound)–\(counts.upperBound)"
        throw OpProblem("takes \(want) inputs, got \(inputs.count)")
    }
}

/// A shape as text, e.g. [3, 8, 8].
public func shapeText(_ shape: [Int]) -> String { "[" + shape.map(String.init).joined(separator: ", ") + "]" }
