"""same_over_ranks.py TWO ONE STEPS [CLOSE]: a 2-rank and a 1-rank training run (run
directories) agree on every step's loss to 1e-5 and on the weights to float rounding (the
gradient sums are ordered differently): a fraction CLOSE (default 0.999) of them within 1e-6.
Prints "ok <fraction of weights within 1e-6> <worst difference>"."""
import sys

import h5py
import numpy as np

two, one, steps = sys.argv[1], sys.argv[2], int(sys.argv[3])
min_close = float(sys.argv[4]) if len(sys.argv) > 4 else 0.999
d, e = (h5py.File(p + "/supernet.h5", "r") for p in (two, one))
assert d["state"].attrs["world_size"] == 2 and e["state"].attrs["world_size"] == 1


def losses(run):
    return [float(l.split("loss=")[1].split()[0]) for l in open(run + "/train.log")
            if l.startswith("step=")]


lossd, losse = losses(two), losses(one)
assert len(lossd) == len(losse) == steps, (lossd, losse)
assert max(abs(a - b) for a, b in zip(lossd, losse)) < 1e-5, (lossd, losse)
close = total = 0
worst = 0.0
for name in d["params"]:
    x, y = d["params"][name][:], e["params"][name][:]
    close += int(np.sum(np.abs(x - y) <= 1e-6))
    total += x.size
    worst = max(worst, float(np.max(np.abs(x - y))))
assert close / total > min_close and worst < 2 * steps * 1e-4, (close / total, worst)
print("ok", close / total, worst)
