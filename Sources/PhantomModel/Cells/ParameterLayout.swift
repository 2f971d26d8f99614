/// One named tensor inside the flat parameter vector θ.
public struct ParameterSpec: Sendable, Equatable {
    /// PyTorch state-dict style name, e.g. "cell.weight".
    public let name: String
    /// Row-major shape, e.g. [d, d].
    public let shape: [Int]
    /// Offset of the first element in θ.
    public let offset: Int
    public var count: Int { shape.reduce(1, *) }
    public var range: Range<Int> { offset..<(offset + count) }
}

/// The order and shapes of the named tensors that make up a flat parameter vector θ ∈ R^p.
///
/// Gradients (uᵀM, ∇_θ L) are flat vectors in the same layout, so a gradient's "cell.weight" part is
/// `gradient[layout["cell.weight"].range]`.
public struct ParameterLayout: Sendable, Equatable {
    public let specs: [ParameterSpec]
    /// p, the total number of scalars.
    public let count: Int

    public init(_ entries: [(name: String, shape: [Int])]) {
        var offset = 0
        var specs: [ParameterSpec] = []
        for entry in entries {
            let spec = ParameterSpec(name: entry.name, shape: entry.shape, offset: offset)
            specs.append(spec)
            offset += spec.count
        }
        self.specs = specs
        self.count = offset
    }

    public var names: [String] { specs.map(\.name) }

    public subscript(name: String) -> ParameterSpec? { specs.first { $0.name == name } }

    /// Splits a flat vector into its named tensors.
    public func split(_ flat: [Double]) -> [(spec: ParameterSpec, values: ArraySlice<Double>)] {
        precondition(flat.count == count, "parameter vector has \(flat.count) values, layout needs \(count)")
        return specs.map { ($0, flat[$0.range]) }
    }
}
