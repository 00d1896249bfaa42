#include "vit.h"

#include "error.h"

#include <math.h>
#include <omp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the tensor table ---- */

/* timm's decay rule as the reference applies it: no decay for 1-D tensors and for the names
 * pos_embed and cls_token exactly (the relative-position tables are decayed) */
__attribute__((format(printf, 5, 6))) static void
add_tensor(ParamTable *t, TensorInit init, int ndim, const int64_t *shape, const char *fmt, ...) {
    char name[TENSOR_NAME_MAX];
    va_list args;
    va_start(args, fmt);
    vsnprintf(name, sizeof name, fmt, args);
    va_end(args);
    const bool decay =
        ndim >= 2 && strcmp(name, "pos_embed") != 0 && strcmp(name, "cls_token") != 0;
    param_table_add(t, init, decay, ndim, shape, "%s", name);
}

#define SHAPE(...) ((const int64_t[]){__VA_ARGS__})

static void build_table(Vit *vit) {
    ParamTable *t = &vit->table;
    const int64_t E = vit->embed, M = vit->hidden, C = vit->classes, T = vit->table_rows,
                  d = vit->head_dim, P = vit->patch_size;
    add_tensor(t, INIT_FAN_IN_UNIFORM, 4, SHAPE(E, vit->channels, P, P),
               "patch_embed_super.proj.weight");
    add_tensor(t, INIT_FAN_IN_UNIFORM, 1, SHAPE(E), "patch_embed_super.proj.bias");
    add_tensor(t, INIT_TRUNC_NORMAL, 3, SHAPE(1, 1, E), "cls_token");
    add_tensor(t, INIT_TRUNC_NORMAL, 3, SHAPE(1, vit->tokens, E), "pos_embed");
    for (int l = 0; l < vit->depth; l++) {
        add_tensor(t, INIT_ONES, 1, SHAPE(E), "blocks.%d.attn_layer_norm.weight", l);
        add_tensor(t, INIT_ZEROS, 1, SHAPE(E), "blocks.%d.attn_layer_norm.bias", l);
        add_tensor(t, INIT_TRUNC_NORMAL, 2, SHAPE(3 * E, E), "blocks.%d.attn.qkv.weight", l);
        add_tensor(t, INIT_ZEROS, 1, SHAPE(3 * E), "blocks.%d.attn.qkv.bias", l);
        add_tensor(t, INIT_TRUNC_NORMAL, 2, SHAPE(T, d),
                   "blocks.%d.attn.rel_pos_embed_k.embeddings_table_v", l);
        add_tensor(t, INIT_TRUNC_NORMAL, 2, SHAPE(T, d),
                   "blocks.%d.attn.rel_pos_embed_k.embeddings_table_h", l);
        add_tensor(t, INIT_TRUNC_NORMAL, 2, SHAPE(T, d),
                   "blocks.%d.attn.rel_pos_embed_v.embeddings_table_v", l);
        add_tensor(t, INIT_TRUNC_NORMAL, 2, SHAPE(T, d),
                   "blocks.%d.attn.rel_pos_embed_v.embeddings_table_h", l);
        add_tensor(t, INIT_TRUNC_NORMAL, 2, SHAPE(E, E), "blocks.%d.attn.proj.weight", l);
        add_tensor(t, INIT_ZEROS, 1, SHAPE(E), "blocks.%d.attn.proj.bias", l);
        add_tensor(t, INIT_ONES, 1, SHAPE(E), "blocks.%d.ffn_layer_norm.weight", l);
        add_tensor(t, INIT_ZEROS, 1, SHAPE(E), "blocks.%d.ffn_layer_norm.bias", l);
        add_tensor(t, INIT_TRUNC_NORMAL, 2, SHAPE(M, E), "blocks.%d.fc1.weight", l);
        add_tensor(t, INIT_ZEROS, 1, SHAPE(M), "blocks.%d.fc1.bias", l);
        add_tensor(t, INIT_TRUNC_NORMAL, 2, SHAPE(E, M), "blocks.%d.fc2.weight", l);
        add_tensor(t, INIT_ZEROS, 1, SHAPE(E), "blocks.%d.fc2.bias", l);
    }
    add_tensor(t, INIT_ONES, 1, SHAPE(E), "norm.weight");
    add_tensor(t, INIT_ZEROS, 1, SHAPE(E), "norm.bias");
    add_tensor(t, INIT_TRUNC_NORMAL, 2, SHAPE(C, E), "head.weight");
    add_tensor(t, INIT_ZEROS, 1, SHAPE(C), "head.bias");
}

/* Points the named views at an arena laid out as the table says (same order as above). */
static void bind_views(const Vit *vit, real *arena, VitTensors *view) {
    const TensorInfo *t = vit->table.tensors;
    int i = 0;
#define NEXT (arena + t[i++].offset)
    view->patch.weight = NEXT;
    view->patch.bias = NEXT;
    view->cls_token = NEXT;
    view->pos_embed = NEXT;
    for (int l = 0; l < vit->depth; l++) {
        VitBlock *b = &view->blocks[l];
        b->attn_norm_weight = NEXT;
        b->attn_norm_bias = NEXT;
        b->qkv.weight = NEXT;
        b->qkv.bias = NEXT;
        b->rel_key_v = NEXT;
        b->rel_key_h = NEXT;
        b->rel_value_v = NEXT;
        b->rel_value_h = NEXT;
        b->proj.weight = NEXT;
        b->proj.bias = NEXT;
        b->ffn_norm_weight = NEXT;
        b->ffn_norm_bias = NEXT;
        b->fc1.weight = NEXT;
        b->fc1.bias = NEXT;
        b->fc2.weight = NEXT;
        b->fc2.bias = NEXT;
    }
    view->norm_weight = NEXT;
    view->norm_bias = NEXT;
    view->head.weight = NEXT;
    view->head.bias = NEXT;
#undef NEXT
    if (i != vit->table.n_tensors) fatal_at(__FILE__, __LINE__, "tensor table and views disagree");
}

/* ---- activations: what backward needs, per block, for the largest subnet and batch ---- */

struct VitActivations {
    real *patches, *embedded;
    real *stream;             /* residual stream: block l reads 2l, writes 2l+1 and 2l+2 */
    real *norm1, *norm2;      /* LayerNorm outputs, per block */
    real *stats;              /* mean and 1/std of every LayerNorm, per block and final */
    real *q, *k, *v, *probs;  /* per block */
    real *attn;               /* attention output = proj input, per block */
    real *hidden, *activated; /* fc1 output and its GELU, per block */
    real *final_norm, *pooled;
    /* scratch */
    real *wide, *d_stream, *d_norm, *d_attn, *d_q, *d_k, *d_v, *d_wide, *d_pooled;
    real *attention_workspace;
    size_t stream_size, qkv_size, probs_size, hidden_size, rows; /* per block, in entries */
};

static VitActivations *activations_create(const Vit *vit, int batch) {
    const Backend *be = vit->table.be;
    VitActivations *a = xcalloc(1, sizeof *a);
    const size_t rows = (size_t)batch * vit->tokens, D = (size_t)vit->depth;
    const size_t E = (size_t)vit->embed, q = (size_t)vit->heads * vit->head_dim;
    const size_t M = (size_t)vit->hidden, wide = 3 * q > M ? 3 * q : M;
    a->rows = rows;
    a->stream_size = rows * E;
    a->qkv_size = rows * q;
    a->probs_size = (size_t)batch * vit->heads * vit->tokens * vit->tokens;
    a->hidden_size = rows * M;
    const size_t patch_in = (size_t)vit->channels * vit->patch_size * vit->patch_size;
    const size_t patch_rows = (size_t)batch * vit->patches;
    const AttentionShape largest = {.batch = batch,
                                    .tokens = vit->tokens,
                                    .heads = vit->heads,
                                    .head_dim = vit->head_dim,
                                    .grid = vit->image_size / vit->patch_size,
                                    .max_relative_position = vit->max_relative_position,
                                    .scale = 1.0 / sqrt((double)vit->head_dim),
                                    .threads = vit->threads};
    struct {
        real **ptr;
        size_t count;
    } parts[] = {
        {&a->patches, patch_rows * patch_in},
        {&a->embedded, patch_rows * E},
        {&a->stream, (2 * D + 1) * a->stream_size},
        {&a->norm1, D * a->stream_size},
        {&a->norm2, D * a->stream_size},
        {&a->stats, (4 * D + 2) * rows},
        {&a->q, D * a->qkv_size},
        {&a->k, D * a->qkv_size},
        {&a->v, D * a->qkv_size},
        {&a->probs, D * a->probs_size},
        {&a->attn, D * a->qkv_size},
        {&a->hidden, D * a->hidden_size},
        {&a->activated, D * a->hidden_size},
        {&a->final_norm, a->stream_size},
        {&a->pooled, (size_t)batch * E},
        {&a->wide, rows * (wide > E ? wide : E)},
        {&a->d_stream, a->stream_size},
        {&a->d_norm, a->stream_size},
        {&a->d_attn, a->qkv_size},
        {&a->d_q, a->qkv_size},
        {&a->d_k, a->qkv_size},
        {&a->d_v, a->qkv_size},
        {&a->d_wide, rows * (wide > E ? wide : E)},
        {&a->d_pooled, (size_t)batch * E},
        {&a->attention_workspace, be->ops->attention_workspace_size(be, &largest)},
    };
    size_t total = 0;
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) total += parts[i].count;
    real *arena = be->ops->alloc(be, total * sizeof *arena);
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        *parts[i].ptr = arena;
        arena += parts[i].count;
    }
    return a;
}

/* ---- life cycle ---- */

Vit *vit_create(const Backend *be, const Space *space, int max_batch) {
    Vit *vit = xcalloc(1, sizeof *vit);
    const SupernetShape *s = &space->supernet;
    vit->embed = s->embed_dim;
    vit->depth = s->depth;
    vit->heads = s->num_heads;
    vit->head_dim = space->head_dim;
    vit->hidden = mlp_hidden_width(s->embed_dim, s->mlp_ratio);
    vit->tokens = space_num_tokens(space);
    vit->patches = space_num_patches(space);
    vit->classes = space->num_classes;
    vit->channels = space->in_channels;
    vit->image_size = space->image_size;
    vit->patch_size = space->patch_size;
    vit->max_relative_position = space->max_relative_position;
    vit->table_rows = 2 * space->max_relative_position + 2;
    vit->class_token_pooling = space->class_token_pooling;
    build_table(vit);
    param_table_allocate(&vit->table, be);
    bind_views(vit, vit->table.params, &vit->p);
    bind_views(vit, vit->table.grads, &vit->g);
    vit->max_batch = max_batch;
    vit->threads = omp_get_max_threads();
    vit->act = activations_create(vit, max_batch);
    return vit;
}

void vit_free(Vit *vit) {
    if (!vit) return;
    const Backend *be = vit->table.be;
    if (vit->act) be->ops->free(be, vit->act->patches); /* the activation arena starts there */
    free(vit->act);
    param_table_free(&vit->table);
    free(vit);
}

/* The reference's rule for each kind (method.md §3.2). */
static double vit_draw(const TensorInfo *t, Rng *rng, const void *ctx) {
    const Vit *vit = ctx;
    double x = 0;
    switch (t->init) {
    case INIT_ONES:
        return 1;
    case INIT_ZEROS:
        return 0;
    case INIT_FAN_IN_UNIFORM: { /* PyTorch's default convolution init: bound 1/sqrt(fan_in) */
        const double bound = 1.0 / sqrt((double)vit->channels * vit->patch_size * vit->patch_size);
        return (2 * rng_uniform(rng) - 1) * bound;
    }
    case INIT_TRUNC_NORMAL: /* std 0.02 cut at +-2: the reference's absolute cut */
        do x = 0.02 * rng_normal(rng);
        while (fabs(x) > 2);
        return x;
    case INIT_FAN_OUT_NORMAL:
    case INIT_SMALL_NORMAL: /* the CNN's kinds: no ViT tensor has them */
        break;
    }
    fatal_at(__FILE__, __LINE__, "vit_init: %s has a CNN init kind", t->name);
}

void vit_init(Vit *vit, uint64_t seed) {
    param_table_init(&vit->table, seed, vit_draw, vit);
}

Vit *vit_host_copy(const Vit *vit, const Space *space) {
    Vit *host = vit_create(backend_cpu(), space, 1);
    const size_t bytes = vit->table.n_params * sizeof *vit->table.params;
    vit->table.be->ops->download(vit->table.be, host->table.params, vit->table.params, bytes);
    vit->table.be->ops->download(vit->table.be, host->table.grads, vit->table.grads, bytes);
    return host;
}

bool vit_fits(const Vit *vit, const Arch *arch) {
    if (arch->embed_dim > vit->embed || arch->depth > vit->depth) return false;
    for (int l = 0; l < arch->depth; l++)
        if (arch->num_heads[l] > vit->heads || arch_hidden_dim(arch, l) > vit->hidden) return false;
    return true;
}

void vit_drop_path_scales(real *scales, const Vit *vit, const Arch *arch, int batch,
                          double max_rate, uint64_t seed, uint64_t first_sample) {
    for (int b = 0; b < batch; b++) {
        Rng rng = rng_stream_at(seed, RNG_STREAM_DROP_PATH, first_sample + (uint64_t)b);
        for (int l = 0; l < arch->depth; l++) {
            const double rate = vit->depth > 1 ? max_rate * l / (vit->depth - 1) : 0;
            for (int branch = 0; branch < 2; branch++)
                scales[((size_t)2 * l + branch) * batch + b] =
                    rng_uniform(&rng) < rate ? 0 : (real)(1 / (1 - rate));
        }
    }
}

/* ---- forward and backward ---- */

typedef struct { /* one block's slice of the activations */
    real *x, *mid, *out, *norm1, *norm2, *mean1, *rstd1, *mean2, *rstd2;
    real *q, *k, *v, *probs, *attn, *hidden, *activated;
} BlockActivations;

static BlockActivations block_activations(const VitActivations *a, int l) {
    const size_t s = a->stream_size, rows = a->rows;
    return (BlockActivations){
        .x = a->stream + 2 * l * s,
        .mid = a->stream + (2 * l + 1) * s,
        .out = a->stream + (2 * l + 2) * s,
        .norm1 = a->norm1 + l * s,
        .norm2 = a->norm2 + l * s,
        .mean1 = a->stats + 4 * l * rows,
        .rstd1 = a->stats + (4 * l + 1) * rows,
        .mean2 = a->stats + (4 * l + 2) * rows,
        .rstd2 = a->stats + (4 * l + 3) * rows,
        .q = a->q + l * a->qkv_size,
        .k = a->k + l * a->qkv_size,
        .v = a->v + l * a->qkv_size,
        .probs = a->probs + l * a->probs_size,
        .attn = a->attn + l * a->qkv_size,
        .hidden = a->hidden + l * a->hidden_size,
        .activated = a->activated + l * a->hidden_size,
    };
}

static AttentionShape attention_shape(const Vit *vit, const Arch *arch, int l, int batch) {
    return (AttentionShape){.batch = batch,
                            .tokens = vit->tokens,
                            .heads = arch->num_heads[l],
                            .head_dim = vit->head_dim,
                            .grid = vit->image_size / vit->patch_size,
                            .max_relative_position = vit->max_relative_position,
                            .scale = 1.0 / sqrt((double)vit->head_dim),
                            .threads = omp_get_max_threads() < vit->threads ? omp_get_max_threads()
                                                                            : vit->threads};
}

static void check_call(const Vit *vit, const Arch *arch, int batch) {
    if (batch < 1 || batch > vit->max_batch || !vit_fits(vit, arch))
        fatal_at(__FILE__, __LINE__, "subnet or batch %d outside the supernet's allocation", batch);
}

void vit_forward(Vit *vit, const Arch *arch, const real *images, int batch, const real *drop_scales,
                 real *logits) {
    check_call(vit, arch, batch);
    const Backend *be = vit->table.be;
    const BackendOps *ops = be->ops;
    VitActivations *a = vit->act;
    const VitTensors *p = &vit->p;
    const int E = arch->embed_dim, N = vit->tokens, rows = batch * N, Es = vit->embed;
    const int patch_in = vit->channels * vit->patch_size * vit->patch_size;
    real *x_final = a->stream + 2 * (size_t)arch->depth * a->stream_size;
    real *final_mean = a->stats + 4 * (size_t)vit->depth * a->rows,
         *final_rstd = final_mean + a->rows;

    ops->patchify(be, a->patches, images, batch, vit->channels, vit->image_size, vit->patch_size);
    ops->linear_forward(be, a->embedded, a->patches, p->patch.weight, p->patch.bias,
                        batch * vit->patches, patch_in, E, patch_in);
    ops->tokens_forward(be, a->stream, a->embedded, p->cls_token, p->pos_embed, batch, N, E, Es);
    for (int l = 0; l < arch->depth; l++) {
        const VitBlock *w = &p->blocks[l];
        const BlockActivations b = block_activations(a, l);
        const int q = vit->head_dim * arch->num_heads[l];
        const int M = arch_hidden_dim(arch, l);
        const AttentionShape shape = attention_shape(vit, arch, l, batch);
        ops->layernorm_forward(be, b.norm1, b.mean1, b.rstd1, b.x, w->attn_norm_weight,
                               w->attn_norm_bias, rows, E);
        ops->linear_forward(be, a->wide, b.norm1, w->qkv.weight, w->qkv.bias, rows, E, 3 * q, Es);
        ops->qkv_split(be, b.q, b.k, b.v, a->wide, rows, q);
        ops->attention_forward(be, b.attn, b.probs, b.q, b.k, b.v, w->rel_key_v, w->rel_key_h,
                               w->rel_value_v, w->rel_value_h, a->attention_workspace, &shape);
        ops->linear_forward(be, a->wide, b.attn, w->proj.weight, w->proj.bias, rows, q, E, Es);
        ops->residual_forward(be, b.mid, b.x, a->wide,
                              drop_scales ? drop_scales + 2 * l * batch : NULL, batch, N, E);
        ops->layernorm_forward(be, b.norm2, b.mean2, b.rstd2, b.mid, w->ffn_norm_weight,
                               w->ffn_norm_bias, rows, E);
        ops->linear_forward(be, b.hidden, b.norm2, w->fc1.weight, w->fc1.bias, rows, E, M, Es);
        ops->gelu_forward(be, b.activated, b.hidden, (size_t)rows * M);
        ops->linear_forward(be, a->wide, b.activated, w->fc2.weight, w->fc2.bias, rows, M, E,
                            vit->hidden);
        ops->residual_forward(be, b.out, b.mid, a->wide,
                              drop_scales ? drop_scales + (2 * l + 1) * batch : NULL, batch, N, E);
    }
    ops->layernorm_forward(be, a->final_norm, final_mean, final_rstd, x_final, p->norm_weight,
                           p->norm_bias, rows, E);
    ops->pool_forward(be, a->pooled, a->final_norm, batch, N, E, vit->class_token_pooling);
    ops->linear_forward(be, logits, a->pooled, p->head.weight, p->head.bias, batch, E, vit->classes,
                        Es);
}

void vit_backward(Vit *vit, const Arch *arch, const real *dlogits, int batch,
                  const real *drop_scales) {
    check_call(vit, arch, batch);
    const Backend *be = vit->table.be;
    const BackendOps *ops = be->ops;
    VitActivations *a = vit->act;
    const VitTensors *p = &vit->p, *g = &vit->g;
    const int E = arch->embed_dim, N = vit->tokens, rows = batch * N, Es = vit->embed;
    const int patch_in = vit->channels * vit->patch_size * vit->patch_size;
    const real *x_final = a->stream + 2 * (size_t)arch->depth * a->stream_size;
    const real *final_mean = a->stats + 4 * (size_t)vit->depth * a->rows,
               *final_rstd = final_mean + a->rows;

    ops->linear_backward(be, a->d_pooled, g->head.weight, g->head.bias, dlogits, a->pooled,
                         p->head.weight, batch, E, vit->classes, Es);
    ops->pool_backward(be, a->d_norm, a->d_pooled, batch, N, E, vit->class_token_pooling);
    ops->zero(be, a->d_stream, (size_t)rows * E * sizeof *a->d_stream);
    ops->layernorm_backward_accumulate(be, a->d_stream, g->norm_weight, g->norm_bias, a->d_norm,
                                       x_final, final_mean, final_rstd, p->norm_weight, rows, E);
    /* blocks the subnet does not reach keep the gradients they had: final already */
    param_table_grads_ready(&vit->table, arch->depth < vit->depth
                                             ? g->blocks[arch->depth].attn_norm_weight
                                             : g->norm_weight);
    for (int l = arch->depth - 1; l >= 0; l--) {
        const VitBlock *w = &p->blocks[l], *gw = &g->blocks[l];
        const BlockActivations b = block_activations(a, l);
        const int q = vit->head_dim * arch->num_heads[l];
        const int M = arch_hidden_dim(arch, l);
        const AttentionShape shape = attention_shape(vit, arch, l, batch);
        /* MLP branch: out = mid + DP(fc2(GELU(fc1(LN2(mid))))) */
        ops->residual_backward(be, a->d_norm, a->d_stream,
                               drop_scales ? drop_scales + (2 * l + 1) * batch : NULL, batch, N, E);
        ops->linear_backward(be, a->d_wide, gw->fc2.weight, gw->fc2.bias, a->d_norm, b.activated,
                             w->fc2.weight, rows, M, E, vit->hidden);
        ops->gelu_backward(be, a->d_wide, a->d_wide, b.hidden, (size_t)rows * M);
        ops->linear_backward(be, a->d_norm, gw->fc1.weight, gw->fc1.bias, a->d_wide, b.norm2,
                             w->fc1.weight, rows, E, M, Es);
        ops->layernorm_backward_accumulate(be, a->d_stream, gw->ffn_norm_weight, gw->ffn_norm_bias,
                                           a->d_norm, b.mid, b.mean2, b.rstd2, w->ffn_norm_weight,
                                           rows, E);
        /* attention branch: mid = x + DP(proj(Attn(qkv(LN1(x))))) */
        ops->residual_backward(be, a->d_norm, a->d_stream,
                               drop_scales ? drop_scales + 2 * l * batch : NULL, batch, N, E);
        ops->linear_backward(be, a->d_attn, gw->proj.weight, gw->proj.bias, a->d_norm, b.attn,
                             w->proj.weight, rows, q, E, Es);
        ops->attention_backward(be, a->d_q, a->d_k, a->d_v, gw->rel_key_v, gw->rel_key_h,
                                gw->rel_value_v, gw->rel_value_h, a->d_attn, b.probs, b.q, b.k, b.v,
                                w->rel_key_v, w->rel_key_h, w->rel_value_v, w->rel_value_h,
                                a->attention_workspace, &shape);
        ops->qkv_merge(be, a->d_wide, a->d_q, a->d_k, a->d_v, rows, q);
        ops->linear_backward(be, a->d_norm, gw->qkv.weight, gw->qkv.bias, a->d_wide, b.norm1,
                             w->qkv.weight, rows, E, 3 * q, Es);
        ops->layernorm_backward_accumulate(be, a->d_stream, gw->attn_norm_weight,
                                           gw->attn_norm_bias, a->d_norm, b.x, b.mean1, b.rstd1,
                                           w->attn_norm_weight, rows, E);
        param_table_grads_ready(&vit->table, gw->attn_norm_weight); /* the block's first tensor */
    }
    ops->tokens_backward(be, a->d_wide, g->cls_token, g->pos_embed, a->d_stream, batch, N, E, Es);
    ops->linear_backward(be, NULL, g->patch.weight, g->patch.bias, a->d_wide, a->patches,
                         p->patch.weight, batch * vit->patches, patch_in, E, patch_in);
    param_table_grads_ready(&vit->table, vit->table.grads);
}
