#!/usr/bin/python3
"""The PyTorch baseline of prenas-bench-step: the same subnet trained inside its supernet
(forward, soft-target loss with label smoothing, backward, AdamW over every supernet tensor
with zero-filled gradients), with the same relative-position attention, on random images.
The model is tests/oracle/vit_oracle.py's (a plain PyTorch implementation that, like the
reference code, materialises the [N, N, d] relative embeddings).

usage: bench/torch_step.py --config SPACE.cfg [--arch ARCH] [--batch B[,B...]] [--steps N]
                           [--threads T] [--device cpu|cuda] [--mode M[,M...]]

--device cpu (default) runs in float32 as before. --device cuda runs on the first GPU; --mode
picks how (a comma-separated list runs each in turn, every batch of --batch in each):
  fp32      float32, TF32 off (cuBLAS/cuDNN in IEEE fp32)
  tf32      float32 tensors, TF32 tensor cores for matrix products and the convolution
  amp-bf16  eager PyTorch under torch.autocast(bfloat16): the usual mixed-precision recipe
  compile   torch.compile of the forward and loss (AOTAutograd compiles the backward too),
            under the same autocast; compilation runs in warm-up steps, outside the timing
On the CPU, fp32, amp-bf16 (CPU autocast) and compile are accepted too, for testing.
Each run prints `mode=M batch=B img_per_s=R ...`; a compile that fails prints
`compile_failed=<reason>` and the next run goes on. The last line is img_per_s=<training
images per second> of the last run that finished. Exit status: 0 when every run gave a
figure, 1 when some did not, 2 on bad usage or a device that cannot be used.
On the CPU the first line says what PyTorch computes with: the level of its own vectorised
kernels (ATEN_CPU_CAPABILITY may lower or raise it), the library whose sgemm_ it calls, and,
when that is OpenBLAS, its build and the core whose kernels it runs (OPENBLAS_CORETYPE may
force one), as the libraries themselves report them.
"""
import argparse
import ctypes
import os
import re
import sys
import time
import warnings

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "oracle"))
import vit_oracle  # noqa: E402
from vit_oracle import optimizer_step, parse_arch, soft_target_loss, subnet_logits  # noqa: E402

MODES = ("fp32", "tf32", "amp-bf16", "compile")
WARMUP = 2          # eager warm-up steps, as prenas-bench-step
COMPILE_WARMUP = 3  # the first compiles forward and backward; the others settle the caches


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


def supernet_parameters(v, device):
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
    # drawn on the CPU, then moved: the same weights on either device for one seed
    return {n: torch.nn.Parameter((0.02 * torch.randn(s)).to(device)) for n, s in shapes.items()}


def use_rows_on(device, v):
    """The oracle builds the relative-position row indices with numpy on every call, on the
    CPU; on a GPU that would add two host-to-device copies per layer and step, and numpy
    breaks torch.compile's graph. Build them once, eagerly, on the device instead."""
    build = vit_oracle.relative_rows
    tokens = (v["image_size"] // v["patch_size"]) ** 2 + 1
    cache = {(tokens, v["max_relative_position"]):
             tuple(r.to(device) for r in build(tokens, v["max_relative_position"]))}
    def rows(tokens, max_relative):
        if (tokens, max_relative) not in cache:
            cache[tokens, max_relative] = tuple(r.to(device) for r in build(tokens, max_relative))
        return cache[tokens, max_relative]
    vit_oracle.relative_rows = rows


def set_tf32(enabled):
    """TF32 for matrix products and convolutions, on or off. Through the older settings, on
    purpose: PyTorch 2.9 and later also have per-backend fp32_precision settings, but once
    those are written, torch.compile's inductor (which still reads the old ones) stops with a
    "mix of the legacy and new APIs" error (pytorch/pytorch issue 166387). The old ones only
    warn that they are deprecated."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.set_float32_matmul_precision("high" if enabled else "highest")
        torch.backends.cudnn.allow_tf32 = enabled


def make_loss(P, arch, v, device, amp):
    """Forward and loss of the subnet, under bf16 autocast when `amp` (as a mixed-precision
    training loop writes it: forward and loss inside autocast, backward outside)."""
    def loss_fn(images, targets):
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=amp):
            return soft_target_loss(subnet_logits(P, arch, images, v), targets)
    return loss_fn


def run(mode, batch, steps, P, arch, v, device):
    """Times `steps` training steps after the warm-up; returns a dict of the figures."""
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    if device.type == "cuda" and mode in ("fp32", "tf32"):  # AMP runs keep PyTorch's defaults
        set_tf32(mode == "tf32")
    decay = [p for n, p in P.items() if p.dim() >= 2 and n not in ("pos_embed", "cls_token")]
    rest = [p for n, p in P.items() if not (p.dim() >= 2 and n not in ("pos_embed", "cls_token"))]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.05}, {"params": rest, "weight_decay": 0.0}],
                            lr=1e-4)
    images = torch.randn(batch, v["in_channels"], v["image_size"], v["image_size"], device=device)
    labels = torch.randint(0, v["num_classes"], (batch,), device=device)
    targets = torch.full((batch, v["num_classes"]), 0.1 / v["num_classes"], device=device)
    targets[torch.arange(batch, device=device), labels] += 0.9
    loss_fn = make_loss(P, arch, v, device, amp=mode in ("amp-bf16", "compile"))
    figures = {}
    warmup = WARMUP
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    if mode == "compile":
        if not hasattr(torch, "compile"):
            raise CompileFailed(f"torch {torch.__version__} has no torch.compile")
        # specialised to this batch's shapes (dynamic=False): the fastest code torch.compile
        # makes for it, as a user with one batch size gets it; a second batch recompiles
        loss_fn = torch.compile(loss_fn, dynamic=False)
        sync()
        t0 = time.perf_counter()
        optimizer_step(opt, P, loss_fn, images, targets)
        sync()
        figures["compile_s"] = time.perf_counter() - t0
        warmup = COMPILE_WARMUP - 1
    for _ in range(warmup):
        optimizer_step(opt, P, loss_fn, images, targets)
    sync()
    t0 = time.perf_counter()
    for _ in range(steps):
        loss = optimizer_step(opt, P, loss_fn, images, targets)
    sync()
    elapsed = time.perf_counter() - t0
    figures.update(step_s=elapsed / steps, img_per_s=batch * steps / elapsed, loss=loss.item())
    if device.type == "cuda":
        figures["peak_gib"] = torch.cuda.max_memory_allocated() / 2**30
    return figures


class DlInfo(ctypes.Structure):
    _fields_ = [("dli_fname", ctypes.c_char_p), ("dli_fbase", ctypes.c_void_p),
                ("dli_sname", ctypes.c_char_p), ("dli_saddr", ctypes.c_void_p)]


def cpu_libraries():
    """One line: PyTorch's kernel level, the library whose sgemm_ PyTorch calls, and what
    OpenBLAS says of itself when it is that library (its build, the core whose kernels it runs,
    its threads). sgemm_ is looked up as the dynamic linker bound libtorch_cpu's: in the global
    scope (LD_PRELOAD first), then among libtorch_cpu's own dependencies; a BLAS that is merely
    mapped (OpenBLAS's LAPACK loads its own) does not count."""
    level = re.search(r"CPU capability usage: (\S+)", torch.__config__.show())
    with open("/proc/self/maps", encoding="utf-8") as maps:
        torch_cpu = next(f[5] for f in (line.split() for line in maps)
                         if len(f) >= 6 and os.path.basename(f[5]).startswith("libtorch_cpu.so"))
    process = ctypes.CDLL(None)
    sgemm = next((getattr(scope, "sgemm_") for scope in (process, ctypes.CDLL(torch_cpu))
                  if hasattr(scope, "sgemm_")), None)
    info = DlInfo()
    if sgemm is None or not process.dladdr(ctypes.cast(sgemm, ctypes.c_void_p), ctypes.byref(info)):
        return f"torch {torch.__version__}: no sgemm_ found"
    path = os.path.realpath(info.dli_fname.decode())
    blas = ctypes.CDLL(path)  # already mapped: the same handle; its dependencies are searched too
    if hasattr(blas, "openblas_get_config"):
        blas.openblas_get_config.restype = blas.openblas_get_corename.restype = ctypes.c_char_p
        kind = (f"{blas.openblas_get_config().decode()}: kernels for "
                f"{blas.openblas_get_corename().decode()}, {blas.openblas_get_num_threads()} threads")
    else:
        kind = "not OpenBLAS"
    return (f"torch {torch.__version__}, CPU capability {level.group(1) if level else 'unknown'}; "
            f"sgemm_ from {path} ({kind})")


class CompileFailed(Exception):
    """torch.compile is missing or failed: reported, and the next run goes on."""


def one_line(text, limit=300):
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit] + "..."


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", required=True)
    parser.add_argument("--arch")
    parser.add_argument("--batch", default="8", help="images per step; a comma-separated list runs each")
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--mode", default="fp32", help="fp32, tf32, amp-bf16 or compile; a comma-separated list runs each")
    args = parser.parse_args()
    modes = args.mode.split(",")
    batches = [int(b) for b in args.batch.split(",")]
    for m in modes:
        if m not in MODES:
            parser.error(f"--mode {m}: one of {', '.join(MODES)}")
        if m == "tf32" and args.device == "cpu":
            parser.error("--mode tf32 needs --device cuda")
    if args.device == "cuda":
        if not torch.cuda.is_available():
            built = f"built with CUDA {torch.version.cuda}" if torch.version.cuda else "built without CUDA"
            print(f"torch_step: --device cuda: no usable GPU (torch {torch.__version__}, {built}; "
                  f"{torch.cuda.device_count()} device(s) visible)", file=sys.stderr)
            sys.exit(2)
        device = torch.device("cuda", 0)
        where = f"{torch.cuda.get_device_name(device)}, CUDA {torch.version.cuda}"
    else:
        device = torch.device("cpu")
    torch.set_num_threads(args.threads)
    if device.type == "cpu":
        where = f"{torch.get_num_threads()} threads"
        print(cpu_libraries(), flush=True)
    torch.manual_seed(0)
    v = space_values(args.config)
    arch = parse_arch(args.arch or v["largest"])
    if device.type == "cuda" or "compile" in modes:  # the CPU's eager runs stay as they were
        use_rows_on(device, v)
    P = supernet_parameters(v, device)
    last, missing = None, 0
    for mode in modes:
        for batch in batches:
            try:
                f = run(mode, batch, args.steps, P, arch, v, device)
            except Exception as e:  # noqa: BLE001: reported, and the next run goes on
                # any failure of the compiler stack (dynamo, AOTAutograd, inductor, Triton)
                # is compile's; otherwise only out-of-memory and failed kernels are expected
                if mode == "compile":
                    what = "compile_failed"
                elif isinstance(e, (RuntimeError, MemoryError)):
                    what = "run_failed"
                else:
                    raise
                reason = str(e) if isinstance(e, CompileFailed) else f"{type(e).__name__}: {e}"
                print(f"{what}={one_line(reason)} (mode={mode} batch={batch})", flush=True)
                missing += 1
                if device.type == "cuda":
                    torch.cuda.empty_cache()
                continue
            extra = "".join(f" {k}={f[k]:.2f}" for k in ("compile_s", "peak_gib") if k in f)
            print(f"torch {torch.__version__}, {where}, {mode}, batch {batch}: {f['step_s']:.4f} s per step",
                  flush=True)
            print(f"mode={mode} batch={batch} img_per_s={f['img_per_s']:.3f} step_s={f['step_s']:.5f} "
                  f"loss={f['loss']:.4f}{extra}", flush=True)
            last = f["img_per_s"]
    if last is not None:
        print(f"img_per_s={last:.3f}")
    sys.exit(1 if missing else 0)


if __name__ == "__main__":
    main()
