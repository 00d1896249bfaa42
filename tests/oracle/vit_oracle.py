#!/usr/bin/python3
"""An independent PyTorch implementation of a PreNAS subnet (method.md §3), used as the
oracle for the C engine: tests/test_oracle.c writes a supernet's weights, a subnet, a batch
and soft targets to an HDF5 file; this script computes logits, loss and every parameter
gradient in float64 (and, when asked, a few AdamW steps) and writes them back.

Written from the method description, not from the reference code: the patch embedding is a
real convolution, q/k/v come from reshaping the interleaved projection, the relative
position embeddings are materialised as [N, N, d] tensors, and autograd does the rest.

usage: vit_oracle.py INPUT.h5 OUTPUT.h5
"""
import sys

import h5py
import numpy as np
import torch

def parse_arch(text):
    embed, depth, heads, ratios = text.split(":")
    heads = [int(h) for h in heads.split(",")]
    ratios = [float(r) for r in ratios.split(",")]
    assert len(heads) == len(ratios) == int(depth)
    return int(embed), int(depth), heads, ratios


def relative_rows(tokens, max_relative):
    """Vertical and horizontal table rows for every (query, key) pair; 0 for the class token."""
    side = int(round((tokens - 1) ** 0.5))
    patch = np.arange(tokens - 1)
    dv = patch[None, :] // side - patch[:, None] // side
    dh = patch[None, :] % side - patch[:, None] % side
    rows_v = np.zeros((tokens, tokens), dtype=np.int64)
    rows_h = np.zeros((tokens, tokens), dtype=np.int64)
    rows_v[1:, 1:] = np.clip(dv, -max_relative, max_relative) + max_relative + 1
    rows_h[1:, 1:] = np.clip(dh, -max_relative, max_relative) + max_relative + 1
    return torch.from_numpy(rows_v), torch.from_numpy(rows_h)


def subnet_logits(P, arch, images, cfg):
    embed, depth, heads, ratios = arch
    batch = images.shape[0]
    d = cfg["head_dim"]
    x = torch.nn.functional.conv2d(images, P["patch_embed_super.proj.weight"][:embed],
                                   P["patch_embed_super.proj.bias"][:embed], stride=cfg["patch_size"])
    x = x.flatten(2).transpose(1, 2)
    cls = P["cls_token"][:, :, :embed].expand(batch, -1, -1)
    x = torch.cat([cls, x], dim=1) + P["pos_embed"][:, :, :embed]
    tokens = x.shape[1]
    rows_v, rows_h = relative_rows(tokens, cfg["max_relative_position"])
    for l in range(depth):
        b = f"blocks.{l}."
        h, q = heads[l], heads[l] * d
        hidden = int(embed * ratios[l])  # as the reference, on doubles: 240 * 4.1 -> 983
        u = torch.nn.functional.layer_norm(x, (embed,), P[b + "attn_layer_norm.weight"][:embed],
                                           P[b + "attn_layer_norm.bias"][:embed], eps=1e-5)
        qkv = u @ P[b + "attn.qkv.weight"][:3 * q, :embed].T + P[b + "attn.qkv.bias"][:3 * q]
        qkv = qkv.reshape(batch, tokens, q, 3)  # supernet row 3f + t: feature f of q, k, v
        Q, K, V = (qkv[..., t].reshape(batch, tokens, h, d).transpose(1, 2) for t in range(3))
        Rk = P[b + "attn.rel_pos_embed_k.embeddings_table_v"][rows_v] + \
            P[b + "attn.rel_pos_embed_k.embeddings_table_h"][rows_h]
        Rv = P[b + "attn.rel_pos_embed_v.embeddings_table_v"][rows_v] + \
            P[b + "attn.rel_pos_embed_v.embeddings_table_h"][rows_h]
        scores = (Q @ K.transpose(-2, -1) + torch.einsum("bhid,ikd->bhik", Q, Rk)) * d ** -0.5
        A = scores.softmax(dim=-1)
        O = A @ V + torch.einsum("bhik,ikd->bhid", A, Rv)
        O = O.transpose(1, 2).reshape(batch, tokens, q)
        x = x + O @ P[b + "attn.proj.weight"][:embed, :q].T + P[b + "attn.proj.bias"][:embed]
        u = torch.nn.functional.layer_norm(x, (embed,), P[b + "ffn_layer_norm.weight"][:embed],
                                           P[b + "ffn_layer_norm.bias"][:embed], eps=1e-5)
        a = torch.nn.functional.gelu(u @ P[b + "fc1.weight"][:hidden, :embed].T + P[b + "fc1.bias"][:hidden])
        x = x + a @ P[b + "fc2.weight"][:embed, :hidden].T + P[b + "fc2.bias"][:embed]
    z = torch.nn.functional.layer_norm(x, (embed,), P["norm.weight"][:embed], P["norm.bias"][:embed],
                                       eps=1e-5)
    pooled = z[:, 0] if cfg["class_token_pooling"] else z[:, 1:].mean(dim=1)
    return pooled @ P["head.weight"][:, :embed].T + P["head.bias"]


def soft_target_loss(logits, targets):
    return -(targets * torch.log_softmax(logits, dim=-1)).sum(dim=-1).mean()


def optimizer_step(opt, P, loss_of, images, targets):
    """One training step with loss_of(images, targets); parameters the loss does not reach get
    zero gradients (not None), so that AdamW decays them as prenas does. Returns the loss."""
    opt.zero_grad(set_to_none=False)
    loss = loss_of(images, targets)
    loss.backward()
    for p in P.values():
        if p.grad is None:
            p.grad = torch.zeros_like(p)
    opt.step()
    return loss


def adamw_step(opt, P, arch, images, targets, cfg):
    """One training step of the subnet (optimizer_step with the soft-target loss)."""
    return optimizer_step(opt, P, lambda x, t: soft_target_loss(subnet_logits(P, arch, x, cfg), t),
                          images, targets)


def main(inp, out):
    torch.set_default_dtype(torch.float64)
    torch.set_num_threads(2)
    with h5py.File(inp, "r") as f:
        cfg = {k: int(f.attrs[k]) for k in ("patch_size", "head_dim", "max_relative_position",
                                             "class_token_pooling")}
        arch = parse_arch(f.attrs["arch"].decode() if isinstance(f.attrs["arch"], bytes) else f.attrs["arch"])
        names = list(f["params"].keys())
        P = {n: torch.tensor(np.asarray(f["params"][n], dtype=np.float64), requires_grad=True)
             for n in names}
        steps = int(f.attrs["adamw_steps"])
        batches = [(torch.tensor(np.asarray(f[f"batch{k}/images"], dtype=np.float64)),
                    torch.tensor(np.asarray(f[f"batch{k}/targets"], dtype=np.float64)))
                   for k in range(max(steps, 1))]
        hyper = {k: float(f.attrs[k]) for k in ("lr", "beta1", "beta2", "eps", "weight_decay")}

    with h5py.File(out, "w") as o:
        images, targets = batches[0]
        logits = subnet_logits(P, arch, images, cfg)
        loss = soft_target_loss(logits, targets)
        loss.backward()
        o["logits"] = logits.detach().numpy()
        o["loss"] = loss.item()
        g = o.create_group("grads")
        for n in names:
            g[n] = (P[n].grad if P[n].grad is not None else torch.zeros_like(P[n])).numpy()
        if steps == 0:
            return
        # AdamW over every supernet tensor, dense: tensors the subnet does not touch get a
        # zero gradient (not none), so they are decayed like in the reference (method.md §9.2).
        decay = [P[n] for n in names if P[n].dim() >= 2 and n not in ("pos_embed", "cls_token")]
        no_decay = [P[n] for n in names if not (P[n].dim() >= 2 and n not in ("pos_embed", "cls_token"))]
        opt = torch.optim.AdamW([{"params": decay, "weight_decay": hyper["weight_decay"]},
                                 {"params": no_decay, "weight_decay": 0.0}],
                                lr=hyper["lr"], betas=(hyper["beta1"], hyper["beta2"]), eps=hyper["eps"])
        losses = []
        for k in range(steps):
            images, targets = batches[k]
            losses.append(adamw_step(opt, P, arch, images, targets, cfg).item())
        o["adamw_losses"] = np.array(losses)
        a = o.create_group("params_after")
        for n in names:
            a[n] = P[n].detach().numpy()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
