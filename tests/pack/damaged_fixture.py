"""Small IDX and CIFAR sources, one intact and one per kind of damage, for errors.sh.

usage: damaged_fixture.py DIR
Writes DIR/<case>/ for each case below; good/ is the intact IDX source (20 train images of
4x4, 5 test images) that the others are variations of."""
import gzip
import os
import sys

import numpy as np


def idx_bytes(magic_type, dims, payload):
    header = bytes([0, 0, magic_type, len(dims)])
    header += b"".join(d.to_bytes(4, "big") for d in dims)
    return header + payload


def write_idx(directory, images=None, labels=None, gz=False, test=True,
              image_magic=0x08, extra=b"", cut=0, label_count=20):
    """An IDX source; `cut` removes bytes from the end of the train images file."""
    os.makedirs(directory)
    rng = np.random.default_rng(7)
    if images is None:
        images = rng.integers(0, 256, size=(20, 4, 4), dtype=np.uint8)
    if labels is None:
        labels = (np.arange(label_count) % 10).astype(np.uint8)
    data = idx_bytes(image_magic, list(images.shape), images.tobytes()) + extra
    if cut:
        data = data[:-cut]
    files = {"train-images-idx3-ubyte": data,
             "train-labels-idx1-ubyte": idx_bytes(0x08, [len(labels)], labels.tobytes())}
    if test:
        files["t10k-images-idx3-ubyte"] = idx_bytes(0x08, [5, 4, 4], images[:5].tobytes())
        files["t10k-labels-idx1-ubyte"] = idx_bytes(0x08, [5], labels[:5].tobytes())
    for name, content in files.items():
        if gz:
            with open(f"{directory}/{name}.gz", "wb") as f:
                f.write(gzip.compress(content, mtime=0))
        else:
            with open(f"{directory}/{name}", "wb") as f:
                f.write(content)


def write_cifar(directory, label_at=None, extra_byte_in=None):
    """CIFAR-10, two records per batch; optionally a label of 10 or a stray byte."""
    os.makedirs(directory)
    for name in [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]:
        records = bytearray()
        for r in range(2):
            label = 10 if (name, r) == label_at else r
            records += bytes([label]) + bytes([r] * 3072)
        if name == extra_byte_in:
            records += b"\0"
        with open(f"{directory}/{name}", "wb") as f:
            f.write(records)


def main(root):
    write_idx(f"{root}/good")
    write_idx(f"{root}/bad_magic", image_magic=0x09)
    write_idx(f"{root}/truncated_images", cut=7)
    write_idx(f"{root}/trailing", extra=b"abc")
    labels = (np.arange(20) % 10).astype(np.uint8)
    labels[3] = 12
    write_idx(f"{root}/label_range", labels=labels)
    write_idx(f"{root}/count_mismatch", label_count=19)
    # Incompressible pixels, so that half of the .gz file is half of the deflate stream.
    noise = np.random.default_rng(3).integers(0, 256, size=(200, 8, 8), dtype=np.uint8)
    write_idx(f"{root}/truncated_gz", images=noise, gz=True, test=False,
              labels=(np.arange(200) % 10).astype(np.uint8))
    path = f"{root}/truncated_gz/train-images-idx3-ubyte.gz"
    with open(path, "rb") as f:
        data = f.read()
    with open(path, "wb") as f:
        f.write(data[:len(data) // 2])
    write_cifar(f"{root}/cifar_size", extra_byte_in="data_batch_3.bin")
    write_cifar(f"{root}/cifar_label", label_at=("data_batch_2.bin", 1))
    os.makedirs(f"{root}/empty")


if __name__ == "__main__":
    main(sys.argv[1])
