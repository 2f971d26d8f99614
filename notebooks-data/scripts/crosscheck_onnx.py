"""Cross-checks phantom's ONNX import against PyTorch in float64 (needs torch, onnx, onnxscript, h5py; not run by CI).

    python3 notebooks-data/scripts/crosscheck_onnx.py PHANTOM_BINARY WORK_FOLDER [MODEL ...] [--dry-run]

MODEL: mdeq2, attention, gated, mondeq (onnx_models.py) or gated-external (gated with its initializers in a
sidecar); all of them by default. For each, exports the model with export_onnx.py to WORK_FOLDER/MODEL.onnx (gated
with a symbolic batch axis, as the test fixtures), lets phantom analyse it on the first 8 test samples

    PHANTOM analyze MODEL.onnx --data notebooks-data/digits.h5 --samples 8 --k 1,2,3,5,8 --lambda 0.5,1.0
        --estimators upg,npg --tolerance 1e-14 --max-iterations 5000 -o MODEL-results.h5 --force

and recomputes the same quantities in PyTorch as crosscheck_mdeq.py does (onnx_models.reference): the fixed point,
the loss, ρ(J) and ‖J‖₂ from the dense Jacobian, the exact gradient through a dense solve with I − Jᵀ, and
per-sample cosines of UPG(k, λ) and NPG(k, λ) to it. PyTorch runs the module as it is (norm eps 1e-5: phantom reads
the graph's float32 eps attribute as the decimal 1e-5 its writer meant). Prints the largest differences
per model. --dry-run skips phantom and prints PyTorch's values only (PHANTOM_BINARY is then not used).
"""
import os
import subprocess
import sys

import h5py
import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from export_onnx import export_onnx  # noqa: E402
from onnx_models import INPUT_SHAPE, MODELS, Functional, fixed_point, reference  # noqa: E402

torch.set_default_dtype(torch.float64)
HERE = os.path.dirname(os.path.abspath(__file__))
DIGITS = os.path.join(HERE, "..", "digits.h5")
KS, LAMBDAS, SAMPLES = [1, 2, 3, 5, 8], [0.5, 1.0], 8
ESTIMATORS = ["upg", "npg"]
ALL = [*MODELS, "gated-external"]


def export(name, work):
    base = "gated" if name == "gated-external" else name
    factory, state_shape, options = MODELS[base]
    model = factory()
    path = os.path.join(work, f"{name}.onnx")
    summary = export_onnx(model, path, state_shape, INPUT_SHAPE, external_data=name == "gated-external", **options)
    return model, summary, state_shape, path


def run_phantom(phantom, path, results):
    subprocess.run([phantom, "analyze", path, "--data", DIGITS, "--samples", str(SAMPLES),
                    "--k", ",".join(map(str, KS)), "--lambda", ",".join(map(str, LAMBDAS)),
                    "--estimators", ",".join(ESTIMATORS), "--tolerance", "1e-14", "--max-iterations", "5000",
                    "-o", results, "--force"], check=True, stdout=subprocess.DEVNULL)


def pytorch(model, summary, state_shape, rows):
    """Per sample (data rows `rows`): loss, ρ(J), ‖J‖₂, forward residual, and cosines [estimator, λ, k]."""
    with h5py.File(DIGITS) as f:
        xs, ys = f["x"][()][rows].astype(np.float64), f["y"][()][rows]
    fn = Functional(model, summary["theta"], summary["head"])
    out = []
    for x_row, label in zip(xs, ys):
        x = torch.tensor(x_row).reshape(INPUT_SHAPE)
        h, _, residual = fixed_point(fn, x, state_shape)
        ref = reference(fn, h, x, int(label), KS, LAMBDAS)
        exact = ref["exact"]
        cosine = np.empty((len(ESTIMATORS), len(LAMBDAS), len(KS)))
        for e, estimator in enumerate(ESTIMATORS):
            for li, lam in enumerate(LAMBDAS):
                for ki, k in enumerate(KS):
                    g = ref[estimator][(k, lam)]
                    cosine[e, li, ki] = (torch.dot(g, exact) / (torch.linalg.norm(g) * torch.linalg.norm(exact))).item()
        out.append({"loss": ref["loss"], "spectral_radius": ref["spectral_radius"],
                    "jacobian_norm": ref["jacobian_norm"], "residual": residual, "cosine": cosine})
    return out


def test_rows(count):
    with h5py.File(DIGITS) as f:
        return np.flatnonzero(f["split"][()] == 1)[:count]


def compare(name, ours, results):
    with h5py.File(results) as r:
        estimators = r.attrs["estimators"]
        estimators = (estimators.decode() if isinstance(estimators, bytes) else estimators).split(",")
        ks, lambdas = list(r["axes/k"][()]), list(r["axes/lambda"][()])
        cosine = r["cells/cosine"][()]
        worst = {"loss": 0.0, "spectral_radius": 0.0, "jacobian_norm": 0.0, "cosine": 0.0}
        for s, mine in enumerate(ours):
            for key in ("loss", "spectral_radius", "jacobian_norm"):
                worst[key] = max(worst[key], abs(mine[key] - r[f"samples/{key}"][0, s]))
            for e, estimator in enumerate(ESTIMATORS):
                for li, lam in enumerate(LAMBDAS):
                    for ki, k in enumerate(KS):
                        theirs = cosine[0, estimators.index(estimator), lambdas.index(lam), ks.index(k), s]
                        worst["cosine"] = max(worst["cosine"], abs(mine["cosine"][e, li, ki] - theirs))
        unconverged = int(np.sum(r["samples/forward_converged"][0] != 1))
    for key, value in worst.items():
        print(f"{name}: largest |phantom − PyTorch| over {len(ours)} samples: {key:16s} {value:.2e}")
    if unconverged:
        print(f"{name}: {unconverged} samples did not converge in phantom")


def main():
    args = [a for a in sys.argv[1:] if a != "--dry-run"]
    dry_run = len(args) < len(sys.argv) - 1
    if len(args) < 2:
        raise SystemExit(__doc__)
    phantom, work, names = args[0], args[1], args[2:] or ALL
    unknown = [n for n in names if n not in ALL]
    if unknown:
        raise SystemExit(f"unknown models {unknown}; choose from {ALL}")
    os.makedirs(work, exist_ok=True)
    for name in names:
        model, summary, state_shape, path = export(name, work)
        results = os.path.join(work, f"{name}-results.h5")
        if not dry_run:
            run_phantom(phantom, path, results)
            with h5py.File(results) as r:
                rows = r["axes/sample"][()]
        else:
            rows = test_rows(SAMPLES)
        ours = pytorch(model, summary, state_shape, rows)
        if dry_run:
            rho = [o["spectral_radius"] for o in ours]
            median = np.median(np.stack([o["cosine"] for o in ours]), axis=0)
            print(f"{name}: PyTorch only, {len(ours)} samples (rows {list(map(int, rows))}): loss "
                  f"{min(o['loss'] for o in ours):.4f}–{max(o['loss'] for o in ours):.4f}, ρ(J) {min(rho):.3f}–"
                  f"{max(rho):.3f}, ‖J‖₂ ≤ {max(o['jacobian_norm'] for o in ours):.3f}, forward residual ≤ "
                  f"{max(o['residual'] for o in ours):.1e}")
            for e, estimator in enumerate(ESTIMATORS):
                for li, lam in enumerate(LAMBDAS):
                    cells = ", ".join(f"k={k} {median[e, li, ki]:.4f}" for ki, k in enumerate(KS))
                    print(f"  median cosine {estimator.upper()} λ={lam}: {cells}")
        else:
            compare(name, ours, results)


if __name__ == "__main__":
    main()
