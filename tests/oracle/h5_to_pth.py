#!/usr/bin/python3
"""Test helper: the /params of a prenas supernet file as a PyTorch checkpoint shaped like the
authors' (a dict with the state_dict under "model", DistributedDataParallel's "module." prefix,
and unrelated entries). usage: h5_to_pth.py SUPERNET.h5 OUT.pth"""
import sys

import h5py
import numpy as np
import torch

with h5py.File(sys.argv[1], "r") as f:
    state = {"module." + name: torch.from_numpy(np.asarray(f["params"][name]))
             for name in f["params"]}
torch.save({"model": state, "epoch": 499, "args": "not a tensor"}, sys.argv[2])
