#!/usr/bin/env python3
"""torchvision peer of the ImageNet folder loader (issue 20).

Reads the folder BenchmarkFolderFillBatch generates (256 synthetic 500x375
quality-90 JPEGs in 4 class folders; write it with
`go test -run TestWriteBenchFolder ./suite/data/ -args -bench-folder DIR`)
through torchvision's ImageFolder and DataLoader with the transforms ours
reproduces: RandomResizedCrop(224) + RandomHorizontalFlip + ToTensor +
Normalize for training, Resize(256) + CenterCrop(224) + ToTensor +
Normalize for evaluation; batches of 64, 1 and 2 loader workers (each a
process; the main process collates).

Reports images per CPU-second (this process and its workers: getrusage of
self and of the waited-for children, user + system) per core used, and
wall-clock images per second. With --ours FILE (and --ours-go FILE), the
`go test -bench BenchmarkFolderFillBatch` output of our libjpeg-turbo (and
pure-Go) build, it prints ours and torchvision's side by side.
Run with Debian's python3-torchvision 0.14: /usr/bin/python3 input_peer.py.
"""
import argparse
import os
import re
import resource
import time

import torch
from torch.utils.data import DataLoader
from torchvision import datasets, transforms

MEAN, STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]


def cpu_seconds():
    s = resource.getrusage(resource.RUSAGE_SELF)
    c = resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime


def measure(folder, train, workers, epochs, batch):
    tf = [transforms.RandomResizedCrop(224), transforms.RandomHorizontalFlip()] if train \
        else [transforms.Resize(256), transforms.CenterCrop(224)]
    tf += [transforms.ToTensor(), transforms.Normalize(MEAN, STD)]
    ds = datasets.ImageFolder(folder, transforms.Compose(tf))
    n = 0
    cpu0, t0 = cpu_seconds(), time.perf_counter()
    for epoch in range(epochs):
        # Workers start and are joined within the epoch, so their CPU time
        # is in RUSAGE_CHILDREN when it ends.
        dl = DataLoader(ds, batch_size=batch, shuffle=train, num_workers=workers,
                        generator=torch.Generator().manual_seed(epoch))
        for x, _ in dl:
            n += x.shape[0]
        del dl
    wall, cpu = time.perf_counter() - t0, cpu_seconds() - cpu0
    return {"images/s": n / wall, "images/cpu-s": n / cpu, "images": n, "cpu_s": cpu}


def parse_go(path):
    # "BenchmarkFolderFillBatch/train/workers=1-2  20  101.3 KB/file  433.0 images/cpu-s  ..."
    out = {}
    if not path or not os.path.exists(path):
        return out
    for line in open(path):
        m = re.match(r"BenchmarkFolderFillBatch/(\S+)/workers=(\d+)\S*\s+\d+\s+(.*)", line)
        if not m:
            continue
        vals = {unit: float(v) for v, unit in re.findall(r"([\d.]+)\s+(\S+)", m.group(3))}
        out[(m.group(1), int(m.group(2)))] = vals
    return out


def parse_decode(path):
    # "BenchmarkTurboDecode/whole-8of8-2  500  101.4 KB/file  1500 cpu-µs/image"
    out = []
    if not path or not os.path.exists(path):
        return out
    for line in open(path):
        m = re.match(r"BenchmarkTurboDecode/(\S+?)(-\d+)?\s+\d+\s+(.*)", line)
        if m:
            vals = {unit: float(v) for v, unit in re.findall(r"([\d.]+)\s+(\S+)", m.group(3))}
            out.append((m.group(1), vals.get("cpu-µs/image")))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--folder", required=True)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--ours", help="go test -bench output, libjpeg-turbo build")
    ap.add_argument("--ours-go", help="go test -bench output, pure-Go build")
    ap.add_argument("--decode", help="go test -bench BenchmarkTurboDecode output (libjpeg-turbo build)")
    args = ap.parse_args()
    torch.set_num_threads(1)  # ToTensor/Normalize on one thread, as each of our workers
    ours, ours_go = parse_go(args.ours), parse_go(args.ours_go)
    cores = os.cpu_count()
    print(f"{cores} cores; images/cpu-s counts user+system CPU time (robust to a shared machine, "
          "unlike images/s, which is wall-clock)")
    hdr = f"{'case':<18}{'ours turbo cpu-s':>18}{'ours Go cpu-s':>15}{'torchvision cpu-s':>19}{'ratio':>7}" \
          f"{'ours img/s':>12}{'torchv img/s':>14}"
    print(hdr)
    fmt = lambda v: f"{v:.0f}" if v else "-"
    wall = {}  # (side, case, workers) -> images/s
    for train, name in [(True, "train"), (False, "eval")]:
        for workers in [1, 2]:
            if not train and workers == 2 and ("eval", 2) not in ours:
                continue
            r = measure(args.folder, train, workers, args.epochs, args.batch)
            o, g = ours.get((name, workers), {}), ours_go.get((name, workers), {})
            wall[("torchvision", name, workers)] = r["images/s"]
            if o.get("images/s"):
                wall[("ours", name, workers)] = o["images/s"]
            oc, gc = o.get("images/cpu-s"), g.get("images/cpu-s")
            ratio = f"{oc / r['images/cpu-s']:.2f}" if oc else "-"
            print(f"{name + '/workers=' + str(workers):<18}{fmt(oc):>18}{fmt(gc):>15}"
                  f"{r['images/cpu-s']:>19.0f}{ratio:>7}{fmt(o.get('images/s')):>12}{r['images/s']:>14.0f}",
                  flush=True)
    # What a second worker adds, in wall-clock images/s (meaningful only on
    # an otherwise idle machine with at least 2 cores).
    for side in ["ours", "torchvision"]:
        one, two = wall.get((side, "train", 1)), wall.get((side, "train", 2))
        if one and two:
            print(f"train, 2 workers / 1 worker, wall-clock images/s, {side}: {two / one:.2f}×")
    # Where a libjpeg-turbo decode's CPU time goes; the entropy decoding of
    # the whole file (last-row-1of8) is a floor no scale or region lowers.
    dec = parse_decode(args.decode)
    if dec:
        print("libjpeg-turbo decode alone, CPU µs an image (BenchmarkTurboDecode):")
        for name, us in dec:
            extra = f"  (at most {1e6 / us:.0f} images/cpu-s even with a free resize)" if name.startswith("last-row") and us else ""
            print(f"  {name:<24}{fmt(us):>8}{extra}")
    # Ours on prepared copies (rst data prepare imagenet --max-side N);
    # torchvision reads the folder only.
    prep = sorted(k for k in ours if k[0].startswith("prepared"))
    if prep:
        print(f"{'prepared copy':<30}{'ours turbo cpu-s':>18}{'ours Go cpu-s':>15}{'ours img/s':>12}{'KB/file':>9}")
    for name, workers in prep:
        o, g = ours[(name, workers)], ours_go.get((name, workers), {})
        print(f"{name + '/workers=' + str(workers):<30}{fmt(o.get('images/cpu-s')):>18}{fmt(g.get('images/cpu-s')):>15}"
              f"{fmt(o.get('images/s')):>12}{o.get('KB/file', 0):>9.1f}")


if __name__ == "__main__":
    main()
