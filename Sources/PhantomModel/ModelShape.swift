import PhantomLinearAlgebra

/// A model without its parameters: the cell kind, the dimensions n_in, d, c, and the cell's extra integer
/// dimensions (resmlp: m; mdeq: channels, in_channels, height, width, expansion, groups), from which every
/// tensor's name and shape follow. Model files declare it; readers check a file against it (and the size
/// ceiling) before any tensor or the model is allocated.
public struct ModelShape: Sendable, Equatable {
    public var kind: CellKind
    /// n_in, d, c.
    public var inputDimension: Int, stateDimension: Int, outputDimension: Int
    /// The cell's extra dimensions, by checkpoint attribute name (``extraDimensionNames(_:)``).
    public var extraDimensions: [String: Int]
    /// A `graph` cell's graph (nil for the built-in kinds, whose graphs follow from the dimensions).
    public var graph: Graph?

    public init(
        kind: CellKind, inputDimension n: Int, stateDimension d: Int, outputDimension c: Int, extraDimensions: [String: Int],
        graph: Graph? = nil
    ) {
        (self.kind, inputDimension, stateDimension, outputDimension, self.extraDimensions) = (kind, n, d, c, extraDimensions)
        self.graph = graph
    }

    /// A tanh or resmlp shape (m: the resmlp MLP's hidden width).
    public init(kind: CellKind, inputDimension n: Int, stateDimension d: Int, outputDimension c: Int, hiddenWidth m: Int = 0) {
        self.init(
            kind: kind, inputDimension: n, stateDimension: d, outputDimension: c,
            extraDimensions: ModelShape.extraDimensionNames(kind).contains("m") ? ["m": m] : [:])
    }

    /// The shape of a model.
    public init(of model: ImplicitModel) {
        self.init(
            kind: model.cell.kind, inputDimension: model.inputDimension, stateDimension: model.stateDimension,
            outputDimension: model.outputDimension, extraDimensions: model.cell.extraDimensions,
            graph: (model.cell as? GraphCell)?.graph)
    }

    /// resmlp: m (0 otherwise).
    public var hiddenWidth: Int { extraDimensions["m"] ?? 0 }

    /// The extra integer dimensions a cell kind declares (checkpoint attributes; `phantom.<name>` metadata).
    public static func extraDimensionNames(_ kind: CellKind) -> [String] { kind.builtin?.extraDimensionNames ?? [] }

    /// What is inconsistent in these dimensions (nil: nothing): a missing extra dimension, dimensions the kind refuses
    /// (an mdeq geometry that does not fit n_in and d), or a graph whose h and x do not have d and n_in values. Checked
    /// before ``specs``.
    public var problem: String? {
        guard let builtin = kind.builtin else {
            guard let graph else { return Self.graphProblem }
            if graph.stateDimension != stateDimension || graph.inputDimension != inputDimension {
                return "the graph's h has \(graph.stateDimension) values and x \(graph.inputDimension), not d = \(stateDimension) "
                    + "and n_in = \(inputDimension)"
            }
            if let logits = graph.logitsIndex, graph.values[logits].count != outputDimension {
                return "the graph's logits have \(graph.values[logits].count) values, not c = \(outputDimension)"
            }
            return nil
        }
        for name in builtin.extraDimensionNames where extraDimensions[name] == nil { return "dimension '\(name)' is missing" }
        return builtin.problem(self)
    }

    /// Why a shape of kind `graph` is refused: its tensors follow from the graph, which a shape does not hold.
    static let graphProblem = "cell 'graph': the tensors of a graph cell follow from its graph, which is missing"

    /// A cell of this shape with zero weights (normalisations at γ = 1, β = 0). Precondition: ``problem`` is nil.
    public func cell(normEpsilon: Double? = nil) -> any ImplicitCell {
        precondition(problem == nil, problem ?? "")
        guard let builtin = kind.builtin else { return GraphCell(graph: graph!) }
        return builtin.init(shape: self, normEpsilon: normEpsilon)
    }

    /// Whether the cell has normalisation layers (and so an ε: `norm_eps`).
    public var hasNormalization: Bool { kind.builtin?.hasNormalization ?? false }

    /// The cell's tensors, then the head's: the checkpoint order. Computed without allocating any tensor.
    public var specs: [ParameterSpec] {
        let cell = kind.builtin?.layout(self) ?? graph!.cellLayout
        return cell.specs + headLayout.specs
    }

    /// The head's tensors: a graph's head parameters when its graph has `logits`, else head.weight and head.bias.
    var headLayout: ParameterLayout {
        if let graph, graph.logitsIndex != nil { return graph.headLayout }
        return OutputHead.layout(classes: outputDimension, stateDimension: stateDimension)
    }

    /// p of cell and head together.
    public var parameterCount: Int { specs.reduce(0) { $0 + $1.count } }

    /// "n_in = …, d = …, c = …" and the extra dimensions, for messages.
    public var dimensions: String {
        (["n_in = \(inputDimension)", "d = \(stateDimension)", "c = \(outputDimension)"]
            + Self.extraDimensionNames(kind).map { "\($0) = \(extraDimensions[$0].map(String.init) ?? "?")" }).joined(separator: ", ")
    }

    /// The model of this shape with its parameters taken from `tensors` by name (zero where one is absent);
    /// `normEpsilon` is the normalisation layers' ε (nil: the default).
    public func model(tensors: [String: [Double]], normEpsilon: Double? = nil) -> ImplicitModel {
        var cell = cell(normEpsilon: normEpsilon)
        var head =
            graph.flatMap { $0.logitsIndex == nil ? nil : OutputHead(graph: GraphHead(graph: $0)) }
            ?? OutputHead(classes: outputDimension, stateDimension: stateDimension)
        cell.parameters = cell.layout.specs.flatMap { tensors[$0.name] ?? [Double](repeating: 0, count: $0.count) }
        head.parameters = head.layout.specs.flatMap { tensors[$0.name] ?? [Double](repeating: 0, count: $0.count) }
        return ImplicitModel(cell: cell, head: head)
    }

    /// The tensor names of a cell kind and the head (they do not depend on the dimensions).
    public static func tensorNames(_ kind: CellKind) -> [String] {
        let extra = Dictionary(uniqueKeysWithValues: extraDimensionNames(kind).map { ($0, 1) })
        return ModelShape(kind: kind, inputDimension: 1, stateDimension: 1, outputDimension: 1, extraDimensions: extra).specs.map(\.name)
    }
}
