"""Independent oracle for prenas-pack on Fashion-MNIST: reads the .gz files with gzip and
numpy (nothing from prenas) and compares what they hold with a packed dataset.h5 (h5py).

usage: fashion_oracle.py whole SRC DATASET.h5        (packed with --val-fraction 0)
       fashion_oracle.py holdout SRC DATASET.h5 F    (val carved out of train with fraction F)
       fashion_oracle.py inputs DATASET.h5           (prints "path sha256" per /meta/inputs)
       fashion_oracle.py val-differs A.h5 B.h5       (the val splits hold different images)
Prints one line per failed check and exits 1 if any failed."""
import gzip
import math
import sys

import h5py
import numpy as np

failures = []


def check(ok, what):
    if not ok:
        failures.append(what)
        print("FAIL", what)


def read_idx(path, ndim):
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic = int.from_bytes(data[0:4], "big")
    assert magic == 0x800 | ndim, f"{path}: magic {magic:#x}"
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    payload = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    assert payload.size == math.prod(dims), f"{path}: payload size"
    return payload.reshape(dims)


def read_source(src, prefix):
    images = read_idx(f"{src}/{prefix}-images-idx3-ubyte.gz", 3)
    labels = read_idx(f"{src}/{prefix}-labels-idx1-ubyte.gz", 1).astype(np.int64)
    return images, labels


def check_split(h5, name, images, labels, index):
    """The split holds exactly images[index] with labels[index], in source order."""
    g = h5[name]
    got_images, got_labels = g["images"][...], g["labels"][...]
    got_index = g["source_index"][...]
    check(got_images.shape == (len(index), 28, 28, 1), f"{name} shape {got_images.shape}")
    check(got_images.dtype == np.uint8 and got_labels.dtype == np.int32, f"{name} dtypes")
    check(np.array_equal(got_index, index), f"{name} source_index")
    want_sum = int(images[index].sum(dtype=np.int64))
    check(int(got_images.sum(dtype=np.int64)) == want_sum, f"{name} pixel sum")
    want_hist = np.bincount(labels[index], minlength=10)
    check(np.array_equal(np.bincount(got_labels, minlength=10), want_hist), f"{name} labels")
    check(np.array_equal(got_images[..., 0], images[index]), f"{name} pixels")
    check(np.array_equal(got_labels, labels[index]), f"{name} label order")
    check(g.attrs["count"] == len(index), f"{name} count")
    mean = images[index].mean(dtype=np.float64) / 255
    check(abs(g.attrs["mean"][0] - mean) < 1e-9, f"{name} mean")


def whole(src, path):
    train_images, train_labels = read_source(src, "train")
    test_images, test_labels = read_source(src, "t10k")
    check(train_labels[0] == 9 and list(test_labels[:3]) == [9, 2, 1], "oracle first labels")
    with h5py.File(path, "r") as h5:
        check(sorted(k for k in h5.keys()) == ["classes", "meta", "test", "train"], "groups")
        check([c.decode() for c in h5["classes"][...]] == [str(k) for k in range(10)], "classes")
        check(h5.attrs["num_classes"] == 10 and h5.attrs["channels"] == 1, "header")
        check_split(h5, "train", train_images, train_labels, np.arange(60000))
        check_split(h5, "test", test_images, test_labels, np.arange(10000))
        check(h5["train/labels"][0] == 9, "first train label")
        check(list(h5["test/labels"][:3]) == [9, 2, 1], "first test labels")


def holdout(src, path, fraction):
    train_images, train_labels = read_source(src, "train")
    with h5py.File(path, "r") as h5:
        train_index = h5["train/source_index"][...]
        val_index = h5["val/source_index"][...]
        check(len(train_index) + len(val_index) == 60000, "train + val = 60000")
        check(len(np.intersect1d(train_index, val_index)) == 0, "train and val disjoint")
        both = np.sort(np.concatenate([train_index, val_index]))
        check(np.array_equal(both, np.arange(60000)), "train and val cover the source")
        per_class = np.bincount(train_labels, minlength=10)
        want_val = np.floor(fraction * per_class + 0.5).astype(np.int64)
        got_val = np.bincount(train_labels[val_index], minlength=10)
        check(np.array_equal(got_val, want_val), f"val per class {got_val} != {want_val}")
        check_split(h5, "train", train_images, train_labels, train_index)
        check_split(h5, "val", train_images, train_labels, val_index)
        total = int(h5["train/images"][...].sum(dtype=np.int64)) + int(
            h5["val/images"][...].sum(dtype=np.int64))
        check(total == int(train_images.sum(dtype=np.int64)), "train + val pixel sum")
        check(np.all(np.diff(train_index) > 0) and np.all(np.diff(val_index) > 0),
              "both parts in source order")


def inputs(path):
    with h5py.File(path, "r") as h5:
        group = h5["meta/inputs"]
        for i in range(len(group)):
            attrs = group[str(i)].attrs
            print(attrs["role"], attrs["path"], attrs["sha256"])


def val_differs(a, b):
    with h5py.File(a, "r") as fa, h5py.File(b, "r") as fb:
        ia, ib = fa["val/source_index"][...], fb["val/source_index"][...]
        check(len(ia) == len(ib) and not np.array_equal(ia, ib), "val indices differ by seed")


if __name__ == "__main__":
    mode, args = sys.argv[1], sys.argv[2:]
    if mode == "whole":
        whole(*args)
    elif mode == "holdout":
        holdout(args[0], args[1], float(args[2]))
    elif mode == "inputs":
        inputs(*args)
    elif mode == "val-differs":
        val_differs(*args)
    else:
        sys.exit(f"unknown mode {mode}")
    sys.exit(1 if failures else 0)
