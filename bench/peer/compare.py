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

PyTorch runs in its best configuration we know of on the CPU:
- the same thread count as ours (--threads: GOMAXPROCS for ours,
  OMP_NUM_THREADS and torch.set_num_threads for PyTorch);
- glibc's allocator kept from handing big blocks back to the kernel
  (--torch-malloc tuned, the default): MALLOC_MMAP_THRESHOLD_ 1 GiB, so
  tensors come from the heap and are reused instead of being mmapped and
  faulted in afresh each step (glibc's manual gives 32 MiB, 4·1024·1024·
  sizeof(long), as the 64-bit maximum; glibc 2.36 accepts and honours more,
  which compare.py checks with mallopt here and torch_peer.py with a 48 MiB
  block there, and where it is refused the threshold falls back to 32 MiB),
  MALLOC_TRIM_THRESHOLD_ 1 GiB (freed memory at the top of the heap is
  kept) and MALLOC_TOP_PAD_ 256 MiB (the heap grows in big steps). Without
  them PyTorch 1.13 can spend as much system time as user time in page
  faults on some hosts; --torch-malloc default leaves glibc as it is;
- OpenBLAS's idle worker threads put to sleep at once
  (OPENBLAS_THREAD_TIMEOUT, the value rst sets for itself;
  --torch-blas-idle default leaves OpenBLAS's wait of 2^28 cycles, in
  which they call sched_yield and take turns on the cores with the OpenMP
  threads that run PyTorch's convolutions and element-wise kernels);
- the faster of channels-last and contiguous memory format for each model:
  every round times each format of --formats in its own process, in
  alternating order, and the table keeps the format with the lower median
  forward+backward time (and says which).
Ours runs as built, with its allocator (Go's heap; glibc's malloc, as the
system sets it, for what oneDNN and OpenBLAS allocate).

Both sides report the CPU time of their timed loops (getrusage of the
process, all threads, before and after): the table gives user+sys
milliseconds per pass and per step beside the wall times, and under it the
system share and the minor page faults per pass.

  /usr/bin/python3 bench/peer/compare.py --rst bin/rst --models smallcnn,resnet18
  /usr/bin/python3 bench/peer/compare.py --rst bin/rst --models resnet50,vit-s16 --data imagenet --batch 16 --rounds 2 --steps 2
"""
import argparse
import ctypes
import json
import os
import platform
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

# suite/bench.Shapes and its class counts: (H, W, C), classes.
DATA = {"mnist": ((28, 28, 1), 10), "fashion-mnist": ((28, 28, 1), 10), "cifar10": ((32, 32, 3), 10),
        "cifar100": ((32, 32, 3), 100), "imagenet": ((224, 224, 3), 1000)}


# glibc's allocator variables for the PyTorch process (see the docstring).
MMAP_THRESHOLD, MMAP_THRESHOLD_DOCUMENTED_MAX = 1 << 30, 32 << 20
TRIM_THRESHOLD, TOP_PAD = 1 << 30, 256 << 20
FORMATS = ("channels_last", "contiguous")
PROBE_MIB = 48  # torch_peer.py's check that the threshold is in effect


def glibc():
    """glibc's version, or None where the C library is another."""
    try:
        return os.confstr("CS_GNU_LIBC_VERSION")
    except (ValueError, OSError):
        return None


def malloc_env(mode):
    """The allocator variables PyTorch's process gets, and a note on them."""
    if mode == "default":
        return {}, "glibc malloc as the system sets it (--torch-malloc default)"
    if glibc() is None:
        return {}, "not glibc: no allocator variables set"
    mmap = MMAP_THRESHOLD
    try:
        # do_set_mmap_threshold serves both mallopt and the variable: a
        # value it refuses here is refused there, and the variable would
        # be ignored, leaving the default dynamic threshold.
        if ctypes.CDLL("libc.so.6").mallopt(-3, ctypes.c_int(mmap)) != 1:  # M_MMAP_THRESHOLD
            mmap = MMAP_THRESHOLD_DOCUMENTED_MAX
    except OSError:
        mmap = MMAP_THRESHOLD_DOCUMENTED_MAX
    env = {"MALLOC_MMAP_THRESHOLD_": str(mmap), "MALLOC_TRIM_THRESHOLD_": str(TRIM_THRESHOLD),
           "MALLOC_TOP_PAD_": str(TOP_PAD)}
    mib = lambda v: f"{v >> 20} MiB" if v < 1 << 30 else f"{v >> 30} GiB"
    note = (f"{glibc()}, MALLOC_MMAP_THRESHOLD_={mmap} ({mib(mmap)}), MALLOC_TRIM_THRESHOLD_={TRIM_THRESHOLD} "
            f"({mib(TRIM_THRESHOLD)}), MALLOC_TOP_PAD_={TOP_PAD} ({mib(TOP_PAD)})")
    if mmap == MMAP_THRESHOLD_DOCUMENTED_MAX:
        note += f"; this glibc refused {mib(MMAP_THRESHOLD)}"
    return env, note


def host():
    """The CPU model, the CPUs (online and usable by us) and the load."""
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return f"{model}, {os.cpu_count()} CPUs ({usable} usable), {platform.system()} {platform.release()}, load average {load:.2f} at start"


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
    ap.add_argument("--formats", default=",".join(FORMATS),
                    help="PyTorch's memory formats to time, each in its own process every round; the faster is kept "
                         "(channels_last, contiguous, or both)")
    ap.add_argument("--torch-malloc", default="tuned", choices=("tuned", "default"),
                    help="tuned: raise glibc's mmap and trim thresholds and top pad for PyTorch's process; default: leave them")
    ap.add_argument("--torch-blas-idle", default="rst", choices=("rst", "default"),
                    help="rst: PyTorch's OpenBLAS threads sleep when idle after the wait rst gives its own (OPENBLAS_THREAD_TIMEOUT); default: OpenBLAS's own wait")
    a = ap.parse_args()
    formats = [f.strip() for f in a.formats.split(",") if f.strip()]
    if not formats or any(f not in FORMATS for f in formats):
        ap.error(f"--formats {a.formats!r}: give channels_last, contiguous or both")
    (h, w, c), classes = DATA[a.data]
    env = dict(os.environ, GOMAXPROCS=str(a.threads), OMP_NUM_THREADS=str(a.threads))
    for k in ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_"):
        env.pop(k, None)  # ours as the system sets it; PyTorch's below
    menv, mnote = malloc_env(a.torch_malloc)
    penv = dict(env, **menv)
    # Both sides' GEMMs on the same OpenBLAS kernels: Debian's PyTorch also
    # links OpenBLAS, and where OpenBLAS does not recognise the CPU, rst
    # restarts itself with the CPU's kernels (OPENBLAS_CORETYPE) while
    # PyTorch would keep the slow generic ones.
    blasnote = "OpenBLAS's own choice on both sides"
    v = subprocess.run([a.rst, "version"], env=env, capture_output=True, text=True).stdout
    if "OPENBLAS_CORETYPE" not in env:
        core = next((l.split(", ")[-1].split(" kernels")[0] for l in v.splitlines()
                     if l.startswith("blas: OpenBLAS") and l.endswith(" kernels")), None)
        if core:
            penv["OPENBLAS_CORETYPE"] = core
            blasnote = f"OPENBLAS_CORETYPE={core} for PyTorch, the kernels rst runs"
    else:
        blasnote = f"OPENBLAS_CORETYPE={env['OPENBLAS_CORETYPE']} on both sides"
    # How long OpenBLAS's idle threads wait for work before sleeping: rst
    # sets OPENBLAS_THREAD_TIMEOUT for itself (`rst version` says which), and
    # PyTorch's OpenBLAS gets the same unless --torch-blas-idle default.
    idle = next((l.split("OPENBLAS_THREAD_TIMEOUT=")[1].rstrip(")") for l in v.splitlines()
                 if l.strip().startswith("idle threads:") and "OPENBLAS_THREAD_TIMEOUT=" in l), None)
    if "OPENBLAS_THREAD_TIMEOUT" in env:
        blasnote += f"; OPENBLAS_THREAD_TIMEOUT={env['OPENBLAS_THREAD_TIMEOUT']} on both sides"
    elif idle and a.torch_blas_idle == "rst":
        penv["OPENBLAS_THREAD_TIMEOUT"] = idle
        blasnote += f"; OPENBLAS_THREAD_TIMEOUT={idle} on both sides (idle threads sleep)"
    elif idle:
        blasnote += f"; OPENBLAS_THREAD_TIMEOUT={idle} for rst, OpenBLAS's default for PyTorch"
    hostline = host()
    rows, backend, torch_version, mismatches, notes, probes = [], None, None, [], [], set()
    for model in a.models.split(","):
        ours, peer = [], {f: [] for f in formats}
        for r in range(a.rounds):
            o = run_json([a.rst, "bench", "--model", model, "--data", a.data, "--batch", str(a.batch),
                          "--bench-steps", str(a.steps), "--json"], env)
            if o is not None:
                ours.append(o)
                backend = o["backend"]
            got = {}
            for f in (formats if r % 2 == 0 else formats[::-1]):
                p = run_json([sys.executable, os.path.join(HERE, "torch_peer.py"), "--model", model,
                              "--batch", str(a.batch), "--steps", str(a.steps), "--threads", str(a.threads),
                              "--shape", f"{h},{w},{c}", "--classes", str(classes), "--format", f], penv)
                got[f] = p
                if p is not None:
                    peer[f].append(p)
                    torch_version = f"{p['torch']}, {p['threads']} threads"
                    if "threshold_in_effect" in p.get("malloc", {}):
                        probes.add(p["malloc"]["threshold_in_effect"])
                    if p.get("malloc", {}).get("threshold_in_effect") is False:
                        notes.append(f"{model}: PyTorch's process served a {p['malloc']['heap_probe_mib']} MiB block "
                                     f"by mmap: the mmap threshold was not in effect")
            show = lambda x: f"{x['fwd_bwd_ms']:.1f} ms" if x is not None else "failed"
            print(f"# {model} round {r + 1}: ours {show(o)}, PyTorch " + ", ".join(f"{f} {show(got[f])}" for f in formats),
                  file=sys.stderr, flush=True)
            if o is None and all(v is None for v in got.values()):
                break
        # PyTorch's faster format: the lower median forward+backward.
        timed = {f: statistics.median(x["fwd_bwd_ms"] for x in rs) for f, rs in peer.items() if rs}
        best = min(timed, key=timed.get) if timed else None
        if len(timed) > 1:
            notes.append(f"{model}: PyTorch forward+backward " +
                         ", ".join(f"{f} {v:.1f} ms" for f, v in timed.items()) + f"; kept {best}")
        pk = peer[best] if best else []
        if ours and pk:
            if ours[-1]["params"] != pk[-1]["params"]:
                mismatches.append(f"{model}: ours {ours[-1]['params']} parameters, PyTorch's twin {pk[-1]['params']}")
            if list(ours[-1]["input"]) != [h, w, c]:
                mismatches.append(f"{model}: ours timed input {ours[-1]['input']}, PyTorch {[h, w, c]}")
        rows.append((model, best, ours, pk))
    med = lambda rs, k: statistics.median(x[k] for x in rs) if rs else None
    # CPU time per pass or step: median over rounds of (user+sys)/steps, ms;
    # the system share, and minor faults per pass.
    per = lambda rs, k: statistics.median(1e3 * x[k] / a.steps for x in rs) if rs and k in rs[0] else None

    def cpu(rs, pre):
        if not rs or pre + "user_s" not in rs[0]:
            return None
        return statistics.median(1e3 * (x[pre + "user_s"] + x[pre + "sys_s"]) / a.steps for x in rs)

    if probes == {True}:
        mnote += f"; in effect in PyTorch's processes (a {PROBE_MIB} MiB block came from the heap)"
    print(f"host: {hostline}")
    print(f"ours: {backend or 'no run succeeded'}; GOMAXPROCS={a.threads}, allocator as the system sets it")
    fmts = f"the faster of {' and '.join(formats)} per model (fmt)" if len(formats) > 1 else f"{formats[0]} (fmt; --formats)"
    print(f"PyTorch {torch_version or '(no run succeeded)'} (OMP_NUM_THREADS={a.threads}), {fmts}; allocator: {mnote}")
    print(f"BLAS kernels: {blasnote}")
    print(f"{a.data} shape {h}×{w}×{c}, {classes} classes, batch {a.batch}, {a.rounds} interleaved rounds of {a.steps} timed steps, "
          f"medians; cpu = user+sys CPU time of the process (all threads) per pass or step")
    mw = max([5] + [len(m) for m, _, _, _ in rows])
    fmtname = {"channels_last": "cl", "contiguous": "contig", None: "—"}
    print(f"{'model':{mw}} {'params':>11} {'fmt':>6} {'fwd+bwd ours':>13} {'PyTorch':>9} {'ratio':>6} {'cpu ours':>10} {'PyTorch':>9} "
          f"{'step ours':>10} {'PyTorch':>9} {'ratio':>6} {'cpu ours':>10} {'PyTorch':>9} {'peak RSS ours':>14} {'PyTorch':>9}")
    ms = lambda v, n: f"{v:{n}.1f} ms" if v is not None else f"{'—':>{n + 3}}"
    ratio = lambda x, y: f"{x / y:6.2f}" if x is not None and y is not None else f"{'—':>6}"
    mb = lambda rs, n: f"{max(x['peak_rss_mb'] for x in rs):{n}.0f} MB" if rs else f"{'—':>{n + 3}}"
    for m, best, ours, peer in rows:
        fo, fp, so, sp = med(ours, "fwd_bwd_ms"), med(peer, "fwd_bwd_ms"), med(ours, "step_ms"), med(peer, "step_ms")
        n = (ours or peer or [{}])[-1].get("params")
        print(f"{m:{mw}} {n if n is not None else '—':>11} {fmtname[best]:>6} {ms(fo, 10)} {ms(fp, 6)} {ratio(fo, fp)} "
              f"{ms(cpu(ours, ''), 7)} {ms(cpu(peer, ''), 6)} {ms(so, 7)} {ms(sp, 6)} {ratio(so, sp)} "
              f"{ms(cpu(ours, 'step_'), 7)} {ms(cpu(peer, 'step_'), 6)} {mb(ours, 11)} {mb(peer, 6)}")
    for m, best, ours, peer in rows:
        parts = []
        for side, rs in (("ours", ours), ("PyTorch", peer)):
            if rs and "user_s" in rs[0]:
                u, sy, fl = per(rs, "user_s"), per(rs, "sys_s"), statistics.median(x["minflt"] / a.steps for x in rs)
                parts.append(f"{side} {u:.1f} user + {sy:.1f} sys ms, {fl:.0f} minor faults")
        if parts:
            print(f"per pass, {m}: " + "; ".join(parts))
    for line in notes:
        print(f"note: {line}")
    for line in mismatches:
        print(f"MISMATCH {line}")
    if mismatches:
        sys.exit(1)


if __name__ == "__main__":
    main()
