#!/usr/bin/env python3
"""Times `rst bench` and its PyTorch twin (torch_peer.py) side by side:
for each model, ROUNDS rounds that each run ours and then PyTorch's in
fresh processes, so drift of a shared machine hits both alike. Prints the
median over rounds of each side's median forward+backward and step times,
the ratios ours/PyTorch, and each side's peak RSS.

  /usr/bin/python3 bench/peer/compare.py --rst bin/rst --models smallcnn,resnet18
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def run_json(cmd, env):
    out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout
    # Both print a JSON object, possibly after other lines.
    return json.loads(out[out.index("{"):])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rst", default="bin/rst")
    ap.add_argument("--models", default="smallcnn,resnet18,wrn16-4,vgg16-bn")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--steps", type=int, default=5, help="timed passes per process (after 2 warm-up ones)")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    env = dict(os.environ, GOMAXPROCS=str(a.threads), OMP_NUM_THREADS=str(a.threads))
    rows = []
    for model in a.models.split(","):
        ours, peer = [], []
        for r in range(a.rounds):
            ours.append(run_json([a.rst, "bench", "--model", model, "--batch", str(a.batch),
                                  "--bench-steps", str(a.steps), "--json"], env))
            peer.append(run_json([sys.executable, os.path.join(HERE, "torch_peer.py"), "--model", model,
                                  "--batch", str(a.batch), "--steps", str(a.steps), "--threads", str(a.threads)], env))
            print(f"# {model} round {r + 1}: ours {ours[-1]['fwd_bwd_ms']:.1f} ms, "
                  f"PyTorch {peer[-1]['fwd_bwd_ms']:.1f} ms", file=sys.stderr, flush=True)
        med = lambda rs, k: statistics.median(x[k] for x in rs)
        rows.append((model, med(ours, "fwd_bwd_ms"), med(peer, "fwd_bwd_ms"), med(ours, "step_ms"),
                     med(peer, "step_ms"), max(x["peak_rss_mb"] for x in ours), max(x["peak_rss_mb"] for x in peer)))
    print(f"ours: {ours[-1]['backend']}")
    print(f"PyTorch {peer[-1]['torch']}, {peer[-1]['threads']} threads, channels-last; batch {a.batch}, "
          f"{a.rounds} interleaved rounds of {a.steps} timed steps, medians")
    print(f"{'model':10} {'fwd+bwd ours':>13} {'PyTorch':>9} {'ratio':>6} {'step ours':>10} {'PyTorch':>9} {'ratio':>6} "
          f"{'peak RSS ours':>14} {'PyTorch':>9}")
    for m, fo, fp, so, sp, ro, rp in rows:
        print(f"{m:10} {fo:10.1f} ms {fp:6.1f} ms {fo / fp:6.2f} {so:7.1f} ms {sp:6.1f} ms {so / sp:6.2f} "
              f"{ro:11.0f} MB {rp:6.0f} MB")


if __name__ == "__main__":
    main()
