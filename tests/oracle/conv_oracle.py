#!/usr/bin/python3
"""An independent PyTorch check of the CNN family's ops (kernels.h): tests/test_conv_oracle.c
writes each case's inputs and the C engine's float32 outputs and gradients to one HDF5 file;
this script recomputes them in float64 with torch.nn.functional and autograd, prints the
largest absolute and relative error of every tensor, and exits 1 when one is past its
tolerance.

Written from PyTorch's and BigNAS's definitions, not from the C code: a subnet's convolution
weight is the supernet tensor sliced [:cout, :cin] and cropped to its centre k x k, and
autograd returns the gradient of the whole supernet tensor (zero outside the view); batch norm
is F.batch_norm with PyTorch's running-statistics rule, recalibration nn.BatchNorm2d with
momentum=None.

The batch resize is compared float32 against float32: F.interpolate(mode="bilinear",
align_corners=False, antialias=False) on the same float32 input. The C code computes the
weights as ATen does and sums the four products as ATen's one-channel kernel does, so it must
equal PyTorch bit for bit on each plane alone; on the whole batch ATen's generic kernel (two or
more channels) blends rows with float fused multiply-adds, a few ulp away.

Tolerances are relative to the largest entry of the reference tensor:
  conv outputs and gradients  1e-5  float32 sums of up to 3136 products (oneDNN's order)
  batch norm                  1e-5  float32 normalisation of statistics summed in double
  running statistics          1e-6  one float32 rounding of double statistics
  activations, pool, gate     1e-6  per-entry float32 arithmetic (oneDNN's exp for SiLU)
  bilinear resize             1e-6  ATen's generic kernel (2 or more channels): float32
                                    fused multiply-adds, a few ulp of entries below 3; equal
                                    sizes: exact (a copy); one channel at a time: bit for bit
and entries of an accumulated weight gradient outside the subnet's view must be exactly what
they were before.

usage: conv_oracle.py CASES.h5
"""
import sys

import h5py
import numpy as np
import torch
import torch.nn.functional as F

TOL_CONV, TOL_NORM, TOL_RUNNING, TOL_POINTWISE, TOL_RESIZE = 1e-5, 1e-5, 1e-6, 1e-6, 1e-6

failures = []


def compare(what, got, ref, tol):
    got = np.asarray(got, dtype=np.float64)
    ref = ref.detach().numpy() if torch.is_tensor(ref) else np.asarray(ref, dtype=np.float64)
    assert got.shape == ref.shape, (what, got.shape, ref.shape)
    err = float(np.abs(got - ref).max())
    scale = float(np.abs(ref).max())
    rel = err / scale if scale > 0 else err
    ok = rel <= tol
    print(f"    {what:<34} max|ref| {scale:.3e}  max abs err {err:.2e}  rel {rel:.1e}"
          f"  tol {tol:.0e}{'' if ok else '  <-- FAIL'}")
    if not ok:
        failures.append(what)


def t(g, name, grad=False):
    return torch.tensor(np.asarray(g[name], dtype=np.float64), requires_grad=grad)


def conv(g):
    k, stride = int(g.attrs["kernel"]), int(g.attrs["stride"])
    cin, cout = int(g.attrs["in_channels"]), int(g.attrs["out_channels"])
    depthwise = bool(g.attrs["depthwise"])
    x, w, dy = t(g, "x", True), t(g, "w", True), t(g, "dy")
    K = w.shape[-1]
    off = (K - k) // 2  # BigNAS kernel sharing: the centre k x k of the K x K kernel
    view = w[:cout, :1 if depthwise else cin, off:off + k, off:off + k]
    y = F.conv2d(x, view, stride=stride, padding=k // 2, groups=cin if depthwise else 1)
    y.backward(dy)
    before = np.asarray(g["dw_before"], dtype=np.float64)
    compare("y", g["y"], y, TOL_CONV)
    compare("dx", g["dx"], x.grad, TOL_CONV)
    got = np.asarray(g["dw"], dtype=np.float64)
    # dw += grad: compared as increments against the float64 gradient, and exact outside
    compare("dw (the view, accumulated)", got - before, w.grad, TOL_CONV)
    outside = np.ones(w.shape, dtype=bool)
    outside[:cout, :1 if depthwise else cin, off:off + k, off:off + k] = False
    kept = bool(np.array_equal(np.asarray(g["dw"])[outside], np.asarray(g["dw_before"])[outside]))
    print(f"    dw outside the view ({int(outside.sum())} entries) untouched: {kept}"
          f"{'' if kept else '  <-- FAIL'}")
    if not kept:
        failures.append("dw outside the view")


def batchnorm(g):
    momentum, eps = float(g.attrs["momentum"][0]), float(g.attrs["eps"][0])
    x, dy = t(g, "x", True), t(g, "dy")
    C = x.shape[1]
    gamma, beta = t(g, "gamma", True), t(g, "beta", True)
    running_mean = t(g, "running_mean_before").clone()
    running_var = t(g, "running_var_before").clone()
    rm, rv = running_mean[:C].clone(), running_var[:C].clone()
    y = F.batch_norm(x, rm, rv, gamma[:C], beta[:C], training=True, momentum=momentum, eps=eps)
    y.backward(dy)
    running_mean[:C], running_var[:C] = rm, rv
    xd = x.detach()
    mean = xd.mean(dim=(0, 2, 3))
    rstd = 1 / torch.sqrt(xd.var(dim=(0, 2, 3), unbiased=False) + eps)
    compare("y", g["y"], y, TOL_NORM)
    compare("saved mean", g["mean"], mean, TOL_NORM)
    compare("saved rstd", g["rstd"], rstd, TOL_NORM)
    compare("running_mean (all C_max)", g["running_mean"], running_mean, TOL_RUNNING)
    compare("running_var (all C_max)", g["running_var"], running_var, TOL_RUNNING)
    compare("dx", g["dx"], x.grad, TOL_NORM)
    compare("dgamma (accumulated)", np.asarray(g["dgamma"]) - np.asarray(g["dgamma_before"]),
            gamma.grad, TOL_NORM)
    compare("dbeta (accumulated)", np.asarray(g["dbeta"]) - np.asarray(g["dbeta_before"]),
            beta.grad, TOL_NORM)
    y_eval = F.batch_norm(xd, running_mean[:C], running_var[:C], gamma.detach()[:C],
                          beta.detach()[:C], training=False, eps=eps)
    compare("y (inference, updated stats)", g["y_eval"], y_eval, TOL_NORM)


def recalibrate(g):
    batches, eps = int(g.attrs["batches"]), float(g.attrs["eps"][0])
    x = t(g, "x")
    C = x.shape[1]
    n = x.shape[0] // batches
    bn = torch.nn.BatchNorm2d(C, eps=eps, momentum=None).double().train()
    with torch.no_grad():
        bn.weight.copy_(t(g, "gamma")[:C])
        bn.bias.copy_(t(g, "beta")[:C])
        bn.running_mean.copy_(t(g, "running_mean_before")[:C])
        bn.running_var.copy_(t(g, "running_var_before")[:C])
        y = torch.cat([bn(x[k * n:(k + 1) * n]) for k in range(batches)])
    running_mean = t(g, "running_mean_before").clone()
    running_var = t(g, "running_var_before").clone()
    running_mean[:C], running_var[:C] = bn.running_mean, bn.running_var
    compare(f"y ({batches} batches)", g["y"], y, TOL_NORM)
    compare("running_mean (all C_max)", g["running_mean"], running_mean, TOL_RUNNING)
    compare("running_var (all C_max)", g["running_var"], running_var, TOL_RUNNING)


def activation(g, f):
    x, dy = t(g, "x", True), t(g, "dy")
    y = f(x)
    y.backward(dy)
    compare("y", g["y"], y, TOL_POINTWISE)
    compare("dx", g["dx"], x.grad, TOL_POINTWISE)


def pool(g):
    x, dy = t(g, "x", True), t(g, "dy")
    y = F.adaptive_avg_pool2d(x, 1).flatten(1)
    y.backward(dy)
    compare("y", g["y"], y, TOL_POINTWISE)
    compare("dx", g["dx"], x.grad, TOL_POINTWISE)


def gate(g):
    x, s, dy = t(g, "x", True), t(g, "gate", True), t(g, "dy")
    y = x * torch.sigmoid(s)[:, :, None, None]
    y.backward(dy)
    compare("y", g["y"], y, TOL_POINTWISE)
    compare("dx", g["dx"], x.grad, TOL_POINTWISE)
    compare("dgate", g["dgate"], s.grad, TOL_POINTWISE)


def resize(g):
    x = torch.from_numpy(np.asarray(g["x"], dtype=np.float32))
    got = np.asarray(g["y"], dtype=np.float32)
    size = tuple(got.shape[-2:])
    ref = F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=False)
    compare("y", got, ref.numpy(), 0.0 if size == tuple(x.shape[-2:]) else TOL_RESIZE)
    # one channel at a time: ATen's one-channel kernel, whose arithmetic the C code follows
    planes = F.interpolate(x.reshape(-1, 1, *x.shape[-2:]), size=size, mode="bilinear",
                           align_corners=False, antialias=False).reshape(ref.shape).numpy()
    differ = int((got != planes).sum())
    print(f"    {'y, planes one by one: bit-equal':<34} {differ == 0}"
          f" ({differ} of {got.size} differ){'' if differ == 0 else '  <-- FAIL'}")
    if differ:
        failures.append("resize, planes one by one")


CHECKS = {
    "conv": conv,
    "batchnorm": batchnorm,
    "recalibrate": recalibrate,
    "silu": lambda g: activation(g, F.silu),
    "relu6": lambda g: activation(g, lambda x: F.hardtanh(x, 0.0, 6.0)),
    "pool": pool,
    "gate": gate,
    "resize": resize,
}


def main(path):
    torch.set_num_threads(1)
    with h5py.File(path, "r") as f:
        for name in f:
            g = f[name]
            kind = g.attrs["kind"]
            kind = kind.decode() if isinstance(kind, bytes) else kind
            label = g.attrs["label"]
            print(label.decode() if isinstance(label, bytes) else label)
            CHECKS[kind](g)
    if failures:
        print(f"conv oracle: {len(failures)} tensors past their tolerance: {', '.join(failures)}")
        return 1
    print("conv oracle: every tensor within its tolerance")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
