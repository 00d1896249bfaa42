#!/usr/bin/python3
"""An independent count of a CNN architecture's cost, the oracle for src/cnn/cnn_cost.c.

Reads the space file itself (a small libconfig reader below), builds each architecture as a
torch.nn network (Conv2d, BatchNorm2d, SiLU or ReLU6, squeeze-and-excitation, AdaptiveAvgPool2d,
Linear), counts its parameters as sum(p.numel() for p in model.parameters()) and its
multiply-accumulates with forward hooks on every Conv2d and Linear during one forward pass of a
dummy image at the architecture's resolution; then compares them with what prenas-arch prints:
  - prenas-arch --config SPACE --sample N --seed S (every line);
  - the summary's smallest and largest, which must also be this script's own extremes;
  - prenas-arch --config SPACE --arch X for those two.
Written from the layer description of src/cnn/cnn_space.h and the papers (MobileNetV2's
inverted residual, EfficientNet's SE on the block's input width), not from the C code.

usage: cnn_count.py PRENAS_ARCH SPACE.cfg [--sample N] [--seed S]
Exit status 0 when every number is equal; 1 otherwise, with the differences on stderr.
"""
import argparse
import re
import subprocess
import sys

import torch
from torch import nn

# ---- a libconfig reader, enough for search spaces ----

TOKEN = re.compile(r"""
    (?P<space>\s+|\#[^\n]*|//[^\n]*|/\*.*?\*/)
  | (?P<string>"(?:[^"\\]|\\.)*")
  | (?P<number>[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?L?)
  | (?P<word>[A-Za-z*][-A-Za-z0-9_*]*)
  | (?P<punct>[=:;,{}()\[\]])
""", re.VERBOSE | re.DOTALL)


def tokens(text):
    at = 0
    while at < len(text):
        m = TOKEN.match(text, at)
        if not m:
            raise ValueError(f"cannot read the configuration at {text[at:at + 20]!r}")
        at = m.end()
        if m.lastgroup != "space":
            yield m.lastgroup, m.group()


def parse_config(text):
    toks = list(tokens(text)) + [("end", "")]
    pos = 0

    def take(expected=None):
        nonlocal pos
        kind, value = toks[pos]
        if expected is not None and value != expected:
            raise ValueError(f"expected {expected!r}, found {value!r}")
        pos += 1
        return kind, value

    def value():
        kind, v = take()
        if kind == "string":
            return v[1:-1]
        if kind == "number":
            v = v.rstrip("L")
            return float(v) if any(c in v for c in ".eE") else int(v)
        if kind == "word" and v.lower() in ("true", "false"):
            return v.lower() == "true"
        if v in "[(":
            close, items = "])"["[(".index(v)], []
            while toks[pos][1] != close:
                items.append(value())
                if toks[pos][1] == ",":
                    take()
            take(close)
            return items
        if v == "{":
            group = settings("}")
            take("}")
            return group
        raise ValueError(f"unexpected {v!r}")

    def settings(end):
        group = {}
        while toks[pos][1] != end:
            _, name = take()
            if toks[pos][1] not in "=:":
                raise ValueError(f"expected = after {name}")
            take()
            group[name] = value()
            if toks[pos][1] in ";,":
                take()
        return group

    return settings("")


# ---- architectures: RES:STEM:CxDkKeE:...:HEAD ----

STAGE = re.compile(r"([1-9]\d*)x([1-9]\d*)k([1-9]\d*)e([1-9]\d*)")


def parse_arch(text):
    fields = text.split(":")
    stages = []
    for field in fields[2:-1]:
        m = STAGE.fullmatch(field)
        if not m:
            raise ValueError(f"{text}: stage {field!r}")
        channels, depth, kernel, expand = map(int, m.groups())
        stages.append(dict(channels=channels, depth=depth, kernel=kernel, expand=expand))
    return dict(resolution=int(fields[0]), stem=int(fields[1]), stages=stages, head=int(fields[-1]))


def extreme(space, pick):
    stages = [f"{pick(s['channels'])}x{pick(s['depth'])}k{pick(s['kernel'])}e{pick(s['expand_ratio'])}"
              for s in space["stages"]]
    return ":".join([str(pick(space["resolution"])), str(pick(space["stem"]["channels"]))] + stages
                    + [str(pick(space["head"]["channels"]))])


def in_space(space, arch):
    ok = (arch["resolution"] in space["resolution"] and arch["stem"] in space["stem"]["channels"]
          and arch["head"] in space["head"]["channels"] and len(arch["stages"]) == len(space["stages"]))
    for a, s in zip(arch["stages"], space["stages"]):
        ok = ok and a["channels"] in s["channels"] and a["depth"] in s["depth"]
        ok = ok and a["kernel"] in s["kernel"] and a["expand"] in s["expand_ratio"]
    return ok


# ---- the network ----

def activation(name):
    return nn.SiLU() if name == "swish" else nn.ReLU6()


class SqueezeExcite(nn.Module):
    def __init__(self, width, reduced, act):
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.reduce = nn.Conv2d(width, reduced, 1, bias=True)
        self.act = activation(act)
        self.expand = nn.Conv2d(reduced, width, 1, bias=True)

    def forward(self, x):
        return x * torch.sigmoid(self.expand(self.act(self.reduce(self.pool(x)))))


class MBConv(nn.Module):
    def __init__(self, c_in, c_out, kernel, expand, stride, se, act, residual):
        super().__init__()
        mid = c_in * expand
        layers = []
        if expand != 1:
            layers += [nn.Conv2d(c_in, mid, 1, bias=False), nn.BatchNorm2d(mid), activation(act)]
        layers += [nn.Conv2d(mid, mid, kernel, stride, kernel // 2, groups=mid, bias=False),
                   nn.BatchNorm2d(mid), activation(act)]
        if se:
            layers.append(SqueezeExcite(mid, max(1, int(c_in * 0.25)), act))
        layers += [nn.Conv2d(mid, c_out, 1, bias=False), nn.BatchNorm2d(c_out)]
        self.body = nn.Sequential(*layers)
        self.residual = residual

    def forward(self, x):
        y = self.body(x)
        return x + y if self.residual else y


def build(space, arch):
    act = space.get("activation", "swish")
    stem = space["stem"]
    k = stem["kernel"]
    layers = [nn.Conv2d(space["in_channels"], arch["stem"], k, stem["stride"], k // 2, bias=False),
              nn.BatchNorm2d(arch["stem"]), activation(act)]
    width = arch["stem"]
    for a, s in zip(arch["stages"], space["stages"]):
        for layer in range(a["depth"]):
            layers.append(MBConv(width, a["channels"], a["kernel"], a["expand"],
                                 s["stride"] if layer == 0 else 1, s.get("se", False), act,
                                 residual=layer > 0))
            width = a["channels"]
    layers += [nn.Conv2d(width, arch["head"], 1, bias=False), nn.BatchNorm2d(arch["head"]),
               activation(act), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
               nn.Linear(arch["head"], space["num_classes"])]
    return nn.Sequential(*layers)


def count(space, arch):
    # on the meta device: shapes propagate, nothing is computed (the counts need no values,
    # and a forward at 320 x 320 of 30 BigNAS networks would cost the suite seconds)
    model = build(space, arch).eval().to("meta")
    params = sum(p.numel() for p in model.parameters())
    macs = [0]

    def conv_hook(module, inputs, output):
        kh, kw = module.kernel_size
        macs[0] += output[0].numel() * (module.in_channels // module.groups) * kh * kw

    def linear_hook(module, inputs, output):
        macs[0] += module.in_features * module.out_features

    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            m.register_forward_hook(conv_hook)
        elif isinstance(m, nn.Linear):
            m.register_forward_hook(linear_hook)
    r = arch["resolution"]
    with torch.no_grad():
        out = model(torch.zeros(1, space["in_channels"], r, r, device="meta"))
    assert out.shape == (1, space["num_classes"])
    return params, macs[0]


# ---- against prenas-arch ----

LINE = re.compile(r"(\S+) params=(\d+) flops=(\d+) macs=(\d+)")


def prenas_arch(binary, *args):
    done = subprocess.run([binary, *args], capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"{binary} {' '.join(args)} failed ({done.returncode}): {done.stderr.strip()}")
    return done.stdout


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("prenas_arch")
    parser.add_argument("space")
    parser.add_argument("--sample", type=int, default=30)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(1)
    with open(args.space) as f:
        space = parse_config(f.read())

    rows = []  # (what, arch text, params, flops, macs) as prenas-arch printed them
    sampled = prenas_arch(args.prenas_arch, "--config", args.space, "--sample", str(args.sample),
                          "--seed", str(args.seed)).splitlines()
    for line in sampled:
        m = LINE.fullmatch(line)
        if not m:
            sys.exit(f"--sample printed {line!r}")
        rows.append(("sample", m.group(1), *map(int, m.groups()[1:])))
    failures = 0
    if len(rows) != args.sample:
        print(f"FAIL: --sample {args.sample} printed {len(rows)} lines", file=sys.stderr)
        failures += 1

    summary = prenas_arch(args.prenas_arch, "--config", args.space)
    for label, pick in (("smallest", min), ("largest", max)):
        mine = extreme(space, pick)
        m = re.search(rf"^  {label} +" + LINE.pattern, summary, re.MULTILINE)
        if not m or m.group(1) != mine:
            print(f"FAIL: the summary's {label} is not {mine}", file=sys.stderr)
            failures += 1
            continue
        rows.append((label, *m.groups()[:1], *map(int, m.groups()[1:])))
        single = prenas_arch(args.prenas_arch, "--config", args.space, "--arch", mine).strip()
        rows.append((f"--arch {label}", mine, *map(int, re.findall(r"=(\d+)", single))))

    for what, text, params, flops, macs in rows:
        arch = parse_arch(text)
        if not in_space(space, arch):
            print(f"FAIL: {what} {text} is not in the space", file=sys.stderr)
            failures += 1
            continue
        want_params, want_macs = count(space, arch)
        if (params, flops, macs) != (want_params, want_macs, want_macs):
            print(f"FAIL: {what} {text}: prenas-arch params={params} flops={flops} macs={macs}, "
                  f"torch params={want_params} macs={want_macs}", file=sys.stderr)
            failures += 1
    distinct = len({row[1] for row in rows})
    print(f"{args.space}: {len(rows)} rows, {distinct} distinct architectures, "
          f"{len(rows) - failures} equal to torch's count, {failures} failed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
