"""Apply an `mbn separate --torch-plan DIR` plan to the PyTorch model the ONNX file was exported from.

    import mbn_torch
    replaced = mbn_torch.apply(model, "DIR")   # in place; returns {module path: the nn.Conv it replaced}

Each planned nn.Conv2d / nn.Conv1d becomes nn.Sequential(depthwise, pointwise) with the weights mbn chose (after
calibration when `--calibrate` ran), so that the patched model, in eval mode, computes what the separated ONNX model
computes, and trains like any other model (fine-tune it against the original: see mbn's README, "Fine-tuning in
PyTorch").

The exporter folds a BatchNorm that follows a conv into the conv's weight (W * s per output channel, s = gamma /
sqrt(running_var + eps)); the separated ONNX pair approximates that folded conv. The patched model keeps its
BatchNorm, so the pointwise weights are divided by s and the pointwise bias is set so that conv -> BatchNorm gives
the ONNX pair's output. s is measured, not assumed: the plan holds, per output channel, the position and value of
the exported weight's largest entry, which is compared with the module's own weight.

Needs only torch (1.13 or later). This file is written by mbn (schema mbn.torch-plan/1); it reads safetensors itself.
"""

import json
import os
import struct
from collections import OrderedDict

import torch
from torch import nn

SCHEMA = "mbn.torch-plan/1"

_DTYPES = {
    "F64": torch.float64,
    "F32": torch.float32,
    "F16": torch.float16,
    "BF16": torch.bfloat16,
    "I64": torch.int64,
    "I32": torch.int32,
}

# A scale measured from float32 weights agrees with the BatchNorm's to about 1e-7; this leaves room for float16.
_SCALE_TOLERANCE = 1e-3


class PlanError(ValueError):
    """The plan does not fit the model (a module missing, other weights, another geometry)."""


def load_safetensors(path):
    """{name: tensor} from a safetensors file (8-byte header length, JSON header, little-endian data)."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 8:
        raise PlanError(f"{path}: not a safetensors file (too short)")
    (length,) = struct.unpack("<Q", data[:8])
    if 8 + length > len(data):
        raise PlanError(f"{path}: not a safetensors file (header length {length} past the end)")
    header = json.loads(data[8 : 8 + length].decode("utf-8"))
    body = data[8 + length :]
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        dtype = _DTYPES[info["dtype"]]
        raw = bytearray(body[begin:end])
        flat = torch.frombuffer(raw, dtype=dtype) if raw else torch.zeros(0, dtype=dtype)
        tensors[name] = flat.reshape(info["shape"]).clone()
    return tensors


def load_plan(plan_dir):
    with open(os.path.join(plan_dir, "separation.json"), encoding="utf-8") as f:
        plan = json.load(f)
    if plan.get("schema") != SCHEMA:
        raise PlanError(f"{plan_dir}: separation.json has schema {plan.get('schema')!r}, this file reads {SCHEMA!r}")
    return plan, load_safetensors(os.path.join(plan_dir, plan["weights"]))


def _conv_paths(model):
    return [name for name, m in model.named_modules() if isinstance(m, (nn.Conv1d, nn.Conv2d))]


def _missing(entry, model, why):
    paths = _conv_paths(model)
    shown = ", ".join(paths[:20]) + (f", ... ({len(paths)} in all)" if len(paths) > 20 else "")
    where = f"module path {entry['module']!r}" if entry["module"] else "no module path (the node name is not torch.onnx.export's)"
    return PlanError(f"ONNX conv {entry['onnxNode']!r}: {where}: {why}; the model's Conv1d/Conv2d modules: {shown or 'none'}")


def _check_geometry(entry, conv):
    k = tuple(entry["kernel"])
    got = {
        "in_channels": conv.in_channels,
        "out_channels": conv.out_channels,
        "groups": conv.groups,
        "kernel": tuple(conv.kernel_size),
        "stride": tuple(conv.stride),
        "dilation": tuple(conv.dilation),
    }
    want = {
        "in_channels": entry["inChannels"],
        "out_channels": entry["outChannels"],
        "groups": entry["groups"],
        "kernel": k,
        "stride": tuple(entry["stride"]),
        "dilation": tuple(entry["dilation"]),
    }
    for key, value in want.items():
        if got[key] != value:
            raise PlanError(f"ONNX conv {entry['onnxNode']!r} and module {entry['module']!r} differ: {key} {value} in the plan, {got[key]} in the model")


def _bn_scale(bn):
    return (bn.weight.detach() if bn.affine else torch.ones_like(bn.running_var)).double() / torch.sqrt(bn.running_var.double() + bn.eps)


def _bn_shift(bn):
    return bn.bias.detach().double() if bn.affine else torch.zeros_like(bn.running_mean, dtype=torch.float64)


def _matches(scale, want, defined):
    return bool(torch.all(torch.abs(scale - want)[defined] <= _SCALE_TOLERANCE * torch.abs(want)[defined] + 1e-12))


def _folded_batchnorm(entry, conv, tensors, order, modules):
    """The BatchNorm the exporter folded into this conv, or None when the exported weight is the module's own."""
    w = entry["weights"]
    n = conv.out_channels
    own = conv.weight.detach().double().reshape(n, -1)
    index = tensors[w["referenceIndex"]].long()
    value = tensors[w["referenceValue"]].double()
    at = own[torch.arange(n), index]
    defined = at != 0
    if not bool(defined.any()):
        return None
    scale = torch.where(defined, value / torch.where(defined, at, torch.ones_like(at)), torch.zeros_like(at))
    own_bias = conv.bias.detach().double() if conv.bias is not None else torch.zeros(n, dtype=torch.float64)
    ref_bias = tensors[w["referenceBias"]].double() if w["referenceBias"] else None

    def bias_fits(bn):
        if ref_bias is None:
            return True
        s, beta = (_bn_scale(bn), _bn_shift(bn)) if bn is not None else (torch.ones(n, dtype=torch.float64), torch.zeros(n, dtype=torch.float64))
        mean = bn.running_mean.double() if bn is not None else torch.zeros(n, dtype=torch.float64)
        expected = (own_bias - mean) * s + beta
        return bool(torch.all(torch.abs(expected - ref_bias) <= _SCALE_TOLERANCE * (torch.abs(ref_bias) + torch.abs(beta) + torch.abs(mean * s)) + 1e-6))

    def fits(bn):
        return bn.running_var is not None and _matches(scale, _bn_scale(bn), defined) and bias_fits(bn)

    batchnorms = [(p, m) for p, m in modules if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)) and m.num_features == n]
    # The BatchNorm that follows the conv in module order (torchvision's conv1/bn1, Conv-BN-ReLU blocks) comes first;
    # an untrained BatchNorm scales by 1/sqrt(1 + eps), so "no BatchNorm" fits it too and must not win over it.
    after = [bn for p, bn in batchnorms if order[p] > order[entry["module"]]]
    if after and fits(after[0]):
        return after[0]
    if _matches(scale, torch.ones(n, dtype=torch.float64), defined) and bias_fits(None):
        return None
    anywhere = [bn for _, bn in batchnorms if fits(bn)]
    if len(anywhere) == 1:
        return anywhere[0]
    ratio = scale[defined]
    raise PlanError(
        f"ONNX conv {entry['onnxNode']!r}: the exported weights are module {entry['module']!r}'s own scaled per output channel "
        f"(by {ratio.min().item():.4g} to {ratio.max().item():.4g}), as by a folded BatchNorm, but "
        + ("no BatchNorm module of the model has that scale" if not anywhere else f"{len(anywhere)} BatchNorm modules have it")
        + ": was the model changed after export?"
    )


def _pair(entry, conv, tensors, bn):
    w = entry["weights"]
    kind = type(conv) if type(conv) in (nn.Conv1d, nn.Conv2d) else (nn.Conv2d if conv.weight.dim() == 4 else nn.Conv1d)
    r = entry["rank"]
    c = conv.in_channels
    dw_w = tensors[w["depthwise"]]
    pw_w = tensors[w["pointwise"]].double()
    if tuple(dw_w.shape) != (c * r, 1, *conv.kernel_size) or tuple(pw_w.shape[:2]) != (conv.out_channels, c * r // conv.groups):
        raise PlanError(f"ONNX conv {entry['onnxNode']!r}: the plan's weights {tuple(dw_w.shape)}, {tuple(pw_w.shape)} do not fit module {entry['module']!r}")
    fitted = tensors[w["pointwiseBias"]].double() if w["pointwiseBias"] else None
    bias = fitted
    if bn is not None:
        # conv_pw -> BN must give the ONNX pair (P, b'): (P' x + b - mean) * s + beta = P x + b', so P' = P / s and
        # b = (b' - beta) / s + mean. Without a fitted bias the conv keeps its own (b' is the folded one: exact).
        s = _bn_scale(bn)
        zero = s == 0
        safe = torch.where(zero, torch.ones_like(s), s)
        pw_w = torch.where(zero.reshape(-1, *[1] * (pw_w.dim() - 1)), torch.zeros_like(pw_w), pw_w / safe.reshape(-1, *[1] * (pw_w.dim() - 1)))
        if fitted is not None:
            bias = torch.where(zero, bn.running_mean.double(), (fitted - _bn_shift(bn)) / safe + bn.running_mean.double())
    if bias is None and conv.bias is not None:
        bias = conv.bias.detach().double()
    device, dtype = conv.weight.device, conv.weight.dtype
    depthwise = kind(c, c * r, conv.kernel_size, stride=conv.stride, padding=conv.padding, dilation=conv.dilation, groups=c, bias=False, padding_mode=conv.padding_mode)
    pointwise = kind(c * r, conv.out_channels, 1, groups=conv.groups, bias=bias is not None)
    with torch.no_grad():
        depthwise.weight.copy_(dw_w.to(torch.float64))
        pointwise.weight.copy_(pw_w)
        if bias is not None:
            pointwise.bias.copy_(bias)
    pair = nn.Sequential(OrderedDict([("depthwise", depthwise), ("pointwise", pointwise)])).to(device=device, dtype=dtype)
    pair.train(conv.training)
    return pair


def apply(model, plan_dir):
    """Replaces, in place, each conv of the plan by its depthwise + pointwise pair; returns {path: the replaced conv}.

    Raises PlanError, naming the conv, when a planned module is missing or does not match the exported one; nothing
    is replaced then (every conv is checked before any is swapped).
    """
    plan, tensors = load_plan(plan_dir)
    modules = list(model.named_modules())
    by_path = dict(modules)
    order = {p: i for i, (p, _) in enumerate(modules)}
    swaps = []
    seen = set()
    for entry in plan["convs"]:
        path = entry["module"]
        if path in seen:
            # One module called twice is two ONNX convs with one weight (fitted once, on both uses): swapped once.
            continue
        conv = by_path.get(path) if path is not None else None
        if path is None or conv is None:
            raise _missing(entry, model, "no such module")
        if not isinstance(conv, (nn.Conv1d, nn.Conv2d)):
            raise _missing(entry, model, f"it is an {type(conv).__name__!r}, not an nn.Conv1d/nn.Conv2d")
        _check_geometry(entry, conv)
        bn = _folded_batchnorm(entry, conv, tensors, order, modules)
        swaps.append((path, conv, _pair(entry, conv, tensors, bn)))
        seen.add(path)
    replaced = OrderedDict()
    for path, conv, pair in swaps:
        parent_path, _, name = path.rpartition(".")
        parent = by_path[parent_path] if parent_path else model
        setattr(parent, name, pair)
        replaced[path] = conv
    return replaced
