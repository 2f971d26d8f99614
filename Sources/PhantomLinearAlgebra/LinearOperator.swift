/// A linear map A: R^n → R^m given by what it does to vectors, not by its entries.
///
/// The same Krylov code (``GMRES``, ``SpectralNormEstimator``) runs on a dense ``Matrix`` and on a
/// matrix-free Jacobian J = ∂f/∂h whose `apply` is a JVP (J v) and whose `applyTranspose` is a VJP (Jᵀ u).
/// Conformers promise linearity and adjointness, ⟨A x, y⟩ = ⟨x, Aᵀ y⟩; the test suite checks both for every
/// conformer it ships.
///
/// Buffers are caller-owned: `y` has the right length on entry and is overwritten.
public protocol LinearOperator {
    /// n, the length of x in y = A x.
    var inputDimension: Int { get }
    /// m, the length of y in y = A x.
    var outputDimension: Int { get }
    /// y ← A x.
    func apply(_ x: [Double], into y: inout [Double])
    /// y ← Aᵀ x.
    func applyTranspose(_ x: [Double], into y: inout [Double])
    /// The dense m×n matrix. The default applies A to each e_j (n applications); dense types return themselves.
    func materialized() -> Matrix
}

extension LinearOperator {
    /// A x as a new vector.
    public func apply(_ x: [Double]) -> [Double] {
        var y = [Double](repeating: 0, count: outputDimension)
        apply(x, into: &y)
        return y
    }

    /// Aᵀ x as a new vector.
    public func applyTranspose(_ x: [Double]) -> [Double] {
        var y = [Double](repeating: 0, count: inputDimension)
        applyTranspose(x, into: &y)
        return y
    }

    /// The dense m×n matrix, column j = A e_j. Costs n applications: for diagnostics at small sizes.
    public func materialized() -> Matrix {
        var m = Matrix(zeros: outputDimension, inputDimension)
        var e = [Double](repeating: 0, count: inputDimension)
        var column = [Double](repeating: 0, count: outputDimension)
        for j in 0..<inputDimension {
            e[j] = 1
            apply(e, into: &column)
            m.setColumn(j, column)
            e[j] = 0
        }
        return m
    }

    /// Aᵀ as an operator (no copy).
    public var transposed: TransposedOperator<Self> { TransposedOperator(base: self) }
}

// MARK: - Combinators

/// Aᵀ of an operator A.
public struct TransposedOperator<Base: LinearOperator>: LinearOperator {
    public let base: Base
    public init(base: Base) { self.base = base }
    public var inputDimension: Int { base.outputDimension }
    public var outputDimension: Int { base.inputDimension }
    public func apply(_ x: [Double], into y: inout [Double]) { base.applyTranspose(x, into: &y) }
    public func applyTranspose(_ x: [Double], into y: inout [Double]) { base.apply(x, into: &y) }
}

/// I − A for a square operator A: the operator of the implicit function theorem, (I − J) and its
/// transpose (I − Jᵀ) in the adjoint solve (I − Jᵀ) w = g.
public struct IdentityMinus<Base: LinearOperator>: LinearOperator {
    public let base: Base
    /// - Precondition: A is square.
    public init(_ base: Base) {
        precondition(base.inputDimension == base.outputDimension, "I − A needs a square A")
        self.base = base
    }
    public var inputDimension: Int { base.inputDimension }
    public var outputDimension: Int { base.outputDimension }
    public func apply(_ x: [Double], into y: inout [Double]) {
        base.apply(x, into: &y)
        for i in 0..<y.count { y[i] = x[i] - y[i] }
    }
    public func applyTranspose(_ x: [Double], into y: inout [Double]) {
        base.applyTranspose(x, into: &y)
        for i in 0..<y.count { y[i] = x[i] - y[i] }
    }
}

/// The composition A ∘ B: x ↦ A (B x).
public struct ComposedOperator<Outer: LinearOperator, Inner: LinearOperator>: LinearOperator {
    public let outer: Outer
    public let inner: Inner
    /// - Precondition: `outer.inputDimension == inner.outputDimension`.
    public init(_ outer: Outer, _ inner: Inner) {
        precondition(outer.inputDimension == inner.outputDimension, "A ∘ B: dimensions do not chain")
        self.outer = outer
        self.inner = inner
    }
    public var inputDimension: Int { inner.inputDimension }
    public var outputDimension: Int { outer.outputDimension }
    public func apply(_ x: [Double], into y: inout [Double]) { outer.apply(inner.apply(x), into: &y) }
    public func applyTranspose(_ x: [Double], into y: inout [Double]) {
        inner.applyTranspose(outer.applyTranspose(x), into: &y)
    }
}

/// A matrix-free operator from two closures: `apply` (y = A x, a JVP) and `applyTranspose` (y = Aᵀ x, a VJP).
public struct FunctionOperator: LinearOperator {
    public let inputDimension: Int
    public let outputDimension: Int
    let forward: (_ x: [Double], _ y: inout [Double]) -> Void
    let adjoint: (_ x: [Double], _ y: inout [Double]) -> Void

    public init(
        inputDimension: Int, outputDimension: Int,
        apply: @escaping (_ x: [Double], _ y: inout [Double]) -> Void,
        applyTranspose: @escaping (_ x: [Double], _ y: inout [Double]) -> Void
    ) {
        self.inputDimension = inputDimension
        self.outputDimension = outputDimension
        self.forward = apply
        self.adjoint = applyTranspose
    }
    public func apply(_ x: [Double], into y: inout [Double]) { forward(x, &y) }
    public func applyTranspose(_ x: [Double], into y: inout [Double]) { adjoint(x, &y) }
}

// MARK: - Dense matrices

extension Matrix: LinearOperator {
    public var inputDimension: Int { columns }
    public var outputDimension: Int { rows }
    /// y ← A x through `dgemv`.
    public func apply(_ x: [Double], into y: inout [Double]) { BLAS.gemv(self, x, into: &y) }
    /// y ← Aᵀ x through `dgemv` (no copy of A).
    public func applyTranspose(_ x: [Double], into y: inout [Double]) {
        BLAS.gemv(self, transpose: true, x, into: &y)
    }
    /// A itself (no applications needed).
    public func materialized() -> Matrix { self }
}
