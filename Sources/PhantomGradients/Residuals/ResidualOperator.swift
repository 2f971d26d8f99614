import PhantomLinearAlgebra
import PhantomModel

/// The residual operator E = 𝒜(I − Jᵀ) − Mᵀ of one estimator cell, as its family declares it, once
/// (``GridEstimator/residual(k:lambda:)``): the contract between the estimator families and the certification
/// routes (docs/Theory.md §3, §7). Every route — dense, matrix-free, stacked — derives its certificates from this
/// value alone, so a new family of one of these forms needs no change to any route, and a new route none to any family.
public enum ResidualOperator: Sendable, Hashable {
    /// E = −Mᵀ(Sᵀ)^k for a state step S (J or B = λJ + (1 − λ)I): the Neumann family — NPG(k, λ): B^k, RBP(k): J^k,
    /// JFB: J, damped JFB: B. Routes evaluate the powers incrementally along k.
    case neumann(StateStep, power: Int)
    /// E = −Mᵀ Pᵀ for any state-space operator P, given by its action on rows (``StateSpaceOperator``): a family whose
    /// P is not a power of one step (e.g. a low-rank inverse-Jacobian estimate) declares it here.
    case stateSpace(AnyStateSpaceOperator)
    /// UPG(k, λ): 𝒜 is backpropagation through the damped unroll h_{t+1} = (1 − λ)h_t + λf(h_t) from h_0 = h*; its error
    /// Gram and ascent operators come from that unroll (``UnrolledResidual``).
    case unrolled(steps: Int, damping: Double)

    /// Cells of one family whose residuals share this key form a chain along k (the same step, or the same unroll): an
    /// iterative route may warm-start each from the previous one's extreme vectors.
    public var chain: Chain {
        switch self {
        case .neumann(let step, _): .neumann(step)
        case .stateSpace(let p): .stateSpace(p.chain)
        case .unrolled(_, let damping): .unrolled(damping)
        }
    }

    public enum Chain: Hashable, Sendable {
        case neumann(StateStep)
        case stateSpace(String?)
        case unrolled(Double)
    }
}

/// One step of the state recursion: J, or B = λJ + (1 − λ)I.
public enum StateStep: Sendable, Hashable {
    case jacobian
    case damped(Double)
}

/// The state products a ``StateSpaceOperator`` may use: J v and Jᵀ v on rows (row i through sample i's J).
public protocol StateProducts {
    var stateDimension: Int { get }
    /// Row i: J_i v_i.
    func jvp(_ v: Matrix) -> Matrix
    /// Row i: J_iᵀ v_i.
    func vjp(_ v: Matrix) -> Matrix
}

/// A state-space operator P (row i through sample i's), defined by its action through ``StateProducts``: the dense
/// route materialises it from d products, the matrix-free route applies it as it is.
public protocol StateSpaceOperator: Sendable {
    /// Row i: P_i v_i (`transposed`: P_iᵀ v_i), for the samples `samples` (indices into the analysed batch).
    func apply(_ v: Matrix, transposed: Bool, samples: [Int], products: any StateProducts) -> Matrix
    /// Cells whose operators share a chain key warm-start each other on iterative routes (nil: none).
    var chain: String? { get }
    /// Identifies the operator for deduplication within a family's grid.
    var identity: String { get }
}

/// A ``StateSpaceOperator`` as a hashable value.
public struct AnyStateSpaceOperator: Sendable, Hashable {
    public let base: any StateSpaceOperator
    public init(_ base: any StateSpaceOperator) { self.base = base }
    public var chain: String? { base.chain }
    public static func == (a: Self, b: Self) -> Bool { a.base.identity == b.base.identity }
    public func hash(into hasher: inout Hasher) { hasher.combine(base.identity) }
}
