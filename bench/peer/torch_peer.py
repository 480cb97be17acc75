#!/usr/bin/env python3
"""PyTorch CPU peer of `rst bench`: times a forward+backward pass and a
whole SGD step of the suite's models, rebuilt layer for layer from
suite/models, on synthetic CIFAR-shaped inputs in channels-last layout.

Prints one JSON object: fwd_bwd_ms and step_ms (medians after warm-up, as
rst bench measures them) and peak_rss_mb (ru_maxrss of this process).
Run with Debian's python3-torch (1.13): /usr/bin/python3 torch_peer.py.
"""
import argparse
import json
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


def build(name, c, h, w, classes):
    if name == "smallcnn":
        return smallcnn(c, h, w, classes)
    if name == "resnet18":
        return resnet(c, classes)
    if name == "wrn16-4":
        return wrn(c, classes, 16, 4)
    if name == "vgg16-bn":
        return vgg16_bn(c, h, w, classes)
    raise SystemExit(f"torch_peer: no PyTorch twin of model {name!r}")


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", default="smallcnn")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--steps", type=int, default=20, help="timed passes and steps, after 2 warm-up ones each")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--shape", default="32,32,3", help="H,W,C of the synthetic inputs")
    ap.add_argument("--classes", type=int, default=10)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    h, w, c = (int(v) for v in a.shape.split(","))
    model = build(a.model, c, h, w, a.classes).to(memory_format=torch.channels_last)
    model.train()
    x = torch.randn(a.batch, c, h, w).to(memory_format=torch.channels_last)
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
        out = []
        for i in range(2 + a.steps):
            t0 = time.perf_counter()
            fn()
            if i >= 2:
                out.append(time.perf_counter() - t0)
        return 1e3 * statistics.median(out)

    r = {"model": a.model, "batch": a.batch, "threads": torch.get_num_threads(),
         "torch": torch.__version__, "fwd_bwd_ms": timed(pass_), "step_ms": timed(step),
         "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    print(json.dumps(r))


if __name__ == "__main__":
    main()
