#!/usr/bin/env python3
"""PyTorch CPU peer of `rst bench`: times a forward+backward pass and a
whole SGD step of the suite's models, rebuilt layer for layer from
suite/models, on synthetic inputs (CIFAR-shaped by default; --shape
224,224,3 --classes 1000 for the ImageNet models), in channels-last
(the default) or contiguous memory format (--format).

Prints one JSON object: params (trainable scalars, to check against ours),
fwd_bwd_ms and step_ms (medians after warm-up, as rst bench measures them),
user_s, sys_s and minflt (the process's CPU seconds, all threads, and minor
page faults over the timed passes, from getrusage before and after them,
as rst bench --json reports them; step_user_s, step_sys_s, step_minflt
over the timed steps), peak_rss_mb (ru_maxrss of this process), and malloc:
the glibc allocator variables this process was given and, where the mmap
threshold is above 48 MiB, whether a 48 MiB block came from the heap (the
threshold in effect) or from mmap (not). --count prints the object with
params alone, without timing. Run with Debian's python3-torch (1.13):
/usr/bin/python3 torch_peer.py.
"""
import argparse
import ctypes
import json
import os
import resource
import statistics
import time

import torch
from torch import nn
import torch.nn.functional as F


def conv(cin, cout, k, stride, pad):
    # The suite's convolutions are bias-free (a batch-norm follows).
    return nn.Conv2d(cin, cout, k, stride, pad, bias=False)


def conv_bn_relu(cin, cout, stride=1):
    return [conv(cin, cout, 3, stride, 1), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]


def smallcnn(c, h, w, classes):
    # models.SmallCNN: conv32, conv32, pool, conv64, pool, linear.
    return nn.Sequential(
        *conv_bn_relu(c, 32), *conv_bn_relu(32, 32), nn.MaxPool2d(2),
        *conv_bn_relu(32, 64), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(64 * (h // 4) * (w // 4), classes))


class BasicBlock(nn.Module):
    # models.BasicBlock: conv-BN-ReLU-conv-BN, 1×1 conv+BN projection where
    # the shape changes, ReLU after the join.
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.body = nn.Sequential(conv(cin, cout, 3, stride, 1), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
                                  conv(cout, cout, 3, 1, 1), nn.BatchNorm2d(cout))
        self.short = None
        if stride != 1 or cin != cout:
            self.short = nn.Sequential(conv(cin, cout, 1, stride, 0), nn.BatchNorm2d(cout))

    def forward(self, x):
        s = x if self.short is None else self.short(x)
        return F.relu(self.body(x) + s)


def resnet(c, classes, blocks=(2, 2, 2, 2), widths=(64, 128, 256, 512)):
    layers = conv_bn_relu(c, widths[0])
    cin = widths[0]
    for s, n in enumerate(blocks):
        for b in range(n):
            layers.append(BasicBlock(cin, widths[s], 2 if s > 0 and b == 0 else 1))
            cin = widths[s]
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, classes))


class PreAct(nn.Module):
    # models.PreActBlock: BN-ReLU-conv-BN-ReLU-conv. With an identity
    # shortcut the first BN-ReLU is inside the residual body; with a 1×1
    # projection it comes before the split, and the projection sees the
    # pre-activated input. No ReLU after the join.
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.identity = stride == 1 and cin == cout
        self.pre = nn.Sequential(nn.BatchNorm2d(cin), nn.ReLU())
        self.body = nn.Sequential(conv(cin, cout, 3, stride, 1), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
                                  conv(cout, cout, 3, 1, 1))
        self.short = None if self.identity else conv(cin, cout, 1, stride, 0)

    def forward(self, x):
        if self.identity:
            return x + self.body(self.pre(x))
        a = self.pre(x)
        return self.body(a) + self.short(a)


def wrn(c, classes, depth=16, k=4):
    n = (depth - 4) // 6
    layers = [conv(c, 16, 3, 1, 1)]
    cin = 16
    for g, width in enumerate((16 * k, 32 * k, 64 * k)):
        for b in range(n):
            layers.append(PreAct(cin, width, 2 if g > 0 and b == 0 else 1))
            cin = width
    return nn.Sequential(*layers, nn.BatchNorm2d(cin), nn.ReLU(inplace=True),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, classes))


def vgg16_bn(c, h, w, classes):
    cfg = [64, 64, 0, 128, 128, 0, 256, 256, 256, 0, 512, 512, 512, 0, 512, 512, 512, 0]
    layers, cin = [], c
    for v in cfg:
        if v == 0:
            layers.append(nn.MaxPool2d(2))
            h, w = h // 2, w // 2
        else:
            layers += conv_bn_relu(cin, v)
            cin = v
    layers.append(nn.Flatten())
    f = cin * h * w
    for n in (4096, 4096):
        layers += [nn.Linear(f, n), nn.ReLU(inplace=True), nn.Dropout(0.5)]
        f = n
    return nn.Sequential(*layers, nn.Linear(f, classes))


class Bottleneck(nn.Module):
    # models.Bottleneck (torchvision v1.5): 1×1 conv-BN-ReLU, 3×3 conv with
    # the stride-BN-ReLU, 1×1 conv to 4·width-BN; a 1×1 conv+BN projection
    # with the stride where the shape changes; ReLU after the join.
    def __init__(self, cin, width, stride):
        super().__init__()
        cout = 4 * width
        self.body = nn.Sequential(conv(cin, width, 1, 1, 0), nn.BatchNorm2d(width), nn.ReLU(inplace=True),
                                  conv(width, width, 3, stride, 1), nn.BatchNorm2d(width), nn.ReLU(inplace=True),
                                  conv(width, cout, 1, 1, 0), nn.BatchNorm2d(cout))
        self.short = None
        if stride != 1 or cin != cout:
            self.short = nn.Sequential(conv(cin, cout, 1, stride, 0), nn.BatchNorm2d(cout))

    def forward(self, x):
        s = x if self.short is None else self.short(x)
        return F.relu(self.body(x) + s)


def resnet_imagenet(c, classes, blocks):
    # models.ResNetImageNet: 7×7/2 stem (pad 3) + BN + ReLU, 3×3/2 max-pool
    # (pad 1), bottleneck stages of widths 64/128/256/512, stride 2 at the
    # first block of stages 2–4; global average pool, linear.
    layers = [conv(c, 64, 7, 2, 3), nn.BatchNorm2d(64), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2, 1)]
    cin = 64
    for s, n in enumerate(blocks):
        for b in range(n):
            layers.append(Bottleneck(cin, 64 << s, 2 if s > 0 and b == 0 else 1))
            cin = 4 * (64 << s)
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, classes))


class Attention(nn.Module):
    # Multi-head self-attention: one qkv Linear with bias, softmax(q·kᵀ/√d)·v
    # per head, output projection with bias, dropout p on the projection's
    # output (none on the attention weights).
    def __init__(self, dim, heads, p):
        super().__init__()
        self.heads, self.scale = heads, (dim // heads) ** -0.5
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.drop = nn.Dropout(p)

    def forward(self, x):
        n, t, d = x.shape
        q, k, v = self.qkv(x).reshape(n, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        a = ((q @ k.transpose(-2, -1)) * self.scale).softmax(dim=-1)
        return self.drop(self.proj((a @ v).transpose(1, 2).reshape(n, t, d)))


class EncoderBlock(nn.Module):
    # Pre-norm transformer block: x + Attn(LN(x)), then x + MLP(LN(x)) with
    # the MLP Linear(d, 4d)-GELU(erf)-dropout-Linear(4d, d)-dropout.
    def __init__(self, dim, heads, mlp, p):
        super().__init__()
        self.ln1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, heads, p)
        self.ln2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = nn.Sequential(nn.Linear(dim, mlp), nn.GELU(), nn.Dropout(p), nn.Linear(mlp, dim), nn.Dropout(p))

    def forward(self, x):
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class ViT(nn.Module):
    # ViT-S/16 as Dosovitskiy et al. (and timm's vit_small_patch16_224):
    # a patch×patch convolution with bias embeds the patches, a learned class
    # token is prepended and a learned position embedding added, dropout p;
    # pre-norm blocks, a final LayerNorm (ε 1e-6), the head on the class token.
    def __init__(self, c, h, w, classes, patch=16, dim=384, depth=12, heads=6, mlp=1536, p=0.1):
        super().__init__()
        if h % patch or w % patch:
            raise SystemExit(f"torch_peer: ViT patches of {patch} do not tile {h}×{w}")
        tokens = (h // patch) * (w // patch) + 1
        self.embed = nn.Conv2d(c, dim, patch, patch)
        self.cls = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos = nn.Parameter(torch.randn(1, tokens, dim) * 0.02)
        self.drop = nn.Dropout(p)
        self.blocks = nn.Sequential(*(EncoderBlock(dim, heads, mlp, p) for _ in range(depth)))
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.head = nn.Linear(dim, classes)

    def forward(self, x):
        x = self.embed(x).flatten(2).transpose(1, 2)  # [N, patches, dim]
        x = torch.cat([self.cls.expand(x.shape[0], -1, -1), x], dim=1)
        x = self.blocks(self.drop(x + self.pos))
        return self.head(self.norm(x)[:, 0])


def build(name, c, h, w, classes):
    if name == "smallcnn":
        return smallcnn(c, h, w, classes)
    if name == "resnet18":
        return resnet(c, classes)
    if name == "wrn16-4":
        return wrn(c, classes, 16, 4)
    if name in ("vgg16-bn", "vgg16-bn-imagenet"):
        # The same network: the ImageNet one is torchvision's at 224×224,
        # where the five pools leave the 7×7 map its classifier takes.
        if name == "vgg16-bn-imagenet" and (h // 32 != 7 or w // 32 != 7):
            raise SystemExit("torch_peer: vgg16-bn-imagenet takes 224×224 inputs (--shape 224,224,3)")
        return vgg16_bn(c, h, w, classes)
    if name == "resnet50":
        return resnet_imagenet(c, classes, (3, 4, 6, 3))
    if name == "resnet101":
        return resnet_imagenet(c, classes, (3, 4, 23, 3))
    if name == "vit-s16":
        return ViT(c, h, w, classes)
    raise SystemExit(f"torch_peer: no PyTorch twin of model {name!r}")


# Trainable parameters at 224×224×3 and 1000 classes, torchvision's and
# timm's counts: the twins are checked against them (--count).
KNOWN_PARAMS = {"resnet50": 25_557_032, "resnet101": 44_549_160, "vit-s16": 22_050_664,
                # torchvision's 138,365,992 less the 13 conv biases (bias-free here and in the suite)
                "vgg16-bn-imagenet": 138_365_992 - 4_224}


MALLOC_VARS = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_")
PROBE = 48 << 20  # above glibc's documented 64-bit mmap-threshold maximum, 32 MiB


def malloc_report():
    """The allocator variables this process has, and whether a PROBE-byte
    block is served from the heap when the mmap threshold asks for it:
    glibc's mallinfo2 counts the mmapped blocks before and after malloc
    (the block is not touched, so it costs no page faults)."""
    r = {k: os.environ[k] for k in MALLOC_VARS if k in os.environ}
    try:
        want = int(os.environ.get("MALLOC_MMAP_THRESHOLD_", "0"))
    except ValueError:
        want = 0
    if want <= PROBE:
        return r

    class MallInfo2(ctypes.Structure):
        _fields_ = [(n, ctypes.c_size_t) for n in
                    ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallinfo2.restype = MallInfo2
    except (OSError, AttributeError):  # not glibc, or older than 2.33
        return r
    libc.malloc.restype = ctypes.c_void_p
    libc.free.argtypes = [ctypes.c_void_p]
    before = libc.mallinfo2().hblks
    p = libc.malloc(PROBE)
    r["heap_probe_mib"] = PROBE >> 20
    r["threshold_in_effect"] = bool(p) and libc.mallinfo2().hblks == before
    libc.free(p)
    return r


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", default="smallcnn")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--steps", type=int, default=20, help="timed passes and steps, after 2 warm-up ones each")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--shape", default="32,32,3", help="H,W,C of the synthetic inputs")
    ap.add_argument("--classes", type=int, default=10)
    ap.add_argument("--format", default="channels_last", choices=("channels_last", "contiguous"),
                    help="memory format of the model and its input")
    ap.add_argument("--count", action="store_true", help="print the parameter count only (and check it where known), no timing")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    h, w, c = (int(v) for v in a.shape.split(","))
    fmt = torch.channels_last if a.format == "channels_last" else torch.contiguous_format
    model = build(a.model, c, h, w, a.classes).to(memory_format=fmt)
    params = sum(p.numel() for p in model.parameters())
    if a.count:
        r = {"model": a.model, "shape": [h, w, c], "classes": a.classes, "params": params}
        want = KNOWN_PARAMS.get(a.model)
        if want is not None and (h, w, c, a.classes) == (224, 224, 3, 1000):
            r["expected_params"] = want
        print(json.dumps(r))
        if r.get("expected_params", params) != params:
            raise SystemExit(f"torch_peer: {a.model} has {params} parameters, want {want}")
        return
    model.train()
    x = torch.randn(a.batch, c, h, w).contiguous(memory_format=fmt)
    y = torch.randint(0, a.classes, (a.batch,))
    # rst bench's default step: SGD with Nesterov momentum, L2 and clipping.
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-3)

    def pass_():
        model.zero_grad(set_to_none=False)
        loss = F.cross_entropy(model(x), y)
        loss.backward()

    def step():
        pass_()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()

    def timed(fn):
        """The median wall milliseconds of the timed calls, and the user
        and system seconds and minor faults of the process over them."""
        for _ in range(2):
            fn()
        out = []
        u0 = resource.getrusage(resource.RUSAGE_SELF)
        for _ in range(a.steps):
            t0 = time.perf_counter()
            fn()
            out.append(time.perf_counter() - t0)
        u1 = resource.getrusage(resource.RUSAGE_SELF)
        return 1e3 * statistics.median(out), u1.ru_utime - u0.ru_utime, u1.ru_stime - u0.ru_stime, u1.ru_minflt - u0.ru_minflt

    mal = malloc_report()
    fwd_bwd, user, sys_, flt = timed(pass_)
    step_ms, step_user, step_sys, step_flt = timed(step)
    r = {"model": a.model, "batch": a.batch, "shape": [h, w, c], "classes": a.classes, "params": params,
         "threads": torch.get_num_threads(), "format": a.format,
         "torch": torch.__version__, "fwd_bwd_ms": fwd_bwd, "step_ms": step_ms,
         "user_s": user, "sys_s": sys_, "minflt": flt, "step_user_s": step_user, "step_sys_s": step_sys, "step_minflt": step_flt,
         "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "malloc": mal}
    print(json.dumps(r))


if __name__ == "__main__":
    main()
