#!/usr/bin/python3
"""The PyTorch baseline of prenas-bench-cnn-step: one training step of a CNN subnet trained
inside its weight-entangled supernet, as BigNAS's public PyTorch code (AttentiveNAS's dynamic
ops) trains one: the supernet's tensors are the parameters, and every forward runs the subnet
on slices of them (leading channels, the centred k x k of each depthwise K x K kernel), so
autograd puts the subnet's gradients into supernet-shaped tensors; then soft-target cross-entropy
(label smoothing 0.1), backward, and AdamW over every supernet tensor (zero gradients outside
the subnet; lr 1e-4, weight decay 0.05 on conv and linear weights only), on random images at
the architecture's resolution, float32.

The subnet is the torch.nn network of tests/oracle/cnn_count.py (Conv2d, BatchNorm2d, SiLU or
ReLU6, SE, AdaptiveAvgPool2d, Linear), run by torch.nn.utils.stateless.functional_call on the
slices that tests/oracle/cnn_oracle.py's named_modules and view name; its batch norms use batch
statistics and keep no running ones (prenas's training pass updates none either). The supernet
is that network at the space's largest architecture (every tensor's shape, as cnn_net.h),
initialised as torch.nn initialises it: the speed does not depend on the values.

usage: bench/torch_cnn_step.py --config SPACE.cfg [--arch ARCH] [--batch B] [--steps N]
                               [--threads T] [--verbose-steps K]
Prints what PyTorch computes with (bench/torch_step.py's line: its kernel level, the library of
its sgemm_; and whether its oneDNN (mkldnn) is available), then the timed steps (after 2
warm-up) and `img_per_s=<training images per second>` as the last line. --verbose-steps K (0:
none, the default) runs K more steps with oneDNN's verbose log on, after the timing, and prints
bench/onednn_verbose.py's summary of which oneDNN kernels ran and for how long.
"""
import argparse
import os
import sys
import tempfile
import time

import torch
from torch import nn
from torch.nn.utils import stateless

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "oracle"))
sys.path.insert(0, HERE)
from cnn_count import build, extreme, parse_arch, parse_config  # noqa: E402
from cnn_oracle import named_modules, view  # noqa: E402
from onednn_verbose import report, summarize  # noqa: E402
from torch_step import WARMUP, cpu_libraries  # noqa: E402
from vit_oracle import optimizer_step, soft_target_loss  # noqa: E402


def parameter_names(model, space, arch):
    """(the module's parameter name in `model`, the supernet tensor's name) of every parameter."""
    module_name = {m: n for n, m in model.named_modules()}
    out = []
    for prefix, module in named_modules(model, space, arch):
        for kind in ("weight", "bias"):
            if getattr(module, kind, None) is not None:
                out.append((f"{module_name[module]}.{kind}", f"{prefix}.{kind}"))
    return out


def supernet(space):
    """The supernet's tensors by name: the largest architecture's network's parameters."""
    largest = parse_arch(extreme(space, max))
    model = build(space, largest)
    own = dict(model.named_parameters())
    return {name: nn.Parameter(own[mine].detach().clone())
            for mine, name in parameter_names(model, space, largest)}


def subnet_loss(space, arch, P):
    """loss(images, targets) of the subnet on views of the supernet tensors P."""
    model = build(space, arch).train()
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):  # batch statistics only, nothing updated
            m.track_running_stats = False
            m.running_mean = m.running_var = None
    own = dict(model.named_parameters())
    names = [(mine, name, view(tuple(own[mine].shape), P[name].shape))
             for mine, name in parameter_names(model, space, arch)]

    def loss(images, targets):
        views = {mine: P[name][slices] for mine, name, slices in names}
        return soft_target_loss(stateless.functional_call(model, views, (images,)), targets)
    return loss


def verbose_summary(steps, step):
    """Runs `steps` more steps with oneDNN's verbose log on (written by the C library to fd 1,
    so caught there) and prints the summary."""
    sys.stdout.flush()
    saved = os.dup(1)
    with tempfile.TemporaryFile(mode="w+") as log:
        os.dup2(log.fileno(), 1)
        try:
            with torch.backends.mkldnn.verbose(torch.backends.mkldnn.VERBOSE_ON):
                for _ in range(steps):
                    step()
        finally:
            os.dup2(saved, 1)
            os.close(saved)
        log.seek(0)
        report(summarize(log), steps)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", required=True)
    parser.add_argument("--arch")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--threads", type=int, default=int(os.environ.get("OMP_NUM_THREADS", "0")))
    parser.add_argument("--verbose-steps", type=int, default=0)
    args = parser.parse_args()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    print(cpu_libraries())
    print(f"oneDNN (mkldnn) in torch: available {torch.backends.mkldnn.is_available()}, "
          f"enabled {torch.backends.mkldnn.enabled}")
    torch.manual_seed(0)
    with open(args.config, encoding="utf-8") as f:
        space = parse_config(f.read())
    arch = parse_arch(args.arch or extreme(space, max))
    P = supernet(space)
    decay = [p for p in P.values() if p.dim() >= 2]
    rest = [p for p in P.values() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.05},
                             {"params": rest, "weight_decay": 0.0}], lr=1e-4)
    B, C, R = args.batch, space["num_classes"], arch["resolution"]
    images = torch.randn(B, space["in_channels"], R, R)
    targets = torch.full((B, C), 0.1 / C)
    targets[torch.arange(B), torch.randint(0, C, (B,))] += 0.9
    loss_fn = subnet_loss(space, arch, P)

    def step():
        return optimizer_step(opt, P, loss_fn, images, targets)

    for _ in range(WARMUP):
        step()
    t0 = time.perf_counter()
    for _ in range(args.steps):
        loss = step()
    elapsed = time.perf_counter() - t0
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, batch {B}: "
          f"{1e3 * elapsed / args.steps:.2f} ms per step, last loss {loss.item():.4f}")
    if args.verbose_steps > 0:
        verbose_summary(args.verbose_steps, step)
    print(f"img_per_s={B * args.steps / elapsed:.3f}")


if __name__ == "__main__":
    main()
