import PhantomLinearAlgebra

/// A value inside a cell's graph: the state h, the input x, or the output of node k.
public enum CellValue: Sendable, Hashable {
    case state
    case input
    case node(Int)
}

/// One node of a cell's graph. Layers are referred to by their index in ``LayerComposition/layers``.
public enum CellNode: Sendable {
    /// Σ of terms: a value itself (a residual add), or an affine layer applied to a value. Evaluated as the
    /// value terms (in order), then each layer's A_W z accumulated by GEMM (in order), then each layer's bias
    /// — so that PyTorch's `h + linear2(a) + injection(x)` is one accumulation.
    case sum([SumTerm])
    /// A map layer applied to a value.
    case map(layer: Int, of: CellValue)
}

public enum SumTerm: Sendable {
    case value(CellValue)
    case affine(layer: Int, of: CellValue)
}

/// A cell f(h, x; θ) as a graph of layers that mirrors the PyTorch module it comes from; its output is the last
/// node. θ is every layer's tensors, in the order of ``layers`` (the checkpoint order).
///
/// The linearization at (H, X) is assembled from the layers: forward tangents node by node for JVPs, cotangents in
/// reverse node order for VJPs (docs/Theory.md §1: J = ∂f/∂h, M = ∂f/∂θ). Nothing here knows which layers exist.
public struct LayerComposition: Sendable {
    /// Every layer, in parameter order. Each is used by exactly one node or term.
    public var layers: [any Layer]
    public let nodes: [CellNode]
    public let stateDimension: Int
    public let inputDimension: Int
    /// Per node: whether it depends on h (state VJPs visit only these).
    let stateDependent: [Bool]

    /// Checks the graph: every reference points backwards, widths match, every layer is used once with the
    /// right protocol, and the output has width d.
    public init(layers: [any Layer], nodes: [CellNode], stateDimension d: Int, inputDimension n: Int) {
        self.layers = layers
        self.nodes = nodes
        stateDimension = d
        inputDimension = n
        var uses = [Int](repeating: 0, count: layers.count)
        var dependent: [Bool] = []
        func depends(_ v: CellValue) -> Bool {
            switch v {
            case .state: true;
            case .input: false;
            case .node(let j): dependent[j]
            }
        }
        var widths: [Int] = []
        func width(_ v: CellValue, before k: Int) -> Int {
            switch v {
            case .state: return d
            case .input: return n
            case .node(let j):
                precondition(j < k, "node \(k) refers to node \(j), which is not before it")
                return widths[j]
            }
        }
        for (k, node) in nodes.enumerated() {
            switch node {
            case .map(let l, let v):
                precondition(layers[l] is any MapLayer, "\(layers[l].name) is not a map layer")
                precondition(width(v, before: k) == layers[l].inputWidth, "\(layers[l].name): input width")
                uses[l] += 1
                dependent.append(depends(v))
                widths.append(layers[l].outputWidth)
            case .sum(let terms):
                precondition(!terms.isEmpty, "node \(k): an empty sum")
                let out =
                    switch terms[0] {
                    case .affine(let l, _): layers[l].outputWidth
                    case .value(let v): width(v, before: k)
                    }
                widths.append(out)
                for term in terms {
                    switch term {
                    case .value(let v): precondition(width(v, before: k) == out, "node \(k): term width")
                    case .affine(let l, let v):
                        precondition(layers[l] is any AffineLayer, "\(layers[l].name) is not an affine layer")
                        precondition(
                            width(v, before: k) == layers[l].inputWidth && layers[l].outputWidth == out,
                            "\(layers[l].name): widths")
                        uses[l] += 1
                    }
                }
                dependent.append(
                    terms.contains { term in
                        switch term {
                        case .value(let v), .affine(_, let v): depends(v)
                        }
                    })
            }
        }
        stateDependent = dependent
        precondition(uses.allSatisfy { $0 == 1 }, "every layer must be used exactly once")
        precondition(widths.last == d, "the output must have width d")
    }

    public var layout: ParameterLayout { ParameterLayout(layers.flatMap(\.tensors)) }

    public var parameters: [Double] {
        get { layers.flatMap(\.parameters) }
        set {
            var offset = 0
            for l in layers.indices {
                let count = layers[l].parameterCount
                layers[l].parameters = Array(newValue[offset..<(offset + count)])
                offset += count
            }
            precondition(offset == newValue.count, "parameter vector has \(newValue.count) values, the cell needs \(offset)")
        }
    }

    /// The values of one named tensor.
    public func tensor(_ name: String) -> [Double] {
        let spec = layout[name]!
        return Array(parameters[spec.range])
    }

    /// Replaces one named tensor.
    public mutating func setTensor(_ name: String, _ values: [Double]) {
        let spec = layout[name]!
        precondition(values.count == spec.count, "\(name) needs \(spec.count) values")
        var p = parameters
        p.replaceSubrange(spec.range, with: values)
        parameters = p
    }

    /// The ε of the normalisation layers (nil when there are none); setting it sets every one.
    public var normEpsilon: Double? {
        get { layers.lazy.compactMap { ($0 as? any NormalizationLayer)?.epsilon }.first }
        set {
            guard let newValue else { return }
            for l in layers.indices where layers[l] is any NormalizationLayer {
                var norm = layers[l] as! any NormalizationLayer
                norm.epsilon = newValue
                layers[l] = norm
            }
        }
    }

    func affine(_ l: Int) -> any AffineLayer { layers[l] as! any AffineLayer }
    func map(_ l: Int) -> any MapLayer { layers[l] as! any MapLayer }

    /// f(H, X).
    public func forward(state h: Matrix, input x: Matrix) -> Matrix {
        var values: [Matrix] = []
        func value(_ v: CellValue) -> Matrix {
            switch v {
            case .state: h;
            case .input: x;
            case .node(let k): values[k]
            }
        }
        for node in nodes {
            switch node {
            case .map(let l, let v): values.append(map(l).value(value(v)))
            case .sum(let terms):
                values.append(evaluateSum(terms, rows: h.rows, value: value, operand: { l, v in affine(l).operand(value(v)) }))
            }
        }
        return values[values.count - 1]
    }

    /// Σ terms: value terms, then each layer's A_W z, then biases.
    func evaluateSum(
        _ terms: [SumTerm], rows: Int, value: (CellValue) -> Matrix,
        operand: (Int, CellValue) -> Matrix
    ) -> Matrix {
        var acc: Matrix?
        for case .value(let v) in terms { accumulate(value(v), into: &acc) }
        for case .affine(let l, let v) in terms {
            let layer = affine(l)
            var y = acc ?? Matrix(zeros: rows, layer.outputWidth)
            layer.apply(operand(l, v), weight: nil, into: &y, accumulate: acc != nil)
            acc = y
        }
        for case .affine(let l, _) in terms { affine(l).addBias(nil, to: &acc!) }
        return acc!
    }

    /// The linearization at (H, X): every node's value, each affine term's operand, each map's point.
    public func linearize(state h: Matrix, input x: Matrix) -> LayerLinearization {
        var values: [Matrix] = []
        var operands = [Matrix?](repeating: nil, count: layers.count)
        var points = [(any MapPoint)?](repeating: nil, count: layers.count)
        func value(_ v: CellValue) -> Matrix {
            switch v {
            case .state: h;
            case .input: x;
            case .node(let k): values[k]
            }
        }
        for node in nodes {
            switch node {
            case .map(let l, let v):
                let (y, point) = map(l).forward(value(v))
                points[l] = point
                values.append(y)
            case .sum(let terms):
                for case .affine(let l, let v) in terms { operands[l] = affine(l).operand(value(v)) }
                values.append(evaluateSum(terms, rows: h.rows, value: value, operand: { l, _ in operands[l]! }))
            }
        }
        return LayerLinearization(composition: self, state: h, input: x, values: values, operands: operands, points: points)
    }
}
