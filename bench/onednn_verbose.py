#!/usr/bin/python3
"""Where oneDNN's time goes, from its verbose log (ONEDNN_VERBOSE=1 / DNNL_VERBOSE=1 for prenas,
torch.backends.mkldnn.verbose for PyTorch; both link oneDNN 2.6): the `exec` lines, grouped by
primitive, its direction and, for a convolution, its kind read from the problem descriptor
(g...: grouped, i.e. depthwise here; kh1 kw1: 1x1; else the dense k x k stem), with the
implementation oneDNN chose, summed over the calls. Reorders are grouped by the layouts they
convert between (plain NCHW `abcd` to blocked `aBcd16b`, and back).

usage: onednn_verbose.py LOG [STEPS [SKIP]]
  STEPS  the training steps the log holds (default 1), each making the same calls
  SKIP   leave the first SKIP of them out (warm-up steps, which also pay for first touches of
         memory; default 0)
"""
import collections
import re
import sys


def conv_kind(problem):
    if problem.startswith("g"):
        return "depthwise"
    kernel = re.search(r"kh(\d+).*kw(\d+)", problem)
    return "1x1" if kernel and kernel.groups() == ("1", "1") else "dense kxk"


def summarize(lines):
    """{(what, implementation): [calls, ms]} of the log's exec lines; the ISA line oneDNN
    prints first, if any, under ("isa", its text)."""
    groups = collections.defaultdict(lambda: [0, 0.0])
    for line in lines:
        if ",info,cpu,isa:" in line:
            groups["isa", line.rstrip("\n").split("isa:", 1)[1]] = [0, 0.0]
        f = line.rstrip("\n").split(",")
        if len(f) < 10 or f[0] not in ("onednn_verbose", "dnnl_verbose") or f[1] != "exec":
            continue
        primitive, impl, prop, mds, problem, ms = f[3], f[4], f[5], f[6], f[-2], float(f[-1])
        if primitive == "convolution":
            what = f"conv {conv_kind(problem)} {prop.replace('_training', '')}"
        elif primitive == "reorder":
            layouts = re.findall(r"f32:[^:]*:blocked:(\w+):", mds)
            what = "reorder " + " -> ".join(layouts)
        else:
            what = f"{primitive} {prop}"
        g = groups[what, impl]
        g[0] += 1
        g[1] += ms
    return groups


def report(groups, steps, out=sys.stdout):
    total = sum(ms for _, ms in groups.values())
    isa = [impl for what, impl in groups if what == "isa"]
    print(f"oneDNN primitives, per step ({steps} step(s) logged; ISA: {isa[0] if isa else '?'}): "
          f"{total / steps:.2f} ms in all", file=out)
    for (what, impl), (calls, ms) in sorted(groups.items(), key=lambda g: -g[1][1]):
        if what == "isa":
            continue
        print(f"  {what:<44} {impl:<22} {calls // steps:5d} calls {ms / steps:9.2f} ms "
              f"{100 * ms / total:5.1f}%", file=out)


def main():
    if len(sys.argv) not in (2, 3, 4):
        sys.exit(__doc__)
    steps = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    skip = int(sys.argv[3]) if len(sys.argv) > 3 else 0
    with open(sys.argv[1], encoding="utf-8", errors="replace") as f:
        lines = f.readlines()
    execs = [i for i, line in enumerate(lines) if ",exec," in line]
    if skip and execs:  # every step makes the same calls: the first SKIP steps' lines go
        lines = [line for i, line in enumerate(lines)
                 if ",exec," not in line or i >= execs[len(execs) // steps * skip]]
    report(summarize(lines), steps - skip)


if __name__ == "__main__":
    main()
