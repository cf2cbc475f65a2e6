#!/usr/bin/env python3
"""What `mbn separate --torch-plan` plus a short distillation buys, measured on a CNN trained here from scratch.

Task: digits 0-9 rendered with the DejaVu fonts (fonts-dejavu-core: six faces, random size, position, rotation,
stroke colour, background noise), 32x32 grey. The model (four 3x3 conv + BatchNorm + ReLU layers, two max pools,
global average pool, a linear classifier) is trained from scratch, exported with torch.onnx.export, separated by mbn
at rank 1 (SVD weights; then calibrated on unlabeled rendered digits), patched in PyTorch with mbn_torch.apply, and
distilled against the original (KL divergence on logits, unlabeled images; BatchNorm statistics frozen as in the
README's recipe, then in train mode for comparison). Accuracy is measured on
held-out rendered digits; the patched model in eval mode computes what the separated ONNX model computes (see
test/torch-plan.test.ts), so its accuracy is the ONNX model's.

    /usr/bin/python3 scripts/torch-plan-demo.py [--out DIR] [--mbn 'node bin/mbn.js'] [--seed 0]

Needs torch (1.13 or 2.x), numpy, PIL and the DejaVu fonts; mbn's CLI built (npm ci) with onnxruntime-node.
Prints a markdown table (README, "Fine-tuning in PyTorch").
"""

import argparse
import copy
import glob
import json
import os
import random
import shlex
import subprocess
import sys
import time

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFilter, ImageFont
from torch import nn

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FONTS = sorted(glob.glob("/usr/share/fonts/truetype/dejavu/*.ttf"))
SIZE = 32


def render(n, seed):
    """n images [n, 1, 32, 32] in [0, 1] and their digits."""
    rng = random.Random(seed)
    fonts = [f for f in FONTS if "ExtraLight" not in f]
    images = np.zeros((n, 1, SIZE, SIZE), dtype=np.float32)
    labels = np.zeros(n, dtype=np.int64)
    for i in range(n):
        digit = rng.randrange(10)
        font = ImageFont.truetype(rng.choice(fonts), rng.randint(18, 28))
        canvas = Image.new("L", (2 * SIZE, 2 * SIZE), 0)
        draw = ImageDraw.Draw(canvas)
        left, top, right, bottom = draw.textbbox((0, 0), str(digit), font=font)
        x = SIZE - (left + right) / 2 + rng.uniform(-4, 4)
        y = SIZE - (top + bottom) / 2 + rng.uniform(-4, 4)
        draw.text((x, y), str(digit), fill=rng.randint(140, 255), font=font)
        canvas = canvas.rotate(rng.uniform(-20, 20), resample=Image.BILINEAR)
        if rng.random() < 0.3:
            canvas = canvas.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.0)))
        crop = np.asarray(canvas.crop((SIZE // 2, SIZE // 2, SIZE // 2 + SIZE, SIZE // 2 + SIZE)), dtype=np.float32) / 255
        noise = np.random.default_rng(seed * 1_000_003 + i).normal(0, rng.uniform(0, 0.15), crop.shape)
        images[i, 0] = np.clip(crop + noise, 0, 1)
        labels[i] = digit
    return torch.from_numpy(images), torch.from_numpy(labels)


def build():
    def block(c_in, c_out):
        return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU()]

    return nn.Sequential(
        *block(1, 32),
        *block(32, 64),
        nn.MaxPool2d(2),
        *block(64, 64),
        nn.MaxPool2d(2),
        *block(64, 128),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(128, 10),
    )


def accuracy(model, images, labels):
    model.eval()
    with torch.no_grad():
        right = sum((model(images[i : i + 500]).argmax(1) == labels[i : i + 500]).sum().item() for i in range(0, len(images), 500))
    return right / len(images)


def export(model, path, batch):
    model.eval()
    kwargs = {"dynamo": False} if int(torch.__version__.split(".")[0]) >= 2 else {}
    torch.onnx.export(model, (torch.zeros(batch, 1, SIZE, SIZE),), path, input_names=["x"], output_names=["logits"], **kwargs)


def mbn(args, cmd):
    r = subprocess.run(shlex.split(cmd) + args, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"mbn {' '.join(args)} failed:\n{r.stderr}")
    return r.stdout


def patched(original, plan):
    model = copy.deepcopy(original)
    if plan not in sys.path:
        sys.path.insert(0, plan)
    import mbn_torch

    mbn_torch.apply(model, plan)
    return model


def distill(student, teacher, unlabeled, steps, seed, optimizer, freeze_bn=True, temperature=2.0):
    """The README's recipe: KL divergence between softened logits on unlabeled images, Adam. With freeze_bn the
    student stays in eval mode (BatchNorm normalizes with its running statistics; its weights, scale and shift
    still learn); else train mode (batch statistics, running statistics updated)."""
    g = torch.Generator().manual_seed(seed)
    teacher.eval()
    for _ in range(steps):
        student.train(not freeze_bn)
        batch = unlabeled[torch.randint(len(unlabeled), (64,), generator=g)]
        with torch.no_grad():
            target = torch.log_softmax(teacher(batch) / temperature, 1)
        loss = nn.functional.kl_div(torch.log_softmax(student(batch) / temperature, 1), target, log_target=True, reduction="batchmean")
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return student


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=os.path.join(ROOT, "build/torch-plan-demo"))
    parser.add_argument("--mbn", default=f"node {os.path.join(ROOT, 'bin/mbn.js')}")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--train", type=int, default=12000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--steps", default="100,300,1000", help="distillation steps to report (cumulative)")
    args = parser.parse_args()
    if not FONTS:
        sys.exit("no DejaVu fonts in /usr/share/fonts/truetype/dejavu (apt-get install fonts-dejavu-core)")
    os.makedirs(args.out, exist_ok=True)
    torch.manual_seed(args.seed)
    start = time.time()
    train_x, train_y = render(args.train, args.seed * 10 + 1)
    test_x, test_y = render(2000, args.seed * 10 + 2)
    unlabeled, _ = render(4000, args.seed * 10 + 3)

    model = build()
    saved = os.path.join(args.out, f"digits-seed{args.seed}-{args.train}x{args.epochs}.pt")
    if os.path.exists(saved):
        # The trained model of an earlier run with the same settings (delete it to train again).
        model.load_state_dict(torch.load(saved))
    else:
        optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
        for epoch in range(args.epochs):
            model.train()
            order = torch.randperm(len(train_x))
            for i in range(0, len(order), 64):
                idx = order[i : i + 64]
                loss = nn.functional.cross_entropy(model(train_x[idx]), train_y[idx])
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
        torch.save(model.state_dict(), saved)
        print(f"trained in {time.time() - start:.0f} s", file=sys.stderr)
    rows = [("original", None, accuracy(model, test_x, test_y))]

    batch = 32
    onnx = os.path.join(args.out, "digits.onnx")
    export(model, onnx, batch)
    calib = os.path.join(args.out, "calibration")
    os.makedirs(calib, exist_ok=True)
    for i in range(8):
        np.save(os.path.join(calib, f"batch{i}.npy"), unlabeled[i * batch : (i + 1) * batch].numpy())
    before = json.loads(mbn(["analyze", onnx, "--format", "json"], args.mbn))["totals"]["macs"]

    def separate(name, extra):
        plan = os.path.join(args.out, f"plan-{name}")
        out = os.path.join(args.out, f"digits.{name}.onnx")
        doc = json.loads(mbn(["separate", onnx, "-o", out, "--force", "--torch-plan", plan, "--format", "json", *extra], args.mbn))
        return plan, doc["totals"]["macsAfter"]

    plan_svd, macs = separate("svd", [])
    rows.append(("separated, rank 1 (SVD weights)", macs, accuracy(patched(model, plan_svd), test_x, test_y)))
    plan_rand, macs = separate("random", ["--calibrate", "random:8"])
    rows.append(("separated + calibrated (random:8)", macs, accuracy(patched(model, plan_rand), test_x, test_y)))
    plan_cal, macs = separate("calibrated", ["--calibrate", calib])
    student = patched(model, plan_cal)
    rows.append(("separated + calibrated (256 unlabeled digits)", macs, accuracy(student, test_x, test_y)))
    for freeze_bn in (True, False):
        if not freeze_bn:
            final_student = student
            student = patched(model, plan_cal)
        optimizer = torch.optim.Adam(student.parameters(), lr=1e-3)
        done = 0
        how = "BatchNorm statistics frozen" if freeze_bn else "train-mode BatchNorm"
        for steps in [int(s) for s in args.steps.split(",")]:
            distill(student, model, unlabeled, steps - done, args.seed + steps, optimizer, freeze_bn)
            done = steps
            rows.append((f"+ {steps} distillation steps (KL, unlabeled; {how})", macs, accuracy(student, test_x, test_y)))
    student = final_student
    final = os.path.join(args.out, "digits.distilled.onnx")
    export(student, final, batch)
    after = json.loads(mbn(["analyze", final, "--format", "json"], args.mbn))["totals"]["macs"]

    print(f"| model | MACs (batch {batch}) | test accuracy (2000 digits) |")
    print("|---|---:|---:|")
    for name, m, acc in rows:
        print(f"| {name} | {before if m is None else m:,} | {100 * acc:.2f}% |")
    print(f"\nre-exported distilled model: {after:,} MACs (mbn analyze); {time.time() - start:.0f} s in all", file=sys.stderr)


if __name__ == "__main__":
    main()
