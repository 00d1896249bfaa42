#!/usr/bin/python3
"""Test helper: the first N images of each split of a prenas dataset.h5, as a dataset.h5
(same schema, /meta copied). usage: small_dataset.py IN.h5 OUT.h5 N_TRAIN N_VAL N_TEST"""
import sys

import h5py

source, target = sys.argv[1], sys.argv[2]
limits = {"train": int(sys.argv[3]), "val": int(sys.argv[4]), "test": int(sys.argv[5])}
with h5py.File(source, "r") as f, h5py.File(target, "w") as g:
    f.copy("meta", g)
    f.copy("classes", g)
    for key, value in f.attrs.items():
        g.attrs[key] = value
    for split, n in limits.items():
        if split not in f:
            continue
        group = g.create_group(split)
        for key, value in f[split].attrs.items():
            group.attrs[key] = value
        group.attrs["count"] = n
        for name in ("images", "labels", "source_index"):
            group[name] = f[split][name][:n]
