import Foundation
import Numerics
import PhantomAnalysis
import PhantomGradients
import PhantomLinearAlgebra
import PhantomModel
import PhantomResults
import PhantomTestSupport
import Testing

/// The matrix-free spectra (``SpectraRoute/iterative``) against the dense ones (LAPACK on d×d matrices).
@Suite("Spectra: the iterative route agrees with the dense one and reports its pedigree")
struct SpectraRouteTests {
    enum Case: String, CaseIterable, Sendable, CustomStringConvertible {
        case tanh32, tanh256, resmlp64, mdeq72, gated48
        var description: String { rawValue }
        var model: ImplicitModel {
            switch self {
            case .tanh32: AnalysisFixtures.tanh(d: 32, n: 8, norm: 0.9, seed: 3)
            case .tanh256: AnalysisFixtures.tanh(d: 256, n: 16, norm: 0.95, seed: 4)
            case .resmlp64: AnalysisFixtures.resmlp(d: 64, n: 8, m: 96, seed: 5)
            case .mdeq72:
                RandomModels.mdeq(
                    MDEQCell.Geometry(channels: 2, inChannels: 1, height: 6, width: 6, expansion: 2, groups: 1), c: 3, seed: 6)
            case .gated48: TestGraphs.gatedModel(d: 48, n: 8, seed: 8)
            }
        }
    }

    func configuration(_ route: SpectraRoute) -> AnalysisConfiguration {
        try! AnalysisConfiguration(
            ks: [1, 2, 4], lambdas: [0.5, 1.0], estimators: [.npg, .upg], adjoint: try! AdjointSolver(method: .lu, tolerance: 1e-11),
            certificateSamples: 0, stackedLimit: 0, spectra: route)
    }

    /// |a − b| within 1e-8 relative (to the larger scale `scale`) or within the iterative method's bound.
    func close(_ iterative: Double, _ dense: Double, bound: Double, scale: Double) -> Bool {
        abs(iterative - dense) <= max(1e-8 * max(scale, 1e-300), bound)
    }

    @Test("ρ(J), ρ(B), ‖J‖₂, σ_max(M) and σ_min(M) agree to 1e-8 or within the reported residual", arguments: Case.allCases)
    func routesAgree(c: Case) throws {
        let model = c.model
        let dense = AnalysisFixtures.analyze(model, batch: 3, configuration: configuration(.dense))
        let iterative = AnalysisFixtures.analyze(model, batch: 3, configuration: configuration(.iterative))
        #expect(iterative.certifiedSamples == 0)
        for s in 0..<3 {
            let a = iterative.spectra[s], b = dense.spectra[s]
            #expect(a.route == .iterative && b.route == .dense)
            #expect(
                a.converged,
                "\(c) sample \(s): residuals ρ \(a.spectralRadiusResidual), ‖J‖ \(a.jacobianNormResidual), σ_min \(a.sigmaMinResidual), σ_max \(a.sigmaMaxResidual)"
            )
            #expect(
                close(a.spectralRadius, b.spectralRadius, bound: 0, scale: b.spectralRadius),
                "\(c): ρ(J) \(a.spectralRadius) vs \(b.spectralRadius)")
            for l in 0..<2 {
                #expect(close(a.dampedRadius[l], b.dampedRadius[l], bound: 0, scale: b.dampedRadius[l]), "\(c): ρ(B)")
            }
            // Symmetric problems: |θ − λ| ≤ residual for the Ritz value of λ_max(JᵀJ) = ‖J‖₂², and of G's extremes.
            #expect(
                close(
                    a.jacobianNorm * a.jacobianNorm, b.jacobianNorm * b.jacobianNorm, bound: a.jacobianNormResidual,
                    scale: b.jacobianNorm * b.jacobianNorm), "\(c): ‖J‖₂ \(a.jacobianNorm) vs \(b.jacobianNorm)")
            #expect(
                close(a.sigmaMax * a.sigmaMax, b.sigmaMax * b.sigmaMax, bound: a.sigmaMaxResidual, scale: b.sigmaMax * b.sigmaMax),
                "\(c): σ_max \(a.sigmaMax) vs \(b.sigmaMax)")
            #expect(
                close(a.sigmaMin * a.sigmaMin, b.sigmaMin * b.sigmaMin, bound: a.sigmaMinResidual, scale: b.sigmaMax * b.sigmaMax),
                "\(c): σ_min \(a.sigmaMin) vs \(b.sigmaMin)")
        }
        // Where the cell knows a structural null space of G (mdeq), σ_min = 0 is exact and needs no Krylov run; LAPACK
        // on the d×d Gram finds the same zero.
        let (x, y) = AnalysisFixtures.inputs(model, batch: 3)
        let problem = GradientProblem(model: model, inputs: x, targets: y, solver: AnalysisFixtures.solver)
        for s in 0..<3 where !problem.linearization.structuralGramNullSets(sample: s).isEmpty {
            #expect(iterative.spectra[s].sigmaMin == 0 && iterative.spectra[s].sigmaMinResidual == 0 && dense.spectra[s].sigmaMin == 0)
            #expect(iterative.spectra[s].sigmaMinConverged, "\(c) sample \(s)")
        }
        if c == .mdeq72 { #expect((0..<3).contains { !problem.linearization.structuralGramNullSets(sample: $0).isEmpty }) }
        // The measured metrics do not depend on the route: the NPG grid reads its Krylov Grams from the d×d Gram G_M
        // (dense) or from factored parameter VJPs (matrix-free).
        for (x, y) in zip(dense.metrics.cosine.values, iterative.metrics.cosine.values) { #expect(abs(x - y) <= 1e-10, "\(c): cosine") }
        for (x, y) in zip(dense.metrics.relativeError.values, iterative.metrics.relativeError.values) {
            #expect(abs(x - y) <= 1e-10 * max(abs(y), 1e-3), "\(c): relative error \(x) vs \(y)")
        }
    }

    @Test("a Krylov breakdown on a diverged model is a flagged NaN, not a crash")
    func breakdown() throws {
        var model = AnalysisFixtures.tanh(d: 12, n: 4, norm: 0.9, seed: 7)
        var tanh = model.cell as! TanhCell
        tanh.cellWeight[0, 0] = .nan
        model.cell = tanh
        let result = AnalysisFixtures.analyze(model, batch: 2, configuration: configuration(.iterative))
        for s in 0..<2 {
            #expect(!result.spectra[s].converged)
            #expect(!result.reliable[s])
        }
    }

    @Test("auto takes the dense route up to d = 512")
    func auto() {
        #expect(SpectraRoute.auto.resolved(stateDimension: 512) == .dense)
        #expect(SpectraRoute.auto.resolved(stateDimension: 513) == .iterative)
        #expect(SpectraRoute.dense.resolved(stateDimension: 4096) == .dense)
    }
}

@Suite("Results format version 2 and version 1 files")
struct ResultsVersionTests {
    @Test("a version 1 file (the committed golden files) is read: no pedigree arrays, each value counted as converged")
    func versionOne() throws {
        let data = try ResultsData.read(fixture("golden-tanh-d8-digits.h5"))
        #expect(data.samples[.spectraRoute] == nil && data.samples[.spectralRadiusConverged] == nil)
        // Flags a file lacks count as true: the rule reads forward_converged, adjoint_converged and stable only.
        let flags = [SampleArray.forwardConverged, .adjointConverged, .stable].compactMap { data.perSample($0, series: 0) }
        #expect(!flags.isEmpty)
        let expected = (0..<data.sampleCount).map { s in flags.allSatisfy { $0[s] == 1 } }
        #expect(data.reliable(series: 0) == expected)
    }

    @Test("a version 2 file records the route and every value's pedigree, and reads back")
    func versionTwo() throws {
        let model = AnalysisFixtures.tanh(d: 8, n: 4, norm: 0.9, seed: 3)
        for route in [SpectraRoute.dense, .iterative] {
            let configuration = try AnalysisConfiguration(
                ks: [1, 2], lambdas: [1.0], estimators: [.npg],
                adjoint: try AdjointSolver(method: .lu, tolerance: 1e-11), spectra: route)
            let result = AnalysisFixtures.analyze(model, batch: 3, configuration: configuration)
            let path = makeTemporaryFolder() + "/r.h5"
            try ResultsFile.write(
                [SeriesEntry(path: "m", sha256: "", epoch: 1, step: 1, result: result)], sampleIndices: [0, 1, 2],
                to: path, overwrite: false, attributes: [:])
            let data = try ResultsData.read(path)
            #expect(data.perSample(.spectraRoute, series: 0) == Array(repeating: route == .dense ? 0 : 1, count: 3))
            #expect(data.perSample(.spectralRadiusConverged, series: 0) == [1, 1, 1])
            let residuals = try #require(data.perSample(.sigmaMaxResidual, series: 0))
            #expect(route == .dense ? residuals == [0, 0, 0] : residuals.allSatisfy { $0 >= 0 && $0.isFinite })
        }
    }
}

@Suite("Matrix-free certificates agree with the dense ones")
struct MatrixFreeCertificateTests {
    enum Case: String, CaseIterable, Sendable, CustomStringConvertible {
        case tanh, tanhSaturated, resmlp, mdeq
        var description: String { rawValue }
        var model: ImplicitModel {
            switch self {
            case .tanh: AnalysisFixtures.tanh(d: 24, n: 6, norm: 0.9, seed: 8)
            // Strong injection saturates units: G = diag(D²(‖h‖² + ‖x‖² + 1)) has null coordinates (ρ*'s second Lanczos).
            case .tanhSaturated:
                RandomModels.tanh(d: 12, n: 4, c: 3, norm: 0.9, injectionScale: 6, biasScale: 0.2, headBias: [0.1, -0.1, 0], seed: 11)
            case .resmlp: AnalysisFixtures.resmlp(d: 16, n: 5, m: 20, seed: 9)
            case .mdeq:
                RandomModels.mdeq(
                    MDEQCell.Geometry(channels: 2, inChannels: 1, height: 3, width: 3, expansion: 2, groups: 1), c: 3, seed: 10)
            }
        }
    }

    @Test(
        "‖E‖₂, Theorem 1, ρ, ρ* and the ascent margin of NPG, RBP, JFB, damped JFB, UPG and SHINE, and ‖B^k‖₂: matrix-free = dense",
        arguments: Case.allCases)
    func agree(c: Case) throws {
        func configuration(_ route: SpectraRoute) -> AnalysisConfiguration {
            try! AnalysisConfiguration(
                ks: [1, 3, 5], lambdas: [0.5, 1.0], estimators: [.npg, .rbp, .jfb, .jfbDamped, .upg, .shine],
                adjoint: try! AdjointSolver(method: .lu, tolerance: 1e-11), certificateSamples: 3,
                stackedLimit: 0, spectra: route)
        }
        let dense = AnalysisFixtures.analyze(c.model, batch: 3, configuration: configuration(.dense))
        let free = AnalysisFixtures.analyze(c.model, batch: 3, configuration: configuration(.iterative))
        // Nothing short of tolerance or broken down, ρ* included (LOBPCG on the pencil where G is not diagonal).
        #expect(free.failures.entries.isEmpty, "\(free.failures.entries)")
        // SHINE's histories: the Broyden re-solve of every sample (auto's Anderson finished them) reached h*.
        #expect(free.backward.count(.resolveHistory, estimator: 5) + free.backward.count(.forwardHistory, estimator: 5) == 3)
        var compared = 0
        for e in 0..<6 {
            for l in 0..<2 {
                for k in 0..<3 {
                    for s in 0..<3 {
                        // The dense route forms UPG's EᵀE as A Aᵀ − S − Sᵀ + G, which cancels: its ‖E‖ is good to about
                        // √ε·σ_max only, so a tiny ‖E‖ is compared at that absolute scale.
                        let floor = 1e-7 * dense.spectra[s].sigmaMax
                        let a = free.certificates.errorNorm[e, l, k, s], b = dense.certificates.errorNorm[e, l, k, s]
                        #expect(abs(a - b) <= max(1e-6 * max(b, 1e-3), floor), "\(c) e\(e) l\(l) k\(k) s\(s): ‖E‖ \(a) vs \(b)")
                        let ma = free.certificates.ascentMargin[e, l, k, s], mb = dense.certificates.ascentMargin[e, l, k, s]
                        #expect(abs(ma - mb) <= 1e-6 * max(abs(mb), 1e-3), "\(c): margin \(ma) vs \(mb)")
                        // ρ*: (a ρ* below 1e-6 is below the dense route's accuracy for UPG, as above)
                        let ra = free.certificates.rhoStar[e, l, k, s], rb = dense.certificates.rhoStar[e, l, k, s]
                        #expect(
                            ra == rb || abs(ra - rb) <= 1e-6 * max(rb, 1e-3) || max(ra, rb) <= 1e-6,
                            "\(c) e\(e) l\(l) k\(k) s\(s): ρ* \(ra) vs \(rb)")
                        compared += 1
                    }
                }
            }
        }
        #expect(compared == 108)
        if c == .tanhSaturated { #expect(free.spectra.contains { $0.sigmaMin == 0 }) }
        // ‖B^k‖₂ per sample, λ and k on both routes.
        for s in 0..<3 {
            for l in 0..<2 {
                for k in 0..<3 {
                    let a = free.spectra[s].powerNorms[l][k], b = dense.spectra[s].powerNorms[l][k]
                    #expect(abs(a - b) <= 1e-6 * max(b, 1e-3), "\(c) s\(s) l\(l) k\(k): ‖B^k‖ \(a) vs \(b)")
                }
            }
        }
    }
}

@Suite("Dense route: dominant eigenvalues and ‖J‖₂ by Krylov where the FLOP model says it pays")
struct DenseKrylovSpectraTests {
    @Test("the FLOP model keeps LAPACK for small d and takes Krylov for large d")
    func choice() {
        #expect(AnalysisFlopModel.denseArnoldi(64) > AnalysisFlopModel.denseEigenvalues(64))
        #expect(AnalysisFlopModel.denseArnoldi(128) < AnalysisFlopModel.denseEigenvalues(128))
        #expect(AnalysisFlopModel.denseLanczosNorm(128) > AnalysisFlopModel.denseSingularValues(128))
        #expect(AnalysisFlopModel.denseLanczosNorm(256) < AnalysisFlopModel.denseSingularValues(256))
    }

    @Test("d = 256: ρ(J), ρ(B) and ‖J‖₂ equal LAPACK's full spectrum and SVD to 1e-11, with their Ritz residuals stored")
    func agreesWithLAPACK() throws {
        let model = AnalysisFixtures.tanh(d: 256, n: 6, norm: 0.9, seed: 8)
        let lambdas = [0.3, 0.7, 1.0]
        let configuration = try AnalysisConfiguration(
            ks: [1], lambdas: lambdas, estimators: [.jfb], adjoint: try AdjointSolver(method: .lu, tolerance: 1e-11),
            certificateSamples: 0, stackedLimit: 0, spectra: .dense)
        let r = AnalysisFixtures.analyze(model, batch: 3, configuration: configuration)
        let (x, y) = AnalysisFixtures.inputs(model, batch: 3)
        let problem = GradientProblem(model: model, inputs: x, targets: y, solver: AnalysisFixtures.solver)
        var krylov = 0
        for s in 0..<3 {
            let j = problem.linearization.jacobian(sample: s)
            let mu = try LAPACKSpectralSolver().eigenvalues(j)
            let rho = mu.map(\.modulus).max()!, spectra = r.spectra[s]
            #expect(abs(spectra.spectralRadius - rho) <= 1e-11 * rho, "sample \(s): \(spectra.spectralRadius) vs \(rho)")
            for (l, lambda) in lambdas.enumerated() {
                let damped = mu.map { Complex(1 - lambda * (1 - $0.real), lambda * $0.imaginary).modulus }.max()!
                #expect(abs(spectra.dampedRadius[l] - damped) <= 1e-11 * damped, "sample \(s), λ \(lambda)")
            }
            let norm = try LAPACKSpectralSolver().spectralNorm(j)
            #expect(abs(spectra.jacobianNorm - norm) <= 1e-11 * norm)
            #expect(spectra.spectralRadiusStatus.isOK && spectra.jacobianNormStatus.isOK)
            #expect(spectra.spectralRadiusResidual <= SampleSpectra.denseTolerance * rho)
            if spectra.spectralRadiusResidual > 0 { krylov += 1 }
        }
        #expect(krylov == 3, "Krylov values carry their (non-zero) Ritz residuals")
    }
}

@Suite("Matrix-free certification blocks")
struct CertificationBlockTests {
    @Test("the certified samples split in order into balanced blocks of at most 32, two or more from 2 on")
    func blocks() {
        for count in [0, 1, 2, 3, 15, 16, 17, 32, 64, 65, 100] {
            let blocks = MatrixFreeRoute.blocks(count)
            #expect(blocks.flatMap { $0 } == Array(0..<count), "\(count)")
            #expect(blocks.allSatisfy { $0.count <= MatrixFreeRoute.blockSize && !$0.isEmpty })
            #expect(blocks.count == (count >= 2 ? max(2, (count + 31) / 32) : count), "\(count)")
            let sizes = blocks.map(\.count)
            if let low = sizes.min(), let high = sizes.max() { #expect(high - low <= 1) }
        }
        #expect(MatrixFreeRoute.blocks(64).map(\.count) == [32, 32])
        #expect(MatrixFreeRoute.blocks(16).map(\.count) == [8, 8])
        #expect(MatrixFreeRoute.blocks(8).map(\.count) == [4, 4] && MatrixFreeRoute.blocks(1).map(\.count) == [1])
    }
}
