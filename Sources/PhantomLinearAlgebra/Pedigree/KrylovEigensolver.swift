/// The Krylov eigenvalue methods of the matrix-free routes, as one value, so that a route can be run with another
/// implementation — in tests, one that breaks down on purpose, to check that the failure is counted with its cause.
/// ``StandardKrylovEigensolver`` (``BatchedLanczos``, ``BatchedLOBPCG``) is the one every analysis uses.
public protocol KrylovEigensolver: Sendable {
    /// ``BatchedLanczos/extremesWithVectors(rows:dimension:tolerance:floor:maxSteps:seed:start:needed:wantVectors:apply:)``.
    func lanczos(
        rows: Int, dimension: Int, tolerance: Double, maxSteps: Int, start: Matrix?, needed: BatchedLanczos.Needed,
        wantVectors: Bool, apply: (Matrix) -> Matrix
    ) -> (results: [SymmetricLanczos.Result], largest: Matrix, smallest: Matrix)
    /// ``BatchedLOBPCG/smallest(rows:dimension:tolerance:scale:maxSteps:seed:start:preconditioner:apply:)``.
    func lobpcgSmallest(
        rows: Int, dimension: Int, tolerance: Double, scale: [Double], maxSteps: Int, start: Matrix?,
        preconditioner: (Matrix) -> Matrix, apply: (Matrix) -> Matrix
    ) -> (results: [RitzValue], vectors: Matrix)
    /// The largest eigenpair of the pencil (A, G) with G's null directions dropped, as
    /// `BatchedLOBPCG.largestGeneralized` computes it.
    func lobpcgLargestGeneralized(
        rows: Int, dimension: Int, tolerance: Double, nullFloor: [Double], maxSteps: Int, start: Matrix?,
        project: (Matrix) -> Matrix, apply: (Matrix) -> Matrix, applyGram: (Matrix) -> Matrix
    ) -> (results: [RitzValue], vectors: Matrix)
}

/// Lanczos with full reorthogonalisation and preconditioned LOBPCG, as implemented in this module.
public struct StandardKrylovEigensolver: KrylovEigensolver {
    public init() {}

    public func lanczos(
        rows: Int, dimension: Int, tolerance: Double, maxSteps: Int, start: Matrix?, needed: BatchedLanczos.Needed,
        wantVectors: Bool, apply: (Matrix) -> Matrix
    ) -> (results: [SymmetricLanczos.Result], largest: Matrix, smallest: Matrix) {
        BatchedLanczos.extremesWithVectors(
            rows: rows, dimension: dimension, tolerance: tolerance, maxSteps: maxSteps, start: start,
            needed: needed, wantVectors: wantVectors, apply: apply)
    }

    public func lobpcgSmallest(
        rows: Int, dimension: Int, tolerance: Double, scale: [Double], maxSteps: Int, start: Matrix?,
        preconditioner: (Matrix) -> Matrix, apply: (Matrix) -> Matrix
    ) -> (results: [RitzValue], vectors: Matrix) {
        let run = BatchedLOBPCG.smallest(
            rows: rows, dimension: dimension, tolerance: tolerance, scale: scale, maxSteps: maxSteps,
            start: start, preconditioner: preconditioner, apply: apply)
        return (run.results, run.vectors)
    }

    public func lobpcgLargestGeneralized(
        rows: Int, dimension: Int, tolerance: Double, nullFloor: [Double], maxSteps: Int, start: Matrix?,
        project: (Matrix) -> Matrix, apply: (Matrix) -> Matrix, applyGram: (Matrix) -> Matrix
    ) -> (results: [RitzValue], vectors: Matrix) {
        let run = BatchedLOBPCG.largestGeneralized(
            rows: rows, dimension: dimension, tolerance: tolerance, nullFloor: nullFloor, maxSteps: maxSteps,
            start: start, project: project, preconditioner: project, apply: apply, applyGram: applyGram)
        return (run.results, run.vectors)
    }
}
