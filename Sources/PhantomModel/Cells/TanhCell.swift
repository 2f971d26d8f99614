import Foundation
import PhantomLinearAlgebra

/// The tanh cell.
///
///     f(h, x) = tanh(W h + U x + b)
///
/// with W = `cell.weight` [d, d], U = `injection.weight` [d, n_in], b = `injection.bias` [d].
///
/// Mathematical Properties: with z = W h + U x + b and D = diag(1 − f²),
///
///     J = D W,    M δθ = D (δW h + δU x + δb),
///     M Mᵀ = D² (‖h‖² + ‖x‖² + 1)    (THEORY.md §3, closed form of the Gram of M)
///
/// Complexity: forward two GEMMs (B×d×d and B×n_in×d); each JVP/VJP one or two GEMMs.
public struct TanhCell: ImplicitCell {
    public var kind: CellKind { .tanh }
    public let stateDimension: Int
    public let inputDimension: Int
    /// U = injection.weight, d×n_in.
    public var injectionWeight: Matrix
    /// b = injection.bias, d.
    public var injectionBias: [Double]
    /// W = cell.weight, d×d.
    public var cellWeight: Matrix

    public init(injectionWeight: Matrix, injectionBias: [Double], cellWeight: Matrix) {
        precondition(cellWeight.rows == cellWeight.columns && injectionWeight.rows == cellWeight.rows
                     && injectionBias.count == cellWeight.rows, "TanhCell: inconsistent tensor shapes")
        self.stateDimension = cellWeight.rows
        self.inputDimension = injectionWeight.columns
        self.injectionWeight = injectionWeight
        self.injectionBias = injectionBias
        self.cellWeight = cellWeight
    }

    /// Zero parameters of the given dimensions.
    public init(stateDimension d: Int, inputDimension n: Int) {
        self.init(injectionWeight: Matrix(zeros: d, n), injectionBias: [Double](repeating: 0, count: d),
                  cellWeight: Matrix(zeros: d, d))
    }

    public static func layout(stateDimension d: Int, inputDimension n: Int) -> ParameterLayout {
        ParameterLayout([("injection.weight", [d, n]), ("injection.bias", [d]), ("cell.weight", [d, d])])
    }

    public var layout: ParameterLayout { Self.layout(stateDimension: stateDimension, inputDimension: inputDimension) }
    public var extraDimensions: [String: Int] { [:] }

    public var parameters: [Double] {
        get { injectionWeight.elements + injectionBias + cellWeight.elements }
        set {
            let parts = layout.split(newValue)
            injectionWeight.elements = Array(parts[0].values)
            injectionBias = Array(parts[1].values)
            cellWeight.elements = Array(parts[2].values)
        }
    }

    /// z = H Wᵀ + X Uᵀ + 1 bᵀ.
    func preActivation(_ h: Matrix, _ x: Matrix) -> Matrix {
        var z = Matrix(zeros: h.rows, stateDimension)
        BLAS.gemm(x, injectionWeight, transposeB: true, into: &z)
        BLAS.gemm(h, cellWeight, transposeB: true, beta: 1, into: &z)
        z.addToEachRow(injectionBias)
        return z
    }

    public func forward(state h: Matrix, input x: Matrix) -> Matrix {
        preActivation(h, x).map(Foundation.tanh)
    }

    public func linearize(state h: Matrix, input x: Matrix) -> any CellLinearization {
        let f = forward(state: h, input: x)
        return TanhLinearization(cell: self, h: h, x: x, value: f, slope: f.map { 1 - $0 * $0 })
    }
}

/// Derivatives of ``TanhCell`` at (H, X); `slope` holds D = 1 − f² row by row.
struct TanhLinearization: CellLinearization {
    let cell: TanhCell
    let h: Matrix
    let x: Matrix
    let value: Matrix
    let slope: Matrix

    func stateJVP(_ v: Matrix) -> Matrix {
        BLAS.gemm(v, cell.cellWeight, transposeB: true).hadamard(slope)  // D (W v)
    }

    func stateVJP(_ u: Matrix) -> Matrix {
        BLAS.gemm(u.hadamard(slope), cell.cellWeight)  // Wᵀ (D u)
    }

    func parameterVJP(_ u: Matrix) -> [Double] {
        let g = u.hadamard(slope)
        let dU = BLAS.gemm(g, transposeA: true, x)
        let dW = BLAS.gemm(g, transposeA: true, h)
        return dU.elements + g.columnSums + dW.elements
    }

    /// Row i: (g_i ⊗ x_i, g_i, g_i ⊗ h_i) with g_i = D_i u_i — outer products, no GEMM needed.
    func parameterVJPRows(_ u: Matrix) -> Matrix {
        let d = cell.stateDimension, n = cell.inputDimension
        let p = d * n + d + d * d
        var out = Matrix(zeros: u.rows, p)
        let g = u.hadamard(slope)
        out.elements.withUnsafeMutableBufferPointer { o in
            for i in 0..<u.rows {
                let base = i * p
                for r in 0..<d {
                    let gr = g[i, r]
                    for j in 0..<n { o[base + r * n + j] = gr * x[i, j] }
                    o[base + d * n + r] = gr
                    for j in 0..<d { o[base + d * n + d + r * d + j] = gr * h[i, j] }
                }
            }
        }
        return out
    }

    /// One GEMM for all K cotangent batches: [G_1ᵀ; …; G_Kᵀ] [X H] with G_k = D ⊙ U_k.
    func parameterVJPs(_ us: [Matrix]) -> [[Double]] {
        let b = h.rows, d = cell.stateDimension, n = cell.inputDimension
        guard us.count > 1 else { return us.map(parameterVJP) }
        // G = [G_1 … G_K] (B × K·d), so that Gᵀ [X H] stacks every G_kᵀ X and G_kᵀ H.
        var g = Matrix(zeros: b, us.count * d)
        g.elements.withUnsafeMutableBufferPointer { dst in
            for (k, u) in us.enumerated() {
                u.elements.withUnsafeBufferPointer { src in
                    slope.elements.withUnsafeBufferPointer { s in
                        for i in 0..<b {
                            let to = i * us.count * d + k * d, from = i * d
                            for r in 0..<d { dst[to + r] = src[from + r] * s[from + r] }
                        }
                    }
                }
            }
        }
        var xh = Matrix(zeros: b, n + d)
        for i in 0..<b {
            for j in 0..<n { xh[i, j] = x[i, j] }
            for j in 0..<d { xh[i, n + j] = h[i, j] }
        }
        let product = BLAS.gemm(g, transposeA: true, xh)  // (K·d) × (n + d)
        let sums = g.columnSums
        return (0..<us.count).map { k in
            var dU = [Double](), dW = [Double]()
            dU.reserveCapacity(d * n)
            dW.reserveCapacity(d * d)
            for r in 0..<d {
                let row = (k * d + r) * (n + d)
                dU.append(contentsOf: product.elements[row..<(row + n)])
                dW.append(contentsOf: product.elements[(row + n)..<(row + n + d)])
            }
            return dU + Array(sums[(k * d)..<((k + 1) * d)]) + dW
        }
    }

    func parameterJVP(_ dtheta: [Double]) -> Matrix {
        let parts = cell.layout.split(dtheta)
        let d = cell.stateDimension
        let dU = Matrix(rows: d, columns: cell.inputDimension, elements: Array(parts[0].values))
        let dW = Matrix(rows: d, columns: d, elements: Array(parts[2].values))
        var t = Matrix(zeros: h.rows, d)
        BLAS.gemm(x, dU, transposeB: true, into: &t)
        BLAS.gemm(h, dW, transposeB: true, beta: 1, into: &t)
        t.addToEachRow(Array(parts[1].values))
        return t.hadamard(slope)
    }

    func jacobian(sample i: Int) -> Matrix {
        Matrix.diagonal(slope.row(i)) * cell.cellWeight  // J_i = D_i W
    }

    /// M_i M_iᵀ = D_i² (‖h_i‖² + ‖x_i‖² + 1): row r of M_i is D_rr (h_iᵀ, x_iᵀ, 1) on the r-th rows of
    /// W, U and b, and distinct rows touch disjoint parameters (THEORY.md §3).
    func closedFormParameterGramDiagonal(sample i: Int) -> [Double]? {
        let hi = h.row(i), xi = x.row(i)
        let scale = BLAS.dot(hi, hi) + BLAS.dot(xi, xi) + 1
        return slope.row(i).map { $0 * $0 * scale }
    }

    func rowSeparableFactors(sample i: Int) -> (scale: [Double], features: [Double])? {
        (slope.row(i), x.row(i) + [1] + h.row(i))
    }

    func restricted(toSample i: Int) -> any CellLinearization {
        TanhLinearization(cell: cell, h: h.selectingRows([i]), x: x.selectingRows([i]),
                          value: value.selectingRows([i]), slope: slope.selectingRows([i]))
    }
}
