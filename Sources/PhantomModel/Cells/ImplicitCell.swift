import PhantomLinearAlgebra

/// The cell kinds the toolkit implements (the `cell` attribute of a checkpoint).
public enum CellKind: String, Sendable, CaseIterable, Codable {
    /// f = tanh(cell.weight·h + injection.weight·x + injection.bias).
    case tanh
    /// a = relu(W₁h + b₁); f = LayerNorm(relu(h + W₂a + b₂ + U x + b)).
    case resmlp
    /// MDEQ's BasicBlock at one resolution: f = gn3(relu(gn2(conv2(relu(gn1(conv1 h)))) + u) + h)), u = injection(x).
    case mdeq
    /// A cell defined by its graph alone (``GraphCell``), not by one of the named constructors above.
    case graph

    /// The kinds a named constructor builds (what `--cell` offers and a safetensors import can recognise).
    public static var builtins: [CellKind] { allCases.filter { $0.builtin != nil } }

    /// The built-in kind of this name (nil for `graph` and unknown names).
    public static func builtin(named name: String) -> CellKind? { builtins.first { $0.rawValue == name } }
}

/// An implicit layer's cell f(h, x; θ), acting on a batch.
///
/// States H are B×d (one sample per row), inputs X are B×n_in. The fixed point h* = f(h*, x; θ) is
/// found per sample by a ``FixedPointSolver``; derivatives at a point come from ``linearize(state:input:)``.
///
/// Notation (docs/Theory.md §1): J_i = ∂f/∂h (d×d) and M_i = ∂f/∂θ (d×p) for sample i.
public protocol ImplicitCell: Sendable {
    var kind: CellKind { get }
    /// d.
    var stateDimension: Int { get }
    /// n_in.
    var inputDimension: Int { get }
    /// Names, shapes and order of the tensors in θ.
    var layout: ParameterLayout { get }
    /// θ, flat, in ``layout`` order.
    var parameters: [Double] { get set }
    /// Extra integer dimensions stored in a checkpoint (e.g. ["m": 128] for resmlp).
    var extraDimensions: [String: Int] { get }
    /// The ε of the cell's normalisation layers (LayerNorm, GroupNorm); nil when it has none.
    var normalizationEpsilon: Double? { get }
    /// [C_in, H, W] for a cell whose input x is an image (flattened NCHW), nil for vector inputs.
    var inputImageShape: [Int]? { get }

    /// f(H, X) for a batch. Complexity: a few GEMMs.
    func forward(state h: Matrix, input x: Matrix) -> Matrix

    /// Everything needed for derivatives at (H, X): f's value and its Jacobian products.
    func linearize(state h: Matrix, input x: Matrix) -> any CellLinearization

    /// h ↦ f(h, x) for the samples `rows` of the batch X, for a forward solve: what depends on x and θ only (the
    /// injection) may be evaluated once here and reused by every iteration. Equal to ``forward(state:input:)``, bit for bit.
    func fixedPointMap(input x: Matrix) -> @Sendable (_ h: Matrix, _ rows: [Int]) -> Matrix
}

extension ImplicitCell {
    public func fixedPointMap(input x: Matrix) -> @Sendable (_ h: Matrix, _ rows: [Int]) -> Matrix {
        { [self] h, rows in forward(state: h, input: x.selectingRows(rows)) }
    }
}

/// The derivatives of f at one batch point (H, X). All products are batched: row i of the argument is
/// the vector for sample i, and row i of the result belongs to sample i.
public protocol CellLinearization: Sendable {
    /// f(H, X).
    var value: Matrix { get }
    /// Row i: J_i v_i (the JVP in the state).
    func stateJVP(_ v: Matrix) -> Matrix
    /// Row i: J_iᵀ u_i, i.e. u_iᵀ J_i (the VJP in the state).
    func stateVJP(_ u: Matrix) -> Matrix
    /// Σ_i M_iᵀ u_i ∈ R^p (the VJP in the parameters, summed over the batch), in ``ParameterLayout`` order.
    func parameterVJP(_ u: Matrix) -> [Double]
    /// Row i: M_i δθ (the JVP in the parameters; the same δθ for every sample).
    func parameterJVP(_ dtheta: [Double]) -> Matrix
    /// J_i as a dense d×d matrix, for small d.
    func jacobian(sample i: Int) -> Matrix
    /// The same linearization for sample i alone (a batch of one), so that per-sample products cost
    /// O(d²) rather than O(B d²).
    func restricted(toSample i: Int) -> any CellLinearization
    /// The same linearization for samples `rows` only (in that order).
    func restricted(toSamples rows: [Int]) -> any CellLinearization
    /// The diagonal of the Gram M_i M_iᵀ when the cell knows it to be diagonal in closed form (the tanh
    /// cell: D²(‖h‖² + ‖x‖² + 1)), else nil.
    func closedFormParameterGramDiagonal(sample i: Int) -> [Double]?
    /// Sets of coordinates whose rows of M_i are equal by the cell's structure, so that e_j − e_j′ for j, j′ in one set
    /// lies in the null space of G_i = M_i M_iᵀ (the mdeq cell: the positions of a channel where the ReLU before its
    /// last GroupNorm is inactive, docs/Theory.md §8). Disjoint, each of two or more coordinates, in increasing order;
    /// empty when the cell knows of none (its G may still be singular).
    func structuralGramNullSets(sample i: Int) -> [[Int]]
    /// Σ_i M_iᵀ u_i for several cotangent batches U at once (cells may fuse them into one GEMM).
    func parameterVJPs(_ us: [Matrix]) -> [[Double]]
    /// Row i: M_iᵀ u_i, the per-sample parameter VJPs (B×p).
    func parameterVJPRows(_ u: Matrix) -> Matrix
    /// Row i: M_i δθ_i, the per-sample parameter JVPs of row i of `dthetas` (B×p) — with
    /// ``parameterVJPRows(_:)``, the per-sample Gram G_i v_i = M_i(M_iᵀ v_i) for a batch at once.
    func parameterJVPRows(_ dthetas: Matrix) -> Matrix
    /// Row i: M_iᵀ u_i, factored by layer (outer products for Linear layers): ``ParameterFactors``.
    func parameterFactors(_ u: Matrix) -> ParameterFactors
    /// ``parameterVJP(_:)`` and ``parameterFactors(_:)`` of one u, from one reverse pass where the cell can.
    func parameterVJPAndFactors(_ u: Matrix) -> (sum: [Double], factors: ParameterFactors)
    /// When M_i is row-separable — row r of M_i is scale_r · φᵀ on parameters that only row r touches —
    /// the pair (scale, φ); then M_i M_jᵀ = diag(scale_i ⊙ scale_j) (φ_iᵀ φ_j) across points. The tanh cell:
    /// scale = D = 1 − f², φ = (x, 1, h). Nil for other cells.
    func rowSeparableFactors(sample i: Int) -> (scale: [Double], features: [Double])?
}

extension CellLinearization {
    /// The default dense Jacobian: d JVPs with e_j in row i. Cells override it with a closed form.
    public func jacobian(sample i: Int) -> Matrix {
        let b = value.rows, d = value.columns
        var jac = Matrix(zeros: d, d)
        for j in 0..<d {
            var v = Matrix(zeros: b, d)
            v[i, j] = 1
            jac.setColumn(j, stateJVP(v).row(i))
        }
        return jac
    }

    public func closedFormParameterGramDiagonal(sample i: Int) -> [Double]? { nil }

    public func structuralGramNullSets(sample i: Int) -> [[Int]] { [] }

    public func parameterVJPs(_ us: [Matrix]) -> [[Double]] { us.map(parameterVJP) }

    public func rowSeparableFactors(sample i: Int) -> (scale: [Double], features: [Double])? { nil }

    public func parameterFactors(_ u: Matrix) -> ParameterFactors { ParameterFactors(parts: [.dense(parameterVJPRows(u))]) }

    public func parameterVJPAndFactors(_ u: Matrix) -> (sum: [Double], factors: ParameterFactors) { (parameterVJP(u), parameterFactors(u)) }

    public func parameterJVPRows(_ dthetas: Matrix) -> Matrix {
        let rows = (0..<dthetas.rows).map { restricted(toSample: $0).parameterJVP(dthetas.row($0)) }
        return Matrix(rows: rows.count, columns: rows.first?.columns ?? 0, elements: rows.flatMap(\.elements))
    }

    public func parameterVJPRows(_ u: Matrix) -> Matrix {
        var rows: [Double] = []
        for i in 0..<u.rows { rows += restricted(toSample: i).parameterVJP(u.selectingRows([i])) }
        return Matrix(rows: u.rows, columns: rows.count / max(u.rows, 1), elements: rows)
    }

    /// M_i as a dense d×p matrix: row a is (M_iᵀ e_a)ᵀ, d parameter VJPs on sample i alone. For small d·p.
    public func parameterJacobian(sample i: Int) -> Matrix {
        let one = restricted(toSample: i)
        let d = value.columns
        let rows = (0..<d).map { a -> [Double] in
            var e = Matrix(zeros: 1, d)
            e[0, a] = 1
            return one.parameterVJP(e)
        }
        return Matrix(rowArrays: rows)
    }

    /// The d×d Gram M_i M_iᵀ by the generic route: column j is M_i (M_iᵀ e_j), d parameter VJPs and d
    /// parameter JVPs on sample i alone. Complexity: O(d p).
    public func parameterGram(sample i: Int) -> Matrix {
        let one = restricted(toSample: i)
        let d = value.columns
        var gram = Matrix(zeros: d, d)
        for j in 0..<d {
            var e = Matrix(zeros: 1, d)
            e[0, j] = 1
            gram.setColumn(j, one.parameterJVP(one.parameterVJP(e)).elements)
        }
        return gram.symmetricPart
    }

    /// J_i as a matrix-free ``LinearOperator`` (apply = JVP, applyTranspose = VJP), for Krylov methods
    /// at large d.
    public func stateJacobian(sample i: Int) -> FunctionOperator {
        let one = restricted(toSample: i)
        let d = value.columns
        return FunctionOperator(
            inputDimension: d, outputDimension: d,
            apply: { x, y in y = one.stateJVP(Matrix(rows: 1, columns: d, elements: x)).elements },
            applyTranspose: { x, y in y = one.stateVJP(Matrix(rows: 1, columns: d, elements: x)).elements })
    }
}
