#!/usr/bin/python3
"""Test helper: a dataset.h5 whose training images are in checksummed (Fletcher32) chunks of 16
images, as prenas-pack writes them, so that a test can read, corrupt or cut some chunks and
not others. usage: chunked_dataset.py IN.h5 OUT.h5 [CHUNK]: with CHUNK, one byte of that
chunk is flipped on disk."""
import sys

import h5py

with h5py.File(sys.argv[1], "r") as f, h5py.File(sys.argv[2], "w") as g:
    for name in ("meta", "classes", "val", "test"):
        f.copy(name, g)
    for key, value in f.attrs.items():
        g.attrs[key] = value
    t = g.create_group("train")
    for key, value in f["train"].attrs.items():
        t.attrs[key] = value
    t.create_dataset("images", data=f["train/images"][:], chunks=(16, 28, 28, 1), fletcher32=True)
    for name in ("labels", "source_index"):
        t[name] = f["train"][name][:]
    offset = t["images"].id.get_chunk_info(int(sys.argv[3])).byte_offset if len(sys.argv) > 3 else None
if offset is not None:
    with open(sys.argv[2], "r+b") as f:
        f.seek(offset + 100)
        byte = f.read(1)
        f.seek(offset + 100)
        f.write(bytes([byte[0] ^ 0xFF]))
