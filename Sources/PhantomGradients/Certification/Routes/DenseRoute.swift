import PhantomLinearAlgebra
import PhantomModel

/// One sample's dense facts at h*, computed once by the spectra stage and shared with the dense certification route:
/// J (d×d), the Gram G = M Mᵀ (d×d) and σ_min, σ_max of M from G's eigenvalues, with their pedigree.
public struct DenseSample: Sendable {
    public let sample: Int
    public let jacobian: Matrix
    public let gram: Matrix
    public let sigmaMin: Double
    public let sigmaMax: Double
    /// The pedigree of σ_min and σ_max (a LAPACK failure on G makes both NaN).
    public let sigmaStatus: ValueStatus

    /// σ(M) from G's eigenvalues by LAPACK, or — for a diagonal Gram (the tanh cell's closed form), whose eigenvalues are
    /// its entries — from its extreme entries, O(d) instead of (4/3)d³ (the same values: `dsyevd` returns a diagonal
    /// matrix's entries).
    public init(problem: GradientProblem, sample: Int, gram: ParameterGram, solver: any DenseSpectralSolver) {
        self.sample = sample
        jacobian = problem.linearization.jacobian(sample: sample)
        self.gram = gram.matrix
        if case .diagonal(let entries) = gram, !entries.isEmpty {
            let s = GramSpectrum.singularValues(lowest: entries.min()!, highest: entries.max()!)
            (sigmaMin, sigmaMax) = (s.min, s.max)
            sigmaStatus = s.min.isFinite && s.max.isFinite ? .ok : .notComputed("a non-finite closed-form M Mᵀ")
        } else {
            let sigma = GramSpectrum.extremeSingularValues(self.gram, solver: solver)
            (sigmaMin, sigmaMax, sigmaStatus) = (sigma.min, sigma.max, sigma.status)
        }
    }

    public var stateDimension: Int { jacobian.rows }
}

/// The dense route: one sample's certificates from d×d matrices (docs/Theory.md §3) — EᵀE and S = M𝒜(I − Jᵀ) formed
/// explicitly, their extreme eigenvalues and the generalized problem for ρ* by LAPACK. Every certificate costs a few
/// d³ operations. For the Neumann form E = −Mᵀ(Sᵀ)^k the powers S^k are formed once along k (B^k, J^k); UPG's
/// unrolled form comes from ``UnrolledResidual/Dense``; a general state-space P is materialised from d products.
///
/// Not thread-safe: one per sample and thread.
public final class DenseRoute: CertificationRoute {
    public let problem: GradientProblem
    public let facts: DenseSample
    public let ks: [Int]
    public let lambdas: [Double]
    public let solver: any DenseSpectralSolver
    /// Largest d·p for which UPG may form its residual rows in R^p (its column route).
    public let columnBudget: Int
    /// Use UPG's column route even where a faster state-space route exists (cross-checks).
    public let preferColumnRoute: Bool

    /// Per step, S⁰ = I, S¹, S², … as far as asked (S^{j+1} = S · S^j, the same products whatever k is asked first).
    private var powers: DenseStatePowers
    private var unrolls: [Double: UnrolledResidual.Dense] = [:]

    /// UPG's column route, shared by every λ: the sample replicated d times (one row per cotangent e_a), the
    /// linearization there and the rows Mᵀe_a.
    lazy var columnBasis: (start: Matrix, inputs: Matrix, atStar: any CellLinearization, mRows: Matrix) = {
        let d = stateDimension, replicate = Array(repeating: facts.sample, count: d)
        let x = problem.inputs.selectingRows(replicate), start = problem.states.selectingRows(replicate)
        let atStar = problem.model.cell.linearize(state: start, input: x)
        return (start, x, atStar, atStar.parameterVJPRows(Matrix.identity(d)))
    }()

    public init(
        problem: GradientProblem, facts: DenseSample, ks: [Int], lambdas: [Double], solver: any DenseSpectralSolver,
        columnBudget: Int = 4_000_000, preferColumnRoute: Bool = false
    ) {
        (self.problem, self.facts, self.ks, self.lambdas, self.solver) = (problem, facts, ks, lambdas, solver)
        (self.columnBudget, self.preferColumnRoute) = (columnBudget, preferColumnRoute)
        powers = DenseStatePowers(jacobian: facts.jacobian)
    }

    public var sampleCount: Int { 1 }
    public var stateDimension: Int { facts.stateDimension }

    /// S^k, from the cached powers.
    public func power(_ s: StateStep, _ k: Int) -> Matrix { powers.power(s, k) }

    /// The certificate from EᵀE and S = M𝒜(I − Jᵀ).
    public func certificate(errorGram: Matrix, ascent: Matrix) -> Certificate {
        Certificate.compute(
            errorGram: errorGram, ascent: ascent, gram: facts.gram, sigmaMin: facts.sigmaMin,
            sigmaMax: facts.sigmaMax, solver: solver)
    }

    public func certificates(of residual: ResidualOperator, warmStart: inout WarmStart?) -> [Certificate] {
        guard facts.sigmaStatus.isOK else { return [.notComputed("σ(M): \(facts.sigmaStatus)")] }
        switch residual {
        case .neumann(let s, let k):
            return [neumann(power(s, k))]
        case .stateSpace(let p):
            return [neumann(p.dense(jacobian: facts.jacobian, sample: facts.sample))]
        case .unrolled(let k, let lambda):
            // One λ's unroll at a time (the driver goes λ by λ): an unroll of d replicated rows is large, so the
            // previous λ's is released before the next one is built (holding both doubled the route's peak).
            if unrolls[lambda] == nil { unrolls = [:] }
            let unroll = unrolls[lambda] ?? UnrolledResidual.Dense(route: self, damping: lambda, maxSteps: ks.last ?? k)
            unrolls = [lambda: unroll]
            return [unroll.certificate(steps: k)]
        }
    }

    /// The Neumann-form certificate of a d×d P: E = −MᵀPᵀ, EᵀE = P G Pᵀ, S = G(I − Pᵀ).
    public func neumann(_ p: Matrix) -> Certificate {
        Certificate.neumann(p, gram: facts.gram, sigmaMin: facts.sigmaMin, sigmaMax: facts.sigmaMax, solver: solver)
    }

    /// ‖B^k‖₂ per λ and k of the grid, with its pedigree (`dgesdd` on the cached powers).
    public func powerNorms() -> [[(value: Double, status: ValueStatus)]] {
        lambdas.map { lambda in
            ks.map { k in
                do throws(LinearAlgebraError) { return (try solver.spectralNorm(power(.damped(lambda), k)), .ok) } catch {
                    return (.nan, .lapackFailure(error))
                }
            }
        }
    }
}

/// S⁰ = I, S¹, S², … of one sample's dense J or B = λJ + (1 − λ)I (λJ and (1 − λ)I rounded separately), formed as
/// far as asked by S^{j+1} = S · S^j — the same products whatever k is asked first. Shared by the dense and stacked
/// routes.
struct DenseStatePowers {
    let jacobian: Matrix
    private var powers: [StateStep: [Matrix]] = [:]

    init(jacobian: Matrix) { self.jacobian = jacobian }

    /// S as a d×d matrix.
    func step(_ s: StateStep) -> Matrix {
        switch s {
        case .jacobian: jacobian
        case .damped(let lambda): dampedStepUnfused(jacobian, Matrix.identity(jacobian.rows), lambda)
        }
    }

    mutating func power(_ s: StateStep, _ k: Int) -> Matrix {
        var list = powers[s] ?? [Matrix.identity(jacobian.rows)]
        if list.count <= k {
            let base = step(s)
            while list.count <= k { list.append(base * list[list.count - 1]) }
            powers[s] = list
        }
        return list[k]
    }
}

extension AnyStateSpaceOperator {
    /// P as a d×d matrix for one sample with dense J: row i of P applied to the identity rows is P e_i, so the rows
    /// are Pᵀ.
    func dense(jacobian: Matrix, sample: Int) -> Matrix {
        base.apply(
            Matrix.identity(jacobian.rows), transposed: false, samples: [sample],
            products: DenseStateProducts(jacobian: jacobian)
        ).transposed
    }
}

/// J v and Jᵀ v on rows from one sample's dense J (rows v: V Jᵀ and V J).
struct DenseStateProducts: StateProducts {
    let jacobian: Matrix
    var stateDimension: Int { jacobian.rows }
    func jvp(_ v: Matrix) -> Matrix { BLAS.gemm(v, jacobian, transposeB: true) }
    func vjp(_ v: Matrix) -> Matrix { v * jacobian }
}

/// σ_min and σ_max of M from the eigenvalues of its Gram G = M Mᵀ.
public enum GramSpectrum {
    /// Eigenvalues of G at or below this fraction of λ_max(G) count as zero: σ_min = 0, M is rank-deficient. The
    /// mdeq cell is: at positions where the ReLU before its last GroupNorm is inactive, every column of M (and every
    /// row of J) takes the same value within a channel, so e_j − e_j′ spans a null space of Mᵀ.
    public static let nullTolerance = 1e-12

    /// (σ_min, σ_max) = (√λ_min(G), √λ_max(G)), with λ_min ≤ ``nullTolerance``·λ_max (and round-off negatives)
    /// taken as 0; NaN with the LAPACK failure as status when the eigenvalues cannot be computed.
    public static func extremeSingularValues(_ gram: Matrix, solver: any DenseSpectralSolver)
        -> (min: Double, max: Double, status: ValueStatus)
    {
        do throws(LinearAlgebraError) {
            let eigenvalues = try solver.symmetricEigenvalues(gram)
            let s = singularValues(lowest: eigenvalues.first ?? .nan, highest: eigenvalues.last ?? .nan)
            return (s.min, s.max, eigenvalues.isEmpty ? .notComputed("d = 0") : .ok)
        } catch {
            return (.nan, .nan, .lapackFailure(error))
        }
    }

    /// (σ_min, σ_max) from G's extreme eigenvalues however found (LAPACK, Lanczos, a diagonal): λ_min at or below
    /// ``nullTolerance``·λ_max, and round-off negatives, count as 0; NaN stays NaN.
    public static func singularValues(lowest low: Double, highest high: Double) -> (min: Double, max: Double) {
        let top = high.isNaN ? .nan : max(high, 0)
        return (low.isNaN ? .nan : (low <= nullTolerance * top ? 0 : low.squareRoot()), top.squareRoot())
    }
}
