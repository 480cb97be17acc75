#!/usr/bin/env python3
"""Times `rst bench` and its PyTorch twin (torch_peer.py) side by side:
for each model, ROUNDS rounds that each run ours and then PyTorch's in
fresh processes, so drift of a shared machine hits both alike. Prints the
median over rounds of each side's median forward+backward and step times,
the ratios ours/PyTorch, and each side's peak RSS.

--data names the input shape and class count of both sides, as rst bench
knows them (synthetic inputs, nothing is read): cifar10 (32×32×3, 10
classes, the default), cifar100, mnist, fashion-mnist, imagenet
(224×224×3, 1000 classes). Each side reports its parameter count; a
mismatch (the twin is not layer for layer ours) is flagged under the
table. A model our binary cannot run (not registered, or a --data it
lacks) is reported and PyTorch's side is still timed.

  /usr/bin/python3 bench/peer/compare.py --rst bin/rst --models smallcnn,resnet18
  /usr/bin/python3 bench/peer/compare.py --rst bin/rst --models resnet50,vit-s16 --data imagenet --batch 16 --rounds 2 --steps 2
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

# suite/bench.Shapes and its class counts: (H, W, C), classes.
DATA = {"mnist": ((28, 28, 1), 10), "fashion-mnist": ((28, 28, 1), 10), "cifar10": ((32, 32, 3), 10),
        "cifar100": ((32, 32, 3), 100), "imagenet": ((224, 224, 3), 1000)}


def run_json(cmd, env):
    """The JSON object a side prints (possibly after other lines), or None
    when it fails: its error goes to stderr."""
    p = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if p.returncode != 0 or "{" not in p.stdout:
        err = (p.stderr.strip() or p.stdout.strip()).splitlines()
        print(f"# failed ({p.returncode}): {' '.join(cmd)}\n#   {err[-1] if err else ''}", file=sys.stderr, flush=True)
        return None
    return json.loads(p.stdout[p.stdout.index("{"):])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rst", default="bin/rst")
    ap.add_argument("--models", default="smallcnn,resnet18,wrn16-4,vgg16-bn")
    ap.add_argument("--data", default="cifar10", choices=sorted(DATA), help="input shape and classes of both sides")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--steps", type=int, default=5, help="timed passes per process (after 2 warm-up ones)")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    (h, w, c), classes = DATA[a.data]
    env = dict(os.environ, GOMAXPROCS=str(a.threads), OMP_NUM_THREADS=str(a.threads))
    rows, backend, torch_version, mismatches = [], None, None, []
    for model in a.models.split(","):
        ours, peer = [], []
        for r in range(a.rounds):
            o = run_json([a.rst, "bench", "--model", model, "--data", a.data, "--batch", str(a.batch),
                          "--bench-steps", str(a.steps), "--json"], env)
            p = run_json([sys.executable, os.path.join(HERE, "torch_peer.py"), "--model", model,
                          "--batch", str(a.batch), "--steps", str(a.steps), "--threads", str(a.threads),
                          "--shape", f"{h},{w},{c}", "--classes", str(classes)], env)
            if o is not None:
                ours.append(o)
                backend = o["backend"]
            if p is not None:
                peer.append(p)
                torch_version = f"{p['torch']}, {p['threads']} threads"
            show = lambda x: f"{x['fwd_bwd_ms']:.1f} ms" if x is not None else "failed"
            print(f"# {model} round {r + 1}: ours {show(o)}, PyTorch {show(p)}", file=sys.stderr, flush=True)
            if o is None and p is None:
                break
        if ours and peer:
            if ours[-1]["params"] != peer[-1]["params"]:
                mismatches.append(f"{model}: ours {ours[-1]['params']} parameters, PyTorch's twin {peer[-1]['params']}")
            if list(ours[-1]["input"]) != [h, w, c]:
                mismatches.append(f"{model}: ours timed input {ours[-1]['input']}, PyTorch {[h, w, c]}")
        rows.append((model, ours, peer))
    med = lambda rs, k: statistics.median(x[k] for x in rs) if rs else None
    print(f"ours: {backend or 'no run succeeded'}")
    print(f"PyTorch {torch_version or '(no run succeeded)'}, channels-last; {a.data} shape {h}×{w}×{c}, "
          f"{classes} classes, batch {a.batch}, {a.rounds} interleaved rounds of {a.steps} timed steps, medians")
    mw = max([5] + [len(m) for m, _, _ in rows])
    print(f"{'model':{mw}} {'params':>11} {'fwd+bwd ours':>13} {'PyTorch':>9} {'ratio':>6} {'step ours':>10} {'PyTorch':>9} "
          f"{'ratio':>6} {'peak RSS ours':>14} {'PyTorch':>9}")
    ms = lambda v, n: f"{v:{n}.1f} ms" if v is not None else f"{'—':>{n + 3}}"
    ratio = lambda x, y: f"{x / y:6.2f}" if x is not None and y is not None else f"{'—':>6}"
    mb = lambda rs, n: f"{max(x['peak_rss_mb'] for x in rs):{n}.0f} MB" if rs else f"{'—':>{n + 3}}"
    for m, ours, peer in rows:
        fo, fp, so, sp = med(ours, "fwd_bwd_ms"), med(peer, "fwd_bwd_ms"), med(ours, "step_ms"), med(peer, "step_ms")
        n = (ours or peer or [{}])[-1].get("params")
        print(f"{m:{mw}} {n if n is not None else '—':>11} {ms(fo, 10)} {ms(fp, 6)} {ratio(fo, fp)} {ms(so, 7)} {ms(sp, 6)} "
              f"{ratio(so, sp)} {mb(ours, 11)} {mb(peer, 6)}")
    for line in mismatches:
        print(f"MISMATCH {line}")
    if mismatches:
        sys.exit(1)


if __name__ == "__main__":
    main()
