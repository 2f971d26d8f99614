import Numerics
import PhantomGradients
import PhantomLinearAlgebra
import PhantomModel

/// The spectral facts of one sample at h* that do not depend on the estimator (docs/Theory.md §3):
/// σ(M) from the Gram G = M Mᵀ, ‖J‖₂ and ρ(J), and for each λ: ρ(B) and ‖B^k‖₂ — each with its pedigree.
///
/// On the dense route the values come from LAPACK on d×d matrices (residual 0, converged when finite); on the
/// iterative route from Krylov methods on the cell's JVPs/VJPs (``SpectraRoute``), with the Ritz residual each
/// reached and whether it met its tolerance. A sample with an unconverged value is flagged and excluded from the
/// fractions (``AnalysisResult/reliable``).
public struct SampleSpectra: Sendable {
    public let route: SpectraRoute
    public let sigmaMin: Double
    public let sigmaMax: Double
    /// κ(M) = σ_max/σ_min.
    public var conditionNumber: Double { sigmaMax / sigmaMin }
    public let jacobianNorm: Double
    public let spectralRadius: Double
    /// ρ(B) per λ.
    public let dampedRadius: [Double]
    /// ‖B^k‖₂ per λ and k (the configuration's ks); NaN for samples that are not certified.
    public internal(set) var powerNorms: [[Double]]
    /// The pedigree of each ‖B^k‖₂ (not computed for samples that are not certified).
    public internal(set) var powerNormStatus: [[ValueStatus]]
    /// Ritz residuals (iterative route; 0 on the dense route): of λ_min(G) and λ_max(G) (σ_min², σ_max²), of
    /// λ_max(JᵀJ) (‖J‖₂²), and of J's dominant Ritz pair (ρ(J)).
    public let sigmaMinResidual: Double, sigmaMaxResidual: Double, jacobianNormResidual: Double, spectralRadiusResidual: Double
    /// Each value's pedigree: ok (exact to rounding, or within its tolerance), short of tolerance, a LAPACK failure, a
    /// Krylov breakdown.
    public let sigmaMinStatus: ValueStatus, sigmaMaxStatus: ValueStatus, jacobianNormStatus: ValueStatus, spectralRadiusStatus: ValueStatus

    public var sigmaMinConverged: Bool { sigmaMinStatus.isOK }
    public var sigmaMaxConverged: Bool { sigmaMaxStatus.isOK }
    public var jacobianNormConverged: Bool { jacobianNormStatus.isOK }
    public var spectralRadiusConverged: Bool { spectralRadiusStatus.isOK }

    /// Every value reached its tolerance.
    public var converged: Bool { sigmaMinConverged && sigmaMaxConverged && jacobianNormConverged && spectralRadiusConverged }

    /// The four spectral values with their pedigree, for reports.
    public var statuses: [(quantity: FailureReport.Quantity, status: ValueStatus)] {
        [
            (.spectralRadius, spectralRadiusStatus), (.jacobianNorm, jacobianNormStatus), (.sigmaMin, sigmaMinStatus),
            (.sigmaMax, sigmaMaxStatus)
        ]
    }

    static let notCertified = ValueStatus.notComputed("the sample is not certified")

    /// A sample analysed by another shard: every value NaN, not computed.
    init(missingWithLambdas lambdas: Int, ks: Int) {
        route = .dense
        (sigmaMin, sigmaMax, jacobianNorm, spectralRadius) = (.nan, .nan, .nan, .nan)
        dampedRadius = [Double](repeating: .nan, count: lambdas)
        powerNorms = (0..<lambdas).map { _ in [Double](repeating: .nan, count: ks) }
        let missing = ValueStatus.notComputed("the sample is another shard's")
        powerNormStatus = (0..<lambdas).map { _ in [ValueStatus](repeating: missing, count: ks) }
        (sigmaMinResidual, sigmaMaxResidual, jacobianNormResidual, spectralRadiusResidual) = (.nan, .nan, .nan, .nan)
        (sigmaMinStatus, sigmaMaxStatus, jacobianNormStatus, spectralRadiusStatus) = (missing, missing, missing, missing)
    }

    /// Dense: ρ(J) and ρ(B) by Arnoldi on the d×d J (``dominantEigenvalues(_:stateDimension:lambdas:tolerance:)``) where the
    /// FLOP model says it is cheaper than the full spectrum's ≈ 10d³ (``AnalysisFlopModel/denseArnoldi(_:)``) and the
    /// dominant Ritz pair and, for every λ, the pair giving ρ(B) meet ``denseTolerance``; else from every eigenvalue μ of J
    /// by LAPACK (those of B are 1 − λ(1 − μ)). ‖J‖₂ likewise by Lanczos on JᵀJ where cheaper
    /// (``AnalysisFlopModel/denseLanczosNorm(_:)``) and converged, else by LAPACK. σ(M) from ``DenseSample``. A Krylov value
    /// records its Ritz residual, a LAPACK value 0. ‖B^k‖₂ comes from the certification stage.
    init(dense facts: DenseSample, lambdas: [Double], ks: Int, solver: any DenseSpectralSolver) {
        route = .dense
        let d = facts.stateDimension
        // Krylov where the FLOP model says it is cheaper than the full spectrum (d ≳ 80), LAPACK otherwise or as fallback.
        if AnalysisFlopModel.denseArnoldi(d) < AnalysisFlopModel.denseEigenvalues(d),
            let krylov = Self.dominantEigenvalues(facts.jacobian, stateDimension: d, lambdas: lambdas, tolerance: Self.denseTolerance),
            krylov.status.isOK,
            krylov.dampedConverged
        {
            (spectralRadius, dampedRadius) = (krylov.radius, krylov.damped)
            (spectralRadiusResidual, spectralRadiusStatus) = (krylov.residual, .ok)
        } else {
            let eigenvalues: [Complex<Double>]
            do throws(LinearAlgebraError) {
                eigenvalues = try solver.eigenvalues(facts.jacobian)
                spectralRadiusStatus = .ok
            } catch {
                eigenvalues = []
                spectralRadiusStatus = .lapackFailure(error)
            }
            spectralRadius = eigenvalues.map(\.modulus).max() ?? .nan
            dampedRadius = lambdas.map { lambda in
                eigenvalues.map { Complex(1 - lambda * (1 - $0.real), lambda * $0.imaginary).modulus }.max() ?? .nan
            }
            spectralRadiusResidual = 0
        }
        sigmaMin = facts.sigmaMin
        sigmaMax = facts.sigmaMax
        (sigmaMinStatus, sigmaMaxStatus) = (facts.sigmaStatus, facts.sigmaStatus)
        let lanczos = AnalysisFlopModel.denseLanczosNorm(d) < AnalysisFlopModel.denseSingularValues(d)
        if lanczos, case let norm = Self.normByLanczos(facts.jacobian, stateDimension: d, tolerance: Self.denseTolerance), norm.converged {
            (jacobianNorm, jacobianNormResidual, jacobianNormStatus) = (max(norm.value, 0).squareRoot(), norm.residual, .ok)
        } else {
            do throws(LinearAlgebraError) {
                jacobianNorm = try solver.spectralNorm(facts.jacobian)
                jacobianNormStatus = .ok
            } catch {
                jacobianNorm = .nan
                jacobianNormStatus = .lapackFailure(error)
            }
            jacobianNormResidual = 0
        }
        powerNorms = lambdas.map { _ in Array(repeating: .nan, count: ks) }
        powerNormStatus = lambdas.map { _ in Array(repeating: Self.notCertified, count: ks) }
        (sigmaMinResidual, sigmaMaxResidual) = (0, 0)
    }

    /// ρ(J) by Arnoldi with 60, then 150, 300, then 600 steps (at most d) until the dominant Ritz pair's residual is
    /// ≤ ``iterativeTolerance``·ρ; ρ(B) per λ from the same Ritz values (B's are 1 − λ(1 − θ), with residual λ times θ's),
    /// `dampedConverged` when the pair giving each ρ(B) meets the same relative tolerance. Nil for d = 0.
    static func dominantEigenvalues<Op: LinearOperator>(
        _ jacobian: Op, stateDimension d: Int, lambdas: [Double], tolerance: Double = iterativeTolerance
    ) -> (radius: Double, residual: Double, status: ValueStatus, damped: [Double], dampedConverged: Bool)? {
        guard d > 0 else { return nil }
        var arnoldi = ArnoldiSpectralRadius.estimate(jacobian, steps: min(60, d))
        var dominant = arnoldi.dominantIndex.map { arnoldi.residual(of: $0) } ?? .nan
        for steps in [150, 300, 600] {
            let done = dominant <= tolerance * max(arnoldi.spectralRadius, 1e-300)
            if done || arnoldi.exact || !arnoldi.spectralRadius.isFinite || min(steps, d) <= arnoldi.steps { break }
            arnoldi = ArnoldiSpectralRadius.estimate(jacobian, steps: min(steps, d))
            dominant = arnoldi.dominantIndex.map { arnoldi.residual(of: $0) } ?? .nan
        }
        let radius = arnoldi.spectralRadius
        let status: ValueStatus =
            !radius.isFinite ? .breakdown : dominant <= tolerance * max(radius, 1e-300) ? .ok : .notConverged(residual: dominant)
        var converged = true
        var residuals: [Int: Double] = [:]  // a Ritz pair's residual, computed once (most λ share the pair)
        let damped = lambdas.map { lambda -> Double in
            let moduli = arnoldi.ritzValues.map { Complex(1 - lambda * (1 - $0.real), lambda * $0.imaginary).modulus }
            guard let best = moduli.indices.max(by: { moduli[$0] < moduli[$1] }) else { return .nan }
            if residuals[best] == nil { residuals[best] = best == arnoldi.dominantIndex ? dominant : arnoldi.residual(of: best) }
            let r = lambda * residuals[best]!
            if !(r <= tolerance * max(moduli[best], 1e-300)) { converged = false }
            return moduli[best]
        }
        return (radius, dominant, status, damped, converged)
    }

    /// λ_max(JᵀJ) = ‖J‖₂² by Lanczos (one JVP and one VJP per step, at most min(d, 300) steps), stopping once the largest
    /// Ritz value meets the tolerance (the smallest, σ_min(J)², is not needed and converges slowly).
    static func normByLanczos<Op: LinearOperator>(_ jacobian: Op, stateDimension d: Int, tolerance: Double = iterativeTolerance)
        -> RitzValue
    {
        let normalApply: ([Double], inout [Double]) -> Void = { x, y in
            var jx = [Double](repeating: 0, count: d)
            jacobian.apply(x, into: &jx)
            jacobian.applyTranspose(jx, into: &y)
        }
        let normal = FunctionOperator(inputDimension: d, outputDimension: d, apply: normalApply, applyTranspose: normalApply)
        return SymmetricLanczos.extremes(normal, tolerance: tolerance, maxSteps: min(d, 300), needed: .largest).largest
    }

    /// The iterative route's relative tolerance on Ritz residuals.
    public static let iterativeTolerance = 1e-8
    /// The dense route's, where its Krylov values replace LAPACK's: near LAPACK's own accuracy (an eigenvalue's error is
    /// its residual times its condition, so the dense route asks for far less than the iterative route's 10⁻⁸).
    public static let denseTolerance = 1e-12

    /// Iterative: from sample `s`'s linearization alone, without a d×d matrix.
    ///
    /// - ρ(J) and ρ(B): ``dominantEigenvalues(_:stateDimension:lambdas:)`` on J's products.
    /// - ‖J‖₂: Lanczos on JᵀJ (one JVP and one VJP per step).
    /// - σ_max(M), σ_min(M): from the closed-form diagonal Gram when the cell has one (tanh), else Lanczos on
    ///   G v = M(Mᵀv) (one parameter VJP and JVP per step); λ_min(G) at or below ``GramSpectrum/nullTolerance``·λ_max(G)
    ///   taken as 0 as on the dense route.
    /// A breakdown (a non-finite vector) gives NaN values, not converged.
    init(iterative problem: GradientProblem, sample s: Int, lambdas: [Double], ks: Int) {
        route = .iterative
        let one = problem.linearization.restricted(toSample: s)
        let d = problem.stateDimension
        let tolerance = Self.iterativeTolerance
        let jacobian = one.stateJacobian(sample: 0)

        let krylov = Self.dominantEigenvalues(jacobian, stateDimension: d, lambdas: lambdas)
        spectralRadius = krylov?.radius ?? .nan
        spectralRadiusResidual = krylov?.residual ?? .nan
        spectralRadiusStatus = krylov?.status ?? .breakdown
        dampedRadius = krylov?.damped ?? lambdas.map { _ in .nan }
        let jtj = Self.normByLanczos(jacobian, stateDimension: d)
        jacobianNorm = jtj.value.isNaN ? .nan : max(jtj.value, 0).squareRoot()
        (jacobianNormResidual, jacobianNormStatus) = (jtj.residual, ValueStatus(jtj))

        if let diagonal = problem.linearization.closedFormParameterGramDiagonal(sample: s) {
            // A diagonal Gram (the tanh cell): its extremes exactly, O(d).
            (sigmaMin, sigmaMax) = GramSpectrum.singularValues(lowest: diagonal.min() ?? .nan, highest: diagonal.max() ?? .nan)
            (sigmaMaxResidual, sigmaMinResidual) = (0, 0)
            let nonFinite = ValueStatus.notComputed("a non-finite closed-form M Mᵀ")
            (sigmaMaxStatus, sigmaMinStatus) = (sigmaMax.isFinite ? .ok : nonFinite, sigmaMin.isFinite ? .ok : nonFinite)
        } else {
            let gramApply: @Sendable ([Double], inout [Double]) -> Void = { x, y in
                let row = Matrix(rows: 1, columns: d, elements: x)
                y = one.parameterJVP(one.parameterVJP(row)).elements
            }
            let gram = FunctionOperator(inputDimension: d, outputDimension: d, apply: gramApply, applyTranspose: gramApply)
            if !problem.linearization.structuralGramNullSets(sample: s).isEmpty {
                // A structural zero: the cell knows coordinates whose rows of M are equal (docs/Theory.md §8), so G is
                // singular exactly and σ_min = 0 needs no Krylov run — only σ_max, by Lanczos on its largest Ritz value.
                let top = SymmetricLanczos.extremes(gram, tolerance: tolerance, maxSteps: min(d, 400), needed: .largest).largest
                (sigmaMin, sigmaMax) = GramSpectrum.singularValues(lowest: 0, highest: top.value)
                (sigmaMaxResidual, sigmaMaxStatus) = (top.residual, ValueStatus(top))
                (sigmaMinResidual, sigmaMinStatus) = (0, .ok)
            } else {
                let extremes = SymmetricLanczos.extremes(
                    gram, tolerance: tolerance, floor: GramSpectrum.nullTolerance, maxSteps: min(d, 400))
                (sigmaMin, sigmaMax) = GramSpectrum.singularValues(lowest: extremes.smallest.value, highest: extremes.largest.value)
                (sigmaMaxResidual, sigmaMaxStatus) = (extremes.largest.residual, ValueStatus(extremes.largest))
                // λ_min to 1e-8 relative, or — for a (numerical) null space, where no relative accuracy is reachable — to
                // the null threshold itself, which is what "σ_min = 0" claims.
                (sigmaMinResidual, sigmaMinStatus) = (extremes.smallest.residual, ValueStatus(extremes.smallest))
            }
        }
        powerNorms = lambdas.map { _ in Array(repeating: .nan, count: ks) }
        powerNormStatus = lambdas.map { _ in Array(repeating: Self.notCertified, count: ks) }
    }
}
