import CLinAlg
import Foundation

/// Thin wrappers over OpenBLAS's CBLAS for the vector and matrix kernels the toolkit needs.
///
/// Vectors are `[Double]` with unit stride; matrices are row-major ``Matrix`` values. Shape mismatches are
/// programming errors (`precondition`): every shape that comes from a file is validated before it reaches
/// a kernel.
public enum BLAS {
    /// ⟨x, y⟩. The corresponding C function is `cblas_ddot`.
    public static func dot(_ x: [Double], _ y: [Double]) -> Double {
        precondition(x.count == y.count, "dot: \(x.count) vs \(y.count)")
        return x.withUnsafeBufferPointer { xp in
            y.withUnsafeBufferPointer { yp in
                cblas_ddot(Int32(x.count), xp.baseAddress, 1, yp.baseAddress, 1)
            }
        }
    }

    /// ‖x‖₂, computed without overflow. The corresponding C function is `cblas_dnrm2`.
    public static func nrm2(_ x: [Double]) -> Double {
        x.withUnsafeBufferPointer { cblas_dnrm2(Int32(x.count), $0.baseAddress, 1) }
    }

    /// y ← a·x + y. The corresponding C function is `cblas_daxpy`.
    public static func axpy(_ a: Double, _ x: [Double], _ y: inout [Double]) {
        precondition(x.count == y.count, "axpy: \(x.count) vs \(y.count)")
        x.withUnsafeBufferPointer { xp in
            y.withUnsafeMutableBufferPointer { yp in
                cblas_daxpy(Int32(xp.count), a, xp.baseAddress, 1, yp.baseAddress, 1)
            }
        }
    }

    /// x ← a·x. The corresponding C function is `cblas_dscal`.
    public static func scal(_ a: Double, _ x: inout [Double]) {
        let n = Int32(x.count)
        x.withUnsafeMutableBufferPointer { cblas_dscal(n, a, $0.baseAddress, 1) }
    }

    /// y ← α·op(A)·x + β·y with op(A) = A or Aᵀ. The corresponding C function is `cblas_dgemv`.
    public static func gemv(
        _ a: Matrix, transpose: Bool = false, _ x: [Double],
        alpha: Double = 1, beta: Double = 0, into y: inout [Double]
    ) {
        let (outCount, inCount) = transpose ? (a.columns, a.rows) : (a.rows, a.columns)
        precondition(
            x.count == inCount && y.count == outCount,
            "gemv: A is \(a.rows)×\(a.columns)\(transpose ? "ᵀ" : ""), x \(x.count), y \(y.count)")
        if outCount == 0 { return }
        if inCount == 0 { scal(beta, &y); return }
        a.elements.withUnsafeBufferPointer { ap in
            x.withUnsafeBufferPointer { xp in
                y.withUnsafeMutableBufferPointer { yp in
                    cblas_dgemv(
                        CblasRowMajor, transpose ? CblasTrans : CblasNoTrans,
                        Int32(a.rows), Int32(a.columns), alpha, ap.baseAddress, Int32(max(a.columns, 1)),
                        xp.baseAddress, 1, beta, yp.baseAddress, 1)
                }
            }
        }
    }

    /// op(A)·x as a new vector.
    public static func gemv(_ a: Matrix, transpose: Bool = false, _ x: [Double]) -> [Double] {
        var y = [Double](repeating: 0, count: transpose ? a.columns : a.rows)
        gemv(a, transpose: transpose, x, into: &y)
        return y
    }

    /// C ← α·op(A)·op(B) + β·C. The corresponding C function is `cblas_dgemm`.
    public static func gemm(
        _ a: Matrix, transposeA: Bool = false, _ b: Matrix, transposeB: Bool = false,
        alpha: Double = 1, beta: Double = 0, into c: inout Matrix
    ) {
        let (m, ka) = transposeA ? (a.columns, a.rows) : (a.rows, a.columns)
        let (kb, n) = transposeB ? (b.columns, b.rows) : (b.rows, b.columns)
        precondition(
            ka == kb && c.rows == m && c.columns == n,
            "gemm: op(A) \(m)×\(ka), op(B) \(kb)×\(n), C \(c.rows)×\(c.columns)")
        if m == 0 || n == 0 { return }
        if ka == 0 { scal(beta, &c.elements); return }
        a.elements.withUnsafeBufferPointer { ap in
            b.elements.withUnsafeBufferPointer { bp in
                c.elements.withUnsafeMutableBufferPointer { cp in
                    cblas_dgemm(
                        CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans,
                        transposeB ? CblasTrans : CblasNoTrans,
                        Int32(m), Int32(n), Int32(ka), alpha,
                        ap.baseAddress, Int32(max(a.columns, 1)),
                        bp.baseAddress, Int32(max(b.columns, 1)),
                        beta, cp.baseAddress, Int32(max(n, 1)))
                }
            }
        }
    }

    /// C ← α·op(A)·op(B) + β·C on row-major blocks inside larger buffers: A is m×k (or k×m when transposed)
    /// with leading dimension lda, and so on. Used for per-sample blocks of a batch (e.g. a convolution's
    /// patches) without copying them out. The corresponding C function is `cblas_dgemm`.
    public static func gemm(
        m: Int, n: Int, k: Int, alpha: Double = 1,
        _ a: UnsafePointer<Double>, lda: Int, transposeA: Bool = false,
        _ b: UnsafePointer<Double>, ldb: Int, transposeB: Bool = false,
        beta: Double, _ c: UnsafeMutablePointer<Double>, ldc: Int
    ) {
        if m == 0 || n == 0 { return }
        cblas_dgemm(
            CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
            Int32(m), Int32(n), Int32(k), alpha, a, Int32(max(lda, 1)), b, Int32(max(ldb, 1)),
            beta, c, Int32(max(ldc, 1)))
    }

    /// op(A)·op(B) as a new matrix.
    public static func gemm(_ a: Matrix, transposeA: Bool = false, _ b: Matrix, transposeB: Bool = false) -> Matrix {
        var c = Matrix(zeros: transposeA ? a.columns : a.rows, transposeB ? b.rows : b.columns)
        gemm(a, transposeA: transposeA, b, transposeB: transposeB, into: &c)
        return c
    }
}

/// What OpenBLAS runs on: the kernel family it picked for this CPU and its thread count. Benchmarks print
/// both next to their figures (Debian's OpenBLAS 0.3.21 falls back to "Prescott" kernels on newer CPUs).
public enum BLASInfo {
    /// `openblas_get_corename()`, e.g. "Haswell", "SkylakeX" or "Prescott".
    public static var coreName: String {
        guard let p = phantom_openblas_corename() else { return "unknown" }
        return String(cString: p)
    }

    /// `openblas_get_num_threads()`.
    public static var threadCount: Int { Int(phantom_openblas_threads()) }

    /// Runs `body` with OpenBLAS limited to `threads` threads, then restores the count it found.
    ///
    /// Used around loops that already run one worker per core: OpenBLAS's own threads would then spin
    /// against the workers (measured: 50 samples' certificates took 5.8 s with 4.7 s of system time, and
    /// 0.66 s single-threaded), and around the analysis, whose results must not depend on BLAS's threads.
    /// The count is process-wide, so concurrent callers share it: while several requests are active the
    /// smallest one holds (a caller asking for one thread always gets one, whatever runs beside it), and the
    /// count found before the first request comes back when the last one ends. Nested calls on one thread
    /// behave as before: the inner request holds while it is the smallest. The corresponding C function is
    /// `openblas_set_num_threads`.
    public static func withThreads<T>(_ threads: Int, _ body: () throws -> T) rethrows -> T {
        ThreadRequests.shared.begin(threads)
        defer { ThreadRequests.shared.end(threads) }
        return try body()
    }
}

/// The active ``BLASInfo/withThreads(_:_:)`` requests, under a lock.
private final class ThreadRequests: @unchecked Sendable {
    static let shared = ThreadRequests()
    private let lock = NSLock()
    private var active: [Int: Int] = [:]
    private var found = 1

    func begin(_ threads: Int) {
        lock.lock()
        defer { lock.unlock() }
        if active.isEmpty { found = BLASInfo.threadCount }
        active[threads, default: 0] += 1
        phantom_openblas_set_threads(Int32(active.keys.min()!))
    }

    func end(_ threads: Int) {
        lock.lock()
        defer { lock.unlock() }
        active[threads, default: 1] -= 1
        if active[threads] == 0 { active[threads] = nil }
        phantom_openblas_set_threads(Int32(active.keys.min() ?? found))
    }
}

extension BLAS {
    /// A Aᵀ (symmetric, both triangles filled). The corresponding C function is `cblas_dsyrk`; half the
    /// flops of `gemm(A, Aᵀ)`.
    public static func syrk(_ a: Matrix) -> Matrix {
        let n = a.rows
        var c = Matrix(zeros: n, n)
        if n == 0 || a.columns == 0 { return c }
        a.elements.withUnsafeBufferPointer { ap in
            c.elements.withUnsafeMutableBufferPointer { cp in
                cblas_dsyrk(
                    CblasRowMajor, CblasLower, CblasNoTrans, Int32(n), Int32(a.columns), 1,
                    ap.baseAddress, Int32(a.columns), 0, cp.baseAddress, Int32(n))
            }
        }
        for i in 0..<n { for j in (i + 1)..<n { c[i, j] = c[j, i] } }
        return c
    }
}
