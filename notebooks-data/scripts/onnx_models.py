"""Four small implicit models for phantom's ONNX importer tests, and the PyTorch float64 math that checks them.

Every model is a float64 nn.Module with submodules `injection` (x → u), `cell` ((h, u) → f) and `head`
(h → logits) on the digits data (n_in = 64, 8×8 images flattened, c = 10). They are written for any batch size
(reshapes use -1 or h.shape[0]) and use exactly representable constants only (0.5, 1), since the exporter turns
Python number constants into float32 constants. Norm layers keep PyTorch's eps = 1e-5; the ONNX graph stores it
as float32(1e-5) = 9.999999747378752e-06, which moves the outputs by ~1e-13 to 1e-11 relative (see
make_onnx_fixtures.py, which reports it). Each factory seeds torch itself and draws the parameters in float64
whatever torch's default dtype, so a model is the same on every run; its gains are set so that ρ(J) at the fixed
points of the first 8 test samples is about 0.4–0.7. States are small because the injection Linear(64 → d) alone
has 65·d parameters and every fixture stores several p-vectors: d = 16 for gated and mondeq (p = 2576, 1552).

    name       state h        θ (f's parameters)                                   head
    mdeq2      [1, 320]       two-resolution MDEQ, C = 4 (4×8×8 and 4×4×4)         average pool of 8×8 → Linear(4, 10)
    attention  [1, 4, 4]      LayerNorm + single-head attention + GELU MLP         mean over tokens → Linear(4, 10)
    gated      [1, 16]        GRU-like gated update                                Linear(16, 10)
    mondeq     [1, 16]        monotone DEQ, W = 0.5 I − AᵀA + B − Bᵀ in forward    Linear(16, 10)

The second half (fixed_point, reference) recomputes phantom's quantities by the same math as
crosscheck_mdeq.py: the fixed point by plain iteration, J and M by torch.func, the exact gradient
Mᵀ (I − Jᵀ)⁻¹ g by a dense solve, NPG(k, λ) = λ Mᵀ Σ_{t<k} (Bᵀ)^t g with B = λJ + (1 − λ)I, and UPG(k, λ) by
backpropagating the loss at h_k through k damped steps h_{t+1} = (1 − λ) h_t + λ f(h_t) from h*.
"""
import contextlib
import warnings

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, jacrev, jvp, vjp

# forward-mode AD loads decompositions scripted with torch.jit, which warns on every first use
warnings.filterwarnings("ignore", message="`torch.jit.script` is deprecated")


# ---------------------------------------------------------------------------------------------------- models

class MDEQ2Cell(nn.Module):
    """Two resolutions, h = [flatten(h_hi: C×8×8), flatten(h_lo: C×4×4)]:
    z_hi = relu(gn_hi(conv_hi h_hi) + u),  z_lo = relu(gn_lo(conv_lo h_lo) + avgpool2(u)),
    f_hi = gn_out_hi(z_hi + upsample2(up z_lo)),  f_lo = gn_out_lo(z_lo + down z_hi)   (down: 3×3, stride 2)."""

    def __init__(self, channels: int = 4, groups: int = 2):
        super().__init__()
        c = self.channels = channels
        self.conv_hi = nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.gn_hi = nn.GroupNorm(groups, c)
        self.conv_lo = nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.gn_lo = nn.GroupNorm(groups, c)
        self.down = nn.Conv2d(c, c, 3, stride=2, padding=1)
        self.up = nn.Conv2d(c, c, 1)
        self.upsample = nn.Upsample(scale_factor=2, mode="nearest")
        self.gn_out_hi = nn.GroupNorm(groups, c)
        self.gn_out_lo = nn.GroupNorm(groups, c)

    def forward(self, h, u):
        c = self.channels
        hi = h[:, : c * 64].reshape(-1, c, 8, 8)
        lo = h[:, c * 64:].reshape(-1, c, 4, 4)
        z_hi = torch.relu(self.gn_hi(self.conv_hi(hi)) + u)
        z_lo = torch.relu(self.gn_lo(self.conv_lo(lo)) + F.avg_pool2d(u, 2))
        f_hi = self.gn_out_hi(z_hi + self.upsample(self.up(z_lo)))
        f_lo = self.gn_out_lo(z_lo + self.down(z_hi))
        return torch.cat([f_hi.flatten(1), f_lo.flatten(1)], dim=1)


class ImageInjection(nn.Conv2d):
    """u = conv3×3(x viewed as 1×8×8), C channels."""

    def forward(self, x):
        return super().forward(x.reshape(-1, 1, 8, 8))


class PooledHead(nn.Linear):
    """logits = Linear(global average pool of the high-resolution branch of h)."""

    def forward(self, h):
        c = self.in_features
        return super().forward(h[:, : c * 64].reshape(-1, c, 8, 8).mean(dim=(2, 3)))


class MDEQ2(nn.Module):
    def __init__(self, channels: int = 4, groups: int = 2):
        super().__init__()
        self.injection = ImageInjection(1, channels, 3, padding=1)
        self.cell = MDEQ2Cell(channels, groups)
        self.head = PooledHead(channels, 10)


class TokenInjection(nn.Linear):
    """u = Linear(64 → T·E) reshaped to T tokens of E features."""

    def __init__(self, n_in: int, tokens: int, features: int):
        super().__init__(n_in, tokens * features)
        self.tokens, self.features = tokens, features

    def forward(self, x):
        return super().forward(x).reshape(-1, self.tokens, self.features)


class AttentionCell(nn.Module):
    """a = ln1(h);  b = a + softmax(q(a) k(a)ᵀ · 0.5) v(a);  f = b + mlp(ln2(b)) + u,
    mlp = Linear(E, 2E) → GELU (exact) → Linear(2E, E). The scale 0.5 = 1/√E for E = 4, exactly."""

    def __init__(self, features: int = 4):
        super().__init__()
        e = features
        self.ln1 = nn.LayerNorm(e)
        self.q = nn.Linear(e, e)
        self.k = nn.Linear(e, e)
        self.v = nn.Linear(e, e)
        self.ln2 = nn.LayerNorm(e)
        self.mlp = nn.Sequential(nn.Linear(e, 2 * e), nn.GELU(), nn.Linear(2 * e, e))

    def forward(self, h, u):
        a = self.ln1(h)
        scores = torch.matmul(self.q(a), self.k(a).transpose(-1, -2)) * 0.5
        b = a + torch.matmul(torch.softmax(scores, dim=-1), self.v(a))
        return b + self.mlp(self.ln2(b)) + u


class TokenMeanHead(nn.Linear):
    def forward(self, h):
        return super().forward(h.mean(dim=1))


class Attention(nn.Module):
    def __init__(self, tokens: int = 4, features: int = 4):
        super().__init__()
        self.injection = TokenInjection(64, tokens, features)
        self.cell = AttentionCell(features)
        self.head = TokenMeanHead(features, 10)


class GatedCell(nn.Module):
    """z = σ(Wz h + Uz u), r = σ(Wr h + Ur u), c = tanh(Wc (r ⊙ h) + Uc u), f = (1 − z) ⊙ h + z ⊙ c."""

    def __init__(self, d: int = 16):
        super().__init__()
        for name in ("wz", "wr", "wc", "uz", "ur", "uc"):
            setattr(self, name, nn.Linear(d, d, bias=False))

    def forward(self, h, u):
        z = torch.sigmoid(self.wz(h) + self.uz(u))
        r = torch.sigmoid(self.wr(h) + self.ur(u))
        c = torch.tanh(self.wc(r * h) + self.uc(u))
        return (1 - z) * h + z * c


class Gated(nn.Module):
    def __init__(self, d: int = 16):
        super().__init__()
        self.injection = nn.Linear(64, d)
        self.cell = GatedCell(d)
        self.head = nn.Linear(d, 10)


class MonotoneCell(nn.Module):
    """f = relu(W h + u), W = (1 − m) I − AᵀA + B − Bᵀ built in forward from A and B (m = 0.5)."""

    def __init__(self, d: int = 16, m: float = 0.5):
        super().__init__()
        self.m = m
        self.A = nn.Parameter(torch.empty(d, d))
        self.B = nn.Parameter(torch.empty(d, d))

    def forward(self, h, u):
        d = self.A.shape[1]
        w = (1 - self.m) * torch.eye(d, dtype=h.dtype) - self.A.T @ self.A + self.B - self.B.T
        return torch.relu(h @ w.T + u)


class MonDEQ(nn.Module):
    def __init__(self, d: int = 16):
        super().__init__()
        self.injection = nn.Linear(64, d)
        self.cell = MonotoneCell(d)
        self.head = nn.Linear(d, 10)


@contextlib.contextmanager
def _seeded_float64(seed):
    """Builds a model the same way whatever torch's default dtype is: parameters drawn in float64 from `seed`."""
    saved = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    torch.manual_seed(seed)
    try:
        with torch.no_grad():
            yield
    finally:
        torch.set_default_dtype(saved)


def _perturb_norms(model, gain, spread=0.05):
    """Norm layers' affine parameters: weight = gain + noise, bias = noise (fresh ones/zeros would be too special)."""
    for module in model.modules():
        if isinstance(module, (nn.GroupNorm, nn.LayerNorm)):
            module.weight.fill_(gain).add_(spread * torch.randn_like(module.weight))
            module.bias.copy_(spread * torch.randn_like(module.bias))


def mdeq2(inner_gain=0.125, injection_gain=3.0) -> MDEQ2:
    with _seeded_float64(26):
        model = MDEQ2()
        _perturb_norms(model, 1.0)
        for gn in (model.cell.gn_hi, model.cell.gn_lo):  # small inner gains against a strong injection: contractive
            gn.weight.mul_(inner_gain)
            gn.bias.mul_(inner_gain)
        model.cell.gn_out_hi.weight.mul_(0.5)
        model.cell.gn_out_lo.weight.mul_(0.5)
        model.injection.weight.mul_(injection_gain)
    return model.eval()


def attention(gain1=0.25, gain2=0.25) -> Attention:
    with _seeded_float64(27):
        model = Attention()
        _perturb_norms(model, 1.0)
        for ln, gain in ((model.cell.ln1, gain1), (model.cell.ln2, gain2)):  # small LayerNorm gains: contractive
            ln.weight.mul_(gain)
            ln.bias.mul_(gain)
    return model.eval()


def gated() -> Gated:
    with _seeded_float64(28):
        model = Gated()
        for name in ("wz", "wr", "wc"):
            getattr(model.cell, name).weight.mul_(0.5)
    return model.eval()


def mondeq() -> MonDEQ:
    with _seeded_float64(29):
        model = MonDEQ()
        d = model.cell.A.shape[0]
        model.cell.A.copy_(0.4 * torch.randn(d, d) / d ** 0.5)
        model.cell.B.copy_(0.2 * torch.randn(d, d) / d ** 0.5)
    return model.eval()


# name → (factory, state shape incl. batch 1, export options)
MODELS = {
    "mdeq2": (mdeq2, [1, 320], {}),
    "attention": (attention, [1, 4, 4], {}),
    "gated": (gated, [1, 16], {"dynamic_batch": True}),
    "mondeq": (mondeq, [1, 16], {}),
}
INPUT_SHAPE = [1, 64]


# ------------------------------------------------------------------------------------ PyTorch reference math

class Functional:
    """f(θ, h, x), head(θ_head, h) and the loss on one sample, with θ a dict over the names of f's parameters.

    `theta_names` (the order of θ in every flattened p-vector) defaults to the module's parameter order; pass the
    ONNX initializer order to match phantom's."""

    def __init__(self, model, theta_names=None, head_names=None):
        self.model = model
        named = dict(model.named_parameters())
        self.theta_names = list(theta_names) if theta_names is not None else [
            n for n in named if n.startswith(("injection.", "cell."))]
        self.head_names = list(head_names) if head_names is not None else [n for n in named if n.startswith("head.")]
        self.theta = {n: named[n].detach() for n in self.theta_names}
        self.head_params = {n: named[n].detach() for n in self.head_names}
        self.state_shape = None

    def f(self, theta, h, x):
        """h, x, result: one sample (batch 1 in front)."""
        u = functional_call(self.model.injection, _strip(theta, "injection."), (x,))
        return functional_call(self.model.cell, _strip(theta, "cell."), (h, u))

    def logits(self, head, h):
        return functional_call(self.model.head, _strip(head, "head."), (h,))

    def loss(self, head, h, label):
        return F.cross_entropy(self.logits(head, h).reshape(1, -1), torch.tensor([int(label)]))

    def flat(self, grads):
        return torch.cat([grads[n].flatten() for n in self.theta_names])

    def unflat(self, vector):
        out, at = {}, 0
        for n in self.theta_names:
            size = self.theta[n].numel()
            out[n] = vector[at:at + size].reshape(self.theta[n].shape)
            at += size
        return out

    @property
    def p(self):
        return sum(t.numel() for t in self.theta.values())


def _strip(params, prefix):
    return {n[len(prefix):]: t for n, t in params.items() if n.startswith(prefix)}


def fixed_point(fn: Functional, x, state_shape, tolerance=1e-14, max_iterations=5000):
    """Plain iteration from h = 0 until ‖f(h) − h‖ ≤ tolerance · max(1, ‖h‖) (crosscheck_mdeq.py's rule).
    Returns (h*, iterations, final relative residual ‖f(h*) − h*‖ / max(1, ‖h*‖))."""
    h = torch.zeros(state_shape, dtype=torch.float64)
    with torch.no_grad():
        for i in range(1, max_iterations + 1):
            h_next = fn.f(fn.theta, h, x)
            step = torch.linalg.norm(h_next - h).item()
            h = h_next
            if step <= tolerance * max(1.0, torch.linalg.norm(h).item()):
                break
        residual = torch.linalg.norm(fn.f(fn.theta, h, x) - h).item() / max(1.0, torch.linalg.norm(h).item())
    return h, i, residual


def reference(fn: Functional, h_star, x, label, ks, lambdas):
    """Everything phantom reports for one sample at its fixed point, in PyTorch float64.

    Returns a dict: loss, logits, g (∂L/∂h*), J (d×d, flattened state), spectral_radius, jacobian_norm, pull
    (v ↦ Mᵀ v as a flat p-vector), w (adjoint solution), exact, head_gradient, and upg/npg: {(k, λ): p-vector}."""
    shape = h_star.shape
    d = h_star.numel()
    h = h_star.detach()
    hh = h.clone().requires_grad_(True)
    head = {n: t.clone().requires_grad_(True) for n, t in fn.head_params.items()}
    loss = fn.loss(head, hh, label)
    grads = torch.autograd.grad(loss, [hh, *head.values()])
    g = grads[0].flatten()
    head_gradient = torch.cat([t.flatten() for t in grads[1:]])

    def f_flat(v):
        return fn.f(fn.theta, v.reshape(shape), x).flatten()

    J = jacrev(f_flat)(h.flatten())
    _, pull_dict = vjp(lambda th: fn.f(th, h, x).flatten(), fn.theta)

    def pull(v):
        return fn.flat(pull_dict(v)[0])

    eye = torch.eye(d, dtype=torch.float64)
    w = torch.linalg.solve((eye - J).T, g)
    exact = pull(w)
    upg, npg = {}, {}
    for lam in lambdas:
        B = lam * J + (1 - lam) * eye
        for k in ks:
            acc, u = torch.zeros(d, dtype=torch.float64), g.clone()
            for _ in range(k):
                acc += u
                u = B.T @ u
            npg[(k, lam)] = pull(lam * acc)

            def unrolled(th, k=k, lam=lam):
                hk = h
                for _ in range(k):
                    hk = (1 - lam) * hk + lam * fn.f(th, hk, x)
                return fn.loss(fn.head_params, hk, label)

            upg[(k, lam)] = fn.flat(torch.func.grad(unrolled)(fn.theta))
    return {"loss": loss.item(), "logits": fn.logits(fn.head_params, h).detach().flatten(), "g": g, "J": J,
            "spectral_radius": torch.linalg.eigvals(J).abs().max().item(),
            "jacobian_norm": torch.linalg.matrix_norm(J, 2).item(),
            "pull": pull, "w": w, "exact": exact, "head_gradient": head_gradient, "upg": upg, "npg": npg}


def jvp_h(fn: Functional, h, x, v):
    """J v at h (v in the state's shape)."""
    return jvp(lambda s: fn.f(fn.theta, s, x), (h,), (v,))[1]


def jvp_theta(fn: Functional, h, x, w_flat):
    """M w at h (w a flat p-vector in θ order)."""
    return jvp(lambda th: fn.f(th, h, x), (fn.theta,), (fn.unflat(w_flat),))[1]
