/* The supernet's properties that the oracle does not cover: gradients are exactly zero
 * outside a subnet's slices, initialisation follows method.md §3.2, drop-path rates follow
 * the supernet block index, and results are reproducible and independent of batch mates. */
#include "check.h"

#include "arch.h"
#include "cost.h"
#include "kernels.h"
#include "rng.h"
#include "space.h"
#include "vit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static Space *load(const char *name) {
    char path[128];
    snprintf(path, sizeof path, "configs/spaces/%s.cfg", name);
    Error err = {0};
    Space *space = space_load_file(path, &err);
    if (!space) {
        fprintf(stderr, "%s\n", err.message);
        exit(1);
    }
    return space;
}

/* Whether entry `i` of tensor `t` belongs to the slices of `a` (method.md §3.4), decided
 * from the tensor's name and shape alone. */
static bool in_slice(const TensorInfo *t, size_t i, const Arch *a, int head_dim) {
    const int E = a->embed_dim;
    const int64_t cols = t->shape[t->ndim - 1], row = (int64_t)i / cols, col = (int64_t)i % cols;
    if (strncmp(t->name, "patch_embed_super.proj.", 23) == 0)
        return (int64_t)(i / (t->count / t->shape[0])) < E;
    if (!strcmp(t->name, "cls_token") || !strcmp(t->name, "pos_embed") ||
        !strncmp(t->name, "norm.", 5))
        return col < E;
    if (!strcmp(t->name, "head.weight")) return col < E;
    if (!strcmp(t->name, "head.bias")) return true;
    int l;
    char rest[64];
    if (sscanf(t->name, "blocks.%d.%63s", &l, rest) != 2) return false;
    if (l >= a->depth) return false;
    const int q = head_dim * a->num_heads[l], M = arch_hidden_dim(a, l);
    if (strstr(rest, "layer_norm")) return i < (size_t)E;
    if (!strcmp(rest, "attn.qkv.weight")) return row < 3 * q && col < E;
    if (!strcmp(rest, "attn.qkv.bias")) return i < (size_t)3 * q;
    if (strstr(rest, "rel_pos_embed")) return true;
    if (!strcmp(rest, "attn.proj.weight")) return row < E && col < q;
    if (!strcmp(rest, "fc1.weight")) return row < M && col < E;
    if (!strcmp(rest, "fc1.bias")) return i < (size_t)M;
    if (!strcmp(rest, "fc2.weight")) return row < E && col < M;
    return i < (size_t)E; /* attn.proj.bias, fc2.bias */
}

static void zero_outside_slices(void) {
    Space *space = load("micro");
    Vit *vit = vit_create(backend_cpu(), space, 4);
    vit_init(vit, 1);
    Rng rng = rng_stream(3, 3);
    for (size_t i = 0; i < vit->table.n_params; i++)
        vit->table.params[i] += (real)(0.05 * (2 * rng_uniform(&rng) - 1));
    const char *archs[] = {"48:4:3,5,4,3:3,4,3.5,4", "64:5:4,3,5,4,3:4,3.5,3,4,3.5",
                           "80:6:5,5,5,5,5,5:4,4,4,4,4,4"};
    for (int k = 0; k < 3; k++) {
        Arch arch;
        Error err = {0};
        CHECK(arch_parse(archs[k], &arch, &err));
        const int batch = 4, C = vit->classes;
        real *images = malloc(sizeof(real) * batch * 28 * 28),
             *logits = malloc(sizeof(real) * batch * C);
        real *dlogits = malloc(sizeof(real) * batch * C);
        for (int i = 0; i < batch * 28 * 28; i++) images[i] = (real)rng_normal(&rng);
        for (int i = 0; i < batch * C; i++) dlogits[i] = (real)rng_normal(&rng);
        real scales[2 * 6 * 4];
        vit_drop_path_scales(scales, vit, &arch, batch, 0.1, 3, 0);
        vit_forward(vit, &arch, images, batch, scales, logits);
        param_table_zero_grads(&vit->table);
        vit_backward(vit, &arch, dlogits, batch, scales);
        size_t outside_nonzero = 0, inside = 0, inside_nonzero = 0;
        for (int t = 0; t < vit->table.n_tensors; t++) {
            const TensorInfo *info = &vit->table.tensors[t];
            for (size_t i = 0; i < info->count; i++) {
                const real g = vit->table.grads[info->offset + i];
                if (in_slice(info, i, &arch, space->head_dim)) {
                    inside++;
                    inside_nonzero += g != 0;
                } else {
                    outside_nonzero += g != 0;
                }
            }
        }
        printf("%-32s inside its slices %zu of %zu gradients are non-zero; outside: %zu\n",
               archs[k], inside_nonzero, inside, outside_nonzero);
        CHECK_EQ_I64(outside_nonzero, 0);
        CHECK_EQ_I64(inside, arch_cost(&arch, space).params); /* §3.4 slices = §4.1 count */
        CHECK(inside_nonzero > inside * 99 / 100);
        free(images), free(logits), free(dlogits);
    }
    vit_free(vit);
    space_free(space);
}

/* The engine's MLP widths are the resource model's (the reference's int(E * r)) for ratios
 * inexact in binary: fc1 of tests/spaces/ratio.cfg has 1013 rows (240 x 4.225 =
 * 1013.999...), the supernet as many entries as supernet_param_count says, and every
 * architecture of the space fits it. */
static void inexact_ratio_widths(void) {
    Error err = {0};
    Space *space = space_load_file("tests/spaces/ratio.cfg", &err);
    if (!CHECK(space != NULL)) return;
    Vit *vit = vit_create(backend_cpu(), space, 1);
    CHECK_EQ_I64(vit->hidden, 1013);
    const TensorInfo *fc1 = param_table_find(&vit->table, "blocks.1.fc1.weight");
    CHECK(fc1 && fc1->shape[0] == 1013 && fc1->shape[1] == 240);
    CHECK_EQ_I64(vit->table.n_params, supernet_param_count(space));
    Arch largest;
    arch_largest(space, &largest);
    CHECK(vit_fits(vit, &largest));
    CHECK_EQ_I64(arch_hidden_dim(&largest, 0), vit->hidden);
    vit_free(vit);
    space_free(space);
}

static double sample_std(const real *x, size_t n) {
    double s = 0, s2 = 0;
    for (size_t i = 0; i < n; i++) s += x[i], s2 += (double)x[i] * x[i];
    return sqrt(s2 / n - (s / n) * (s / n));
}

static void initialisation(void) {
    Space *space = load("vit-tiny");
    Vit *a = vit_create(backend_cpu(), space, 1), *b = vit_create(backend_cpu(), space, 1);
    vit_init(a, 5);
    vit_init(b, 5);
    CHECK(memcmp(a->table.params, b->table.params, a->table.n_params * sizeof(real)) == 0);
    CHECK_EQ_I64(a->table.n_params, 11669224); /* method.md §5.2: every tensor of Supernet-Tiny */
    vit_init(b, 6);
    CHECK(memcmp(a->table.params, b->table.params, a->table.n_params * sizeof(real)) != 0);
    const TensorInfo *qkv = param_table_find(&a->table, "blocks.3.attn.qkv.weight");
    CHECK(qkv && qkv->shape[0] == 768 && qkv->shape[1] == 256 && qkv->weight_decay);
    CHECK_NEAR(sample_std(a->table.params + qkv->offset, qkv->count), 0.02, 0.0002);
    const TensorInfo *patch = param_table_find(&a->table, "patch_embed_super.proj.weight");
    const double bound = 1 / sqrt(768.0); /* U(-b, b): std b / sqrt 3 */
    CHECK_NEAR(sample_std(a->table.params + patch->offset, patch->count), bound / sqrt(3), 0.0005);
    real lo = 1, hi = -1;
    for (size_t i = 0; i < patch->count; i++) {
        lo = a->table.params[patch->offset + i] < lo ? a->table.params[patch->offset + i] : lo;
        hi = a->table.params[patch->offset + i] > hi ? a->table.params[patch->offset + i] : hi;
    }
    CHECK(lo >= -bound && hi <= bound && hi > 0.99 * bound);
    const char *zero_names[] = {"blocks.0.attn.qkv.bias", "blocks.13.fc2.bias", "norm.bias",
                                "head.bias"};
    for (int i = 0; i < 4; i++) {
        const TensorInfo *t = param_table_find(&a->table, zero_names[i]);
        CHECK(t && sample_std(a->table.params + t->offset, t->count) == 0 &&
              a->table.params[t->offset] == 0);
        CHECK(!t->weight_decay);
    }
    const TensorInfo *gain = param_table_find(&a->table, "blocks.7.ffn_layer_norm.weight");
    CHECK(gain && a->table.params[gain->offset] == 1 && a->table.params[gain->offset + 255] == 1);
    const TensorInfo *pos = param_table_find(&a->table, "pos_embed"),
                     *cls = param_table_find(&a->table, "cls_token");
    CHECK(pos && !pos->weight_decay && pos->shape[1] == 197 && cls && !cls->weight_decay);
    const TensorInfo *table =
        param_table_find(&a->table, "blocks.2.attn.rel_pos_embed_v.embeddings_table_h");
    CHECK(table && table->weight_decay && table->shape[0] == 30 && table->shape[1] == 64);
    vit_free(a);
    vit_free(b);
    space_free(space);
}

/* Rates by supernet block index: rate(l) = 0.1 l / 13 in a 14-block supernet, whatever the
 * subnet's depth. 20 000 samples per block: the count of drops is binomial, and a bound of
 * 5 standard deviations fails a correct implementation with probability below 1e-6. */
static void drop_path_rates(void) {
    Space *space = load("vit-tiny");
    Vit *vit = vit_create(backend_cpu(), space, 1);
    Arch arch;
    Error err = {0};
    CHECK(arch_parse("192:12:4,4,4,4,3,3,3,3,3,4,3,4:4,4,4,4,4,3.5,3.5,4,4,3.5,4,4", &arch, &err));
    const int batch = 10000;
    real *scales = malloc(sizeof(real) * 2 * 12 * batch);
    vit_drop_path_scales(scales, vit, &arch, batch, 0.1, 8, 0);
    bool all_ok = true;
    for (int l = 0; l < 12; l++) {
        const double rate = 0.1 * l / 13;
        int dropped = 0;
        for (int i = 0; i < 2 * batch; i++) {
            const real s = scales[(size_t)2 * l * batch + i];
            dropped += s == 0;
            all_ok &= s == 0 || fabs(s - 1 / (1 - rate)) < 1e-6;
        }
        const double n = 2.0 * batch, sd = sqrt(n * rate * (1 - rate));
        all_ok &= fabs(dropped - n * rate) <= 5 * sd + 1e-9;
    }
    CHECK(all_ok);
    /* a sample's decisions do not depend on how samples are split into calls (ranks) */
    real *halves = malloc(sizeof(real) * 2 * 12 * 10), *whole = malloc(sizeof(real) * 2 * 12 * 10);
    vit_drop_path_scales(whole, vit, &arch, 10, 0.5, 8, 100);
    vit_drop_path_scales(halves, vit, &arch, 4, 0.5, 8, 100);
    bool same = true;
    for (int lb = 0; lb < 24; lb++)
        for (int b = 0; b < 4; b++) same &= halves[lb * 4 + b] == whole[lb * 10 + b];
    vit_drop_path_scales(halves, vit, &arch, 6, 0.5, 8, 104);
    for (int lb = 0; lb < 24; lb++)
        for (int b = 0; b < 6; b++) same &= halves[lb * 6 + b] == whole[lb * 10 + 4 + b];
    CHECK(same);
    free(halves), free(whole);
    free(scales);
    vit_free(vit);
    space_free(space);
}

/* A sample's logits do not depend on the other samples of its batch, and evaluation is
 * deterministic. */
static void batch_independence(void) {
    Space *space = load("micro");
    Vit *vit = vit_create(backend_cpu(), space, 5);
    vit_init(vit, 2);
    Arch arch;
    Error err = {0};
    CHECK(arch_parse("64:5:4,3,5,4,3:4,3.5,3,4,3.5", &arch, &err));
    Rng rng = rng_stream(4, 4);
    real images[5 * 784], logits[50], again[50], single[10];
    for (int i = 0; i < 5 * 784; i++) images[i] = (real)rng_normal(&rng);
    vit_forward(vit, &arch, images, 5, NULL, logits);
    vit_forward(vit, &arch, images, 5, NULL, again);
    CHECK(memcmp(logits, again, sizeof logits) == 0);
    vit_forward(vit, &arch, images + 3 * 784, 1, NULL, single);
    double max_diff = 0;
    for (int c = 0; c < 10; c++) max_diff = fmax(max_diff, fabs(single[c] - logits[30 + c]));
    CHECK(max_diff < 1e-5);
    vit_free(vit);
    space_free(space);
}

/* The proxies' reductions over a leading block of a larger matrix. */
static void reductions(void) {
    enum { ROWS = 37, COLS = 53, LD = 64 };
    real *a = malloc(sizeof(real) * ROWS * LD), *b = malloc(sizeof(real) * ROWS * LD);
    Rng rng = rng_stream(6, 6);
    for (int i = 0; i < ROWS * LD; i++)
        a[i] = (real)rng_normal(&rng), b[i] = (real)rng_normal(&rng);
    double product = 0, l1 = 0;
    for (int r = 0; r < 30; r++) {
        for (int c = 0; c < 40; c++) {
            product += fabs((double)a[r * LD + c] * b[r * LD + c]);
            l1 += fabs((double)a[r * LD + c]);
        }
    }
    CHECK_NEAR(sum_abs_product(a, b, 30, 40, LD), product, 1e-9 * product);
    CHECK_NEAR(sum_abs(a, 30, 40, LD), l1, 1e-9 * l1);
    CHECK(sum_abs(a, 0, 40, LD) == 0);
    free(a), free(b);
}

int main(void) {
    reductions();
    zero_outside_slices();
    initialisation();
    inexact_ratio_widths();
    drop_path_rates();
    batch_independence();
    return check_summary();
}
