#!/usr/bin/env python3
"""Summarises a gpu-check/run.sh output folder: step status, conformance
verdict, our step times against PyTorch's and the issue's ratios."""
import glob
import json
import os
import re
import sys

out = sys.argv[1]


def load(name):
    try:
        with open(os.path.join(out, name)) as f:
            return json.load(f)
    except Exception:
        return None


def p(*a):
    print(*a)


p("GPU check summary")
p("=================")
try:
    env = open(os.path.join(out, "env.txt")).read()
    m = re.search(r"NVIDIA (H100|H200|[A-Z0-9][\w -]+?)\s{2,}", env)
    p("GPU:", m.group(0).strip() if m else "(see env.txt)")
except OSError:
    pass
ver = os.path.join(out, "version.out")
if os.path.exists(ver):
    p(open(ver).read().strip())
p("\nsteps (name, status, seconds):")
try:
    p(open(os.path.join(out, "steps.tsv")).read().rstrip())
except OSError:
    p("  (no steps.tsv)")

conf = os.path.join(out, "conformance.out")
if os.path.exists(conf):
    text = open(conf).read()
    tops = re.findall(r"^--- (PASS|FAIL|SKIP): (TestConformance\w+)", text, re.M)
    fails = re.findall(r"^\s*--- FAIL: (\S+)", text, re.M)
    p("\nconformance:", ", ".join(f"{n} {s}" for s, n in tops) or "no result (see conformance.out/.err)")
    if fails:
        p(f"  {len(fails)} failing (sub)tests, first: " + ", ".join(fails[:10]))

if os.path.exists(conf):
    # What the CPU double of CUDA (make test-gpu-double) cannot tell.
    p("\nwhat only a real GPU tells (the CPU double cannot):")
    m = re.search(r"cuda: (.*?NVRTC [^;]*;[^\n]*)", text)
    p("  NVRTC accepted kernels.cu and the backend opened:", m.group(1)[:300] if m else "NO (see conformance.out)")
    algos = re.search(r"cuDNN algorithms on .*?\n((?:\s+(?:conv|forward|backward).*\n)+)", text)
    if algos:
        lines = algos.group(1).splitlines()
        nondet_first = sum(1 for l in lines if re.search(r"^\s+\w.*?\[algo \d+ [\d.]+ ms nondet", l))
        chosen_nondet = sum(1 for l in lines if "*algo" in l and re.search(r"\*algo \d+ [\d.]+ ms nondet", l))
        p(f"  cuDNN algorithms for ResNet-18's shapes (FP32, batch 64): {sum(1 for l in lines if l.strip().startswith('conv'))} shapes; "
          f"fastest non-deterministic in {nondet_first} directions, non-deterministic chosen in {chosen_nondet} (full list in conformance.out)")
    else:
        p("  cuDNN algorithm report: none (TestReportConvAlgorithms in conformance.out)")
    p("  speed: the step times below")

tc = os.path.join(out, "train_compare.out")
if os.path.exists(tc):
    p("\ntraining, cuda against the CPU backend (4 steps, same seed):")
    p(open(tc).read().rstrip() or "  no output (see train_compare.err)")

ours = {}
for prec in ("fp32", "tf32"):
    r = load(f"bench_resnet18_{prec}.out")
    if r:
        for e in r:
            ours[(e["label"], prec)] = e["mean_step_ms"]
    w = load(f"bench_wrn28_10_{prec}.out")
    if w:
        ours[("wrn28-10-sgd", prec)] = w["mean_step_ms"]
peer = {}
for name in ("peer_eager.json", "peer_compile.json"):
    d = load(name)
    if d:
        for e in d["results"]:
            key = {"rst0.5": "rst:0.5"}.get(e["method"], e["method"])
            if e["model"] == "wrn28-10":
                key = "wrn28-10-sgd"
            peer[(key, e["precision"] + ("-compile" if e["compile"] else ""))] = e["mean_step_ms"]
        for e in d.get("errors", []):
            p("peer error:", e["label"], e["error"])

p("\nmean step ms (batch 256; ours interleaved by rst bench --compare):")
p(f"{'step':16s} {'prec':6s} {'ours':>9s} {'torch':>9s} {'ours/torch':>10s}")
for prec in ("fp32", "tf32"):
    for k in ("sgd", "sam", "rst:0.5", "wrn28-10-sgd"):
        o, t = ours.get((k, prec)), peer.get((k, prec))
        ratio = f"{o / t:.3f}" if o and t else "-"
        p(f"{k:16s} {prec:6s} {o or float('nan'):9.2f} {t or float('nan'):9.2f} {ratio:>10s}")
tc = peer.get(("sgd", "tf32-compile"))
if tc:
    p(f"torch.compile resnet18 SGD (TF32): {tc:.2f} ms")

p("\nacceptance (issue 10):")
for prec in ("fp32", "tf32"):
    s, a, r = (ours.get((k, prec)) for k in ("sgd", "sam", "rst:0.5"))
    ts = peer.get(("sgd", prec))
    if s and ts:
        p(f"  [{prec}] SGD step ours/PyTorch eager = {s / ts:.3f} (want <= 1.0)")
    if s and a:
        p(f"  [{prec}] SAM/SGD = {a / s:.3f} (want <= 2.05)")
    if s and a and r and a != s:
        p(f"  [{prec}] RST(0.5) extra / SAM extra = {(r - s) / (a - s):.3f} (want 0.5 +- 0.05)")
    if s:
        steps = 200 * 50000 / 256
        p(f"  [{prec}] projected 200-epoch ResNet-18 CIFAR-10 (196 steps/epoch, compute only): "
          f"SGD {steps * s / 6e4:.1f} min" + (f", SAM {steps * a / 6e4:.1f} min" if a else "")
          + (f", RST(0.5) {steps * r / 6e4:.1f} min" if r else "") + " (official log: SGD 24m21s, SAM 43m47s)")
single = load("bench_resnet18_single.out")
conc = [load(os.path.basename(f)) for f in sorted(glob.glob(os.path.join(out, "concurrent_*.json")))]
conc = [c for c in conc if c]
if single and conc:
    one = 256 / (single["mean_step_ms"] / 1e3)
    many = sum(256 / (c["mean_step_ms"] / 1e3) for c in conc)
    p(f"  5 concurrent ResNet-18 SGD (TF32): {many:.0f} img/s vs one alone {one:.0f} img/s = {many / one:.2f}x "
      f"({len(conc)} of 5 finished; want >= 2x)")

p("\nImageNet-size models (TF32, batch 128, synthetic 224x224 inputs):")
for name in ("vit_s16", "resnet50"):
    r = load(f"bench_{name}_tf32.out")
    if r:
        p(f"  {r['model']:10s} fwd+bwd {r['fwd_bwd_ms']:.1f} ms ({r['gflops']:.0f} GFLOP/s), "
          f"{r['batch'] / (r['mean_step_ms'] / 1e3):.0f} img/s training")
    else:
        p(f"  {name}: no result (see bench_{name}_tf32.err)")
