import PhantomLinearAlgebra
import PhantomModel

/// A way of computing certificates from a ``ResidualOperator`` for a set of samples: dense d×d algebra for one sample
/// (``DenseRoute``), Krylov methods on batched products for a block of samples (``MatrixFreeRoute``), or the batch as
/// one stacked system (``StackedRoute``). Routes know the residual forms, never the families: a family is certified on
/// every route by declaring its residual (``GridEstimator/residual(k:lambda:)``).
///
/// Which route certifies what is one rule, ``CertificationPlan``.
public protocol CertificationRoute: AnyObject {
    /// The samples the route certifies together (one certificate each per residual).
    var sampleCount: Int { get }
    /// The analysed batch (the families' residuals may depend on it: ``GridEstimator/residual(k:lambda:problem:settings:)``).
    var problem: GradientProblem { get }
    /// The certificates of one residual, one per sample, each value with its pedigree. `warmStart` carries an iterative
    /// route's extreme vectors from the previous cell of the same chain (``ResidualOperator/chain``) to the next.
    func certificates(of residual: ResidualOperator, warmStart: inout WarmStart?) -> [Certificate]
}

/// Extreme vectors an iterative route hands from one cell of a chain to the next (opaque to the driver).
public struct WarmStart {
    public var error: Matrix
    public var margin: Matrix
    public var rhoStar: Matrix?
}

extension CertificationRoute {
    /// One family's certificates on the (λ, k) grid, per sample of the route: [sample][λ index][k index]. Each distinct
    /// residual is certified once (RBP's is the same for every λ, JFB's in every cell); cells along a chain warm-start
    /// from the previous one.
    public func tables(
        _ family: EstimatorFamily, ks: [Int], lambdas: [Double], settings: EstimatorSettings = .standard
    ) -> [[[Certificate]]] {
        var done: [ResidualOperator: [Certificate]] = [:]
        var warm: [ResidualOperator.Chain: WarmStart] = [:]
        let none = Array(
            repeating: Certificate.notComputed("\(family.id) gives no residual operator (none declared, or not for this batch)"),
            count: sampleCount)
        var out = [[[Certificate]]](repeating: Array(repeating: [], count: lambdas.count), count: sampleCount)
        for (l, lambda) in lambdas.enumerated() {
            for k in ks {
                let cell: [Certificate]
                if let residual = family.type.residual(k: k, lambda: lambda, problem: problem, settings: settings) {
                    if let known = done[residual] {
                        cell = known
                    } else {
                        var start = warm[residual.chain]
                        cell = certificates(of: residual, warmStart: &start)
                        warm[residual.chain] = start
                        done[residual] = cell
                    }
                } else {
                    cell = none
                }
                for i in 0..<sampleCount { out[i][l].append(cell[i]) }
            }
        }
        return out
    }
}
