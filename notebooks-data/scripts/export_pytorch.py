"""How a PyTorch user exports an implicit model for phantom (needs torch and safetensors).

The module names are the ones phantom's checkpoint format uses, so the state dict loads as is:

    injection.weight [d, n_in], injection.bias [d]     (nn.Linear(n_in, d))
    cell.weight [d, d]                                  (nn.Linear(d, d, bias=False))   -- tanh cell
    head.weight [c, d], head.bias [c]                   (nn.Linear(d, c))

    python3 notebooks-data/scripts/export_pytorch.py model.safetensors
    phantom import model.safetensors -o model.h5        # or: phantom analyze model.safetensors --data ...

Wrappers (DataParallel's "module.", a "model." attribute), torch.nn.utils.weight_norm (weight_g, weight_v)
and spectral_norm (weight_orig, weight_u, weight_v) are undone by `phantom import`; nothing to do here.
"""
import sys

import torch
from safetensors.torch import save_file


class TanhDEQ(torch.nn.Module):
    """f(h, x) = tanh(cell.weight h + injection.weight x + injection.bias); logits = head(h*)."""

    def __init__(self, n_in: int, d: int, c: int):
        super().__init__()
        self.injection = torch.nn.Linear(n_in, d)
        self.cell = torch.nn.Linear(d, d, bias=False)
        self.head = torch.nn.Linear(d, c)

    def f(self, h, x):
        return torch.tanh(self.cell(h) + self.injection(x))

    def forward(self, x, iterations: int = 50):
        h = torch.zeros(x.shape[0], self.cell.weight.shape[0])
        for _ in range(iterations):  # plain fixed-point iteration, enough for a contractive cell
            h = self.f(h, x)
        return self.head(h)


def export(model: TanhDEQ, path: str, dataset: str = "digits") -> None:
    tensors = {name: t.detach().to(torch.float64).contiguous() for name, t in model.state_dict().items()}
    d, n_in = model.injection.weight.shape
    metadata = {"phantom.cell": "tanh", "phantom.n_in": str(n_in), "phantom.d": str(d),
                "phantom.c": str(model.head.weight.shape[0]), "phantom.dataset": dataset}
    save_file(tensors, path, metadata=metadata)


if __name__ == "__main__":
    torch.manual_seed(0)
    model = TanhDEQ(n_in=64, d=32, c=10)
    with torch.no_grad():  # keep the cell contractive: ‖W‖₂ = 0.9
        model.cell.weight *= 0.9 / torch.linalg.matrix_norm(model.cell.weight, ord=2)
    export(model, sys.argv[1] if len(sys.argv) > 1 else "model.safetensors")
