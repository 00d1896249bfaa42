"""Small CIFAR-10 and CIFAR-100 binary directories with known pixels, and the checks of what
prenas-pack makes of them.

usage: cifar_fixture.py make DIR10 DIR100
       cifar_fixture.py check 10|100 DATASET.h5    (packed with --val-fraction 0)
       cifar_fixture.py check-gray16 DATASET.h5    (CIFAR-10 with --size 16 --channels 1)
Pixel (record n of a split, channel c, row y, column x) = (37 n + 101 c + 7 y + 3 x) mod 256,
stored as CIFAR stores it: the R, G and B planes one after the other."""
import sys

import h5py
import numpy as np

SIDE = 32
# records per file: CIFAR-10 has five training batches, CIFAR-100 one training file
LAYOUT = {
    10: {"train": [("data_batch_%d.bin" % i, 3) for i in range(1, 6)],
         "test": [("test_batch.bin", 4)], "names": "batches.meta.txt", "label_bytes": 1},
    100: {"train": [("train.bin", 7)], "test": [("test.bin", 3)],
          "names": "fine_label_names.txt", "label_bytes": 2},
}
CIFAR10_NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                 "ship", "truck"]


def pixels(n):
    """[n records, C, H, W] of the pattern."""
    r = np.arange(n)[:, None, None, None]
    c = np.arange(3)[None, :, None, None]
    y = np.arange(SIDE)[None, None, :, None]
    x = np.arange(SIDE)[None, None, None, :]
    return ((37 * r + 101 * c + 7 * y + 3 * x) % 256).astype(np.uint8)


def labels(classes, split, n):
    """Every class range reached: the last record of train has the largest label."""
    step = 7 if split == "train" else 3
    values = (np.arange(n) * step) % classes
    if split == "train":
        values[-1] = classes - 1
    return values


def class_names(classes):
    return CIFAR10_NAMES if classes == 10 else ["fine_%02d" % k for k in range(classes)]


def split_records(classes, split):
    return sum(n for _, n in LAYOUT[classes][split])


def make(directory, classes):
    layout = LAYOUT[classes]
    for split in ("train", "test"):
        total = split_records(classes, split)
        images, fine = pixels(total), labels(classes, split, total)
        first = 0
        for name, n in layout[split]:
            with open(f"{directory}/{name}", "wb") as f:
                for i in range(first, first + n):
                    if layout["label_bytes"] == 2:
                        f.write(bytes([fine[i] // 5]))  # the coarse label, unused
                    f.write(bytes([fine[i]]))
                    f.write(images[i].tobytes())
            first += n
    with open(f"{directory}/{layout['names']}", "w") as f:
        f.write("\n".join(class_names(classes)) + "\n\n")  # CIFAR's files end in blank lines


failures = []


def check(ok, what):
    if not ok:
        failures.append(what)
        print("FAIL", what)


def check_dataset(classes, path):
    with h5py.File(path, "r") as h5:
        check([c.decode() for c in h5["classes"][...]] == class_names(classes), "class names")
        check(h5.attrs["num_classes"] == classes, "class count")
        for split in ("train", "test"):
            n = split_records(classes, split)
            images = h5[f"{split}/images"][...]
            check(images.shape == (n, SIDE, SIDE, 3), f"{split} shape {images.shape}")
            want = pixels(n).transpose(0, 2, 3, 1)  # CHW planes to HWC
            check(np.array_equal(images, want), f"{split} pixels")
            # a few by hand, at their HWC positions: [record, row, column, channel]
            for r, y, x, c in ((0, 0, 0, 0), (0, 0, 1, 2), (1, 5, 9, 1), (n - 1, 31, 30, 2)):
                value = (37 * r + 101 * c + 7 * y + 3 * x) % 256
                check(images[r, y, x, c] == value, f"{split} pixel {r},{y},{x},{c}")
            check(np.array_equal(h5[f"{split}/labels"][...], labels(classes, split, n)),
                  f"{split} labels")
            check(np.array_equal(h5[f"{split}/source_index"][...], np.arange(n)),
                  f"{split} source_index")


def check_gray16(path):
    """2x2 area averages, then the BT.601 luminance, rounded half up; float rounding in the
    packer may move a value that lands on .5 by one."""
    with h5py.File(path, "r") as h5:
        n = split_records(10, "train")
        images = h5["train/images"][...]
        check(images.shape == (n, 16, 16, 1), f"shape {images.shape}")
        rgb = pixels(n).astype(np.float64).reshape(n, 3, 16, 2, 16, 2).mean(axis=(3, 5))
        gray = np.floor(0.299 * rgb[:, 0] + 0.587 * rgb[:, 1] + 0.114 * rgb[:, 2] + 0.5)
        diff = np.abs(images[..., 0].astype(np.int64) - gray)
        check(diff.max() <= 1, f"luminance of 2x2 averages, max difference {diff.max()}")
        check(np.mean(diff == 0) > 0.99, "luminance of 2x2 averages, nearly all exact")


if __name__ == "__main__":
    if sys.argv[1] == "make":
        make(sys.argv[2], 10)
        make(sys.argv[3], 100)
    elif sys.argv[1] == "check-gray16":
        check_gray16(sys.argv[2])
    else:
        check_dataset(int(sys.argv[2]), sys.argv[3])
    sys.exit(1 if failures else 0)
