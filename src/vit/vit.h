#ifndef PRENAS_VIT_H
#define PRENAS_VIT_H

/* The weight-entangled ViT supernet (method.md §3): every tensor at its supernet shape in
 * one flat arena (and the gradients in a second one, same layout), named as the reference's
 * state_dict; any subnet runs forward and backward on leading slices of those tensors, so
 * the gradients of everything outside its slices stay exactly zero. Activations are sized
 * once, for the largest subnet at the largest batch. */

#include "arch.h"
#include "backend.h"
#include "kernels.h"
#include "param_table.h"
#include "rng.h"
#include "space.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    real *weight, *bias;
} VitLinear;

typedef struct {
    real *attn_norm_weight, *attn_norm_bias;
    VitLinear qkv; /* [3 E_s, E_s]: row 3f + t is feature f of q (t=0), k (1) or v (2) */
    real *rel_key_v, *rel_key_h, *rel_value_v, *rel_value_h; /* [2R + 2, head_dim] each */
    VitLinear proj;                                          /* [E_s, E_s] */
    real *ffn_norm_weight, *ffn_norm_bias;
    VitLinear fc1, fc2; /* [M_s, E_s], [E_s, M_s] */
} VitBlock;

typedef struct {
    VitLinear patch; /* [E_s, channels * patch * patch]: the convolution as a linear layer */
    real *cls_token, *pos_embed; /* [E_s], [tokens, E_s] */
    VitBlock blocks[SPACE_MAX_DEPTH];
    real *norm_weight, *norm_bias;
    VitLinear head; /* [classes, E_s] */
} VitTensors;

typedef struct VitActivations VitActivations;

typedef struct {
    /* the tensors (reference names, shapes, init, decay) and their arenas; table.be is where
     * they live and the ops run (it outlives the Vit) */
    ParamTable table;
    /* the supernet's dimensions */
    int embed, depth, heads, head_dim, hidden, tokens, patches, classes, channels, image_size,
        patch_size, table_rows;
    bool class_token_pooling;

    VitTensors p, g; /* named views into table.params and table.grads */

    int max_batch, threads; /* the activations have room for these */
    VitActivations *act;
    int max_relative_position;

} Vit;

/* A supernet of the space's shape on backend `be`, with room for batches of up to max_batch
 * images. */
Vit *vit_create(const Backend *be, const Space *space, int max_batch);
void vit_free(Vit *vit);
/* The reference's initialisation (method.md §3.2); each tensor draws from its own stream. */
void vit_init(Vit *vit, uint64_t seed);
/* A CPU supernet (room for one image) holding copies of vit's parameters and gradients, for
 * host-side analyses of a supernet on another backend (the score tables). */
Vit *vit_host_copy(const Vit *vit, const Space *space);
/* Whether the architecture fits inside this supernet. */
bool vit_fits(const Vit *vit, const Arch *arch);

/* Per-sample drop-path scales [depth][2][batch] (attention branch, then MLP branch) for
 * training: block l drops with rate max_rate * l / (supernet depth - 1), by supernet block
 * index (method.md §3.5); kept samples are scaled by 1 / (1 - rate). Sample b's decisions
 * come from its own stream (seed, first_sample + b), whatever rank processes it. */
void vit_drop_path_scales(real *scales, const Vit *vit, const Arch *arch, int batch,
                          double max_rate, uint64_t seed, uint64_t first_sample);

/* logits [batch, classes] of `arch` for normalised images [batch, channels, size, size];
 * drop_scales from vit_drop_path_scales, or NULL (evaluation). images, drop_scales and
 * logits are backend memory. */
void vit_forward(Vit *vit, const Arch *arch, const real *images, int batch, const real *drop_scales,
                 real *logits);
/* Adds the gradients of the last forward's parameters given dlogits [batch, classes]. */
void vit_backward(Vit *vit, const Arch *arch, const real *dlogits, int batch,
                  const real *drop_scales);

#endif
