#!/usr/bin/python3
"""The PyTorch baseline of prenas-bench-step: the same subnet trained inside its supernet
(forward, soft-target loss with label smoothing, backward, AdamW over every supernet tensor
with zero-filled gradients), with the same relative-position attention, on random images.
The model is tests/oracle/vit_oracle.py's (a plain PyTorch implementation that, like the
reference code, materialises the [N, N, d] relative embeddings), run in float32.

usage: bench/torch_step.py --config SPACE.cfg [--arch ARCH] --batch B [--steps N] [--threads T]
The last line is img_per_s=<training images per second>.
"""
import argparse
import os
import re
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "oracle"))
from vit_oracle import adamw_step, parse_arch  # noqa: E402


def space_values(path):
    """The few settings of a prenas space file this baseline needs (libconfig `key = value;`)."""
    text = re.sub(r"#.*", "", open(path, encoding="utf-8").read())
    def number(key, within=text):
        return float(re.search(rf"\b{key}\s*=\s*([0-9.]+)", within).group(1))
    supernet = re.search(r"supernet\s*=\s*\{([^}]*)\}", text).group(1)
    choices = re.search(r"choices\s*=\s*\{([^}]*)\}", text)
    values = {k: int(number(k)) for k in ("image_size", "patch_size", "in_channels", "num_classes",
                                          "head_dim", "max_relative_position")}
    values.update({f"super_{k}": number(k, supernet) for k in ("embed_dim", "depth", "num_heads", "mlp_ratio")})
    values["class_token_pooling"] = int(re.search(r'pooling\s*=\s*"class"', text) is not None)
    if choices:
        lists = {k: re.search(rf"\b{k}\s*=\s*\[([^\]]*)\]", choices.group(1)).group(1).split(",")
                 for k in ("embed_dim", "depth", "num_heads", "mlp_ratio")}
        values["largest"] = "{}:{}:{}:{}".format(
            lists["embed_dim"][-1].strip(), lists["depth"][-1].strip(),
            ",".join([lists["num_heads"][-1].strip()] * int(lists["depth"][-1])),
            ",".join([lists["mlp_ratio"][-1].strip()] * int(lists["depth"][-1])))
    return values


def supernet_parameters(v):
    E, D, H = int(v["super_embed_dim"]), int(v["super_depth"]), int(v["super_num_heads"])
    M, C, P, c = int(E * v["super_mlp_ratio"]), v["num_classes"], v["patch_size"], v["in_channels"]
    T, d = 2 * v["max_relative_position"] + 2, v["head_dim"]
    tokens = (v["image_size"] // P) ** 2 + 1
    shapes = {"patch_embed_super.proj.weight": (E, c, P, P), "patch_embed_super.proj.bias": (E,),
              "cls_token": (1, 1, E), "pos_embed": (1, tokens, E), "norm.weight": (E,), "norm.bias": (E,),
              "head.weight": (C, E), "head.bias": (C,)}
    for l in range(D):
        b = f"blocks.{l}."
        shapes.update({b + "attn_layer_norm.weight": (E,), b + "attn_layer_norm.bias": (E,),
                       b + "attn.qkv.weight": (3 * E, E), b + "attn.qkv.bias": (3 * E,),
                       b + "attn.proj.weight": (E, E), b + "attn.proj.bias": (E,),
                       b + "ffn_layer_norm.weight": (E,), b + "ffn_layer_norm.bias": (E,),
                       b + "fc1.weight": (M, E), b + "fc1.bias": (M,), b + "fc2.weight": (E, M), b + "fc2.bias": (E,)})
        for module in ("k", "v"):
            for axis in ("v", "h"):
                shapes[f"{b}attn.rel_pos_embed_{module}.embeddings_table_{axis}"] = (T, d)
    return {n: torch.nn.Parameter(0.02 * torch.randn(s)) for n, s in shapes.items()}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", required=True)
    parser.add_argument("--arch")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    v = space_values(args.config)
    arch = parse_arch(args.arch or v["largest"])
    P = supernet_parameters(v)
    decay = [p for n, p in P.items() if p.dim() >= 2 and n not in ("pos_embed", "cls_token")]
    rest = [p for n, p in P.items() if not (p.dim() >= 2 and n not in ("pos_embed", "cls_token"))]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.05}, {"params": rest, "weight_decay": 0.0}],
                            lr=1e-4)
    images = torch.randn(args.batch, v["in_channels"], v["image_size"], v["image_size"])
    labels = torch.randint(0, v["num_classes"], (args.batch,))
    targets = torch.full((args.batch, v["num_classes"]), 0.1 / v["num_classes"])
    targets[torch.arange(args.batch), labels] += 0.9
    times = []
    for step in range(args.steps + 2):
        t0 = time.perf_counter()
        adamw_step(opt, P, arch, images, targets, v)
        if step >= 2:
            times.append(time.perf_counter() - t0)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, batch {args.batch}: "
          f"{sum(times) / len(times):.4f} s per step")
    print(f"img_per_s={args.batch * len(times) / sum(times):.3f}")


if __name__ == "__main__":
    main()
