import PhantomLinearAlgebra

/// A model without its parameters: the cell kind and the dimensions n_in, d, c (and m for resmlp), from which
/// every tensor's name and shape follow. Model files declare it; readers check a file against it (and the
/// size ceiling) before any tensor or the model is allocated.
public struct ModelShape: Sendable, Equatable {
    public var kind: CellKind
    /// n_in, d, c.
    public var inputDimension: Int, stateDimension: Int, outputDimension: Int
    /// resmlp: the MLP's hidden width m (0 for tanh).
    public var hiddenWidth: Int

    public init(kind: CellKind, inputDimension n: Int, stateDimension d: Int, outputDimension c: Int, hiddenWidth m: Int = 0) {
        (self.kind, inputDimension, stateDimension, outputDimension, hiddenWidth) = (kind, n, d, c, m)
    }

    /// The cell's tensors, then the head's: the checkpoint order.
    public var specs: [ParameterSpec] {
        let cell = switch kind {
        case .tanh: TanhCell.layout(stateDimension: stateDimension, inputDimension: inputDimension)
        case .resmlp: ResMLPCell.layout(stateDimension: stateDimension, inputDimension: inputDimension, hiddenWidth: hiddenWidth)
        }
        return cell.specs + OutputHead.layout(classes: outputDimension, stateDimension: stateDimension).specs
    }

    /// p of cell and head together.
    public var parameterCount: Int { specs.reduce(0) { $0 + $1.count } }

    /// "n_in = …, d = …, c = …" (and ", m = …" for resmlp), for messages.
    public var dimensions: String {
        "n_in = \(inputDimension), d = \(stateDimension), c = \(outputDimension)" + (kind == .resmlp ? ", m = \(hiddenWidth)" : "")
    }

    /// The model of this shape with its parameters taken from `tensors` by name (zero where one is absent);
    /// `normEpsilon` is the resmlp LayerNorm's ε (nil: the default).
    public func model(tensors: [String: [Double]], normEpsilon: Double? = nil) -> ImplicitModel {
        var cell: any ImplicitCell
        switch kind {
        case .tanh:
            cell = TanhCell(stateDimension: stateDimension, inputDimension: inputDimension)
        case .resmlp:
            var resmlp = ResMLPCell(stateDimension: stateDimension, inputDimension: inputDimension, hiddenWidth: hiddenWidth)
            if let normEpsilon { resmlp.normEpsilon = normEpsilon }
            cell = resmlp
        }
        var head = OutputHead(classes: outputDimension, stateDimension: stateDimension)
        cell.parameters = cell.layout.specs.flatMap { tensors[$0.name] ?? [Double](repeating: 0, count: $0.count) }
        head.parameters = head.layout.specs.flatMap { tensors[$0.name] ?? [Double](repeating: 0, count: $0.count) }
        return ImplicitModel(cell: cell, head: head)
    }

    /// The tensor names of a cell kind and the head (they do not depend on the dimensions).
    public static func tensorNames(_ kind: CellKind) -> [String] {
        ModelShape(kind: kind, inputDimension: 1, stateDimension: 1, outputDimension: 1, hiddenWidth: 1).specs.map(\.name)
    }
}
