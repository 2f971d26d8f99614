import PhantomLinearAlgebra

/// The derivatives of a ``LayerComposition`` at a batch point (H, X), assembled from its layers.
///
/// - JVPs push tangents forward node by node (a sum node: value tangents, then A_W·tangent per layer, then for
///   parameter JVPs A_δW z per layer and the bias perturbations).
/// - VJPs pull cotangents back in reverse node order; a value receiving several cotangents sums them in that
///   order. State VJPs only visit nodes that depend on h; parameter VJPs never form the cotangent of h or x.
///
/// Derivations: docs/LayerDerivatives.md.
public struct LayerLinearization: CellLinearization {
    let composition: LayerComposition
    let state: Matrix
    let input: Matrix
    /// Every node's output; the last is f(H, X).
    let values: [Matrix]
    /// Per layer index: an affine layer's operand (nil for map layers).
    let operands: [Matrix?]
    /// Per layer index: a map layer's point (nil for affine layers).
    let points: [(any MapPoint)?]

    public var value: Matrix { values[values.count - 1] }

    var nodes: [CellNode] { composition.nodes }

    // MARK: Forward mode

    /// A parameter perturbation: one δθ for every sample, or row i of a B×p matrix for sample i.
    private enum ParameterTangent {
        case shared([Double])
        case rows(Matrix)
    }

    /// Tangents of every node for tangent `v` of h (rows: any count when the point has one sample) and, when
    /// given, parameter perturbation δθ.
    private func pushForward(state v: Matrix?, parameters dtheta: ParameterTangent?) -> Matrix? {
        var tangents: [Matrix?] = []
        func tangent(_ u: CellValue) -> Matrix? {
            switch u {
            case .state: v;
            case .input: nil;
            case .node(let k): tangents[k]
            }
        }
        let offsets = parameterOffsets
        func slice(_ theta: [Double], _ l: Int) -> ArraySlice<Double> {
            theta[offsets[l]..<(offsets[l] + composition.layers[l].parameterCount)]
        }
        let rows = v?.rows ?? state.rows
        for node in nodes {
            switch node {
            case .map(let l, let u):
                var t = tangent(u).map { points[l]!.jvp($0) }
                let count = composition.layers[l].parameterCount
                if count > 0 {
                    switch dtheta {
                    case .shared(let theta): points[l]!.addParameterJVP(slice(theta, l), to: &t)
                    case .rows(let thetas): points[l]!.addParameterJVPRows(thetas, offset: offsets[l], count: count, to: &t)
                    case nil: break
                    }
                }
                tangents.append(t)
            case .sum(let terms):
                var acc: Matrix?
                for case .value(let u) in terms { accumulate(tangent(u), into: &acc) }
                for case .affine(let l, let u) in terms {
                    guard let t = tangent(u) else { continue }
                    let layer = composition.affine(l)
                    var y = acc ?? Matrix(zeros: rows, layer.outputWidth)
                    layer.apply(layer.operand(t), weight: nil, into: &y, accumulate: acc != nil)
                    acc = y
                }
                switch dtheta {
                case .shared(let theta):
                    for case .affine(let l, _) in terms {
                        let layer = composition.affine(l)
                        let w = slice(theta, l)
                        var y = acc ?? Matrix(zeros: rows, layer.outputWidth)
                        layer.apply(
                            operands[l]!, weight: w.prefix(w.count - layer.biasCount),
                            into: &y, accumulate: acc != nil)
                        acc = y
                    }
                    for case .affine(let l, _) in terms {
                        let layer = composition.affine(l)
                        guard layer.hasBias else { continue }
                        layer.addBias(slice(theta, l).suffix(layer.biasCount), to: &acc!)
                    }
                case .rows(let thetas):
                    for case .affine(let l, _) in terms {
                        let layer = composition.affine(l)
                        var y = acc ?? Matrix(zeros: rows, layer.outputWidth)
                        layer.addParameterJVPRows(thetas, offset: offsets[l], operand: operands[l]!, to: &y)
                        acc = y
                    }
                case nil: break
                }
                tangents.append(acc)
            }
        }
        return tangents[tangents.count - 1]
    }

    /// Offset of each layer's parameters in θ.
    private var parameterOffsets: [Int] {
        var offsets: [Int] = [], offset = 0
        for layer in composition.layers { offsets.append(offset); offset += layer.parameterCount }
        return offsets
    }

    public func stateJVP(_ v: Matrix) -> Matrix {
        pushForward(state: v, parameters: nil) ?? Matrix(zeros: v.rows, composition.stateDimension)
    }

    public func parameterJVP(_ dtheta: [Double]) -> Matrix {
        precondition(dtheta.count == composition.layout.count, "parameter JVP: \(dtheta.count) values")
        return pushForward(state: nil, parameters: .shared(dtheta)) ?? Matrix(zeros: state.rows, composition.stateDimension)
    }

    public func parameterJVPRows(_ dthetas: Matrix) -> Matrix {
        precondition(
            dthetas.rows == state.rows && dthetas.columns == composition.layout.count,
            "per-sample parameter JVPs: \(dthetas.rows)×\(dthetas.columns)")
        return pushForward(state: nil, parameters: .rows(dthetas)) ?? Matrix(zeros: state.rows, composition.stateDimension)
    }

    // MARK: Reverse mode

    /// Cotangents of every node for output cotangent u. `stateOnly`: only nodes that depend on h, and the
    /// cotangent of h is formed; otherwise every node, and h's is not.
    private func pullBack(_ u: Matrix, stateOnly: Bool) -> (nodes: [Matrix?], state: Matrix?) {
        var cot = [Matrix?](repeating: nil, count: nodes.count)
        var stateCot: Matrix?
        cot[nodes.count - 1] = u
        let depends = composition.stateDependent
        func add(_ g: Matrix, to v: CellValue) {
            switch v {
            case .input: return
            case .state: if stateOnly { accumulate(g, into: &stateCot) }
            case .node(let k): if !stateOnly || depends[k] { accumulate(g, into: &cot[k]) }
            }
        }
        func wanted(_ v: CellValue) -> Bool {
            switch v {
            case .input: false
            case .state: stateOnly
            case .node(let k): !stateOnly || depends[k]
            }
        }
        for k in stride(from: nodes.count - 1, through: 0, by: -1) {
            guard let g = cot[k] else { continue }
            switch nodes[k] {
            case .map(let l, let v):
                if wanted(v) { add(points[l]!.vjp(g), to: v) }
            case .sum(let terms):
                for term in terms {
                    switch term {
                    case .value(let v): add(g, to: v)
                    case .affine(let l, let v):
                        guard wanted(v) else { continue }
                        let layer = composition.affine(l)
                        switch v {
                        case .state:
                            var x = stateCot ?? Matrix(zeros: g.rows, layer.inputWidth)
                            layer.applyTranspose(g, into: &x, accumulate: stateCot != nil)
                            stateCot = x
                        case .node(let j):
                            var x = cot[j] ?? Matrix(zeros: g.rows, layer.inputWidth)
                            layer.applyTranspose(g, into: &x, accumulate: cot[j] != nil)
                            cot[j] = x
                        case .input: break
                        }
                    }
                }
            }
        }
        return (cot, stateCot)
    }

    public func stateVJP(_ u: Matrix) -> Matrix {
        pullBack(u, stateOnly: true).state ?? Matrix(zeros: u.rows, composition.stateDimension)
    }

    /// The cotangent at each layer's output: the node's for a map layer, the sum's for an affine term.
    private func layerCotangents(_ nodeCot: [Matrix?]) -> [Matrix?] {
        var out = [Matrix?](repeating: nil, count: composition.layers.count)
        for (k, node) in nodes.enumerated() {
            switch node {
            case .map(let l, _): out[l] = nodeCot[k]
            case .sum(let terms): for case .affine(let l, _) in terms { out[l] = nodeCot[k] }
            }
        }
        return out
    }

    public func parameterVJP(_ u: Matrix) -> [Double] {
        parameterVJP(layerCotangents: layerCotangents(pullBack(u, stateOnly: false).nodes))
    }

    /// Σ_i M_iᵀ u_i from the cotangents at each layer's output.
    private func parameterVJP(layerCotangents g: [Matrix?]) -> [Double] {
        var out: [Double] = []
        out.reserveCapacity(composition.layout.count)
        for l in composition.layers.indices {
            let layer = composition.layers[l]
            guard layer.parameterCount > 0 else { continue }
            guard let gl = g[l] else { out += [Double](repeating: 0, count: layer.parameterCount); continue }
            if let point = points[l] {
                out += point.parameterVJP(gl)
            } else {
                out += composition.affine(l).parameterVJP(gl, operand: operands[l]!)
            }
        }
        return out
    }

    public func parameterVJPs(_ us: [Matrix]) -> [[Double]] {
        guard us.count > 1 else { return us.map(parameterVJP) }
        let gs = us.map { layerCotangents(pullBack($0, stateOnly: false).nodes) }
        var outs = [[Double]](repeating: [], count: us.count)
        for l in composition.layers.indices {
            let layer = composition.layers[l]
            guard layer.parameterCount > 0 else { continue }
            let zero = [Double](repeating: 0, count: layer.parameterCount)
            if let point = points[l] {
                for k in us.indices { outs[k] += gs[k][l].map(point.parameterVJP) ?? zero }
            } else {
                let present = us.indices.filter { gs[$0][l] != nil }
                let parts = composition.affine(l).parameterVJPs(present.map { gs[$0][l]! }, operand: operands[l]!)
                var next = 0
                for k in us.indices {
                    if gs[k][l] != nil { outs[k] += parts[next]; next += 1 } else { outs[k] += zero }
                }
            }
        }
        return outs
    }

    /// Row i: M_iᵀ u_i, written layer by layer (outer products for Linear, per-sample GEMMs for Conv2d).
    public func parameterVJPRows(_ u: Matrix) -> Matrix {
        precondition(u.rows == state.rows, "per-sample parameter VJPs need one cotangent per sample")
        let g = layerCotangents(pullBack(u, stateOnly: false).nodes)
        let p = composition.layout.count
        var out = Matrix(zeros: u.rows, p)
        let offsets = parameterOffsets
        out.elements.withUnsafeMutableBufferPointer { o in
            for l in composition.layers.indices where composition.layers[l].parameterCount > 0 {
                guard let gl = g[l] else { continue }
                if let point = points[l] {
                    point.parameterVJPRows(gl, into: o, stride: p, offset: offsets[l])
                } else {
                    composition.affine(l).parameterVJPRows(gl, operand: operands[l]!, into: o, stride: p, offset: offsets[l])
                }
            }
        }
        return out
    }

    /// Row i: M_iᵀ u_i by layer — outer products (δ, z) for Linear layers, dense rows for the others.
    public func parameterFactors(_ u: Matrix) -> ParameterFactors {
        precondition(u.rows == state.rows, "per-sample parameter VJPs need one cotangent per sample")
        return parameterFactors(layerCotangents: layerCotangents(pullBack(u, stateOnly: false).nodes), rows: u.rows)
    }

    /// Both from one reverse pass (UPG's backward steps need the batch sum and the per-sample factors of one u).
    public func parameterVJPAndFactors(_ u: Matrix) -> (sum: [Double], factors: ParameterFactors) {
        precondition(u.rows == state.rows, "per-sample parameter VJPs need one cotangent per sample")
        let g = layerCotangents(pullBack(u, stateOnly: false).nodes)
        return (parameterVJP(layerCotangents: g), parameterFactors(layerCotangents: g, rows: u.rows))
    }

    private func parameterFactors(layerCotangents g: [Matrix?], rows: Int) -> ParameterFactors {
        var parts: [ParameterFactors.Part] = []
        for l in composition.layers.indices where composition.layers[l].parameterCount > 0 {
            let layer = composition.layers[l]
            let gl = g[l] ?? Matrix(zeros: rows, layer.outputWidth)
            if let point = points[l] {
                var dense = Matrix(zeros: rows, layer.parameterCount)
                let p = layer.parameterCount
                dense.elements.withUnsafeMutableBufferPointer { point.parameterVJPRows(gl, into: $0, stride: p, offset: 0) }
                parts.append(.dense(dense))
            } else {
                parts.append(composition.affine(l).parameterFactor(gl, operand: operands[l]!))
            }
        }
        return ParameterFactors(parts: parts)
    }

    /// J_i by one batched JVP of the identity at sample i alone: row j of JVP(I) is (J_i e_j)ᵀ.
    public func jacobian(sample i: Int) -> Matrix {
        let one = restrictedLinearization(i)
        return one.stateJVP(Matrix.identity(composition.stateDimension)).transposed
    }

    public func restricted(toSample i: Int) -> any CellLinearization { restrictedLinearization(i) }

    public func restricted(toSamples rows: [Int]) -> any CellLinearization { restrictedLinearization(rows) }

    func restrictedLinearization(_ i: Int) -> LayerLinearization { restrictedLinearization([i]) }

    func restrictedLinearization(_ rows: [Int]) -> LayerLinearization {
        LayerLinearization(
            composition: composition, state: state.selectingRows(rows), input: input.selectingRows(rows),
            values: values.map { $0.selectingRows(rows) },
            operands: operands.enumerated().map { l, o in o.map { composition.affine(l).selectingSamples(rows, of: $0) } },
            points: points.map { $0?.selectingSamples(rows) })
    }

    // MARK: Row-separable cells

    /// When f = φ(Σ_l A_l z_l) with φ element-wise and every parameter in Linear layers applied to h or x
    /// directly, row r of M_i is φ′_r · (features of each layer, in parameter order) on parameters only row r
    /// touches (docs/Theory.md §3): the scale φ′ and the feature vector. Nil for other graphs.
    private func separableStructure() -> (slope: Matrix, layers: [Int])? {
        guard case .map(let out, .node(let k)) = nodes[nodes.count - 1], k == nodes.count - 2,
            let slope = points[out]?.slope, case .sum(let terms) = nodes[k]
        else { return nil }
        var used: [Int] = []
        for term in terms {
            guard case .affine(let l, let v) = term, v == .state || v == .input else { return nil }
            used.append(l)
        }
        let owners = Set(used)
        for l in composition.layers.indices where composition.layers[l].parameterCount > 0 && !owners.contains(l) { return nil }
        return (slope, used.sorted())
    }

    public func rowSeparableFactors(sample i: Int) -> (scale: [Double], features: [Double])? {
        guard let (slope, layers) = separableStructure() else { return nil }
        var features: [Double] = []
        for l in layers {
            guard let f = composition.affine(l).rowFeatures(operand: operands[l]!, sample: i) else { return nil }
            features += f
        }
        return (slope.row(i), features)
    }

    /// M_i M_iᵀ = diag(φ′²)(Σ‖z‖² + number of biases) for a row-separable cell: the sums over the layers fed by
    /// h, then those fed by x, then the biases.
    public func closedFormParameterGramDiagonal(sample i: Int) -> [Double]? {
        guard let (slope, layers) = separableStructure() else { return nil }
        guard case .sum(let terms) = nodes[nodes.count - 2] else { return nil }
        var scale = 0.0, biases = 0.0
        for source in [CellValue.state, .input] {
            for case .affine(let l, let v) in terms where v == source {
                guard composition.affine(l).rowFeatures(operand: operands[l]!, sample: i) != nil else { return nil }
                let z = (source == .state ? state : input).row(i)
                scale += BLAS.dot(z, z)
            }
        }
        for l in layers where composition.affine(l).hasBias { biases += 1 }
        scale += biases
        return slope.row(i).map { $0 * $0 * scale }
    }

    // MARK: Structural null space of the Gram

    /// When f = GroupNorm(φ(z)) with φ element-wise and the norm's affine coefficients per channel: positions of one
    /// channel where φ′ = 0 and φ's value is the same (a ReLU's inactive positions) receive the same perturbation from
    /// every parameter and from h — upstream ones only through the group's mean and variance, the norm's own γ_c and
    /// β_c through the common normalised value — so their rows of M_i are equal (docs/LayerDerivatives.md).
    public func structuralGramNullSets(sample i: Int) -> [[Int]] {
        guard case .map(let out, .node(let k)) = nodes[nodes.count - 1], let norm = composition.layers[out] as? GroupNorm,
            case .map(let activation, _) = nodes[k], let slope = points[activation]?.slope
        else { return [] }
        let z = values[k], positions = norm.positions
        var sets: [[Int]] = []
        for c in 0..<norm.channels {
            var byValue: [Double: [Int]] = [:]
            for j in (c * positions)..<((c + 1) * positions) where slope[i, j] == 0 { byValue[z[i, j], default: []].append(j) }
            sets += byValue.values.filter { $0.count >= 2 }.sorted { $0[0] < $1[0] }
        }
        return sets
    }
}
