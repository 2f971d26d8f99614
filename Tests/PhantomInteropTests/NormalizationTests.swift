import Foundation
import PhantomInterop
import PhantomModel
import PhantomModelIO
import PhantomSafetensors
import PhantomTestSupport
import Testing

/// Every weight parametrisation PyTorch and TorchDEQ store, folded here and in numpy (as their forward passes
/// compute the weight), must agree; what a state dict cannot tell is refused.
@Suite("Weight and spectral normalisations fold exactly as PyTorch and TorchDEQ compute them")
struct NormalizationTests {
    /// numpy writes, per case, `CASE.safetensors` (the stored state dict) and `CASE.expected.safetensors` (the
    /// effective cell.weight and injection.weight).
    static let script = #"""
        import numpy as np, sys
        from safetensors.numpy import save_file
        out = sys.argv[1]
        rng = np.random.default_rng(7)
        d, n, c = 5, 3, 2
        base = {"injection.weight": rng.normal(size=(d, n)), "injection.bias": rng.normal(size=d),
                "cell.weight": rng.normal(size=(d, d)) * 0.3, "head.weight": rng.normal(size=(c, d)), "head.bias": rng.normal(size=c)}
        def norm_except(v, dim):  # PyTorch's _norm_except_dim / TorchDEQ's _norm
            if dim is None: return np.sqrt((v ** 2).sum())
            axes = tuple(a for a in range(v.ndim) if a != dim)
            return np.sqrt((v ** 2).sum(axis=axes, keepdims=True))
        def power(w_mat, iters=30):  # u, v as a trained spectral norm holds them (u ∥ W v after the last step)
            u = rng.normal(size=w_mat.shape[0]); u /= np.linalg.norm(u)
            for _ in range(iters):
                v = w_mat.T @ u; v /= np.linalg.norm(v)
                u = w_mat @ v; u /= np.linalg.norm(u)
            return u, v
        def mat(w, dim):
            return np.moveaxis(w, dim, 0).reshape(w.shape[dim], -1)
        def save(name, state, expected, meta=None):
            save_file({k: np.ascontiguousarray(v, dtype=np.float64) for k, v in state.items()}, f"{out}/{name}.safetensors",
                      metadata=dict({"phantom.cell": "tanh"}, **(meta or {})))
            save_file({k: np.ascontiguousarray(v, dtype=np.float64) for k, v in expected.items()}, f"{out}/{name}.expected.safetensors")
        def rest(*skip):
            return {k: v for k, v in base.items() if k not in skip}
        # torch.nn.utils.weight_norm (hooks) at dim 0, 1 and None, on both weights.
        for dim in [0, 1, None]:
            state, expected = rest("cell.weight", "injection.weight"), {}
            for name in ["cell.weight", "injection.weight"]:
                v = base[name] * 1.7
                g = norm_except(base[name], dim) * rng.uniform(0.5, 1.5, size=np.shape(norm_except(base[name], dim)))
                state[name + "_g"], state[name + "_v"] = g, v
                expected[name] = g * v / norm_except(v, dim)
            save(f"wn-hook-{dim}", state, expected)
        # torch.nn.utils.parametrizations.weight_norm at dim 0 and 1.
        for dim in [0, 1]:
            state, expected = rest("cell.weight"), {}
            v = base["cell.weight"] + 0.1; g = norm_except(v, dim) * 1.3
            state["cell.parametrizations.weight.original0"], state["cell.parametrizations.weight.original1"] = g, v
            expected["cell.weight"] = g * v / norm_except(v, dim); expected["injection.weight"] = base["injection.weight"]
            save(f"wn-param-{dim}", state, expected)
        # Spectral norm (hooks, parametrisations, TorchDEQ with and without a learned scale) at dim 0 and 1.
        for dim in [0, 1]:
            w = base["cell.weight"] * 3.0
            u, v = power(mat(w, dim))
            sigma = u @ mat(w, dim) @ v
            for layout in ["hook", "param", "deq-scale"]:
                state = rest("cell.weight")
                if layout == "param":
                    state.update({"cell.parametrizations.weight.original": w, "cell.parametrizations.weight.0._u": u, "cell.parametrizations.weight.0._v": v})
                    eff = w / sigma
                else:
                    state.update({"cell.weight_orig": w, "cell.weight_u": u, "cell.weight_v": v})
                    eff = w / sigma
                if layout == "deq-scale":
                    shape = [1, 1]; shape[dim] = d
                    g = rng.uniform(0.5, 0.9, size=d).reshape(shape)
                    state["cell.weight_g"] = g
                    eff = w * g / sigma
                save(f"sn-{layout}-{dim}", state, {"cell.weight": eff, "injection.weight": base["injection.weight"]})
        # TorchDEQ's WeightNorm without a learned scale: only weight_v; target norm 1, or from metadata.
        for target in [1.0, 2.5]:
            state = rest("cell.weight"); v = base["cell.weight"] * 4.0
            state["cell.weight_v"] = v
            save(f"deq-noscale-{target}", state, {"cell.weight": target * v / norm_except(v, 0), "injection.weight": base["injection.weight"]},
                 {} if target == 1.0 else {"phantom.norm_target": str(target)})
        # Wrapper prefixes in any order (DDP around torch.compile and back), then a user rename.
        state = {("module._orig_mod." if i % 2 else "_orig_mod.module.") + k: v for i, (k, v) in enumerate(base.items())}
        save("prefixes", state, {"cell.weight": base["cell.weight"], "injection.weight": base["injection.weight"]})
        state = {k.replace("cell.", "f.layer."): v for k, v in base.items()}
        save("renamed", state, {"cell.weight": base["cell.weight"], "injection.weight": base["injection.weight"]})
        # TorchDEQ's clip, declared: refused.
        state = rest("cell.weight"); state["cell.weight_v"] = base["cell.weight"]; state["cell.weight_g"] = norm_except(base["cell.weight"], 0)
        save("clip", state, {}, {"phantom.norm_clip": "true"})
        print("ok")
        """#

    @Test(
        "every layout folds to numpy's effective weight within 1e-12; clip is refused",
        .enabled(if: pythonHasSafetensors, "python3 with numpy and safetensors is not installed (pip install safetensors)"))
    func layouts() throws {
        let folder = makeTemporaryFolder()
        let made = try runProgram("/usr/bin/env", ["python3", "-c", Self.script, folder])
        try #require(made.status == 0, "numpy side failed: \(made.stderr)")
        let cases = [
            "wn-hook-0", "wn-hook-1", "wn-hook-None", "wn-param-0", "wn-param-1",
            "sn-hook-0", "sn-hook-1", "sn-param-0", "sn-param-1", "sn-deq-scale-0", "sn-deq-scale-1",
            "deq-noscale-1.0", "deq-noscale-2.5", "prefixes", "renamed"
        ]
        for name in cases {
            var importer = SafetensorsImporter()
            if name == "renamed" { importer.renames = [("f.layer.", "cell.")] }
            let model = try importer.importCheckpoint(folder + "/\(name).safetensors").model
            let expected = try Safetensors.read(folder + "/\(name).expected.safetensors").tensors
            let cell = try #require(model.cell as? TanhCell)
            for (tensor, values) in [("cell.weight", cell.cellWeight.elements), ("injection.weight", cell.injectionWeight.elements)] {
                let want = try #require(expected[tensor]).values
                let error = zip(values, want).map { abs($0 - $1) }.max() ?? .infinity
                #expect(error <= 1e-12 * max(1, want.map(abs).max() ?? 1), "\(name) \(tensor): max error \(error)")
            }
        }
        // Export round trip: the folded model written as a state dict reads back bit for bit.
        let folded = try SafetensorsImporter().importCheckpoint(folder + "/sn-hook-1.safetensors")
        try SafetensorsExporter.export(folded, to: folder + "/exported.safetensors")
        let exported = try Safetensors.read(folder + "/exported.safetensors")
        #expect(exported.metadata["phantom.cell"] == "tanh" && exported.tensors["cell.weight"]?.shape == [5, 5])
        let again = try SafetensorsImporter().importCheckpoint(folder + "/exported.safetensors").model
        #expect(again.cell.parameters == folded.model.cell.parameters && again.head == folded.model.head)
        #expect(throws: (any Error).self) { try SafetensorsExporter.export(folded, to: folder + "/exported.safetensors") }
        let clip = try #require(throws: (any Error).self) { try SafetensorsImporter().importCheckpoint(folder + "/clip.safetensors") }
        #expect("\(clip)".contains("remove_norm()"))
    }
}
