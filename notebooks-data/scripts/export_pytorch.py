"""How a PyTorch user exports an implicit model for phantom (needs torch and safetensors).

The module names are the ones phantom's checkpoint format uses, so the state dict loads as is:

    tanh cell (TanhDEQ):
    injection.weight [d, n_in], injection.bias [d]     (nn.Linear(n_in, d))
    cell.weight [d, d]                                  (nn.Linear(d, d, bias=False))
    head.weight [c, d], head.bias [c]                   (nn.Linear(d, c))

    mdeq cell (MDEQ, TorchDEQ's deq-zoo BasicBlock at one resolution; states C×H×W, inputs C_in×H×W, NCHW):
    injection.weight [C, C_in, 3, 3], injection.bias [C]                 (nn.Conv2d(C_in, C, 3, padding=1))
    cell.conv1.weight [E·C, C, 3, 3]                                     (nn.Conv2d(C, E·C, 3, padding=1, bias=False))
    cell.gn1.weight/.bias [E·C]                                          (nn.GroupNorm(G, E·C))
    cell.conv2.weight [C, E·C, 3, 3]                                     (nn.Conv2d(E·C, C, 3, padding=1, bias=False))
    cell.gn2.weight/.bias [C], cell.gn3.weight/.bias [C]                 (nn.GroupNorm(G, C))
    head.weight [c, C·H·W], head.bias [c]                                (nn.Linear on the flattened h*)

    python3 notebooks-data/scripts/export_pytorch.py model.safetensors [tanh|mdeq]
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


class MDEQBlock(torch.nn.Module):
    """f(h, x) = gn3(relu(gn2(conv2(relu(gn1(conv1 h)))) + u) + h)), u = injection(x)."""

    def __init__(self, channels: int, expansion: int, groups: int):
        super().__init__()
        wide = expansion * channels
        self.conv1 = torch.nn.Conv2d(channels, wide, 3, padding=1, bias=False)
        self.gn1 = torch.nn.GroupNorm(groups, wide)
        self.conv2 = torch.nn.Conv2d(wide, channels, 3, padding=1, bias=False)
        self.gn2 = torch.nn.GroupNorm(groups, channels)
        self.gn3 = torch.nn.GroupNorm(groups, channels)

    def forward(self, h, u):
        out = self.conv2(torch.relu(self.gn1(self.conv1(h))))
        return self.gn3(torch.relu(self.gn2(out + u) + h))


class MDEQ(torch.nn.Module):
    """The mdeq cell on C_in×H×W images; logits = head(flatten(h*))."""

    def __init__(self, in_channels: int, height: int, width: int, channels: int, expansion: int, groups: int, c: int):
        super().__init__()
        self.shape = (channels, height, width)
        self.expansion, self.groups = expansion, groups
        self.injection = torch.nn.Conv2d(in_channels, channels, 3, padding=1)
        self.cell = MDEQBlock(channels, expansion, groups)
        self.head = torch.nn.Linear(channels * height * width, c)

    def f(self, h, x):
        return self.cell(h, self.injection(x))

    def forward(self, x, iterations: int = 100):
        h = torch.zeros(x.shape[0], *self.shape, dtype=x.dtype)
        for _ in range(iterations):
            h = self.f(h, x)
        return self.head(h.flatten(1))


def export_mdeq(model: MDEQ, path: str, dataset: str = "digits") -> None:
    tensors = {name: t.detach().to(torch.float64).contiguous() for name, t in model.state_dict().items()}
    channels, height, width = model.shape
    metadata = {"phantom.cell": "mdeq", "phantom.channels": str(channels),
                "phantom.in_channels": str(model.injection.weight.shape[1]), "phantom.height": str(height),
                "phantom.width": str(width), "phantom.expansion": str(model.expansion), "phantom.groups": str(model.groups),
                "phantom.c": str(model.head.weight.shape[0]), "phantom.dataset": dataset}
    save_file(tensors, path, metadata=metadata)


def export(model: TanhDEQ, path: str, dataset: str = "digits") -> None:
    tensors = {name: t.detach().to(torch.float64).contiguous() for name, t in model.state_dict().items()}
    d, n_in = model.injection.weight.shape
    metadata = {"phantom.cell": "tanh", "phantom.n_in": str(n_in), "phantom.d": str(d),
                "phantom.c": str(model.head.weight.shape[0]), "phantom.dataset": dataset}
    save_file(tensors, path, metadata=metadata)


if __name__ == "__main__":
    torch.manual_seed(0)
    path = sys.argv[1] if len(sys.argv) > 1 else "model.safetensors"
    if len(sys.argv) > 2 and sys.argv[2] == "mdeq":
        # digits as 1×8×8 images, C = 8, E = 2, G = 2; gn3's gain at 0.5 keeps the first fixed points easy.
        model = MDEQ(in_channels=1, height=8, width=8, channels=8, expansion=2, groups=2, c=10)
        with torch.no_grad():
            model.cell.gn3.weight.fill_(0.5)
        export_mdeq(model, path)
    else:
        model = TanhDEQ(n_in=64, d=32, c=10)
        with torch.no_grad():  # keep the cell contractive: ‖W‖₂ = 0.9
            model.cell.weight *= 0.9 / torch.linalg.matrix_norm(model.cell.weight, ord=2)
        export(model, path)
