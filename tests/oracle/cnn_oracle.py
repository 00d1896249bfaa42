#!/usr/bin/python3
"""An independent PyTorch check of the CNN supernet (src/cnn/cnn_net.h): tests/test_cnn_oracle.c
writes, per case, a space file's path, an architecture's text, random supernet weights by name,
images and labels, and what the C engine computed in float32 (logits, mean cross-entropy, every
supernet-shaped gradient, the running statistics of three recalibration batches, evaluation
logits); this script recomputes all of it in float64 and compares.

Written from the space's definition (src/cnn/cnn_space.h, docs/spaces.md) and BigNAS's weight
sharing, not from the C code: the subnet is cnn_count.py's torch.nn network (Conv2d, BatchNorm2d,
SiLU or ReLU6, EfficientNet's SE, AdaptiveAvgPool2d, Linear), built from this script's own
reading of the space file and the architecture text; each of its parameters is loaded from the
supernet tensor of the same name, sliced to the module's own shape: the leading output and
input channels and, for a kernel, the centred k x k of the K x K ([off:off + k] with off =
(K - k) / 2, BigNAS kernel sharing). Autograd in train mode gives the module gradients, which are
placed back at the same slices of zero supernet-shaped arrays. Recalibration: the module's
BatchNorm2d layers reset, momentum=None, three batches in train mode; evaluation: model.eval().

Tolerances, against the largest entry of each reference tensor (what the six cases reach on
a machine with AVX-512, in brackets: oneDNN may choose other kernels, and sum in another order,
elsewhere):
  logits, evaluation logits  1e-5   [1.5e-6] float32 through up to 11 layers of convolutions
                                    and batch norms
  loss                       1e-5   [4e-8] relative
  gradients                  1e-4   [2.4e-5, SE's reduce conv] float32 backward through
                                    train-mode batch norms, whose division by small batch
                                    deviations (batch 4 on maps down to 2 x 2) amplifies
                                    rounding; or, for a tensor whose gradient vanishes in exact
                                    arithmetic (the beta of a batch norm followed by a 1x1 conv
                                    and another batch norm, which removes any per-channel shift:
                                    every project.bn.bias here), an absolute error below 1e-6 of
                                    the largest gradient of the whole net [2.5e-8 of 4e-6]:
                                    float32 rounding noise
  running statistics         1e-5   [1.8e-6] float32 statistics of float32 maps
and exactly: every gradient entry outside the subnet's views is 0 in C, and every running
statistic outside them is as reset (mean 0, variance 1).

usage: cnn_oracle.py CASES.h5
"""
import os
import sys

import h5py
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cnn_count import build, parse_arch, parse_config  # noqa: E402

TOL_LOGITS, TOL_LOSS, TOL_GRAD, GRAD_FLOOR, TOL_STATS = 1e-5, 1e-5, 1e-4, 1e-6, 1e-5

failures = []


def text(value):
    return value.decode() if isinstance(value, bytes) else str(value)


def fail(what):
    failures.append(what)
    return "  <-- FAIL"


def compare(what, got, ref, tol, floor=0.0):
    got = np.asarray(got, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    assert got.shape == ref.shape, (what, got.shape, ref.shape)
    err = float(np.abs(got - ref).max()) if got.size else 0.0
    scale = float(np.abs(ref).max()) if ref.size else 0.0
    rel = err / scale if scale > 0 else err
    ok = rel <= tol or err <= floor
    print(f"    {what:<46} max|ref| {scale:.3e}  max abs err {err:.2e}  rel {rel:.1e}"
          f"{'' if ok else fail(what)}")


def named_modules(model, space, arch):
    """(supernet tensor prefix, module) for every conv, batch norm and linear layer of the
    subnet, in the network's order, with the names of the supernet (cnn_net.h)."""
    mods = list(model)
    out = [("stem.conv", mods[0]), ("stem.bn", mods[1])]
    at = 3  # after the stem's activation
    for s, (a, st) in enumerate(zip(arch["stages"], space["stages"])):
        for layer in range(a["depth"]):
            body = list(mods[at].body)
            at += 1
            p, j = f"stages.{s}.{layer}", 0
            if a["expand"] != 1:
                out += [(f"{p}.expand.conv", body[0]), (f"{p}.expand.bn", body[1])]
                j = 3
            out += [(f"{p}.depthwise.conv", body[j]), (f"{p}.depthwise.bn", body[j + 1])]
            j += 3
            if st.get("se", False):
                out += [(f"{p}.se.reduce", body[j].reduce), (f"{p}.se.expand", body[j].expand)]
                j += 1
            out += [(f"{p}.project.conv", body[j]), (f"{p}.project.bn", body[j + 1])]
    out += [("head.conv", mods[at]), ("head.bn", mods[at + 1]), ("classifier", mods[-1])]
    return out


def view(module_shape, super_shape):
    """The slices of a supernet tensor that a module's parameter of `module_shape` uses: leading
    entries on every axis but a kernel's, whose k x k is the centre of K x K."""
    slices = [slice(0, n) for n in module_shape]
    if len(module_shape) == 4:
        k, K = module_shape[-1], super_shape[-1]
        off = (K - k) // 2
        slices[2] = slices[3] = slice(off, off + k)
    return tuple(slices)


def load_subnet(g):
    """A case's subnet in float64 train mode with its weights: (space, arch, supernet arrays by
    name, model, [(supernet name, module parameter, slices)]); prints the case's label."""
    space_path, arch_text = text(g.attrs["space"]), text(g.attrs["arch"])
    with open(space_path) as f:
        space = parse_config(f.read())
    arch = parse_arch(arch_text)
    print(f"{text(g.attrs['label'])} ({arch_text})")
    P = {n: np.asarray(g["params"][n], dtype=np.float64) for n in g["params"]}
    model = build(space, arch).double().train()
    params = []  # (supernet name, module parameter, slices)
    for prefix, module in named_modules(model, space, arch):
        for kind, p in (("weight", module.weight), ("bias", module.bias)):
            if p is None:
                continue
            name = f"{prefix}.{kind}"
            params.append((name, p, view(tuple(p.shape), P[name].shape)))
    with torch.no_grad():
        for name, p, sl in params:
            p.copy_(torch.from_numpy(P[name][sl]))
    return space, arch, P, model, params


def check_case(g):
    space, arch, P, model, params = load_subnet(g)
    images = torch.from_numpy(np.asarray(g["images"], dtype=np.float64))
    labels = torch.from_numpy(np.asarray(g["labels"], dtype=np.int64))
    logits = model(images)
    loss = F.cross_entropy(logits, labels)
    loss.backward()
    compare("logits (train mode)", g["logits"], logits.detach().numpy(), TOL_LOGITS)
    c_loss = float(np.asarray(g["loss"])[0])
    rel = abs(c_loss - loss.item()) / abs(loss.item())
    print(f"    loss: C {c_loss:.8f}, PyTorch {loss.item():.8f}, rel {rel:.1e}"
          f"{'' if rel <= TOL_LOSS else fail('loss')}")

    ref = {n: np.zeros_like(P[n]) for n in P}
    inside = {n: np.zeros(P[n].shape, dtype=bool) for n in P}
    for name, p, sl in params:
        ref[name][sl] = p.grad.numpy()
        inside[name][sl] = True
    floor = GRAD_FLOOR * max(float(np.abs(r).max()) for r in ref.values())
    print(f"    gradients: abs floor {floor:.1e} (1e-6 of the largest)")
    unused, outside_entries, outside_bad = 0, 0, []
    for name in P:
        c = np.asarray(g["grads"][name], dtype=np.float64)
        outside = c[~inside[name]]
        outside_entries += outside.size
        if np.any(outside != 0):
            outside_bad.append(name)
        if not inside[name].any():
            unused += 1
            continue
        compare(f"grad {name}", c[inside[name]], ref[name][inside[name]], TOL_GRAD, floor)
    ok = not outside_bad
    print(f"    gradients outside the views ({outside_entries} entries, {unused} tensors wholly): "
          f"exactly 0 in C: {ok}{'' if ok else fail('outside: ' + ', '.join(outside_bad))}")

    # recalibration: PyTorch's momentum=None from reset statistics, three batches in train mode
    bns = [(prefix, m) for prefix, m in named_modules(model, space, arch)
           if isinstance(m, nn.BatchNorm2d)]
    for _, m in bns:
        m.reset_running_stats()
        m.momentum = None
    recal = torch.from_numpy(np.asarray(g["recalibration_images"], dtype=np.float64))
    batch = images.shape[0]
    with torch.no_grad():
        for k in range(recal.shape[0] // batch):
            model(recal[k * batch:(k + 1) * batch])
    stats = {n: np.asarray(g["stats"][n], dtype=np.float64) for n in g["stats"]}
    worst = {"mean": (0.0, ""), "var": (0.0, "")}
    seen = set()
    for prefix, m in bns:
        for kind, buffer in (("mean", m.running_mean), ("var", m.running_var)):
            name = f"{prefix}.running_{kind}"
            seen.add(name)
            c, r = stats[name][:buffer.shape[0]], buffer.numpy()
            rel = float(np.abs(c - r).max()) / float(np.abs(r).max())
            if rel > worst[kind][0]:
                worst[kind] = (rel, name)
            if rel > TOL_STATS:
                print(f"    {name}: rel {rel:.1e}{fail(name)}")
            rest = stats[name][buffer.shape[0]:]
            if np.any(rest != (0.0 if kind == "mean" else 1.0)):
                print(f"    {name}: entries beyond the subnet's {buffer.shape[0]} channels changed"
                      f"{fail(name + ' outside')}")
    for kind in ("mean", "var"):
        print(f"    running_{kind} of {len(bns)} batch norms after {recal.shape[0] // batch} "
              f"batches: largest rel error {worst[kind][0]:.1e} ({worst[kind][1]})  "
              f"tol {TOL_STATS:.0e}")
    untouched = [n for n in stats if n not in seen and
                 np.any(stats[n] != (0.0 if n.endswith("mean") else 1.0))]
    print(f"    statistics of the {len(stats) - len(seen)} batch norms outside the subnet as reset: "
          f"{not untouched}{fail('stats outside: ' + ', '.join(untouched)) if untouched else ''}")

    model.eval()
    with torch.no_grad():
        eval_logits = model(torch.from_numpy(np.asarray(g["eval_images"], dtype=np.float64)))
    compare("logits (eval mode, recalibrated)", g["eval_logits"], eval_logits.numpy(), TOL_LOGITS)


def run_cases(path, check, what):
    """Checks every case of the file with `check`; prints the verdict as `what`; exit status."""
    torch.set_default_dtype(torch.float64)
    torch.set_num_threads(1)
    with h5py.File(path, "r") as f:
        for name in f:
            check(f[name])
    verdict = f"{len(failures)} checks past their tolerance: {', '.join(failures)}" if failures \
        else "every check within its tolerance"
    print(f"{what}: {verdict}")
    return 1 if failures else 0


def main(path):
    return run_cases(path, check_case, "cnn oracle")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
