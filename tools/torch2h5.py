#!/usr/bin/python3
"""Converts a PyTorch checkpoint of the reference supernet (tinyvision/PreNAS, AutoFormer: the
authors publish supernet-tiny.pth, supernet-small.pth, supernet-base.pth) into a prenas
supernet file (schema prenas.supernet, docs/artefacts.md): every tensor of the state_dict
becomes the float32 dataset /params/<name>, with the search space's configuration in /meta.

usage: tools/torch2h5.py --config SPACE.cfg CHECKPOINT.pth OUT.h5

The checkpoint may be a bare state_dict or a dict holding it under "model" or "state_dict";
a "module." prefix (DistributedDataParallel) is removed. prenas checks names and shapes when it
loads the file and names any tensor that does not fit the space. Needs Debian's python3-torch
and python3-h5py (run it with /usr/bin/python3).
"""
import argparse
import datetime
import hashlib
import os
import shlex
import socket
import sys

import h5py
import numpy as np
import torch


def fail(message):
    print(f"torch2h5: error: {message}", file=sys.stderr)
    sys.exit(2)


def sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def state_dict_of(checkpoint, path):
    for key in ("model", "state_dict"):
        if isinstance(checkpoint, dict) and isinstance(checkpoint.get(key), dict):
            checkpoint = checkpoint[key]
            break
    if not isinstance(checkpoint, dict) or not checkpoint:
        fail(f"no state_dict found (expected a dict of tensors, or one under 'model'), {path}")
    tensors = {}
    for name, value in checkpoint.items():
        if not torch.is_tensor(value):
            continue
        tensors[name[len("module."):] if name.startswith("module.") else name] = value
    if "head.weight" not in tensors or "patch_embed_super.proj.weight" not in tensors:
        fail(f"not a PreNAS/AutoFormer supernet (no head.weight or patch_embed_super.proj.weight), {path}")
    return tensors


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", required=True, help="the search space (configs/spaces/*.cfg)")
    parser.add_argument("checkpoint")
    parser.add_argument("out")
    args = parser.parse_args()
    try:
        with open(args.config, encoding="utf-8") as f:
            config = f.read()
    except OSError as e:
        fail(f"cannot read the space configuration: {e.strerror}, {args.config}")
    try:
        checkpoint = torch.load(args.checkpoint, map_location="cpu")
    except Exception as e:  # torch raises many kinds for a bad file
        fail(f"cannot load the checkpoint ({type(e).__name__}: {e}), {args.checkpoint}")
    tensors = state_dict_of(checkpoint, args.checkpoint)
    out_dir = os.path.dirname(os.path.abspath(args.out))
    if not os.path.isdir(out_dir):
        fail(f"the output directory does not exist, {out_dir}")

    tmp = args.out + ".tmp"  # written whole, then renamed: never a half-written OUT
    with h5py.File(tmp, "w") as f:
        meta = f.create_group("meta")
        meta.attrs["schema"] = "prenas.supernet"
        meta.attrs["schema_version"] = np.int64(1)
        meta.attrs["stage"] = "torch2h5"
        meta.attrs["prenas_version"] = "torch2h5"
        meta.attrs["created"] = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        meta.attrs["host"] = socket.gethostname()
        meta.attrs["command_line"] = " ".join(shlex.quote(a) for a in sys.argv)
        meta.attrs["seed"] = np.uint64(0)
        meta.attrs["world_size"] = np.int64(1)
        meta.create_dataset("config", data=config, dtype=h5py.string_dtype())
        source = meta.create_group("inputs").create_group("0")
        source.attrs["role"] = "torch checkpoint"
        source.attrs["path"] = args.checkpoint
        source.attrs["sha256"] = sha256(args.checkpoint)
        params = f.create_group("params")
        for name, value in tensors.items():
            data = value.detach().to(torch.float32).numpy()
            params.create_dataset(name, data=data, fletcher32=data.nbytes >= 4096,
                                  chunks=data.shape if data.nbytes >= 4096 else None)
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())
    os.replace(tmp, args.out)
    print(f"torch2h5: {len(tensors)} tensors, {sum(v.numel() for v in tensors.values())} parameters -> {args.out}")


if __name__ == "__main__":
    main()
