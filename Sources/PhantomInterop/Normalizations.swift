import PhantomLinearAlgebra
import PhantomSafetensors

/// Folding PyTorch's and TorchDEQ's weight parametrisations back into plain weights, exactly as their forward
/// passes compute them (any normalised axis, any rank), or refusing what a state dict cannot tell.
///
/// Names first (``canonicalNames(_:)``): the `torch.nn.utils.parametrizations` API stores weight norm as
/// `X.parametrizations.weight.original0` (g) and `original1` (v), and spectral norm as
/// `X.parametrizations.weight.original` with `X.parametrizations.weight.0._u` and `._v`; they become the old hook
/// names `X.weight_g`, `X.weight_v`, `X.weight_orig`, `X.weight_u`, `X.weight_v`.
///
/// Then, for each X (``fold(_:options:_:)``):
/// - spectral norm — `weight_orig` W with `weight_u` u and `weight_v` v (PyTorch's hook and parametrisation,
///   TorchDEQ's `SpectralNorm`): σ = uᵀ W_mat v with W_mat the weight with the normalised axis first and the
///   others flattened, W = W_orig · s/σ where s is TorchDEQ's learned scale `weight_g` (broadcast along the
///   normalised axis) or the target norm (1 unless `phantom.norm_target` says otherwise). The axis is the one
///   whose length is u's and whose complement is v's; where two fit (a square matrix), the one along which u is
///   parallel to W_mat v (the power iteration's own relation) is taken;
/// - weight norm — `weight_g` g and `weight_v` v (PyTorch's hook and parametrisation, TorchDEQ's `WeightNorm`):
///   W = g · v/‖v‖ with the norm over every axis but the one where g is not 1 (g a scalar: the whole tensor);
///   TorchDEQ without a learned scale stores `weight_v` alone: W = t · v/‖v‖ over every axis but the first, t
///   the target norm;
/// - TorchDEQ's `clip` (a cap on the scale) is not visible in a state dict: metadata `phantom.norm_clip` = true
///   makes the import an error that says to call `remove_norm()` before saving.
enum Normalizations {
    struct Options {
        var targetNorm = 1.0
        var clip = false
    }

    /// The parametrisations API's names as the hook names.
    static func canonicalNames(_ name: String) -> String {
        let table = [
            (".parametrizations.weight.original0", ".weight_g"), (".parametrizations.weight.original1", ".weight_v"),
            (".parametrizations.weight.original", ".weight_orig"), (".parametrizations.weight.0._u", ".weight_u"),
            (".parametrizations.weight.0._v", ".weight_v")
        ]
        for (from, to) in table where name.hasSuffix(from) { return String(name.dropLast(from.count)) + to }
        return name
    }

    static func fold(_ tensors: inout [String: SafetensorsTensor], options: Options, _ fail: (String) -> SafetensorsError) throws {
        let bases = Set(
            tensors.keys.compactMap { name in
                [".weight_orig", ".weight_g", ".weight_v", ".weight_u"].first(where: name.hasSuffix).map { String(name.dropLast($0.count)) }
            })
        if options.clip, let base = bases.sorted().first {
            throw fail(
                "'\(base)' is normalised with TorchDEQ's clip, which a state dict does not record; call remove_norm() "
                    + "(torchdeq.norm.remove_norm(model)) before saving, and export again"
            )
        }
        for base in bases.sorted() {
            if let orig = tensors[base + ".weight_orig"] {
                guard let u = tensors[base + ".weight_u"], let v = tensors[base + ".weight_v"] else {
                    throw fail(
                        "spectral norm of '\(base)': needs \(base).weight_orig, \(base).weight_u and \(base).weight_v (found "
                            + "\(present(tensors, base)))"
                    )
                }
                tensors[base + ".weight"] = try spectral(
                    orig, u: u, v: v, g: tensors[base + ".weight_g"], options: options, base: base, fail)
                for suffix in [".weight_orig", ".weight_u", ".weight_v", ".weight_g"] { tensors[base + suffix] = nil }
            } else if let v = tensors[base + ".weight_v"] {
                guard tensors[base + ".weight_u"] == nil else {
                    throw fail(
                        "'\(base)': weight_u and weight_v without weight_orig is neither weight nor spectral norm (found "
                            + "\(present(tensors, base)))"
                    )
                }
                tensors[base + ".weight"] = try weightNorm(v, g: tensors[base + ".weight_g"], options: options, base: base, fail)
                for suffix in [".weight_v", ".weight_g"] { tensors[base + suffix] = nil }
            } else {
                throw fail("'\(base)': \(present(tensors, base)) without weight_v or weight_orig is not a normalisation this tool knows")
            }
        }
    }

    private static func present(_ tensors: [String: SafetensorsTensor], _ base: String) -> String {
        [".weight_orig", ".weight_g", ".weight_v", ".weight_u"].filter { tensors[base + $0] != nil }.map { base + $0 }.joined(
            separator: ", ")
    }

    /// The weight with axis `dim` first and the others flattened: [shape[dim], rest] (row-major). `dim` must be an
    /// axis of `t` (callers check the rank first).
    static func matrix(_ t: SafetensorsTensor, dim: Int) -> Matrix {
        let shape = t.shape
        precondition(shape.indices.contains(dim), "Normalizations.matrix: axis \(dim) of a rank-\(shape.count) tensor")
        let rows = shape[dim], columns = t.values.count / max(rows, 1)
        var out = Matrix(zeros: rows, columns)
        var index = [Int](repeating: 0, count: shape.count)
        for flat in 0..<t.values.count {
            var rest = 0
            for axis in 0..<shape.count where axis != dim { rest = rest * shape[axis] + index[axis] }
            out[index[dim], rest] = t.values[flat]
            var axis = shape.count - 1
            while axis >= 0 { index[axis] += 1; if index[axis] < shape[axis] { break }; index[axis] = 0; axis -= 1 }
        }
        return out
    }

    /// The index along `dim` of every element (row-major).
    static func positions(_ shape: [Int], dim: Int) -> [Int] {
        let inner = shape[(dim + 1)...].reduce(1, *), size = shape[dim]
        return (0..<shape.reduce(1, *)).map { ($0 / inner) % size }
    }

    static func spectral(
        _ w: SafetensorsTensor, u: SafetensorsTensor, v: SafetensorsTensor, g: SafetensorsTensor?, options: Options,
        base: String, _ fail: (String) -> SafetensorsError
    ) throws -> SafetensorsTensor {
        let fits = w.shape.indices.filter { w.shape[$0] == u.values.count && w.values.count / max(w.shape[$0], 1) == v.values.count }
        guard !fits.isEmpty else {
            throw fail(
                "spectral norm of '\(base)': u has \(u.values.count) values and v \(v.values.count), which fit no axis of weight_orig "
                    + "\(w.shape)"
            )
        }
        // Where two axes fit, the power iteration's relation u ∥ W_mat v picks the one it ran along.
        let products = fits.map { (dim: $0, wv: matrix(w, dim: $0) * v.values) }
        func alignment(_ wv: [Double]) -> Double { abs(BLAS.dot(u.values, wv)) / max(BLAS.nrm2(u.values) * BLAS.nrm2(wv), 1e-300) }
        let chosen = products.max { alignment($0.wv) < alignment($1.wv) }!
        let dim = chosen.dim
        let sigma = BLAS.dot(u.values, chosen.wv)
        guard sigma.isFinite, sigma != 0 else { throw fail("spectral norm of '\(base)': σ = uᵀ W v is \(sigma)") }
        let along = positions(w.shape, dim: dim)
        let scale: [Double]
        if let g {
            guard g.values.count == w.shape[dim] else {
                throw fail(
                    "spectral norm of '\(base)': weight_g has \(g.values.count) values, expected \(w.shape[dim]) (one per entry of axis "
                        + "\(dim) of \(w.shape))"
                )
            }
            scale = g.values
        } else {
            scale = [Double](repeating: options.targetNorm, count: w.shape[dim])
        }
        return SafetensorsTensor(dtype: w.dtype, shape: w.shape, values: w.values.indices.map { w.values[$0] * scale[along[$0]] / sigma })
    }

    static func weightNorm(
        _ v: SafetensorsTensor, g: SafetensorsTensor?, options: Options, base: String,
        _ fail: (String) -> SafetensorsError
    ) throws -> SafetensorsTensor {
        // The kept axis: where g is not 1 (g of v's rank with 1 elsewhere); none for a scalar g; the first
        // without g (TorchDEQ's WeightNorm without a learned scale, as for Linear and Conv).
        // A weight is a tensor of rank ≥ 1: a scalar v has no axis to normalise along.
        guard !v.shape.isEmpty else {
            throw fail("weight norm of '\(base)': weight_v is a scalar (shape []), expected a weight of rank ≥ 1")
        }
        var dim: Int? = 0
        var scale: [Double]
        if let g {
            if g.values.count == 1 && (g.shape.isEmpty || g.shape.allSatisfy { $0 == 1 }) && v.values.count > 1 && v.shape.count != 1 {
                dim = nil
            } else {
                guard g.shape.count == v.shape.count,
                    let kept = g.shape.indices.first(where: { g.shape[$0] != 1 }) ?? (v.shape.count == 1 ? 0 : nil),
                    g.shape.indices.allSatisfy({ $0 == kept ? g.shape[$0] == v.shape[$0] : g.shape[$0] == 1 })
                else {
                    throw fail(
                        "weight norm of '\(base)': weight_g of shape \(g.shape) does not fit weight_v of shape \(v.shape) (expected v's "
                            + "shape with 1 on every axis but the normalised one)"
                    )
                }
                dim = kept
            }
            scale = g.values
        } else {
            scale = [Double](repeating: options.targetNorm, count: v.shape.first ?? 1)
        }
        guard let dim else {
            let norm = BLAS.nrm2(v.values)
            guard norm > 0 else { throw fail("weight norm of '\(base)': weight_v is zero") }
            return SafetensorsTensor(dtype: v.dtype, shape: v.shape, values: v.values.map { scale[0] * $0 / norm })
        }
        let m = matrix(v, dim: dim)
        let norms = (0..<m.rows).map { BLAS.nrm2(m.row($0)) }
        if let zero = norms.firstIndex(of: 0) {
            throw fail("weight norm of '\(base)': slice \(zero) of weight_v along axis \(dim) is zero")
        }
        let along = positions(v.shape, dim: dim)
        return SafetensorsTensor(
            dtype: v.dtype, shape: v.shape, values: v.values.indices.map { scale[along[$0]] * v.values[$0] / norms[along[$0]] })
    }
}
