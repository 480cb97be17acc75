#!/usr/bin/env python3
"""PyTorch on the same GPU as `rst bench`: the suite's CIFAR ResNet-18
(SGD, SAM and RST(p=0.5) steps) and WRN-28-10 (SGD steps), layer for layer
as suite/models/resnet.go and wrn.go build them, timed per step, in eager
FP32 and TF32 (and torch.compile with --compile).

The step is the suite's default training step (suite/train.Defaults): SGD
with Nesterov momentum 0.9, L2 1e-3 through weight decay, gradient-norm
clipping at 5, cross-entropy; SAM adds the ascent pass (rho 0.05, weights
perturbed by rho*g/|g| and restored); RST(0.5) takes SAM's step with
probability 0.5 (a seeded draw on the host) and SGD's otherwise. Inputs are
synthetic and stay on the device; NHWC (channels_last) as the suite's
tensors; cuDNN autotuning on, as our backend's per-shape algorithm search.

  python3 gpu_peer.py --device cuda --json out.json      # the GPU check
  python3 gpu_peer.py --device cpu --tiny                # a smoke test on a CPU
Works with torch 1.13 and newer.
"""
import argparse
import json
import random
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def conv(cin, cout, k, stride, pad):
    return nn.Conv2d(cin, cout, k, stride, pad, bias=False)  # the suite's convolutions have no bias


class BasicBlock(nn.Module):
    """resnet.go BasicBlock: conv-BN-ReLU-conv-BN, 1x1 conv+BN projection
    when the shape changes, ReLU after the residual sum."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.c1, self.b1 = conv(cin, cout, 3, stride, 1), nn.BatchNorm2d(cout)
        self.c2, self.b2 = conv(cout, cout, 3, 1, 1), nn.BatchNorm2d(cout)
        self.short = None
        if stride != 1 or cin != cout:
            self.short = nn.Sequential(conv(cin, cout, 1, stride, 0), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = self.b2(self.c2(F.relu(self.b1(self.c1(x)))))
        return F.relu(y + (x if self.short is None else self.short(x)))


class ResNetCIFAR(nn.Module):
    def __init__(self, blocks=(2, 2, 2, 2), widths=(64, 128, 256, 512), classes=10):
        super().__init__()
        layers = [conv(3, widths[0], 3, 1, 1), nn.BatchNorm2d(widths[0]), nn.ReLU()]
        cin = widths[0]
        for s, (n, w) in enumerate(zip(blocks, widths)):
            for b in range(n):
                layers.append(BasicBlock(cin, w, 2 if s > 0 and b == 0 else 1))
                cin = w
        self.body = nn.Sequential(*layers)
        self.fc = nn.Linear(cin, classes)

    def forward(self, x):
        return self.fc(self.body(x).mean((2, 3)))


class PreActBlock(nn.Module):
    """wrn.go PreActBlock: BN-ReLU-conv3x3-BN-ReLU-conv3x3; where the shape
    changes, the 1x1 projection (no BN) takes the pre-activated input."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.bn1, self.c1 = nn.BatchNorm2d(cin), conv(cin, cout, 3, stride, 1)
        self.bn2, self.c2 = nn.BatchNorm2d(cout), conv(cout, cout, 3, 1, 1)
        self.proj = conv(cin, cout, 1, stride, 0) if stride != 1 or cin != cout else None

    def forward(self, x):
        a = F.relu(self.bn1(x))
        y = self.c2(F.relu(self.bn2(self.c1(a))))
        return y + (x if self.proj is None else self.proj(a))


class WideResNet(nn.Module):
    def __init__(self, depth=28, k=10, classes=10):
        super().__init__()
        n = (depth - 4) // 6
        layers, cin = [conv(3, 16, 3, 1, 1)], 16
        for g, w in enumerate((16 * k, 32 * k, 64 * k)):
            for b in range(n):
                layers.append(PreActBlock(cin, w, 2 if g > 0 and b == 0 else 1))
                cin = w
        layers += [nn.BatchNorm2d(cin), nn.ReLU()]
        self.body = nn.Sequential(*layers)
        self.fc = nn.Linear(cin, classes)

    def forward(self, x):
        return self.fc(self.body(x).mean((2, 3)))


MODELS = {
    "resnet18": lambda: ResNetCIFAR(),
    "wrn28-10": lambda: WideResNet(28, 10),
    "wrn16-4": lambda: WideResNet(16, 4),  # small, for --tiny
}


class Stepper:
    def __init__(self, model, fwd, lr=0.1, rho=0.05, clip=5.0):
        self.model, self.fwd, self.rho, self.clip = model, fwd, rho, clip
        self.params = [p for p in model.parameters() if p.requires_grad]
        self.opt = torch.optim.SGD(self.params, lr=lr, momentum=0.9, nesterov=True, weight_decay=1e-3)

    def grad(self, x, y):
        for p in self.params:
            p.grad = None
        loss = F.cross_entropy(self.fwd(x), y)
        loss.backward()
        return loss

    def update(self):
        torch.nn.utils.clip_grad_norm_(self.params, self.clip)
        self.opt.step()

    def sgd(self, x, y):
        self.grad(x, y)
        self.update()

    def sam(self, x, y):
        self.grad(x, y)
        grads = [p.grad for p in self.params]
        norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads]))
        scale = self.rho / (norm + 1e-12)
        eps = [g * scale for g in grads]
        with torch.no_grad():
            torch._foreach_add_(self.params, eps)
        self.grad(x, y)
        with torch.no_grad():
            torch._foreach_sub_(self.params, eps)
        self.update()


def set_precision(tf32):
    torch.backends.cuda.matmul.allow_tf32 = tf32
    torch.backends.cudnn.allow_tf32 = tf32


def time_steps(step, steps, warmup, sync):
    for _ in range(warmup):
        step()
    sync()
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        step()
        sync()
        times.append(1e3 * (time.perf_counter() - t0))
    return times


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--precisions", default="fp32,tf32")
    ap.add_argument("--compile", action="store_true", help="torch.compile the model (TF32 only)")
    ap.add_argument("--only", default="", help="comma-separated model-method pairs, e.g. resnet18-sgd")
    ap.add_argument("--tiny", action="store_true", help="batch 4, 2 steps, wrn16-4 for wrn28-10: a smoke test")
    ap.add_argument("--json", default="", help="write the results here (also printed)")
    a = ap.parse_args()

    dev = torch.device(a.device)
    cuda = dev.type == "cuda"
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    if cuda:
        torch.backends.cudnn.benchmark = True
    if a.tiny:
        a.batch, a.steps, a.warmup = 4, 2, 1
    plan = [("resnet18", "sgd"), ("resnet18", "sam"), ("resnet18", "rst0.5"), ("wrn28-10", "sgd")]
    if a.only:
        keep = set(a.only.split(","))
        plan = [p for p in plan if f"{p[0]}-{p[1]}" in keep]
    precisions = a.precisions.split(",") if cuda else ["fp32"]
    if a.compile:
        precisions = ["tf32"] if cuda else ["fp32"]

    out = {
        "torch": torch.__version__,
        "cuda": getattr(torch.version, "cuda", None),
        "cudnn": torch.backends.cudnn.version() if cuda else None,
        "device": torch.cuda.get_device_name(dev) if cuda else "cpu",
        "batch": a.batch, "steps": a.steps, "warmup": a.warmup,
        "channels_last": True, "cudnn_benchmark": cuda,
        "results": [], "errors": [],
    }
    gen = torch.Generator(device="cpu").manual_seed(1)
    x = torch.randn(a.batch, 3, 32, 32, generator=gen).to(dev).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (a.batch,), generator=gen).to(dev)
    built = {}
    for prec in precisions:
        if cuda:
            set_precision(prec == "tf32")
        for model_name, method in plan:
            mname = "wrn16-4" if a.tiny and model_name == "wrn28-10" else model_name
            label = f"{mname}-{method}-{prec}{'-compile' if a.compile else ''}"
            try:
                torch.manual_seed(1)
                if mname not in built:
                    built[mname] = MODELS[mname]().to(dev).to(memory_format=torch.channels_last)
                model = built[mname]
                model.train()
                fwd = model
                if a.compile:
                    if not hasattr(torch, "compile"):
                        raise RuntimeError(f"torch {torch.__version__} has no torch.compile")
                    fwd = torch.compile(model)
                st = Stepper(model, fwd)
                draws = random.Random(1)
                if method == "sgd":
                    step = lambda: st.sgd(x, y)
                elif method == "sam":
                    step = lambda: st.sam(x, y)
                else:  # rst0.5: SAM's step with probability 0.5
                    step = lambda: st.sam(x, y) if draws.random() < 0.5 else st.sgd(x, y)
                t = time_steps(step, a.steps, a.warmup, sync)
                mean = statistics.fmean(t) if hasattr(statistics, "fmean") else sum(t) / len(t)
                r = {"label": label, "model": mname, "method": method, "precision": prec, "compile": a.compile,
                     "mean_step_ms": mean, "median_step_ms": statistics.median(t),
                     "images_per_s": a.batch / (mean / 1e3), "step_ms": t}
                out["results"].append(r)
                print(f"{label:32s} mean {mean:9.2f} ms  median {statistics.median(t):9.2f} ms", file=sys.stderr, flush=True)
            except Exception as e:  # a failing configuration must not lose the others
                out["errors"].append({"label": label, "error": f"{type(e).__name__}: {e}"})
                print(f"{label}: {type(e).__name__}: {e}", file=sys.stderr, flush=True)
    s = json.dumps(out, indent=1)
    if a.json:
        with open(a.json, "w") as f:
            f.write(s + "\n")
    print(s)
    return 0 if out["results"] else 1


if __name__ == "__main__":
    sys.exit(main())
