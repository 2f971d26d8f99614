import Foundation
import PhantomGradients
import PhantomLinearAlgebra

/// Values on the grid estimator × λ × k × sample, row-major (the layout of the results file).
public struct CellGrid: Sendable, Equatable {
    public let estimators: Int
    public let lambdas: Int
    public let ks: Int
    public let samples: Int
    public var values: [Double]

    public init(estimators: Int, lambdas: Int, ks: Int, samples: Int, fill: Double = .nan) {
        self.estimators = estimators
        self.lambdas = lambdas
        self.ks = ks
        self.samples = samples
        values = [Double](repeating: fill, count: estimators * lambdas * ks * samples)
    }

    public var shape: [Int] { [estimators, lambdas, ks, samples] }

    public subscript(e: Int, l: Int, k: Int, s: Int) -> Double {
        get { values[((e * lambdas + l) * ks + k) * samples + s] }
        set { values[((e * lambdas + l) * ks + k) * samples + s] = newValue }
    }

    /// The values of one cell across samples.
    public func samplesOf(e: Int, l: Int, k: Int) -> [Double] {
        let start = ((e * lambdas + l) * ks + k) * samples
        return Array(values[start..<(start + samples)])
    }
}

/// Everything one analysis of one checkpoint produced, with every solve's pedigree.
public struct AnalysisResult: Sendable {
    public let ks: [Int]
    public let lambdas: [Double]
    public let estimators: [EstimatorKind]
    public let sampleCount: Int
    /// The first `certifiedSamples` samples have certificates and ‖B^k‖₂ (NaN for the others).
    public let certifiedSamples: Int

    // Pedigree, per sample.
    public var forwardResidual: [Double]
    public var forwardIterations: [Int]
    public var forwardConverged: [Bool]
    public var adjointResidual: [Double]
    public var adjointConverged: [Bool]
    public var adjointMethod: String
    public var loss: [Double]

    // Spectra, per sample.
    public var sigmaMin: [Double]
    public var sigmaMax: [Double]
    public var jacobianNorm: [Double]
    public var spectralRadius: [Double]
    /// ρ(B), [λ][sample].
    public var dampedRadius: [[Double]]
    /// ‖B^k‖₂, [λ][k][sample].
    public var powerNorm: [[[Double]]]

    // Measured against the exact gradient, estimator × λ × k × sample.
    public var cosine: CellGrid
    public var relativeError: CellGrid
    public var normRatio: CellGrid
    public var inner: CellGrid
    // Certificates, estimator × λ × k × sample.
    public var errorNorm: CellGrid
    public var theorem1: CellGrid
    public var weakCondition: CellGrid
    public var rho: CellGrid
    public var cosineBound: CellGrid
    public var rhoStar: CellGrid
    public var ascentMargin: CellGrid
    // The batch-mean gradient, estimator × λ × k (sample axis of length 1).
    public var batchCosine: CellGrid
    public var batchRelativeError: CellGrid
    public var batchNormRatio: CellGrid
    /// The batch as one stacked system (nil when B·d is above the limit or p < B·d): σ(M_stack) and the
    /// certificates, estimator × λ × k (sample axis of length 1; NaN for UPG).
    public var stacked: StackedCertificates?
    /// ‖∂L/∂head‖ of the batch-mean loss, which no estimator changes.
    public var headGradientNorm: Double
    /// ‖∇_θ L‖ of the batch-mean exact gradient over the implicit layer.
    public var exactGradientNorm: Double

    /// A sample is used for the bound checks only when its forward and adjoint solves converged.
    public var reliable: [Bool] { zip(forwardConverged, adjointConverged).map { $0 && $1 } }

    /// The median measured cosine of a cell over the reliable samples.
    public func medianCosine(_ estimator: EstimatorKind, lambda l: Int, k: Int) -> Double {
        guard let e = estimators.firstIndex(of: estimator) else { return .nan }
        let values = zip(cosine.samplesOf(e: e, l: l, k: k), reliable).filter { $1 && $0.isFinite }.map(\.0).sorted()
        guard !values.isEmpty else { return .nan }
        return values.count % 2 == 1 ? values[values.count / 2] : 0.5 * (values[values.count / 2 - 1] + values[values.count / 2])
    }
}

/// Theorem 1 and its certificates for the stacked batch system.
public struct StackedCertificates: Sendable {
    public var sigmaMin: Double
    public var sigmaMax: Double
    public var errorNorm: CellGrid
    public var theorem1: CellGrid
    public var weakCondition: CellGrid
    public var rho: CellGrid
    public var rhoStar: CellGrid
    public var ascentMargin: CellGrid
}
