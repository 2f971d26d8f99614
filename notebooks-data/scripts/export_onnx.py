"""Exports an implicit model to ONNX the way phantom's importer reads it (needs torch, onnx, onnxscript, numpy).

The model file: one graph with inputs `h` (the state, [1, …]) and `x` (one data row, [1, n_in]) and outputs `f`
(the cell applied to h with the injection of x, h's shape) and `logits` ([1, c]). It is written by

    torch.onnx.export(wrapper, (h0, x0), path, input_names=["h", "x"], output_names=["f", "logits"],
                      dynamo=True, optimize=False, external_data=...)

on a float64 copy of the module (opset 20), so the initializers are the module's state-dict entries, with the
same names and bitwise the same values. θ, the parameters f depends on, and the head's parameters are told apart
by what each output reaches in the graph.

The module has submodules `injection` (x → u), `cell` ((h, u) → f) and `head` (h → logits); or pass the three
parts as a tuple (injection, cell, head) of modules or plain callables. The wrapper's forward(h, x) returns
(cell(h, injection(x)), head(h)).

    from export_onnx import export_onnx
    export_onnx(model, "model.onnx", state_shape=[1, 320], input_shape=[1, 64])

    python3 notebooks-data/scripts/export_onnx.py FILE.py:FACTORY out.onnx --state-shape 1,320
        [--input-shape 1,64] [--external-data] [--dynamic-batch] [--no-check]

FACTORY is a function in FILE.py (or an importable module name) returning the model, e.g.
`notebooks-data/scripts/onnx_models.py:mdeq2`.

Options:
- external_data: write the initializers to a sidecar `out.onnx.data` (the exporter's default; its `location` is
  the sidecar's file name, relative to the model's folder) instead of one self-contained file.
- dynamic_batch: export with a batch-2 example and a symbolic batch axis on h, x, f and logits (a batch-1
  example silently gives a static graph).
- check: evaluate the written file with onnx's ReferenceEvaluator (with Erf in float64: the stock one computes it
  in float32, which moves GELU by ~5e-8) on 3 random (h, x) and require f and logits to equal PyTorch's to 1e-12
  relative. Norm layers' eps is stored in the graph as a float32 attribute (float32(1e-5) =
  9.999999747378752e-06), so the comparison runs PyTorch with each norm module's eps rounded to float32 the same
  way; the difference to the module as it is (its effect, ~1e-13–1e-11) is printed beside it. Also checks that
  the initializers are the state dict (names and bitwise values) and warns about operators outside the set
  phantom's importer supports.
"""
import argparse
import collections
import contextlib
import copy
import importlib
import importlib.util
import logging
import math
import os
import sys
import warnings

import numpy as np
import onnx
import torch
from onnx import numpy_helper
from onnx.reference import ReferenceEvaluator
from onnx.reference.op_run import OpRun

SUPPORTED_OPS = set("""
    Gemm MatMul Add Sub Mul Div Neg Relu LeakyRelu Tanh Sigmoid Softplus Gelu Exp Sqrt Erf Softmax
    LayerNormalization GroupNormalization InstanceNormalization BatchNormalization Conv Resize AveragePool
    GlobalAveragePool MaxPool Pad Identity Reshape Flatten Squeeze Unsqueeze Transpose Concat Slice Split
    ReduceSum ReduceMean
    Shape Constant ConstantOfShape Expand Cast CastLike Range Gather Equal Where
""".split())
RELATIVE_TOLERANCE = 1e-12


class DEQWrapper(torch.nn.Module):
    """forward(h, x) = (cell(h, injection(x)), head(h)); its state dict is the parts' state dicts under the
    prefixes injection., cell. and head."""

    def __init__(self, module_or_parts):
        super().__init__()
        if isinstance(module_or_parts, (tuple, list)):
            parts = module_or_parts
            if len(parts) != 3:
                raise ValueError("pass the parts as (injection, cell, head)")
        else:
            missing = [n for n in ("injection", "cell", "head") if not hasattr(module_or_parts, n)]
            if missing:
                raise ValueError(f"the module has no {', '.join(missing)}; pass (injection, cell, head) instead")
            parts = (module_or_parts.injection, module_or_parts.cell, module_or_parts.head)
        self.injection, self.cell, self.head = (p if isinstance(p, torch.nn.Module) else _Callable(p) for p in parts)

    def forward(self, h, x):
        return self.cell(h, self.injection(x)), self.head(h)


class _Callable(torch.nn.Module):
    """A plain function as a part without parameters (tensors it captures become constants of the graph)."""

    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, *args):
        return self.fn(*args)


class Erf(OpRun):
    """Erf in the input's precision (onnx's reference Erf rounds through float32)."""

    op_domain = ""

    def _run(self, x):
        return (np.vectorize(math.erf, otypes=[x.dtype])(x) if x.size else x.copy(),)


class ReferenceEvaluator64(ReferenceEvaluator):
    """onnx's ReferenceEvaluator with Erf in float64, also inside function bodies (Gelu is expanded into Erf by its
    schema's function, evaluated by this same class)."""

    def __init__(self, proto, *args, new_ops=None, **kwargs):
        super().__init__(proto, *args, new_ops=[Erf, *(new_ops or [])], **kwargs)


@contextlib.contextmanager
def float32_norm_eps(module):
    """Rounds every norm module's eps to float32 for the duration, as the ONNX graph stores it."""
    saved = []
    for m in module.modules():
        if isinstance(getattr(m, "eps", None), float):
            saved.append((m, m.eps))
            m.eps = float(np.float32(m.eps))
    try:
        yield bool(saved)
    finally:
        for m, eps in saved:
            m.eps = eps


def reachable_initializers(graph, output):
    """Initializer names that the output depends on, in initializer order."""
    producer = {o: n for n in graph.node for o in n.output}
    initializers = {i.name for i in graph.initializer}
    seen, found, stack = set(), set(), [output]
    while stack:
        name = stack.pop()
        if name in seen or not name:
            continue
        seen.add(name)
        if name in initializers:
            found.add(name)
        if name in producer:
            stack.extend(producer[name].input)
    return [i.name for i in graph.initializer if i.name in found]


def _quiet_exporter():
    for name in ("torch.onnx", "torch.onnx._internal.exporter._registration", "onnxscript"):
        logging.getLogger(name).setLevel(logging.ERROR)


def export_onnx(module_or_parts, path, state_shape, input_shape, *, external_data=False, dynamic_batch=False,
                check=True, seed=0):
    """Writes the model to `path` (and `path + ".data"` with external_data). Shapes include the batch 1
    (e.g. state_shape=[1, 320], input_shape=[1, 64]). Returns a summary: opset, op type counts, θ's and the head's
    initializer names, and with check the largest differences to PyTorch."""
    state_shape, input_shape = list(state_shape), list(input_shape)
    if state_shape[0] != 1 or input_shape[0] != 1:
        raise ValueError("state_shape and input_shape include the batch dimension 1 in front")
    wrapper = copy.deepcopy(DEQWrapper(module_or_parts)).to(torch.float64).eval()
    batch = 2 if dynamic_batch else 1
    generator = torch.Generator().manual_seed(seed)
    h0 = torch.randn([batch, *state_shape[1:]], generator=generator, dtype=torch.float64)
    x0 = torch.rand([batch, *input_shape[1:]], generator=generator, dtype=torch.float64)
    dynamic_shapes = None
    if dynamic_batch:
        b = torch.export.Dim("batch")
        dynamic_shapes = {"h": {0: b}, "x": {0: b}}
    _quiet_exporter()
    if os.path.exists(path + ".data"):
        os.remove(path + ".data")  # the exporter would otherwise leave a stale sidecar (or append to it)
    with warnings.catch_warnings():  # h and x share the batch axis, which the exporter mentions
        warnings.filterwarnings("ignore", message="# The axis name")
        torch.onnx.export(wrapper, (h0, x0), path, input_names=["h", "x"], output_names=["f", "logits"], dynamo=True,
                          optimize=False, external_data=external_data, dynamic_shapes=dynamic_shapes, verbose=False)
    locations = sorted({e.value for i in onnx.load(path, load_external_data=False).graph.initializer
                        for e in i.external_data if e.key == "location"})
    model = onnx.load(path)  # follows the sidecar (relative to path's folder)
    graph = model.graph
    theta, read_by_head = reachable_initializers(graph, "f"), reachable_initializers(graph, "logits")
    summary = {
        "opset": {o.domain or "ai.onnx": o.version for o in model.opset_import},
        "ir_version": model.ir_version,
        "ops": collections.Counter(n.op_type for n in graph.node),
        "theta": theta,
        "head": [n for n in read_by_head if n not in theta],
        "inputs": {i.name: [d.dim_param or d.dim_value for d in i.type.tensor_type.shape.dim] for i in graph.input},
        "outputs": {o.name: [d.dim_param or d.dim_value for d in o.type.tensor_type.shape.dim] for o in graph.output},
        "external": locations,
    }
    shared = [n for n in read_by_head if n in theta]
    if shared:
        print(f"warning: {path}: parameters read by both f and the head (phantom refuses them): {', '.join(shared)}")
    unsupported = sorted(set(summary["ops"]) - SUPPORTED_OPS)
    if unsupported:
        print(f"warning: {path}: operators phantom's importer does not support: {', '.join(unsupported)}")
    if model.functions:
        print(f"warning: {path}: {len(model.functions)} local functions")
    if any("/" in loc or "\\" in loc or loc in ("", ".", "..") for loc in summary["external"]):
        raise RuntimeError(f"{path}: external data location is not a plain file name: {summary['external']}")
    if check:
        _check_initializers(wrapper, graph, path)
        summary.update(_check_values(wrapper, model, state_shape, input_shape, dynamic_batch, seed, path))
    return summary


def _check_initializers(wrapper, graph, path):
    state = wrapper.state_dict()
    names = [i.name for i in graph.initializer]
    if names != list(state) and sorted(names) != sorted(state):
        extra, missing = sorted(set(names) - set(state)), sorted(set(state) - set(names))
        hint = " (tensors captured by a plain function become constants: make them module parameters)" if extra else ""
        raise RuntimeError(f"{path}: initializers are not the state dict: extra {extra}, missing {missing}{hint}")
    for init in graph.initializer:
        value, expected = numpy_helper.to_array(init), state[init.name].detach().cpu().numpy()
        if value.dtype != expected.dtype or value.shape != expected.shape or value.tobytes() != expected.tobytes():
            raise RuntimeError(f"{path}: initializer {init.name} differs from the state dict")
    print(f"{path}: {len(names)} initializers = the state dict (names{' and order' if names == list(state) else ''}"
          f", bitwise values)")


def _relative(a, b):
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), np.finfo(np.float64).tiny))


def _check_values(wrapper, model, state_shape, input_shape, dynamic_batch, seed, path):
    evaluator = ReferenceEvaluator64(model)
    generator = torch.Generator().manual_seed(seed + 1)
    batches = [1, 1, 1] + ([3] if dynamic_batch else [])
    worst = {"f": 0.0, "logits": 0.0}
    worst_as_is = {"f": 0.0, "logits": 0.0}
    for batch in batches:
        h = 0.5 * torch.randn([batch, *state_shape[1:]], generator=generator, dtype=torch.float64)
        x = torch.rand([batch, *input_shape[1:]], generator=generator, dtype=torch.float64)
        f_onnx, logits_onnx = evaluator.run(None, {"h": h.numpy(), "x": x.numpy()})
        with torch.no_grad():
            as_is = [t.numpy() for t in wrapper(h, x)]
            with float32_norm_eps(wrapper):
                rounded = [t.numpy() for t in wrapper(h, x)]
        for key, got, ref, ref_as_is in zip(("f", "logits"), (f_onnx, logits_onnx), rounded, as_is):
            if got.shape != ref.shape or got.dtype != np.float64:
                raise RuntimeError(f"{path}: {key} has shape {got.shape} {got.dtype}, PyTorch {ref.shape}")
            worst[key] = max(worst[key], _relative(got, ref))
            worst_as_is[key] = max(worst_as_is[key], _relative(got, ref_as_is))
    note = f" (batch sizes {batches})" if dynamic_batch else ""
    print(f"{path}: ReferenceEvaluator (Erf in float64) vs PyTorch{note}, largest relative difference: "
          f"f {worst['f']:.1e}, logits {worst['logits']:.1e}; vs the module with eps as is: "
          f"f {worst_as_is['f']:.1e}, logits {worst_as_is['logits']:.1e}")
    if max(worst.values()) > RELATIVE_TOLERANCE:
        raise RuntimeError(f"{path}: the ONNX graph differs from PyTorch by more than {RELATIVE_TOLERANCE:g}")
    return {"max_relative_difference": worst, "max_relative_difference_eps_as_is": worst_as_is}


def _load_factory(spec):
    source, _, name = spec.rpartition(":")
    if not source:
        raise SystemExit("give the model as FILE.py:FACTORY or MODULE:FACTORY")
    if source.endswith(".py"):
        sys.path.insert(0, os.path.dirname(os.path.abspath(source)))
        loaded = importlib.util.spec_from_file_location(os.path.splitext(os.path.basename(source))[0], source)
        module = importlib.util.module_from_spec(loaded)
        loaded.loader.exec_module(module)
    else:
        module = importlib.import_module(source)
    return getattr(module, name)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("factory", help="FILE.py:FACTORY or MODULE:FACTORY, a function returning the model")
    parser.add_argument("output", help="the .onnx file to write")
    parser.add_argument("--state-shape", required=True, help="h's shape with the batch 1, e.g. 1,320")
    parser.add_argument("--input-shape", default="1,64", help="x's shape with the batch 1 (default 1,64)")
    parser.add_argument("--external-data", action="store_true", help="initializers in OUTPUT.data")
    parser.add_argument("--dynamic-batch", action="store_true", help="a symbolic batch axis")
    parser.add_argument("--no-check", action="store_true", help="skip the ReferenceEvaluator check")
    args = parser.parse_args(argv)
    shape = lambda text: [int(s) for s in text.split(",")]  # noqa: E731
    torch.set_default_dtype(torch.float64)
    model = _load_factory(args.factory)()
    summary = export_onnx(model, args.output, shape(args.state_shape), shape(args.input_shape),
                          external_data=args.external_data, dynamic_batch=args.dynamic_batch, check=not args.no_check)
    print(f"{args.output}: opset {summary['opset']}, θ {len(summary['theta'])} tensors, head {len(summary['head'])}; "
          + ", ".join(f"{op} {n}" for op, n in sorted(summary["ops"].items())))


if __name__ == "__main__":
    main()
