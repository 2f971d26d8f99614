"""Cross-checks phantom's mdeq cell against PyTorch in float64 (needs torch, safetensors, h5py; not run by CI).

    python3 notebooks-data/scripts/crosscheck_mdeq.py PHANTOM_BINARY WORK_FOLDER

Builds a contractive MDEQ (export_pytorch.MDEQ, C = 4, E = 2, G = 2 on digits as 1×8×8 images), exports it,
lets phantom import and analyse it on the first 8 test samples, and recomputes the same quantities in PyTorch
with torch.func: the fixed point, the loss, ‖J‖₂ and ρ(J) from the dense Jacobian, the exact gradient through
a dense solve with I − Jᵀ, and per-sample cosines of NPG(k, λ) and UPG(k, λ) to it. Prints the largest
differences.
"""
import os
import subprocess
import sys

import h5py
import numpy as np
import torch
from torch.func import jacrev, vjp

sys.path.insert(0, os.path.dirname(__file__))
from export_pytorch import MDEQ, export_mdeq  # noqa: E402

torch.set_default_dtype(torch.float64)
phantom, work = sys.argv[1], sys.argv[2]
here = os.path.dirname(os.path.abspath(__file__))
digits = os.path.join(here, "..", "digits.h5")
os.makedirs(work, exist_ok=True)

torch.manual_seed(1)
model = MDEQ(in_channels=1, height=8, width=8, channels=4, expansion=2, groups=2, c=10).double()
with torch.no_grad():  # contractive: small convolutions, gn3's gain 0.4
    model.cell.conv1.weight *= 0.5
    model.cell.conv2.weight *= 0.5
    model.cell.gn3.weight.fill_(0.4)
    for gn in (model.cell.gn1, model.cell.gn2, model.cell.gn3):
        gn.weight.add_(0.05 * torch.randn_like(gn.weight))
        gn.bias.add_(0.05 * torch.randn_like(gn.bias))
path = os.path.join(work, "mdeq.safetensors")
export_mdeq(model, path)
ks, lambdas = [1, 2, 3, 5, 8], [0.5, 1.0]
results = os.path.join(work, "mdeq-results.h5")
subprocess.run([phantom, "analyze", path, "--data", digits, "--samples", "8", "--k", ",".join(map(str, ks)),
                "--lambda", ",".join(map(str, lambdas)), "--estimators", "upg,npg", "--tolerance", "1e-14",
                "--max-iterations", "5000", "-o", results, "--force"],
               check=True, stdout=subprocess.DEVNULL)

with h5py.File(digits) as f:
    test = np.flatnonzero(f["split"][()] == 1)[:8]
    xs, ys = f["x"][()][test].astype(np.float64), f["y"][()][test]
params = {k: v.detach() for k, v in model.named_parameters() if not k.startswith("head.")}
names = [n for n, _ in model.named_parameters() if not n.startswith("head.")]


def f(theta, h, x):
    """f(h, x; θ) on one flattened sample."""
    u = torch.nn.functional.conv2d(x.view(1, 1, 8, 8), theta["injection.weight"], theta["injection.bias"], padding=1)
    z = torch.nn.functional.conv2d(h.view(1, 4, 8, 8), theta["cell.conv1.weight"], padding=1)
    z = torch.relu(torch.nn.functional.group_norm(z, 2, theta["cell.gn1.weight"], theta["cell.gn1.bias"], 1e-5))
    z = torch.nn.functional.conv2d(z, theta["cell.conv2.weight"], padding=1)
    z = torch.nn.functional.group_norm(z + u, 2, theta["cell.gn2.weight"], theta["cell.gn2.bias"], 1e-5)
    z = torch.nn.functional.group_norm(torch.relu(z + h.view(1, 4, 8, 8)), 2, theta["cell.gn3.weight"], theta["cell.gn3.bias"], 1e-5)
    return z.flatten()


def flat(grads):
    return torch.cat([grads[n].flatten() for n in names])


worst = {"loss": 0.0, "spectral_radius": 0.0, "jacobian_norm": 0.0, "cosine": 0.0}
with h5py.File(results) as r:
    for s in range(8):
        x = torch.tensor(xs[s])
        h = torch.zeros(256)
        for _ in range(2000):
            h_next = f(params, h, x)
            if torch.linalg.norm(h_next - h) <= 1e-14 * max(1.0, torch.linalg.norm(h)):
                h = h_next
                break
            h = h_next
        hh = h.detach().clone().requires_grad_(True)
        loss = torch.nn.functional.cross_entropy(model.head(hh).view(1, -1), torch.tensor([int(ys[s])]))
        g = torch.autograd.grad(loss, hh)[0]
        J = jacrev(lambda v: f(params, v, x))(h.detach())
        worst["loss"] = max(worst["loss"], abs(loss.item() - r["samples/loss"][0, s]))
        worst["spectral_radius"] = max(worst["spectral_radius"],
                                       abs(torch.linalg.eigvals(J).abs().max().item() - r["samples/spectral_radius"][0, s]))
        worst["jacobian_norm"] = max(worst["jacobian_norm"], abs(torch.linalg.matrix_norm(J, 2).item() - r["samples/jacobian_norm"][0, s]))
        _, pull = vjp(lambda th: f(th, h.detach(), x), params)
        w = torch.linalg.solve((torch.eye(256) - J).T, g)
        exact = flat(pull(w)[0])
        for li, lam in enumerate(lambdas):
            B = lam * J + (1 - lam) * torch.eye(256)
            for ki, k in enumerate(ks):
                # NPG(k, λ) = λ Σ_{t<k} Mᵀ (Bᵀ)^t g
                acc, u = torch.zeros(256), g.clone()
                for _ in range(k):
                    acc += u
                    u = B.T @ u
                npg = flat(pull(lam * acc)[0])
                # UPG(k, λ): backpropagate the loss at h_k through k damped steps from h*.
                def unrolled(th):
                    hk = h.detach()
                    for _ in range(k):
                        hk = (1 - lam) * hk + lam * f(th, hk, x)
                    return torch.nn.functional.cross_entropy(model.head(hk).view(1, -1), torch.tensor([int(ys[s])]))
                upg = flat(torch.func.grad(unrolled)(params))
                for e, estimate in ((0, upg), (1, npg)):
                    cos = torch.dot(estimate, exact) / (torch.linalg.norm(estimate) * torch.linalg.norm(exact))
                    worst["cosine"] = max(worst["cosine"], abs(cos.item() - r["cells/cosine"][0, e, li, ki, s]))
for key, value in worst.items():
    print(f"largest |phantom − PyTorch| over 8 samples: {key:16s} {value:.2e}")
