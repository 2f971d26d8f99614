import Foundation
import PhantomAnalysis
import PhantomGradients
import PhantomLinearAlgebra
import PhantomModel

/// The analysis of one checkpoint, stage by stage (forward solve → exact gradient → measurement → spectra →
/// certification → assembly), each stage's median time over `repeats` runs beside its modelled FLOPs
/// (``AnalysisFlopModel``), its achieved rate and that rate's fraction of the machine's dgemm rate measured in the same
/// run: single-threaded 512×512·512×512 products on every worker at once, as the analysis runs its BLAS calls. With
/// more than one family, the whole analysis is also timed with NPG alone (the ratio the speed target is stated in).
public struct AnalysisBenchmark: Sendable {
    public var checkpoint = ""
    public var data: String?
    public var samples = 256
    public var estimators = [UnrolledPhantomGradient.family, NeumannPhantomGradient.family]
    public var certifySamples = 0
    public var stackedLimit = 0
    public var repeats = 3

    public init() {}

    public init(
        _ checkpoint: String, _ data: String?, _ samples: Int, _ estimators: [EstimatorFamily], certifySamples: Int = 0,
        stackedLimit: Int = 0, repeats: Int
    ) {
        (self.checkpoint, self.data, self.samples, self.estimators) = (checkpoint, data, samples, estimators)
        (self.certifySamples, self.stackedLimit, self.repeats) = (certifySamples, stackedLimit, repeats)
    }

    public func validate() throws {
        guard !checkpoint.isEmpty else { throw ConfigurationError("give a checkpoint") }
        guard (1...1000).contains(repeats) else { throw ConfigurationError("repeats must lie in 1…1000, got \(repeats)") }
        _ = try configuration(estimators)
    }

    func configuration(_ families: [EstimatorFamily]) throws(ConfigurationError) -> AnalysisConfiguration {
        try AnalysisConfiguration(
            estimators: families, adjoint: try AdjointSolver(method: .auto, tolerance: AnalysisConfiguration.defaultAdjointTolerance),
            certificateSamples: certifySamples, stackedLimit: stackedLimit)
    }

    public struct Stage: Sendable {
        public let name: String
        public let seconds: Double
        public let flops: Double
    }

    public struct Report: Sendable {
        public let stateDimension: Int, parameters: Int, samples: Int
        public let stages: [Stage]
        public let total: Double
        /// The whole analysis with NPG alone (nil when NPG is the only family or not among them).
        public let npgAlone: Double?
        /// The machine's dgemm rate: every worker multiplying 512×512 matrices single-threaded at once.
        public let gemmGFLOPS: Double
    }

    public func run() throws -> Report {
        try validate()
        let analysis = try AnalysisRun(
            AnalysisRun.Inputs(checkpoints: [checkpoint], data: data, samples: samples), configuration: try configuration(estimators),
            solver: try FixedPointConfiguration())
        let model = analysis.members[0].checkpoint.model, x = analysis.samples.x, y = analysis.targets
        let timed = try BLASInfo.withThreads(1) { try Self.stages(model, x, y, try configuration(estimators), repeats: repeats) }
        var npg: Double?
        if estimators.count > 1, estimators.contains(NeumannPhantomGradient.family) {
            npg = try BLASInfo.withThreads(1) {
                try Self.stages(model, x, y, try configuration([NeumannPhantomGradient.family]), repeats: repeats).total
            }
        }
        return Report(
            stateDimension: model.stateDimension, parameters: model.cell.layout.count, samples: x.rows, stages: timed.stages,
            total: timed.total, npgAlone: npg, gemmGFLOPS: Self.machineGEMM(repeats: 15))
    }

    /// Each stage's median time and modelled FLOPs, and the median total.
    static func stages(_ model: ImplicitModel, _ x: Matrix, _ y: Targets, _ c: AnalysisConfiguration, repeats: Int) throws
        -> (stages: [Stage], total: Double)
    {
        let names = Analyzer.StageName.allCases
        var times: [Analyzer.StageName: [Double]] = [:]
        var result: AnalysisResult?
        for run in 0...max(repeats, 1) {  // run 0 warms up
            result = try Analyzer(c).analyze(
                model: model, inputs: x, targets: y, solver: try FixedPointConfiguration(),
                timing: { stage, s in if run > 0 { times[stage, default: []].append(s) } })
        }
        let r = result!, m = AnalysisFlopModel(model: model, configuration: c, batch: x.rows)
        let closedForm =
            model.cell.linearize(state: Matrix(zeros: 1, model.stateDimension), input: x.selectingRows([0]))
            .closedFormParameterGramDiagonal(sample: 0) != nil
        let flops: [Analyzer.StageName: Double] = [
            .forward: m.forward(iterations: r.forwardIterations),
            .exact: m.exact(denseAdjoint: r.adjointMethod == AdjointMethod.lu.rawValue, iterations: []),
            .measurement: c.estimators.map(m.measurement).reduce(0, +),
            .spectra: m.spectra(dense: r.spectra.first?.route == .dense, closedFormGram: closedForm)
        ]
        func median(_ v: [Double]) -> Double { v.sorted()[v.count / 2] }
        let stages = names.map { Stage(name: $0.rawValue, seconds: median(times[$0] ?? [0]), flops: flops[$0] ?? 0) }
        let totals = (0..<max(repeats, 1)).map { i in names.map { times[$0]?[i] ?? 0 }.reduce(0, +) }
        return (stages, median(totals))
    }

    /// GFLOP/s of every worker multiplying 512×512 matrices at once, single-threaded (median of `repeats`; this machine's
    /// figure moves by ±30 % between runs, so it is taken in the same run as the stages).
    static func machineGEMM(repeats: Int) -> Double {
        let n = 512, workers = Parallel.workerCount
        var rng = SplitMix64(seed: 1)
        let a = Matrix(rows: n, columns: n, elements: (0..<(n * n)).map { _ in rng.nextGaussian() })
        let seconds = BLASInfo.withThreads(1) {
            Stopwatch.median(repeats: repeats) { _ = Parallel.map(workers) { _ in BLAS.gemm(a, a).elements[0] } }
        }
        return Double(workers) * 2 * Double(n * n * n) / seconds / 1e9
    }
}

extension AnalysisBenchmark: Benchmark {
    public var headline: String {
        "phantom bench analysis: \(checkpoint), \(samples) samples, estimators \(estimators.map(\.id.rawValue).joined(separator: ",")), "
            + "certified \(certifySamples), stacked limit \(stackedLimit); \(Parallel.workerCount) workers, \(Stopwatch.blasLine)"
    }

    public func lines(_ r: Report) -> [String] {
        var lines = [
            "d = \(r.stateDimension), p = \(r.parameters), B = \(r.samples); machine dgemm rate "
                + String(format: "%.1f GFLOP/s (%d workers × single-threaded 512³)", r.gemmGFLOPS, Parallel.workerCount),
            pad("stage", 18) + pad("median s", 11) + pad("model GFLOP", 13) + pad("GFLOP/s", 10) + "of dgemm"
        ]
        for s in r.stages + [Stage(name: "total", seconds: r.total, flops: r.stages.map(\.flops).reduce(0, +))] {
            let rate = s.flops / max(s.seconds, 1e-12) / 1e9
            lines.append(
                pad(s.name, 18) + pad(String(format: "%.3f", s.seconds), 11) + pad(String(format: "%.2f", s.flops / 1e9), 13)
                    + pad(String(format: "%.1f", rate), 10) + String(format: "%.0f %%", 100 * rate / r.gemmGFLOPS))
        }
        if let npg = r.npgAlone {
            lines.append(String(format: "npg alone: %.3f s; this configuration / npg alone = %.2f", npg, r.total / npg))
        }
        return lines
    }
}
