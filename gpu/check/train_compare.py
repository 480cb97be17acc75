#!/usr/bin/env python3
"""Trains a few steps of each model and method on the CPU backend and on
the cuda device from the same seed (the small CIFAR-format files in
testdata/), and compares the per-epoch training and test losses.

Usage: train_compare.py RST DATA_DIR OUT_JSON [--device cuda] [--tol 2e-3]
       [--models smallcnn,resnet18,wrn10-1,vit-mini] [--batch 32] [--steps 4]
(make test-gpu-double runs it smaller on the CPU double of CUDA.)
Prints one line per run and a last line with the largest relative error.
Exit status 1 when a cuda run fails or differs by more than the tolerance.
"""
import json
import subprocess
import sys

import argparse
ap = argparse.ArgumentParser()
ap.add_argument("rst")
ap.add_argument("data_dir")
ap.add_argument("out_json")
ap.add_argument("--device", default="cuda")
ap.add_argument("--tol", type=float, default=2e-3)
ap.add_argument("--models", default="smallcnn,resnet18,wrn10-1,vit-mini")
ap.add_argument("--batch", type=int, default=32)
ap.add_argument("--steps", type=int, default=4)
args = ap.parse_args()
rst, data_dir, out_path = args.rst, args.data_dir, args.out_json


def make_cifar(folder, per_file=64, seed=7):
    """Writes CIFAR-10's binary format (one label byte, then 3x32x32 bytes)
    with class-dependent smooth patterns plus noise: enough images for a
    batch of 32 whose batch-norm statistics are not dominated by a few
    samples (the repository's testdata/ holds 5 training images, over which
    ResNet-18's steps amplify rounding differences chaotically)."""
    import math
    import os
    import random
    rng = random.Random(seed)
    os.makedirs(folder, exist_ok=True)
    for name in [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]:
        out = bytearray()
        for _ in range(per_file):
            c = rng.randrange(10)
            out.append(c)
            fx, fy = 1 + c % 4, 1 + c // 4
            for ch in range(3):
                ph = ch * 2.1 + c
                for y in range(32):
                    for x in range(32):
                        v = 128 + 80 * math.sin(fx * x / 5 + ph) * math.cos(fy * y / 5) + rng.gauss(0, 30)
                        out.append(min(255, max(0, int(v))))
        with open(os.path.join(folder, name), "wb") as f:
            f.write(out)
# CIFAR-format files made here; --subset 32 with batch 32 makes one step
# per epoch, so each epoch's train_loss is one step's loss.
import os
import tempfile
gen = tempfile.mkdtemp(prefix="rst-train-compare-")
make_cifar(os.path.join(gen, "cifar-10-batches-bin"))
COMMON = ["--batch", str(args.batch), "--subset", str(args.batch), "--test-subset", "16", "--epochs", str(args.steps),
          "--seed", "1", "--json", "--lr", "0.002"]
RUNS = [(m, meth) for m in args.models.split(",") for meth in ("sgd", "sam", "rst")]
# FP32 cuDNN/cuBLAS against the CPU backend: summation order differs, and
# three steps of training amplify it a little.
TOL = args.tol
DEVICE = args.device


def train(model, method, device):
    # vit-mini's 7x7 patches need 28x28 images: testdata's MNIST files.
    data = ["--data", "mnist", "--data-dir", data_dir, "--batch", "5", "--subset", "5", "--test-subset", "5"] if model.startswith("vit") \
        else ["--data", "cifar10", "--data-dir", gen]
    cmd = [rst, "train", "--model", model, "--method", method, "--device", device] + COMMON + data
    if method == "rst":
        cmd += ["--schedule", "constant:0.5"]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if p.returncode != 0:
        return None, p.stderr.strip().splitlines()[-3:] if p.stderr else ["exit %d" % p.returncode]
    return json.loads(p.stdout), None


results, worst, bad = [], 0.0, 0
for model, method in RUNS:
    ref, err = train(model, method, "cpu")
    got, gerr = train(model, method, DEVICE)
    row = {"model": model, "method": method}
    if err or gerr:
        row["error"] = {"cpu": err, "cuda": gerr}
        bad += 1
        print(f"{model:9s} {method:4s} FAILED cpu={err} cuda={gerr}", flush=True)
        results.append(row)
        continue
    pairs = []
    for a, b in zip(ref["epochs"], got["epochs"]):
        for k in ("train_loss", "test_loss"):
            pairs.append((k, a["epoch"], a[k], b[k]))
    # Relative to the loss, or to 0.1 where the loss is nearly 0.
    rel = max(abs(x - y) / max(abs(x), 0.1) for _, _, x, y in pairs)
    same_draws = ref.get("draws") == got.get("draws")
    row.update({"max_rel": rel, "pairs": pairs, "same_draws": same_draws,
                "cuda_seconds": got["train_seconds"], "cpu_seconds": ref["train_seconds"]})
    worst = max(worst, rel)
    ok = rel <= TOL and same_draws
    bad += 0 if ok else 1
    print(f"{model:9s} {method:4s} max rel {rel:.2e} draws {'same' if same_draws else 'DIFFER'} "
          f"{'ok' if ok else 'MISMATCH'}  losses cpu/cuda: "
          + " ".join(f"{x:.4f}/{y:.4f}" for k, _, x, y in pairs if k == "train_loss"), flush=True)
    results.append(row)
steps = sum(len(r.get("pairs", [])) // 2 for r in results)
json.dump({"runs": results, "max_rel": worst, "tolerance": TOL, "failed": bad, "steps_compared": steps}, open(out_path, "w"), indent=1)
print(f"train compare: {len(RUNS) - bad} of {len(RUNS)} runs agree (max rel {worst:.2e}, tolerance {TOL:g})")
sys.exit(1 if bad else 0)
