import Foundation
import PhantomLinearAlgebra

/// The output head on the fixed point: logits = head.weight · h* + head.bias, or a graph's head (``GraphHead``: the
/// subgraph from h to the graph's `logits`).
///
/// head.weight is [c, d], head.bias is [c]. No gradient estimator changes the head's gradient (it does
/// not go through the implicit layer); analyses report it separately.
public struct OutputHead: Sendable, Equatable {
    /// head.weight, c×d (0×0 for a graph's head).
    public var weight: Matrix
    /// head.bias, c (empty for a graph's head).
    public var bias: [Double]
    /// A graph's head, which replaces the linear map when set.
    public private(set) var graphHead: GraphHead?

    public init(weight: Matrix, bias: [Double]) {
        precondition(weight.rows == bias.count, "OutputHead: weight \(weight.rows)×\(weight.columns), bias \(bias.count)")
        self.weight = weight
        self.bias = bias
    }

    /// The head of a graph.
    public init(graph: GraphHead) {
        weight = Matrix(zeros: 0, 0)
        bias = []
        graphHead = graph
    }

    public init(classes c: Int, stateDimension d: Int) {
        self.init(weight: Matrix(zeros: c, d), bias: [Double](repeating: 0, count: c))
    }

    /// c.
    public var outputDimension: Int { graphHead?.outputDimension ?? weight.rows }

    public static func layout(classes c: Int, stateDimension d: Int) -> ParameterLayout {
        ParameterLayout([("head.weight", [c, d]), ("head.bias", [c])])
    }

    public var layout: ParameterLayout { graphHead?.layout ?? Self.layout(classes: weight.rows, stateDimension: weight.columns) }

    public var parameters: [Double] {
        get { graphHead?.parameters ?? (weight.elements + bias) }
        set {
            if graphHead != nil {
                graphHead!.parameters = newValue
                return
            }
            let parts = layout.split(newValue)
            weight.elements = Array(parts[0].values)
            bias = Array(parts[1].values)
        }
    }

    /// Logits, B×c.
    public func logits(_ h: Matrix) -> Matrix {
        if let graphHead { return graphHead.logits(h) }
        var z = BLAS.gemm(h, weight, transposeB: true)
        z.addToEachRow(bias)
        return z
    }

    /// Backpropagates ∂L/∂logits: returns ∂L/∂h (B×d) and ∂L/∂(head.weight, head.bias).
    public func backward(state h: Matrix, logitGradient g: Matrix) -> (state: Matrix, parameters: [Double]) {
        if let graphHead { return graphHead.backward(state: h, logitGradient: g) }
        return (BLAS.gemm(g, weight), BLAS.gemm(g, transposeA: true, h).elements + g.columnSums)
    }
}

/// Targets of a batch: class labels (classification) or real vectors (regression).
public enum Targets: Sendable, Equatable {
    /// Class indices in 0..<c.
    case labels([Int])
    /// B×c regression targets.
    case values(Matrix)

    public var count: Int {
        switch self {
        case .labels(let l): return l.count
        case .values(let v): return v.rows
        }
    }

    /// The targets of samples `indices`.
    public func selecting(_ indices: [Int]) -> Targets {
        switch self {
        case .labels(let l): return .labels(indices.map { l[$0] })
        case .values(let v): return .values(v.selectingRows(indices))
        }
    }
}

/// The training loss on the logits, averaged over the batch.
public enum Loss {
    /// Softmax cross-entropy averaged over the batch (for `.labels`), or the mean squared error averaged
    /// over all B·c entries (for `.values`, PyTorch's `MSELoss` default). Returns the loss and ∂L/∂logits.
    public static func evaluate(logits z: Matrix, targets: Targets) -> (value: Double, gradient: Matrix) {
        switch targets {
        case .labels(let labels):
            precondition(labels.count == z.rows)
            var gradient = Matrix(zeros: z.rows, z.columns)
            var total = 0.0
            let scale = 1 / Double(max(z.rows, 1))
            for i in 0..<z.rows {
                let row = z.row(i)
                let peak = row.max() ?? 0
                let exps = row.map { exp($0 - peak) }
                let sum = exps.reduce(0, +)
                total += log(sum) + peak - row[labels[i]]
                for j in 0..<z.columns { gradient[i, j] = exps[j] / sum * scale }
                gradient[i, labels[i]] -= scale
            }
            return (total * scale, gradient)
        case .values(let y):
            precondition(y.rows == z.rows && y.columns == z.columns)
            let diff = z - y
            let count = Double(max(diff.elements.count, 1))
            return (BLAS.dot(diff.elements, diff.elements) / count, (2 / count) * diff)
        }
    }

    /// The fraction of rows whose largest logit is the label.
    public static func accuracy(logits z: Matrix, labels: [Int]) -> Double {
        guard z.rows > 0 else { return 0 }
        var correct = 0
        for i in 0..<z.rows {
            let row = z.row(i)
            if let best = row.indices.max(by: { row[$0] < row[$1] }), best == labels[i] { correct += 1 }
        }
        return Double(correct) / Double(z.rows)
    }
}
