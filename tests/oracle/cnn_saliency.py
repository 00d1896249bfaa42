#!/usr/bin/python3
"""An independent PyTorch check of the CNN's SNIP saliency (src/cnn/cnn_scores.h):
tests/test_cnn_scores.c writes, per case, a space file's path, an architecture's text, the
supernet's weights by name, a batch of images (and labels, for the cross-entropy case), and the
saliency |w * dL/dw| the C pass computed for every supernet entry, in double from float32
gradients. This script builds the subnet as cnn_oracle.py does (cnn_count.py's torch.nn network,
each parameter the centred, leading slice of the supernet tensor of its name), runs it in train
mode in float64, takes L = sum of all logits (data-free) or the mean cross-entropy against labels
smoothed by 0.1, and compares |w * dL/dw| at each slice with the C saliency.

Tolerance, against the largest entry of each reference tensor: 1e-4, or an absolute error below
1e-6 of the largest saliency of the whole net (cnn_oracle.py's gradient tolerance and floor: the
C gradients are float32 through train-mode batch norms). And exactly: every C saliency outside
the subnet's views is 0.

usage: cnn_saliency.py CASES.h5
"""
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cnn_oracle import compare, fail, load_subnet, run_cases  # noqa: E402

TOL, FLOOR, TOL_LOSS = 1e-4, 1e-6, 1e-5


def check_case(g):
    _, _, P, model, params = load_subnet(g)
    logits = model(torch.from_numpy(np.asarray(g["images"], dtype=np.float64)))
    if "labels" in g:
        labels = torch.from_numpy(np.asarray(g["labels"], dtype=np.int64))
        loss = F.cross_entropy(logits, labels, label_smoothing=0.1)
    else:
        loss = logits.sum()
    loss.backward()
    c_loss = float(np.asarray(g["loss"])[0])
    # the data-free loss is a sum of logits that nearly cancel: compare it against their scale
    scale = abs(loss.item()) if "labels" in g else float(logits.abs().sum())
    rel = abs(c_loss - loss.item()) / scale
    print(f"    loss: C {c_loss:.8g}, PyTorch {loss.item():.8g}, rel {rel:.1e}"
          f"{'' if rel <= TOL_LOSS else fail('loss')}")

    ref = {n: np.zeros_like(P[n]) for n in P}
    inside = {n: np.zeros(P[n].shape, dtype=bool) for n in P}
    for name, p, sl in params:
        ref[name][sl] = np.abs(P[name][sl] * p.grad.numpy())
        inside[name][sl] = True
    floor = FLOOR * max(float(np.abs(r).max()) for r in ref.values())
    outside_bad = []
    for name in P:
        c = np.asarray(g["saliency"][name], dtype=np.float64)
        if np.any(c[~inside[name]] != 0):
            outside_bad.append(name)
        if inside[name].any():
            compare(f"saliency {name}", c[inside[name]], ref[name][inside[name]], TOL, floor)
    ok = not outside_bad
    print(f"    saliency outside the views exactly 0: {ok}"
          f"{'' if ok else fail('outside: ' + ', '.join(outside_bad))}")


if __name__ == "__main__":
    sys.exit(run_cases(sys.argv[1], check_case, "cnn saliency oracle"))
