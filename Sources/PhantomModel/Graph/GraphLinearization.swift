import PhantomLinearAlgebra

/// The derivatives of a graph cell at a batch point (H, X), assembled from its ops' points (docs/Graphs.md):
/// JVPs push tangents through the cell's nodes in order, VJPs pull cotangents back in reverse order, a value read by
/// several nodes summing its cotangents in reverse node order. State passes visit only nodes that depend on h;
/// parameter passes only nodes that depend on θ.
///
/// Notation (docs/Theory.md §1): J_i = ∂f/∂h and M_i = ∂f/∂θ at sample i.
public struct GraphLinearization: CellLinearization {
    let graph: Graph
    /// Every value at the point (shared values: one row); nil for values outside the cell.
    let values: [Matrix?]
    /// Per node: its point (nil outside the cell).
    let points: [(any OpPoint)?]
    /// The samples in the batch.
    let samples: Int

    public var value: Matrix { values[graph.fIndex]!.expandingRows(to: samples) }

    /// Evaluates the cell at (H, X) keeping every node's point.
    init(graph: Graph, parameters: [Matrix], state h: Matrix, input x: Matrix) {
        var values = graph.initialValues(parameters: parameters, state: h, input: x)
        var points = [(any OpPoint)?](repeating: nil, count: graph.nodes.count)
        for n in graph.cellNodes {
            let (y, point) = graph.bound[n].linearize(graph.nodeInputs[n].map { values[$0]! })
            values[graph.nodeOutput[n]] = y
            points[n] = point
        }
        self.init(graph: graph, values: values, points: points, samples: h.rows)
    }

    init(graph: Graph, values: [Matrix?], points: [(any OpPoint)?], samples: Int) {
        (self.graph, self.values, self.points, self.samples) = (graph, values, points, samples)
    }

    var d: Int { graph.stateDimension }

    // MARK: Forward mode

    /// f's tangent for a state tangent v and parameter tangents (by position in θ; one row shared, or B rows).
    private func pushForward(state v: Matrix?, parameters: [Matrix]?) -> Matrix? {
        var tangents = [Matrix?](repeating: nil, count: graph.values.count)
        tangents[0] = v
        if let parameters {
            for (k, p) in graph.cellParameterIndices.enumerated() { tangents[p] = parameters[k] }
        }
        let wantState = v != nil, wantParameters = parameters != nil
        for n in graph.cellNodes {
            let out = graph.nodeOutput[n]
            guard (wantState && graph.dependsOnState[out]) || (wantParameters && graph.dependsOnParameters[out]) else { continue }
            let inputs = graph.nodeInputs[n].map { tangents[$0] }
            guard inputs.contains(where: { $0 != nil }) else { continue }
            tangents[out] = points[n]!.jvp(inputs)
        }
        return tangents[graph.fIndex]
    }

    private func rows(_ m: Matrix?, _ count: Int) -> Matrix {
        m?.expandingRows(to: count) ?? Matrix(zeros: count, d)
    }

    public func stateJVP(_ v: Matrix) -> Matrix {
        precondition(v.columns == d && (v.rows == samples || samples == 1), "state JVP: \(v.rows)×\(v.columns)")
        return rows(pushForward(state: v, parameters: nil), v.rows)
    }

    /// θ split into its tensors, each a matrix of `rows` rows.
    private func split(_ theta: [Double], rows: Int) -> [Matrix] {
        var out: [Matrix] = [], offset = 0
        let stride = theta.count / rows
        for p in graph.cellParameterIndices {
            let c = graph.values[p].count
            var m = Matrix(zeros: rows, c)
            for r in 0..<rows {
                m.elements.replaceSubrange((r * c)..<((r + 1) * c), with: theta[(r * stride + offset)..<(r * stride + offset + c)])
            }
            out.append(m)
            offset += c
        }
        return out
    }

    var parameterCount: Int { graph.cellParameterIndices.reduce(0) { $0 + graph.values[$1].count } }

    public func parameterJVP(_ dtheta: [Double]) -> Matrix {
        precondition(dtheta.count == parameterCount, "parameter JVP: \(dtheta.count) values")
        return rows(pushForward(state: nil, parameters: split(dtheta, rows: 1)), samples)
    }

    public func parameterJVPRows(_ dthetas: Matrix) -> Matrix {
        precondition(dthetas.rows == samples && dthetas.columns == parameterCount, "per-sample parameter JVPs")
        return rows(pushForward(state: nil, parameters: split(dthetas.elements, rows: samples)), samples)
    }

    // MARK: Reverse mode

    /// What a reverse pass computes.
    private enum Pull {
        /// The cotangent of h (only nodes that depend on h).
        case state
        /// The cotangents of θ's tensors, summed over samples (`sum`) or per sample; with `factoring`, the
        /// parameters read by one node come as that node's factor where it has one (docs/FactoredGradients.md).
        case parameters(sum: Bool, factoring: Bool)
    }

    private func pullBack(_ u: Matrix, _ mode: Pull) -> (cotangents: [Matrix?], factors: [Int: ParameterFactors.Part]) {
        var cot = [Matrix?](repeating: nil, count: graph.values.count)
        var factors: [Int: ParameterFactors.Part] = [:]
        cot[graph.fIndex] = u
        let sumShared: Bool, factoring: Bool, relevant: [Bool]
        switch mode {
        case .state: (sumShared, factoring, relevant) = (false, false, graph.dependsOnState)
        case .parameters(let sum, let f): (sumShared, factoring, relevant) = (sum, f, graph.dependsOnParameters)
        }
        for n in graph.cellNodes.reversed() {
            guard let g = cot[graph.nodeOutput[n]] else { continue }
            let inputs = graph.nodeInputs[n]
            var wanted = inputs.map { relevant[$0] }
            if factoring {
                for (k, v) in inputs.enumerated() where graph.values[v].role == .parameter && graph.consumers[v] == [n] {
                    guard let part = points[n]!.factor(g, input: k) else { continue }
                    factors[v] = part
                    wanted[k] = false
                }
            }
            guard wanted.contains(true) else { continue }
            let grads = points[n]!.vjp(g, wanted: wanted, sumShared: sumShared)
            for (k, v) in inputs.enumerated() where wanted[k] {
                guard let c = grads[k] else { continue }
                cot[v] = addBroadcasting(cot[v], c)
            }
        }
        return (cot, factors)
    }

    public func stateVJP(_ u: Matrix) -> Matrix {
        precondition(u.columns == d && (u.rows == samples || samples == 1), "state VJP: \(u.rows)×\(u.columns)")
        return rows(pullBack(u, .state).cotangents[0], u.rows)
    }

    public func parameterVJP(_ u: Matrix) -> [Double] {
        let cot = pullBack(u, .parameters(sum: true, factoring: false)).cotangents
        var out: [Double] = []
        out.reserveCapacity(parameterCount)
        for p in graph.cellParameterIndices {
            out += cot[p]?.rowSum.elements ?? [Double](repeating: 0, count: graph.values[p].count)
        }
        return out
    }

    public func parameterVJPRows(_ u: Matrix) -> Matrix {
        precondition(u.rows == samples, "per-sample parameter VJPs need one cotangent per sample")
        let cot = pullBack(u, .parameters(sum: false, factoring: false)).cotangents
        let p = parameterCount
        var out = Matrix(zeros: u.rows, p)
        var offset = 0
        for v in graph.cellParameterIndices {
            let c = graph.values[v].count
            if let g = cot[v] {
                let g = g.expandingRows(to: u.rows)
                for r in 0..<u.rows {
                    out.elements.replaceSubrange((r * p + offset)..<(r * p + offset + c), with: g.elements[(r * c)..<((r + 1) * c)])
                }
            }
            offset += c
        }
        return out
    }

    /// Row i: M_iᵀ u_i by parameter, in θ's order — a linear layer's weight and the bias that follows it as one part
    /// (δ ⊗ z, δ); the other parameters' dense rows, consecutive parameters of one node (a normalisation's γ and β) in
    /// one part, as a layer's parameters always were (docs/FactoredGradients.md).
    public func parameterFactors(_ u: Matrix) -> ParameterFactors {
        precondition(u.rows == samples, "per-sample parameter VJPs need one cotangent per sample")
        let (cot, factors) = pullBack(u, .parameters(sum: false, factoring: true))
        var parts: [ParameterFactors.Part] = []
        var merged = Set<Int>()
        var denseReader: Int?
        for v in graph.cellParameterIndices where !merged.contains(v) {
            if let part = factors[v] {
                denseReader = nil
                if case .outer(let delta, let input, false) = part, let b = graph.factorBiases[v] {
                    parts.append(.outer(delta: delta, input: input, bias: true))
                    merged.insert(b)
                    continue
                }
                parts.append(part)
                continue
            }
            let rows = cot[v]?.expandingRows(to: u.rows) ?? Matrix(zeros: u.rows, graph.values[v].count)
            let reader = graph.consumers[v].count == 1 ? graph.consumers[v][0] : nil
            if let reader, reader == denseReader, case .dense(let previous) = parts.last {
                parts[parts.count - 1] = .dense(previous.appendingColumns(rows))
            } else {
                parts.append(.dense(rows))
            }
            denseReader = reader
        }
        return ParameterFactors(parts: parts)
    }

    // MARK: Restriction

    public func restricted(toSample i: Int) -> any CellLinearization { restrictedLinearization([i]) }

    public func restricted(toSamples rows: [Int]) -> any CellLinearization { restrictedLinearization(rows) }

    func restrictedLinearization(_ rows: [Int]) -> GraphLinearization {
        GraphLinearization(
            graph: graph,
            values: values.enumerated().map { v, m in graph.shared[v] ? m : m?.selectingRows(rows) },
            points: points.map { $0?.selectingSamples(rows) }, samples: rows.count)
    }

    /// J_i by one batched JVP of the identity at sample i alone: row j of JVP(I) is (J_i e_j)ᵀ.
    public func jacobian(sample i: Int) -> Matrix {
        restrictedLinearization([i]).stateJVP(Matrix.identity(d)).transposed
    }
}

extension Graph {
    /// The value table at the start of an evaluation: h, x, parameters, constants.
    func initialValues(parameters: [Matrix], state h: Matrix, input x: Matrix) -> [Matrix?] {
        precondition(h.columns == stateDimension && x.columns == inputDimension && h.rows == x.rows, "graph cell: batch shapes")
        return valueTable(state: h, input: x, parameters: parameters, at: cellParameterIndices)
    }

    /// A value table with h, x (when given), the parameter tensors at their value indices and the constants.
    func valueTable(state h: Matrix, input x: Matrix?, parameters: [Matrix], at indices: [Int]) -> [Matrix?] {
        var values = [Matrix?](repeating: nil, count: self.values.count)
        values[0] = h
        values[1] = x
        for (k, p) in indices.enumerated() { values[p] = parameters[k] }
        for (v, data) in constantData { values[v] = Matrix(rows: 1, columns: data.count, elements: data) }
        return values
    }

    /// A flat parameter vector split into one 1×count matrix per tensor of `shapes` (the counts of its rows' columns).
    static func tensors(_ flat: [Double], shapedAs shapes: [Matrix], what: String) -> [Matrix] {
        let needed = shapes.reduce(0) { $0 + $1.columns }
        precondition(flat.count == needed, "parameter vector has \(flat.count) values, \(what) needs \(needed)")
        var offset = 0
        return shapes.map { m in
            defer { offset += m.columns }
            return Matrix(rows: 1, columns: m.columns, elements: Array(flat[offset..<(offset + m.columns)]))
        }
    }

    /// f(H, X) without derivative data.
    func evaluateCell(parameters: [Matrix], state h: Matrix, input x: Matrix) -> Matrix {
        var values = initialValues(parameters: parameters, state: h, input: x)
        for n in cellNodes { values[nodeOutput[n]] = bound[n].evaluate(nodeInputs[n].map { values[$0]! }) }
        return values[fIndex]!.expandingRows(to: h.rows)
    }
}

extension Matrix {
    /// [self | other], row by row.
    func appendingColumns(_ other: Matrix) -> Matrix {
        precondition(rows == other.rows, "appendingColumns: \(rows) and \(other.rows) rows")
        var out = [Double]()
        out.reserveCapacity(rows * (columns + other.columns))
        for r in 0..<rows {
            out += elements[(r * columns)..<((r + 1) * columns)]
            out += other.elements[(r * other.columns)..<((r + 1) * other.columns)]
        }
        return Matrix(rows: rows, columns: columns + other.columns, elements: out)
    }
}
