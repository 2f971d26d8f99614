import PhantomLinearAlgebra

/// The per-sample update rules of ``FixedPointSolver``: given a sample's iterate x and g = f(x) − x, propose
/// its next iterate.
struct Accelerator {
    let configuration: FixedPointConfiguration
    let batch: Int
    let dimension: Int
    /// Anderson: per sample, the last m + 1 iterates and residuals.
    private var historyX: [[[Double]]]
    private var historyG: [[[Double]]]
    /// Broyden: per sample, the previous iterate and residual and the estimate H = −I + Σ u wᵀ ≈ (∂g/∂h)⁻¹.
    private var previousX: [[Double]?]
    private var previousG: [[Double]?]
    private(set) var inverses: [BroydenInverse]

    init(configuration: FixedPointConfiguration, batch: Int, dimension: Int) {
        self.configuration = configuration
        self.batch = batch
        self.dimension = dimension
        historyX = Array(repeating: [], count: batch)
        historyG = Array(repeating: [], count: batch)
        previousX = Array(repeating: nil, count: batch)
        previousG = Array(repeating: nil, count: batch)
        inverses = Array(repeating: BroydenInverse(dimension: dimension), count: batch)
    }

    /// The next iterate of sample i from x and g = f(x) − x under `stage`'s update rule.
    mutating func propose(_ i: Int, stage: FixedPointStage, x: [Double], g: [Double]) -> [Double] {
        switch stage {
        case .fixedPoint:
            // h ← (1 − α) h + α f(h) = h + α g; `.auto`'s fallback damps with α = ½.
            let alpha = configuration.method == .auto ? 0.5 : configuration.damping
            return zip(x, g).map { $0 + alpha * $1 }
        case .anderson: return anderson(i, x, g)
        case .broyden, .newton: return broyden(i, x, g)
        }
    }

    /// Forgets sample i's history (a restart, or a new stage).
    mutating func reset(_ i: Int) {
        historyX[i] = []
        historyG[i] = []
        previousX[i] = nil
        previousG[i] = nil
        inverses[i].reset()
    }

    /// Anderson type II: γ = argmin ‖g_k − ΔG γ‖² + λ‖γ‖², x⁺ = x_k + β g_k − (ΔX + β ΔG) γ.
    private mutating func anderson(_ i: Int, _ x: [Double], _ g: [Double]) -> [Double] {
        let beta = configuration.andersonMixing
        historyX[i].append(x)
        historyG[i].append(g)
        if historyX[i].count > configuration.andersonMemory + 1 {
            historyX[i].removeFirst()
            historyG[i].removeFirst()
        }
        var next = x
        BLAS.axpy(beta, g, &next)
        let k = historyX[i].count - 1
        guard k >= 1 else { return next }
        var dX: [[Double]] = [], dG: [[Double]] = []
        for j in 0..<k {
            dX.append(zip(historyX[i][j + 1], historyX[i][j]).map { $0 - $1 })
            dG.append(zip(historyG[i][j + 1], historyG[i][j]).map { $0 - $1 })
        }
        var gram = Matrix(zeros: k, k)
        var rhs = [Double](repeating: 0, count: k)
        for a in 0..<k {
            rhs[a] = BLAS.dot(dG[a], g)
            for b in a..<k {
                let v = BLAS.dot(dG[a], dG[b])
                gram[a, b] = v
                gram[b, a] = v
            }
        }
        let scale = max((0..<k).map { gram[$0, $0] }.max() ?? 0, 1e-300)
        for a in 0..<k { gram[a, a] += configuration.andersonRegularization * scale + 1e-300 }
        guard let lu = try? LUFactorization(gram) else { return next }
        let gamma = lu.solve(rhs)
        guard gamma.allSatisfy(\.isFinite) else { return next }
        for j in 0..<k {
            BLAS.axpy(-gamma[j], dX[j], &next)
            BLAS.axpy(-gamma[j] * beta, dG[j], &next)
        }
        return next
    }

    /// Broyden's "good" update of H ≈ (∂g/∂h)⁻¹ from H₀ = −I (``BroydenInverse``), then the quasi-Newton step
    /// x⁺ = x − H g. When the memory is full, H restarts from −I (``BroydenInverse/update(dx:dg:memory:)``).
    private mutating func broyden(_ i: Int, _ x: [Double], _ g: [Double]) -> [Double] {
        if let px = previousX[i], let pg = previousG[i] {
            let dx = zip(x, px).map { $0 - $1 }
            let dg = zip(g, pg).map { $0 - $1 }
            inverses[i].update(dx: dx, dg: dg, memory: configuration.broydenMemory)
        }
        previousX[i] = x
        previousG[i] = g
        let step = inverses[i].apply(g)
        return zip(x, step).map { $0 - $1 }
    }
}
