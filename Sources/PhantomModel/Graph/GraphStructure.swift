import PhantomLinearAlgebra

/// An op whose output is the sum of its inputs (same shapes, no broadcasting): the structure analysis may look through it.
protocol AdditiveBoundOp: BoundOp {
    var isPlainSum: Bool { get }
}

/// An op y = W a + b per sample with W [N, K] and b [N] read row by row — output r reads row r of W and b_r only (a linear
/// layer: Gemm with transB = 1, α = β = 1): the structure analysis may use it for row-separable cells.
protocol RowLinearBoundOp: BoundOp {
    /// Whether this instance has that form: input 0 the activation, input 1 the weight, input 2 (if any) the bias.
    var isRowLinear: Bool { get }
}

/// A normalisation whose affine map has one γ_c, β_c per channel of `positions` consecutive values and whose statistics
/// are taken over segments of whole channels (GroupNorm, InstanceNorm): positions of a channel with equal inputs that no
/// perturbation moves have equal rows of M (``GraphLinearization/structuralGramNullSets(sample:)``).
protocol ChannelNormalizationBoundOp: BoundOp {
    var channelLayout: (channels: Int, positions: Int)? { get }
}

/// What the structure of a graph cell gives the analysis in closed form (docs/Theory.md §3).
extension GraphLinearization {
    /// When f = φ(Σ_l W_l z_l + Σ b) with φ element-wise, every z_l the state h or the input x, every W_l read by its linear
    /// node alone, and every bias b read by that node or added to the sum: row r of M_i is φ′_r · (z_l for W_l, 1 for b, in
    /// θ's order) on the parameters row r reads. Returns the element-wise node's slope, the linear nodes and the biases
    /// added to the sum; nil for other graphs.
    private func separableStructure() -> (slope: Matrix, linear: [Int], biases: Set<Int>)? {
        let graph = self.graph
        guard let fNode = graph.nodeOutput.firstIndex(of: graph.fIndex), let point = points[fNode] as? ElementwiseOpPoint,
            !point.shared
        else { return nil }
        var linear: [Int] = [], biases = Set<Int>()
        var pending = [graph.nodeInputs[fNode][0]]
        while let v = pending.popLast() {
            guard graph.consumers[v].count == 1 else { return nil }
            if graph.values[v].role == .parameter {
                guard graph.values[v].shape == graph.values[graph.fIndex].shape else { return nil }
                biases.insert(v)
                continue
            }
            guard let n = graph.nodeOutput.firstIndex(of: v) else { return nil }
            if let add = graph.bound[n] as? any AdditiveBoundOp, add.isPlainSum {
                pending += graph.nodeInputs[n]
            } else if let layer = graph.bound[n] as? any RowLinearBoundOp, layer.isRowLinear {
                let inputs = graph.nodeInputs[n]
                guard inputs[0] == 0 || inputs[0] == 1 else { return nil }
                for p in inputs.dropFirst() where graph.values[p].role != .parameter || graph.consumers[p] != [n] { return nil }
                linear.append(n)
            } else {
                return nil
            }
        }
        let owned = Set(linear.flatMap { graph.nodeInputs[$0].dropFirst() }).union(biases)
        guard graph.cellParameterIndices.allSatisfy(owned.contains) else { return nil }
        return (point.slope, linear, biases)
    }

    public func rowSeparableFactors(sample i: Int) -> (scale: [Double], features: [Double])? {
        guard let (slope, linear, _) = separableStructure() else { return nil }
        var features: [Double] = []
        for p in graph.cellParameterIndices {
            if let n = linear.first(where: { graph.nodeInputs[$0][1] == p }) {
                features += values[graph.nodeInputs[n][0]]!.row(i)
            } else {
                features.append(1)
            }
        }
        return (slope.row(i), features)
    }

    /// When f = N(φ(z)) with N a per-channel normalisation (``ChannelNormalizationBoundOp``) and φ element-wise: the
    /// positions of one channel where φ′ = 0 and φ's value is the same (a ReLU's inactive positions) receive the same
    /// perturbation from every parameter and from h — upstream ones only through the segment's mean and variance, the
    /// norm's own γ_c and β_c through the common normalised value — so their rows of M_i are equal
    /// (docs/LayerDerivatives.md). Disjoint sets of two or more, each in increasing order, sorted by first position.
    public func structuralGramNullSets(sample i: Int) -> [[Int]] {
        guard let fNode = graph.nodeOutput.firstIndex(of: graph.fIndex),
            let norm = graph.bound[fNode] as? any ChannelNormalizationBoundOp, let (channels, positions) = norm.channelLayout,
            let k = graph.nodeOutput.firstIndex(of: graph.nodeInputs[fNode][0]),
            let activation = points[k] as? ElementwiseOpPoint, !activation.shared, let z = values[graph.nodeOutput[k]]
        else { return [] }
        let slope = activation.slope
        var sets: [[Int]] = []
        for c in 0..<channels {
            var byValue: [Double: [Int]] = [:]
            for j in (c * positions)..<((c + 1) * positions) where slope[i, j] == 0 { byValue[z[i, j], default: []].append(j) }
            sets += byValue.values.filter { $0.count >= 2 }.sorted { $0[0] < $1[0] }
        }
        return sets
    }

    /// M_i M_iᵀ = diag(φ′²)(Σ_l ‖z_l‖² + the number of biases) for a row-separable cell: the layers fed by h, then those
    /// fed by x, then the biases.
    public func closedFormParameterGramDiagonal(sample i: Int) -> [Double]? {
        guard let (slope, linear, biases) = separableStructure() else { return nil }
        var scale = 0.0
        for source in [0, 1] {
            for n in linear where graph.nodeInputs[n][0] == source {
                let z = values[source]!.row(i)
                scale += BLAS.dot(z, z)
            }
        }
        scale += Double(linear.filter { graph.nodeInputs[$0].count > 2 }.count + biases.count)
        return slope.row(i).map { $0 * $0 * scale }
    }
}

extension Graph {
    /// For a linear layer's weight W (a row-linear node y = W a + …, whose factored gradient is δ ⊗ a with δ the
    /// cotangent at y), the bias b that comes right after W in θ and whose per-sample gradient is δ itself, bit for bit:
    /// the node's own bias, or a parameter added to y through a chain of plain sums (each passes its cotangent on
    /// unchanged). Their factors then form one part, (δ·δ′)(a·a′ + 1), as a linear layer with a bias has
    /// (docs/FactoredGradients.md). Keyed by W's value index.
    static func biasCompanions(
        values: [GraphValue], nodeInputs: [[Int]], nodeOutput: [Int], bound: [any BoundOp], consumers: [[Int]], cellParameters: [Int]
    ) -> [Int: Int] {
        let position = Dictionary(uniqueKeysWithValues: cellParameters.enumerated().map { ($1, $0) })
        func adjacent(_ w: Int, _ b: Int) -> Bool {
            guard let i = position[w], let j = position[b] else { return false }
            return j == i + 1 && values[b].role == .parameter
        }
        var companions: [Int: Int] = [:]
        for n in nodeOutput.indices {
            guard let layer = bound[n] as? any RowLinearBoundOp, layer.isRowLinear else { continue }
            let inputs = nodeInputs[n], w = inputs[1]
            guard values[w].role == .parameter, consumers[w] == [n] else { continue }
            if inputs.count > 2 {
                if adjacent(w, inputs[2]) && consumers[inputs[2]] == [n] { companions[w] = inputs[2] }
                continue
            }
            var v = nodeOutput[n]
            while consumers[v].count == 1, let m = consumers[v].first, let add = bound[m] as? any AdditiveBoundOp, add.isPlainSum,
                nodeInputs[m].filter({ $0 == v }).count == 1
            {
                let other = nodeInputs[m].first { $0 != v }!
                if adjacent(w, other) && consumers[other] == [m] {
                    companions[w] = other
                    break
                }
                v = nodeOutput[m]
            }
        }
        return companions
    }
}
