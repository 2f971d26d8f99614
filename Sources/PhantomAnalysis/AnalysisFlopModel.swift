import PhantomGradients
import PhantomLinearAlgebra
import PhantomModel

/// The floating-point work an analysis needs, per stage, in d, p, n_in, K, |Λ| and B (docs/AnalysisFlopModel.md): the
/// arithmetic of the algorithms' essential products, so that modelled FLOPs / measured time says how far a stage runs
/// from the machine's rate. One multiply-add counts 2 FLOPs.
///
/// F, the cost of f (or of one VJP or JVP through it, state and parameters alike) for one sample, is
/// 2·(every weight's multiply-adds): 2p for dense layers (a weight is used once per sample), 2·|w|·H·W for a
/// convolution's weights (used at each of the H·W positions); biases and elementwise maps count once per entry.
public struct AnalysisFlopModel: Sendable, Equatable {
    /// d, p, n_in, K (the largest k), |Λ|, B.
    public var d: Double, p: Double, inputs: Double, maxK: Double, lambdas: Double, batch: Double
    /// F, FLOPs of one evaluation of f (or one VJP) for one sample.
    public var cellFLOPs: Double

    /// The Krylov steps the model allows the dominant-eigenvalue and norm estimates (Arnoldi on J, Lanczos on JᵀJ).
    public static let krylovSteps = 60.0

    public init(model: ImplicitModel, configuration c: AnalysisConfiguration, batch: Int) {
        d = Double(model.stateDimension)
        p = Double(model.cell.layout.count)
        inputs = Double(model.inputDimension)
        maxK = Double(c.maxK)
        lambdas = Double(c.lambdas.count)
        self.batch = Double(batch)
        let positions = (model.cell as? MDEQCell).map { Double($0.geometry.height * $0.geometry.width) } ?? 1
        cellFLOPs = model.cell.layout.specs.reduce(0) { sum, spec in
            let n = Double(spec.count)
            switch spec.shape.count {
            case 4: return sum + 2 * n * positions
            case 2, 3: return sum + 2 * n
            default: return sum + n * positions
            }
        }
    }

    /// All eigenvalues of a dense nonsymmetric d×d matrix (Hessenberg reduction and QR iteration): ≈ 10d³.
    public static func denseEigenvalues(_ d: Int) -> Double { 10 * pow3(d) }

    /// Arnoldi with m = min(``krylovSteps``, d) steps on a dense d×d matrix: m products (2d² each), the
    /// orthogonalisation (2m²d), the Ritz values (10m³) and one Ritz pair's residual by complex inverse iteration (8m³).
    public static func denseArnoldi(_ d: Int) -> Double {
        let m = min(krylovSteps, Double(d)), n = Double(d)
        return m * 2 * n * n + 2 * m * m * n + 18 * m * m * m
    }

    /// The singular values of a dense d×d matrix (bidiagonalisation and dqds): ≈ (8/3)d³.
    public static func denseSingularValues(_ d: Int) -> Double { 8.0 / 3 * pow3(d) }

    /// Lanczos on JᵀJ with m = min(``krylovSteps``, d) steps on a dense J: two products per step (4d²), full
    /// reorthogonalisation twice (4m²d) and the m×m eigenproblems of the convergence checks (≈ 9j³ at step j ≤ 40).
    public static func denseLanczosNorm(_ d: Int) -> Double {
        let m = min(krylovSteps, Double(d)), n = Double(d), checks = min(m, 40)
        return m * 4 * n * n + 4 * m * m * n + 9 * checks * checks * checks * checks / 4
    }

    static func pow3(_ d: Int) -> Double { Double(d) * Double(d) * Double(d) }

    /// Forward solves: F per evaluation of f per sample, over the iterations each sample used (Anderson's and Broyden's
    /// O(m²d) bookkeeping is left out).
    public func forward(iterations: [Int]) -> Double { cellFLOPs * Double(iterations.reduce(0, +)) }

    /// The exact gradient: per sample, J by d JVPs and an LU solve of (I − Jᵀ)w = g ((2/3)d³ + 2d²) where the adjoint is
    /// dense, else its Krylov iterations (F each); then one parameter VJP.
    public func exact(denseAdjoint: Bool, iterations: [Int]) -> Double {
        let perSample = denseAdjoint ? d * cellFLOPs + (2.0 / 3) * d * d * d + 2 * d * d : 0
        return batch * (perSample + cellFLOPs) + (denseAdjoint ? 0 : cellFLOPs * Double(iterations.reduce(0, +)))
    }

    /// One family's measurement: per sample K state and K parameter VJPs (the Neumann series, shared by every λ); for UPG,
    /// per λ, K forward steps and linearizations and, since each UPG(k) backpropagates from its own h_k, k state and k
    /// parameter VJPs for every k — K(K + 1) in all; 2p per cell and sample for the comparison with the exact gradient.
    public func measurement(_ family: EstimatorFamily) -> Double {
        let cells = family.axes.dependsOnK ? maxK * lambdas : lambdas
        let unrolled = lambdas * (2 * maxK + maxK * (maxK + 1)) * cellFLOPs
        let series = family.id == UnrolledPhantomGradient.id ? unrolled : 2 * maxK * cellFLOPs
        return batch * (series + 2 * p * cells)
    }

    /// The spectra per sample: on the dense route J by d JVPs, and G = M Mᵀ by d parameter VJP/JVP pairs unless it has a
    /// closed form, with (4/3)d³ for its eigenvalues; ρ(J) and ρ(B) by ``krylovSteps`` Arnoldi steps (2d² + 2·m·d each),
    /// ‖J‖₂ by as many Lanczos steps on JᵀJ (4d² each).
    public func spectra(dense: Bool, closedFormGram: Bool) -> Double {
        let m = Self.krylovSteps
        let product = dense ? 2 * d * d : cellFLOPs
        let form = dense ? d * cellFLOPs + (closedFormGram ? d : 2 * d * cellFLOPs + (4.0 / 3) * d * d * d) : 0
        let gram = dense ? 0 : (closedFormGram ? d : 2 * m * 2 * cellFLOPs)
        return batch * (form + gram + m * (product + 2 * m * d) + m * 2 * product)
    }
}
