#!/usr/bin/env python3
"""PyTorch twin of the cpu profile's small-CNN SGD and SAM runs: the same
images and (noisy) labels as the suite's run of each seed (asked of
`rst data subset`), the same model, schedule, L2, clipping, ρ and
batch-norm handling, written independently in PyTorch. Its SAM − SGD,
paired over seeds, is evidence that the suite's effect is the method's,
not its engine's (REPRODUCE.md, "The PyTorch twin").

Prints one JSON line per run, then a summary line with SGD's and SAM's
mean errors and SAM − SGD with its 95% Student-t interval.
Run with Debian's python3-torch: /usr/bin/python3 sam_twin.py --rst bin/rst.
"""
import argparse
import gzip
import json
import math
import os
import subprocess
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_peer import smallcnn  # noqa: E402  (the suite's small CNN, layer for layer)

# Student's t 0.975 quantiles for 1..10 degrees of freedom (no scipy).
T975 = [12.7062, 4.3027, 3.1824, 2.7764, 2.5706, 2.4469, 2.3646, 2.3060, 2.2622, 2.2281]


def read_idx(path):
    with gzip.open(path, "rb") as f:
        b = f.read()
    ndim = b[3]
    dims = [int.from_bytes(b[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(b, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def data_dir(name, given):
    for d in [given, os.environ.get("RST_DATA_DIR"), os.path.expanduser("~/.cache/rst/data"), "/usr/share/datasets"]:
        if d and os.path.exists(os.path.join(d, name, "train-images-idx3-ubyte.gz")):
            return os.path.join(d, name)
        if d and os.path.exists(os.path.join(d, "train-images-idx3-ubyte.gz")):
            return d
    sys.exit(f"sam_twin: no {name} files found (give --data-dir, or apt-get install dataset-fashion-mnist)")


def split(args, seed):
    """The suite's subset and labels for this seed, and the images."""
    cmd = [args.rst, "data", "subset", args.data, "--subset", str(args.subset), "--test-subset", str(args.test_subset),
           "--seed", str(seed), "--label-noise", str(args.label_noise)]
    if args.data_dir:
        cmd += ["--data-dir", args.data_dir]
    out = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
    d = data_dir(args.data, args.data_dir)
    xs = {"train": read_idx(os.path.join(d, "train-images-idx3-ubyte.gz")),
          "test": read_idx(os.path.join(d, "t10k-images-idx3-ubyte.gz"))}
    mean, std = out["mean"][0], out["std"][0]

    def tensor(images, idx):
        x = images[np.array(idx)].astype(np.float32) / 255.0
        return torch.from_numpy((x - mean) / std).unsqueeze(1)  # N, 1, 28, 28

    return (tensor(xs["train"], out["train_indices"]), torch.tensor(out["train_labels"], dtype=torch.long),
            tensor(xs["test"], out["test_indices"]), torch.tensor(out["test_labels"], dtype=torch.long))


def init(model):
    # The suite's: convolutions Kaiming-normal with fan-out, linear layers
    # U(±1/√fan_in) for weight and bias (PyTorch's Linear default), BN γ 1, β 0.
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, nn.BatchNorm2d):
            m.momentum, m.eps = 0.1, 1e-5  # running ← 0.9·running + 0.1·batch


def loss_fn(model, x, y, l2):
    # L2 1e-3·½‖θ‖² over every parameter, inside the loss (docs/PAPER.md §3).
    ce = F.cross_entropy(model(x), y)
    reg = 0.5 * l2 * sum((p * p).sum() for p in model.parameters())
    return ce + reg, ce


def bn_momentum(model, m):
    for mod in model.modules():
        if isinstance(mod, nn.BatchNorm2d):
            mod.momentum = m


def run(args, method, seed, data):
    xtr, ytr, xte, yte = data
    torch.manual_seed(seed)
    model = smallcnn(1, 28, 28, 10)
    init(model)
    params = list(model.parameters())
    opt = torch.optim.SGD(params, lr=args.lr, momentum=0.9, nesterov=True)
    per_epoch = len(ytr) // args.batch
    total = args.epochs * per_epoch
    gen = torch.Generator().manual_seed(seed)
    step, first = 0, None
    t0 = time.time()
    for epoch in range(args.epochs):
        order = torch.randperm(len(ytr), generator=gen)
        losses = []
        for i in range(per_epoch):
            idx = order[i * args.batch:(i + 1) * args.batch]
            x, y = xtr[idx], ytr[idx]
            lr = args.lr * 0.5 * (1 + math.cos(math.pi * step / total))
            if step < args.warmup:
                lr *= (step + 1) / args.warmup
            for g in opt.param_groups:
                g["lr"] = lr
            model.train()
            opt.zero_grad()
            loss, ce = loss_fn(model, x, y, args.l2)
            loss.backward()
            losses.append(ce.item())
            if method == "sam":
                # ε = ρ·g/‖g‖ over all parameters; the second pass at θ + ε
                # does not move BN's running statistics (momentum 0).
                with torch.no_grad():
                    norm = torch.sqrt(sum((p.grad * p.grad).sum() for p in params))
                    eps = [args.rho * p.grad / (norm + 1e-12) for p in params]
                    for p, e in zip(params, eps):
                        p.add_(e)
                opt.zero_grad()
                bn_momentum(model, 0.0)
                loss2, _ = loss_fn(model, x, y, args.l2)
                loss2.backward()
                bn_momentum(model, 0.1)
                with torch.no_grad():
                    for p, e in zip(params, eps):
                        p.sub_(e)
            torch.nn.utils.clip_grad_norm_(params, args.clip)
            opt.step()
            step += 1
        if first is None:
            first = sum(losses) / len(losses)
    model.eval()
    with torch.no_grad():
        wrong = sum((model(xte[i:i + 500]).argmax(1) != yte[i:i + 500]).sum().item() for i in range(0, len(yte), 500))
        train_wrong = sum((model(xtr[i:i + 500]).argmax(1) != ytr[i:i + 500]).sum().item() for i in range(0, len(ytr), 500))
    return {"method": method, "seed": seed, "test_error": 100.0 * wrong / len(yte), "train_error": 100.0 * train_wrong / len(ytr),
            "epoch1_loss": first, "last_epoch_loss": sum(losses) / len(losses), "steps": step, "seconds": time.time() - t0}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rst", default="bin/rst", help="the suite's binary, asked for each seed's subset and labels")
    ap.add_argument("--data", default="fashion-mnist")
    ap.add_argument("--data-dir", default="")
    ap.add_argument("--subset", type=int, default=1000)
    ap.add_argument("--test-subset", type=int, default=2000)
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--lr", type=float, default=0.1)
    ap.add_argument("--warmup", type=int, default=50)
    ap.add_argument("--l2", type=float, default=1e-3)
    ap.add_argument("--clip", type=float, default=5.0)
    ap.add_argument("--rho", type=float, default=0.05)
    ap.add_argument("--label-noise", type=float, default=0.0)
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    errs = {"sgd": {}, "sam": {}}
    for seed in range(1, args.seeds + 1):
        data = split(args, seed)
        for method in ("sgd", "sam"):
            r = run(args, method, seed, data)
            errs[method][seed] = r["test_error"]
            print(json.dumps(r), flush=True)
    seeds = sorted(set(errs["sgd"]) & set(errs["sam"]))
    d = [errs["sam"][s] - errs["sgd"][s] for s in seeds]
    n = len(d)
    summary = {"summary": True, "config": vars(args), "n": n,
               "sgd_mean": sum(errs["sgd"][s] for s in seeds) / n, "sam_mean": sum(errs["sam"][s] for s in seeds) / n}
    if n >= 2:
        m = sum(d) / n
        sd = math.sqrt(sum((x - m) ** 2 for x in d) / (n - 1))
        h = T975[n - 2] * sd / math.sqrt(n) if n - 2 < len(T975) else 1.96 * sd / math.sqrt(n)
        summary.update({"sam_minus_sgd": m, "lo": m - h, "hi": m + h})
    print(json.dumps(summary), flush=True)


if __name__ == "__main__":
    main()
