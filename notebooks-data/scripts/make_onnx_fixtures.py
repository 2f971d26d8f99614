"""Writes the ONNX test fixtures of phantom's importer (needs torch, onnx, onnxscript, numpy, h5py):

    python3 notebooks-data/scripts/make_onnx_fixtures.py [Tests/Fixtures/onnx] [MODEL ...] [--graph-eps]

For each model of onnx_models.py (mdeq2, attention, gated, mondeq): NAME.onnx, exported by export_onnx.py with
the initializers inline and checked against PyTorch with onnx's ReferenceEvaluator (gated with a symbolic batch
axis; gated also as gated-external.onnx + gated-external.onnx.data, the same graph with its initializers in the
exporter's sidecar), and NAME.expected.json, computed in PyTorch float64 from the module as it is (norm eps 1e-5;
with --graph-eps, eps rounded to float32 as the graph stores it, 9.999999747378752e-06; "norm_eps_of_values" says
which), and "norm_eps_effect": the largest relative change of each quantity between the two ({} without norms):

    state_shape, input_shape         ONNX shapes with the batch 1
    parameters, head_parameters      [{name, shape}] of θ (what f depends on) and of the head, in initializer order
    points                           3 × {h, x, f, logits}: f and logits at random (h, x), flattened row-major
    fixed_point                      for the first test sample of digits.h5: x, label, h_star (h = f(h) solved to
                                     1e-14 relative), iterations, residual, loss (cross entropy at h*),
                                     spectral_radius and jacobian_norm of J = ∂f/∂h, v, J_v = J v, u, JT_u = Jᵀu,
                                     w (a p-vector over θ), M_w = M w, MT_u = Mᵀu, exact = Mᵀ(I − Jᵀ)⁻¹ ∂L/∂h*,
                                     head_gradient = ∂L/∂θ_head, upg and npg: [{k, lambda, gradient}] for
                                     (k, λ) = (3, 0.5), (5, 1.0), defined as in crosscheck_mdeq.py
                                     (onnx_models.reference). State vectors are flattened; p-vectors follow θ's
                                     order, each tensor flattened row-major.

Random inputs (points, v, u, w) are multiples of 2⁻¹⁰ (x of 1/16, like the digits), so their decimal forms are
short and exact. The exporter's per-node stack traces (absolute paths of the machine that exported) are dropped
from the files; everything else is as written by torch.onnx.export.
"""
import contextlib
import json
import os
import sys

import h5py
import numpy as np
import onnx
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from export_onnx import ReferenceEvaluator64, export_onnx, float32_norm_eps  # noqa: E402
from onnx_models import INPUT_SHAPE, MODELS, Functional, fixed_point, jvp_h, jvp_theta, reference  # noqa: E402

torch.set_default_dtype(torch.float64)
HERE = os.path.dirname(os.path.abspath(__file__))
DIGITS = os.path.join(HERE, "..", "digits.h5")
ESTIMATOR_CELLS = [(3, 0.5), (5, 1.0)]


def strip_stack_traces(path):
    """Drops the nodes' pkg.torch.onnx.stack_trace metadata; leaves external data references (and the sidecar) as
    they are."""
    model = onnx.load(path, load_external_data=False)
    for node in model.graph.node:
        keep = [p for p in node.metadata_props if p.key != "pkg.torch.onnx.stack_trace"]
        del node.metadata_props[:]
        node.metadata_props.extend(keep)
    with open(path, "wb") as out:
        out.write(model.SerializeToString())


def dyadic(shape, generator, scale=1.0):
    """Normal samples rounded to multiples of 2⁻¹⁰."""
    return torch.round(scale * torch.randn(shape, generator=generator) * 1024) / 1024


def floats(t):
    return [float(v) for v in torch.as_tensor(t).detach().flatten().tolist()]


def first_test_sample():
    with h5py.File(DIGITS) as f:
        index = int(np.flatnonzero(f["split"][()] == 1)[0])
        return torch.tensor(f["x"][index].astype(np.float64)).reshape(INPUT_SHAPE), int(f["y"][index])


def expected_values(model, summary, state_shape, seed):
    fn = Functional(model, summary["theta"], summary["head"])
    generator = torch.Generator().manual_seed(seed)
    points = []
    with torch.no_grad():
        for _ in range(3):
            h = dyadic(state_shape, generator, 0.5)
            x = torch.randint(0, 17, INPUT_SHAPE, generator=generator).double() / 16
            f = fn.f(fn.theta, h, x)
            logits = fn.logits(fn.head_params, h)
            points.append({"h": floats(h), "x": floats(x), "f": floats(f), "logits": floats(logits)})
    x, label = first_test_sample()
    h_star, iterations, residual = fixed_point(fn, x, state_shape)
    ks, lambdas = sorted({k for k, _ in ESTIMATOR_CELLS}), sorted({lam for _, lam in ESTIMATOR_CELLS})
    ref = reference(fn, h_star, x, label, ks=ks, lambdas=lambdas)
    v, u, w = dyadic(state_shape, generator), dyadic(state_shape, generator), dyadic([fn.p], generator)
    fixed = {
        "x": floats(x), "label": label, "h_star": floats(h_star), "iterations": iterations, "residual": residual,
        "loss": ref["loss"], "spectral_radius": ref["spectral_radius"], "jacobian_norm": ref["jacobian_norm"],
        "v": floats(v), "J_v": floats(jvp_h(fn, h_star, x, v)),
        "u": floats(u), "JT_u": floats(ref["J"].T @ u.flatten()),
        "w": floats(w), "M_w": floats(jvp_theta(fn, h_star, x, w)), "MT_u": floats(ref["pull"](u.flatten())),
        "exact": floats(ref["exact"]), "head_gradient": floats(ref["head_gradient"]),
        "upg": [{"k": k, "lambda": l, "gradient": floats(ref["upg"][(k, l)])} for k, l in ESTIMATOR_CELLS],
        "npg": [{"k": k, "lambda": l, "gradient": floats(ref["npg"][(k, l)])} for k, l in ESTIMATOR_CELLS],
    }
    named = dict(model.named_parameters())
    return {
        "state_shape": list(state_shape), "input_shape": list(INPUT_SHAPE),
        "parameters": [{"name": n, "shape": list(named[n].shape)} for n in summary["theta"]],
        "head_parameters": [{"name": n, "shape": list(named[n].shape)} for n in summary["head"]],
        "points": points, "fixed_point": fixed,
    }


def relative(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


def values(model, summary, state_shape, seed, graph_eps):
    """expected_values with norm eps as in PyTorch (1e-5) or, with graph_eps, rounded to float32 as in the graph."""
    with float32_norm_eps(model) if graph_eps else contextlib.nullcontext():
        return expected_values(model, summary, state_shape, seed)


def eps_effect(model, summary, state_shape, seed, expected, graph_eps):
    """Largest relative change of the stored quantities between norm eps 1e-5 and float32(1e-5) ({} without norms)."""
    if not any(isinstance(getattr(m, "eps", None), float) for m in model.modules()):
        return {}
    rounded = values(model, summary, state_shape, seed, not graph_eps)
    out = {"f": max(relative(p["f"], q["f"]) for p, q in zip(rounded["points"], expected["points"])),
           "logits": max(relative(p["logits"], q["logits"]) for p, q in zip(rounded["points"], expected["points"]))}
    a, b = rounded["fixed_point"], expected["fixed_point"]
    for key in ("h_star", "loss", "J_v", "JT_u", "M_w", "MT_u", "exact", "head_gradient"):
        out[key] = relative(a[key], b[key])
    out["upg"] = max(relative(p["gradient"], q["gradient"]) for p, q in zip(a["upg"], b["upg"]))
    out["npg"] = max(relative(p["gradient"], q["gradient"]) for p, q in zip(a["npg"], b["npg"]))
    return out


def check_file_against_points(path, expected):
    """The written (stripped) file, evaluated by the reference evaluator at the stored points: the largest relative
    difference to the stored f and logits."""
    evaluator = ReferenceEvaluator64(onnx.load(path))
    worst = 0.0
    for p in expected["points"]:
        h = np.array(p["h"]).reshape(expected["state_shape"])
        x = np.array(p["x"]).reshape(expected["input_shape"])
        f, logits = evaluator.run(None, {"h": h, "x": x})
        worst = max(worst, relative(f.flatten(), p["f"]), relative(logits.flatten(), p["logits"]))
    return worst


def main():
    args = [a for a in sys.argv[1:] if a != "--graph-eps"]
    graph_eps = len(args) < len(sys.argv) - 1
    default = os.path.join(HERE, "..", "..", "Tests", "Fixtures", "onnx")
    folder = os.path.relpath(args.pop(0) if args and args[0] not in MODELS else default)
    names = args or list(MODELS)
    os.makedirs(folder, exist_ok=True)
    for index, name in enumerate(MODELS):
        if name not in names:
            continue
        factory, state_shape, options = MODELS[name]
        model = factory()
        path = os.path.join(folder, f"{name}.onnx")
        summary = export_onnx(model, path, state_shape, INPUT_SHAPE, **options)
        strip_stack_traces(path)
        files = [path]
        if name == "gated":
            external = os.path.join(folder, "gated-external.onnx")
            export_onnx(model, external, state_shape, INPUT_SHAPE, external_data=True, **options)
            strip_stack_traces(external)
            files.append(external)
        seed = 2600 + index
        expected = values(model, summary, state_shape, seed, graph_eps)
        expected["norm_eps_of_values"] = "graph: float32(1e-5)" if graph_eps else "pytorch: 1e-5"
        expected["norm_eps_effect"] = eps_effect(model, summary, state_shape, seed, expected, graph_eps)
        with open(os.path.join(folder, f"{name}.expected.json"), "w") as out:
            json.dump(expected, out, separators=(",", ":"))
            out.write("\n")
        fp = expected["fixed_point"]
        d = int(np.prod(state_shape))
        p = sum(int(np.prod(q["shape"])) for q in expected["parameters"])
        print(f"{name}: d {d}, p {p}, head {sum(int(np.prod(q['shape'])) for q in expected['head_parameters'])}, "
              f"ρ(J) {fp['spectral_radius']:.3f}, ‖J‖₂ {fp['jacobian_norm']:.3f}, {fp['iterations']} iterations, "
              f"residual {fp['residual']:.1e}, loss {fp['loss']:.4f}")
        for f in files:
            print(f"  {os.path.basename(f)} vs the stored points: {check_file_against_points(f, expected):.1e}")
        print("  eps effect: " + ", ".join(f"{k} {v:.1e}" for k, v in expected["norm_eps_effect"].items()))


if __name__ == "__main__":
    main()
