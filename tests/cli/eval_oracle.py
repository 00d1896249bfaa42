#!/usr/bin/python3
"""Top-1 of subnets of a trained supernet on a dataset split, computed by the independent
PyTorch implementation of tests/oracle/vit_oracle.py (float64), for comparison with
prenas-evaluate. Prints one line per architecture: ARCH CORRECT AMBIGUOUS, where AMBIGUOUS
counts images whose two best logits are closer than 1e-4 (there float32 may decide
otherwise).

usage: eval_oracle.py SUPERNET.h5 DATASET.h5 SPLIT IMAGES ARCH...  (the split's first IMAGES)
"""
import os
import re
import sys

import h5py
import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "oracle"))
from vit_oracle import parse_arch, subnet_logits  # noqa: E402


def setting(text, key):
    return re.search(r"\b%s\s*=\s*\"?(\w+)" % key, text).group(1)


def main(supernet, dataset, split, count, archs):
    with h5py.File(supernet, "r") as f:
        P = {k: torch.from_numpy(np.array(v, dtype=np.float64)) for k, v in f["params"].items()}
        space = f["space"][()].decode()
    cfg = {"head_dim": int(setting(space, "head_dim")),
           "patch_size": int(setting(space, "patch_size")),
           "max_relative_position": int(setting(space, "max_relative_position")),
           "class_token_pooling": re.search(r'pooling\s*=\s*"class"', space) is not None}
    with h5py.File(dataset, "r") as f:
        images = np.array(f[split]["images"][:count], dtype=np.float64) / 255  # [N, H, W, C]
        labels = np.array(f[split]["labels"][:count])
        mean = np.array(f["train"].attrs["mean"])
        std = np.array(f["train"].attrs["std"])
    x = torch.from_numpy(((images - mean) / std).transpose(0, 3, 1, 2).copy())
    for text in archs:
        with torch.no_grad():
            z = subnet_logits(P, parse_arch(text), x, cfg).numpy()
        top = np.sort(z, axis=1)
        correct = int((z.argmax(axis=1) == labels).sum())
        ambiguous = int((top[:, -1] - top[:, -2] < 1e-4).sum())
        print(text, correct, ambiguous)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5:])
