"""Round trip of `mbn separate --torch-plan` for test/torch-plan.test.ts (torch 1.13 or 2.x; torchvision optional).

    python torch_plan_roundtrip.py export EXPORTER DIR KIND... -> DIR/KIND/model.onnx, state.pt, x.npy
    python torch_plan_roundtrip.py apply  EXPORTER DIR KIND... -> DIR/KIND/patched.npy, distilled.onnx (the plan in
                                                                   DIR/KIND/plan); {KIND: result} as JSON on stdout

KIND: resnet18 (torchvision), blocks (nested modules, a grouped conv, convs with and without BatchNorm and bias),
conv1d. EXPORTER: legacy (TorchScript, dynamo=False on torch >= 2) or dynamo. BatchNorm affine parameters are drawn
at random and its statistics measured on inputs, so that folding them into the convs changes the weights (fresh
BatchNorms scale by ~1).
"""

import json
import os
import sys

import numpy as np
import torch
from torch import nn

torch.manual_seed(0)


class Block(nn.Module):
    def __init__(self, c_in, c_out, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1, groups=2, bias=True)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.downsample = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False), nn.BatchNorm2d(c_out))

    def forward(self, x):
        y = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(y)) + self.downsample(x))


def build(kind):
    torch.manual_seed(0)
    if kind == "resnet18":
        import torchvision

        return torchvision.models.resnet18(weights=None, num_classes=10), (2, 3, 32, 32)
    if kind == "blocks":
        model = nn.Sequential(
            nn.Conv2d(3, 16, 3, padding=1, bias=False),
            nn.BatchNorm2d(16),
            nn.ReLU(),
            nn.Sequential(Block(16, 32, 2), Block(32, 32, 1)),
            # A conv with a bias and no BatchNorm after it.
            nn.Conv2d(32, 32, 3, padding=2, dilation=2, bias=True),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Linear(32, 5),
        )
        return model, (2, 3, 16, 16)
    if kind == "conv1d":
        model = nn.Sequential(
            nn.Conv1d(4, 16, 5, padding=2, bias=False),
            nn.BatchNorm1d(16),
            nn.ReLU(),
            nn.Conv1d(16, 24, 3, stride=2, dilation=2, padding=2, bias=True),
            nn.ReLU(),
            nn.Conv1d(24, 24, 3, padding=1, bias=True),
            nn.BatchNorm1d(24),
            nn.ReLU(),
            nn.AdaptiveAvgPool1d(1),
            nn.Flatten(),
            nn.Linear(24, 3),
        )
        return model, (2, 4, 64)
    raise SystemExit(f"unknown model kind {kind}")


def export(model, x, path, exporter):
    model.eval()
    kwargs = {}
    if int(torch.__version__.split(".")[0]) >= 2:
        kwargs["dynamo"] = exporter == "dynamo"
    elif exporter == "dynamo":
        raise SystemExit("the dynamo exporter needs torch 2")
    torch.onnx.export(model, (x,), path, input_names=["x"], output_names=["y"], **kwargs)


def export_kind(kind, exporter, out):
    model, shape = build(kind)
    g = torch.Generator().manual_seed(1)
    # As after training: random affine parameters, and running statistics that are those of the inputs (the
    # cumulative average over batches like the test's), so that train-mode BatchNorm keeps the function.
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
                m.weight.copy_(0.5 + torch.rand(m.num_features, generator=g))
                m.bias.copy_(torch.rand(m.num_features, generator=g) - 0.5)
                m.reset_running_stats()
                m.momentum = None
        model.train()
        for _ in range(8):
            model(torch.randn(16, *shape[1:], generator=g))
        for m in model.modules():
            if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
                m.momentum = 0.1
    torch.save(model.state_dict(), os.path.join(out, "state.pt"))
    x = torch.randn(*shape, generator=g)
    np.save(os.path.join(out, "x.npy"), x.numpy())
    export(model, x, os.path.join(out, "model.onnx"), exporter)


def apply_kind(kind, exporter, out):
    import mbn_torch

    plan = os.path.join(out, "plan")
    model, shape = build(kind)
    model.load_state_dict(torch.load(os.path.join(out, "state.pt")))
    teacher, _ = build(kind)
    teacher.load_state_dict(torch.load(os.path.join(out, "state.pt")))
    teacher.eval()
    replaced = mbn_torch.apply(model, plan)
    model.eval()
    x = torch.from_numpy(np.load(os.path.join(out, "x.npy")))
    with torch.no_grad():
        np.save(os.path.join(out, "patched.npy"), model(x).numpy())

    # Distillation: the patched model (train mode, its BatchNorms updating) learns the original's outputs on
    # unlabeled inputs; the loss is measured in eval mode on held-out inputs before and after.
    g = torch.Generator().manual_seed(2)
    held = torch.randn(16, *shape[1:], generator=g)

    def held_loss():
        model.eval()
        with torch.no_grad():
            return nn.functional.mse_loss(model(held), teacher(held)).item()

    before = held_loss()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    for _ in range(40):
        model.train()
        batch = torch.randn(16, *shape[1:], generator=g)
        with torch.no_grad():
            target = teacher(batch)
        loss = nn.functional.mse_loss(model(batch), target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    after = held_loss()
    export(model, x, os.path.join(out, "distilled.onnx"), exporter)
    return {"torch": torch.__version__, "replaced": list(replaced), "lossBefore": before, "lossAfter": after}


def main():
    mode, exporter, out, kinds = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
    if mode == "export":
        for kind in kinds:
            os.makedirs(os.path.join(out, kind), exist_ok=True)
            export_kind(kind, exporter, os.path.join(out, kind))
        return
    # Every plan holds the same mbn_torch.py: the first one is imported.
    sys.path.insert(0, os.path.join(out, kinds[0], "plan"))
    print(json.dumps({kind: apply_kind(kind, exporter, os.path.join(out, kind)) for kind in kinds}))


if __name__ == "__main__":
    main()
