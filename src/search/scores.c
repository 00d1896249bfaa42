#include "scores.h"

#include "error.h"
#include "kernels.h"
#include "sorted.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- layout ---- */

static void add_ratio(ScoreLayout *l, int ratio) {
    if (!sorted_insert(l->ratios, &l->n_ratios, SCORES_MAX_RATIOS, ratio))
        fatal_at(__FILE__, __LINE__, "more than %d distinct MLP ratios", SCORES_MAX_RATIOS);
}

ScoreLayout score_layout(const Space *space) {
    ScoreLayout l = {.n_widths = space->n_widths,
                     .depth = space->supernet.depth,
                     .max_heads = space->supernet.num_heads,
                     .head_dim = space->head_dim};
    for (int w = 0; w < space->n_widths; w++) {
        l.widths[w] = space->widths[w].embed_dim;
        for (int layer = 0; layer < space->widths[w].n_layers; layer++)
            for (int k = 0; k < space->widths[w].mlp_ratio[layer].count; k++)
                add_ratio(&l, space->widths[w].mlp_ratio[layer].values[k]);
    }
    return l;
}

int layout_width(const ScoreLayout *l, int embed_dim) {
    for (int w = 0; w < l->n_widths; w++)
        if (l->widths[w] == embed_dim) return w;
    return -1;
}

int layout_ratio(const ScoreLayout *l, int ratio) {
    for (int r = 0; r < l->n_ratios; r++)
        if (l->ratios[r] == ratio) return r;
    return -1;
}

static int largest_width(const ScoreLayout *l) {
    int largest = 0;
    for (int w = 1; w < l->n_widths; w++) largest = l->widths[w] > l->widths[largest] ? w : largest;
    return largest;
}

/* ---- sums of saliency over leading blocks of a matrix ---- */

/* prefix[(r * n_cuts) + k] = saliency summed over rows [0, r) and columns [0, cuts[k]). */
typedef struct {
    int rows, n_cuts;
    const int *cuts;
    double *prefix;
} BlockSums;

static BlockSums block_sums(const real *w, const real *g, int rows, int ld, const int *cuts,
                            int n_cuts, double (*saliency)(double, double)) {
    BlockSums b = {rows, n_cuts, cuts, xcalloc((size_t)(rows + 1) * n_cuts, sizeof(double))};
    int widest = 0;
    for (int k = 0; k < n_cuts; k++) widest = cuts[k] > widest ? cuts[k] : widest;
    double *running = xmalloc(((size_t)widest + 1) * sizeof *running);
    for (int r = 0; r < rows; r++) {
        const real *wr = w + (size_t)r * ld, *gr = g + (size_t)r * ld;
        running[0] = 0;
        for (int c = 0; c < widest; c++) running[c + 1] = running[c] + saliency(wr[c], gr[c]);
        for (int k = 0; k < n_cuts; k++)
            b.prefix[(size_t)(r + 1) * n_cuts + k] =
                b.prefix[(size_t)r * n_cuts + k] + running[cuts[k]];
    }
    free(running);
    return b;
}

static double block_sum(const BlockSums *b, int rows, int cols) {
    for (int k = 0; k < b->n_cuts; k++)
        if (b->cuts[k] == cols) return b->prefix[(size_t)rows * b->n_cuts + k];
    fatal_at(__FILE__, __LINE__, "no column cut at %d", cols);
}

/* A vector's saliency prefix: sums[n] over entries [0, n). */
static double *vector_sums(const real *w, const real *g, int n,
                           double (*saliency)(double, double)) {
    double *sums = xmalloc(((size_t)n + 1) * sizeof *sums);
    sums[0] = 0;
    for (int i = 0; i < n; i++) sums[i + 1] = sums[i] + saliency(w[i], g[i]);
    return sums;
}

static double clamp_sum(const double *sums, int n, int count) {
    return sums[count < n ? count : n];
}

/* ---- the tables ---- */

static size_t heads_size(const ScoreLayout *l) {
    return (size_t)l->n_widths * l->depth * (l->max_heads + 1);
}

static size_t mlp_size(const ScoreLayout *l) {
    return (size_t)l->n_widths * l->depth * l->n_ratios;
}

static ProxyTables tables_alloc(const ScoreLayout *l, const Proxy *proxy) {
    return (ProxyTables){proxy,
                         xcalloc(heads_size(l), sizeof(double)),
                         xcalloc(mlp_size(l), sizeof(double)),
                         xcalloc((size_t)l->n_widths, sizeof(double)),
                         xcalloc((size_t)l->depth * l->n_widths, sizeof(double)),
                         xcalloc(heads_size(l), sizeof(double)),
                         xcalloc(mlp_size(l), sizeof(double))};
}

static double inverse_norms(const real *w, const real *g, int rows, int cols, int ld) {
    const double norms = sum_abs(w, rows, cols, ld) * sum_abs(g, rows, cols, ld);
    return norms > 0 ? 1 / norms : 0;
}

static void block_tables(ProxyTables *t, const ScoreLayout *l, const Vit *vit, int layer) {
    const Proxy *p = t->proxy;
    const VitBlock *W = &vit->p.blocks[layer], *G = &vit->g.blocks[layer];
    const int Es = vit->embed, Ms = vit->hidden, d = l->head_dim, H = l->max_heads;
    const int W_n = l->n_widths, R = l->n_ratios, Emax = l->widths[largest_width(l)];
    int head_cuts[1024 + 1], mlp_cuts[SPACE_MAX_CHOICES * SCORES_MAX_RATIOS];
    for (int h = 0; h <= H; h++) head_cuts[h] = d * h;
    for (int w = 0; w < W_n; w++)
        for (int r = 0; r < R; r++)
            mlp_cuts[w * R + r] = mlp_hidden_width(l->widths[w], l->ratios[r]);
    BlockSums qkv =
        block_sums(W->qkv.weight, G->qkv.weight, 3 * Es, Es, l->widths, W_n, p->saliency);
    BlockSums proj =
        block_sums(W->proj.weight, G->proj.weight, Es, Es, head_cuts, H + 1, p->saliency);
    BlockSums fc1 = block_sums(W->fc1.weight, G->fc1.weight, Ms, Es, l->widths, W_n, p->saliency);
    BlockSums fc2 =
        block_sums(W->fc2.weight, G->fc2.weight, Es, Ms, mlp_cuts, W_n * R, p->saliency);
    double *qkv_bias = vector_sums(W->qkv.bias, G->qkv.bias, 3 * Es, p->saliency);
    double *proj_bias = vector_sums(W->proj.bias, G->proj.bias, Es, p->saliency);
    double *fc1_bias = vector_sums(W->fc1.bias, G->fc1.bias, Ms, p->saliency);
    double *fc2_bias = vector_sums(W->fc2.bias, G->fc2.bias, Es, p->saliency);
    double *norms[4] = {vector_sums(W->attn_norm_weight, G->attn_norm_weight, Es, p->saliency),
                        vector_sums(W->attn_norm_bias, G->attn_norm_bias, Es, p->saliency),
                        vector_sums(W->ffn_norm_weight, G->ffn_norm_weight, Es, p->saliency),
                        vector_sums(W->ffn_norm_bias, G->ffn_norm_bias, Es, p->saliency)};
    /* §6.3: each matrix restricted to the largest width (all rows of qkv and fc1, all columns
     * of fc2) and normalised by its own L1 norms */
    double scale_qkv = 1, scale_fc1 = 1, scale_fc2 = 1;
    if (p->layer_normalised) {
        scale_qkv = inverse_norms(W->qkv.weight, G->qkv.weight, 3 * Es, Emax, Es);
        scale_fc1 = inverse_norms(W->fc1.weight, G->fc1.weight, Ms, Emax, Es);
        scale_fc2 = inverse_norms(W->fc2.weight, G->fc2.weight, Emax, Ms, Ms);
    }
    for (int w = 0; w < W_n; w++) {
        const int E = l->widths[w], Ea = p->at_largest_width ? Emax : E;
        const size_t at = ((size_t)w * l->depth + layer), rank_at = (size_t)layer * W_n + w;
        for (int h = 0; h <= H; h++) {
            t->alloc_heads[at * (H + 1) + h] = scale_qkv * block_sum(&qkv, 3 * d * h, Ea);
            t->rank_heads[rank_at * (H + 1) + h] = block_sum(&qkv, 3 * d * h, E) +
                                                   clamp_sum(qkv_bias, 3 * Es, 3 * d * h) +
                                                   block_sum(&proj, E, d * h);
        }
        for (int r = 0; r < R; r++) {
            const int ma = mlp_hidden_width(Ea, l->ratios[r]),
                      m = mlp_hidden_width(E, l->ratios[r]);
            t->alloc_mlp[at * R + r] =
                ma > Ms ? 0
                        : scale_fc1 * block_sum(&fc1, ma, Ea) + scale_fc2 * block_sum(&fc2, Ea, ma);
            t->rank_mlp[rank_at * R + r] =
                m > Ms ? 0 : block_sum(&fc1, m, E) + fc1_bias[m] + block_sum(&fc2, E, m);
        }
        t->rank_fixed[rank_at] =
            norms[0][E] + norms[1][E] + norms[2][E] + norms[3][E] + proj_bias[E] + fc2_bias[E];
    }
    free(qkv.prefix), free(proj.prefix), free(fc1.prefix), free(fc2.prefix);
    free(qkv_bias), free(proj_bias), free(fc1_bias), free(fc2_bias);
    for (int i = 0; i < 4; i++) free(norms[i]);
}

/* Patch embedding, final norm and head (§6.4), including the reference's slicing of the head
 * bias by the embedding width (method.md §17.4; zero at initialisation anyway). */
static void global_tables(ProxyTables *t, const ScoreLayout *l, const Vit *vit) {
    const Proxy *p = t->proxy;
    const int Es = vit->embed, C = vit->classes;
    const int patch_in = vit->channels * vit->patch_size * vit->patch_size;
    int all_columns[1] = {patch_in};
    BlockSums patch = block_sums(vit->p.patch.weight, vit->g.patch.weight, Es, patch_in,
                                 all_columns, 1, p->saliency);
    BlockSums head = block_sums(vit->p.head.weight, vit->g.head.weight, C, Es, l->widths,
                                l->n_widths, p->saliency);
    double *patch_bias = vector_sums(vit->p.patch.bias, vit->g.patch.bias, Es, p->saliency);
    double *norm_w = vector_sums(vit->p.norm_weight, vit->g.norm_weight, Es, p->saliency);
    double *norm_b = vector_sums(vit->p.norm_bias, vit->g.norm_bias, Es, p->saliency);
    double *head_bias = vector_sums(vit->p.head.bias, vit->g.head.bias, C, p->saliency);
    for (int w = 0; w < l->n_widths; w++) {
        const int E = l->widths[w];
        t->rank_global[w] = block_sum(&patch, E, patch_in) + patch_bias[E] + norm_w[E] + norm_b[E] +
                            block_sum(&head, C, E) + clamp_sum(head_bias, C, E);
    }
    free(patch.prefix), free(head.prefix), free(patch_bias), free(norm_w), free(norm_b);
    free(head_bias);
}

void score_tables_compute(ScoreTables *tables, const Vit *vit, const Space *space) {
    memset(tables, 0, sizeof *tables);
    tables->layout = score_layout(space);
    for (const Proxy *const *p = proxy_all(); *p; p++) {
        ProxyTables *t = &tables->proxies[tables->n_proxies++];
        *t = tables_alloc(&tables->layout, *p);
        global_tables(t, &tables->layout, vit);
        for (int layer = 0; layer < tables->layout.depth; layer++)
            block_tables(t, &tables->layout, vit, layer);
    }
}

void score_tables_free(ScoreTables *tables) {
    for (int i = 0; i < tables->n_proxies; i++) {
        ProxyTables *t = &tables->proxies[i];
        free(t->alloc_heads), free(t->alloc_mlp), free(t->rank_global), free(t->rank_fixed);
        free(t->rank_heads), free(t->rank_mlp);
    }
    tables->n_proxies = 0;
}

const ProxyTables *score_tables_find(const ScoreTables *tables, const Proxy *proxy) {
    for (int i = 0; i < tables->n_proxies; i++)
        if (tables->proxies[i].proxy == proxy) return &tables->proxies[i];
    return NULL;
}

double score_rank(const ScoreTables *tables, const Proxy *proxy, const Arch *arch,
                  const Space *space) {
    if (proxy->arch_value) return proxy->arch_value(arch, space);
    const ProxyTables *t = score_tables_find(tables, proxy);
    const ScoreLayout *l = &tables->layout;
    const int w = layout_width(l, arch->embed_dim), W = l->n_widths, H = l->max_heads;
    if (!t || w < 0) fatal_at(__FILE__, __LINE__, "architecture outside the score tables");
    double total = t->rank_global[w];
    for (int layer = 0; layer < arch->depth; layer++) {
        const size_t at = (size_t)layer * W + w;
        total += t->rank_fixed[at] + t->rank_heads[at * (H + 1) + arch->num_heads[layer]] +
                 t->rank_mlp[at * l->n_ratios + layout_ratio(l, arch->mlp_ratio[layer])];
    }
    return total;
}

double score_isomer_value(const ScoreTables *tables, const Proxy *proxy, const Arch *arch) {
    const ProxyTables *t = score_tables_find(tables, proxy);
    const ScoreLayout *l = &tables->layout;
    const int w = layout_width(l, arch->embed_dim), H = l->max_heads;
    if (!t || w < 0) fatal_at(__FILE__, __LINE__, "architecture outside the score tables");
    double total = 0;
    for (int layer = 0; layer < arch->depth; layer++) {
        const size_t at = (size_t)w * l->depth + layer;
        total += t->alloc_heads[at * (H + 1) + arch->num_heads[layer]] +
                 t->alloc_mlp[at * l->n_ratios + layout_ratio(l, arch->mlp_ratio[layer])];
    }
    return total;
}

/* ---- scores.h5 ---- */

void scores_write(hid_t file, const ScoreTables *tables) {
    const ScoreLayout *l = &tables->layout;
    hid_t layout = h5_create_group(file, "layout");
    hsize_t n_widths[1] = {(hsize_t)l->n_widths}, n_ratios[1] = {(hsize_t)l->n_ratios};
    h5_write(layout, "widths", H5T_NATIVE_INT, 1, n_widths, l->widths);
    h5_write(layout, "ratios", H5T_NATIVE_INT, 1, n_ratios, l->ratios);
    h5_attr_int(layout, "depth", l->depth);
    h5_attr_int(layout, "max_heads", l->max_heads);
    h5_attr_int(layout, "head_dim", l->head_dim);
    CHECK_H5(H5Gclose(layout));
    hid_t proxies = h5_create_group(file, "proxies");
    const hsize_t W = (hsize_t)l->n_widths, D = (hsize_t)l->depth, H = (hsize_t)l->max_heads + 1,
                  R = (hsize_t)l->n_ratios;
    for (int i = 0; i < tables->n_proxies; i++) {
        const ProxyTables *t = &tables->proxies[i];
        hid_t g = h5_create_group(proxies, t->proxy->name);
        h5_attr_string(g, "summary", t->proxy->summary);
        h5_write(g, "alloc_heads", H5T_NATIVE_DOUBLE, 3, (hsize_t[]){W, D, H}, t->alloc_heads);
        h5_write(g, "alloc_mlp", H5T_NATIVE_DOUBLE, 3, (hsize_t[]){W, D, R}, t->alloc_mlp);
        h5_write(g, "rank_global", H5T_NATIVE_DOUBLE, 1, (hsize_t[]){W}, t->rank_global);
        h5_write(g, "rank_fixed", H5T_NATIVE_DOUBLE, 2, (hsize_t[]){D, W}, t->rank_fixed);
        h5_write(g, "rank_heads", H5T_NATIVE_DOUBLE, 3, (hsize_t[]){D, W, H}, t->rank_heads);
        h5_write(g, "rank_mlp", H5T_NATIVE_DOUBLE, 3, (hsize_t[]){D, W, R}, t->rank_mlp);
        CHECK_H5(H5Gclose(g));
    }
    CHECK_H5(H5Gclose(proxies));
}

static bool read_table(const H5Source *src, const char *proxy, const char *name, int rank,
                       const hsize_t *expected, double *out) {
    char path[128];
    snprintf(path, sizeof path, "proxies/%s/%s", proxy, name);
    hsize_t dims[3];
    hid_t d = h5_open_dataset(src, path, rank, dims);
    if (d < 0) return false;
    bool same = true;
    for (int i = 0; i < rank; i++) same &= dims[i] == expected[i];
    bool ok =
        same ? h5_read(src, d, path, H5T_NATIVE_DOUBLE, 0, 0, out)
             : input_error(src->err, "%s does not have the space's shape, %s", path, src->path);
    H5Dclose(d);
    return ok;
}

bool scores_read(const H5Source *src, const Space *space, ScoreTables *tables) {
    memset(tables, 0, sizeof *tables);
    tables->layout = score_layout(space);
    const ScoreLayout *l = &tables->layout;
    int64_t depth, heads;
    hid_t layout = h5_open_group(src, src->file, "layout");
    if (layout < 0) return false;
    bool ok = h5_read_attr_int(src, layout, "depth", &depth) &&
              h5_read_attr_int(src, layout, "max_heads", &heads);
    H5Gclose(layout);
    if (ok && (depth != l->depth || heads != l->max_heads))
        ok = input_error(src->err,
                         "the scores were computed for a supernet of depth %lld with %lld heads, "
                         "the space has %d and %d, %s",
                         (long long)depth, (long long)heads, l->depth, l->max_heads, src->path);
    const hsize_t W = (hsize_t)l->n_widths, D = (hsize_t)l->depth, H = (hsize_t)l->max_heads + 1,
                  R = (hsize_t)l->n_ratios;
    for (const Proxy *const *p = proxy_all(); ok && *p; p++) {
        char path[96];
        snprintf(path, sizeof path, "proxies/%s", (*p)->name);
        if (!h5_exists(src->file, "proxies") || !h5_exists(src->file, path)) continue;
        ProxyTables *t = &tables->proxies[tables->n_proxies++];
        *t = tables_alloc(l, *p);
        ok = read_table(src, (*p)->name, "alloc_heads", 3, (hsize_t[]){W, D, H}, t->alloc_heads) &&
             read_table(src, (*p)->name, "alloc_mlp", 3, (hsize_t[]){W, D, R}, t->alloc_mlp) &&
             read_table(src, (*p)->name, "rank_global", 1, (hsize_t[]){W}, t->rank_global) &&
             read_table(src, (*p)->name, "rank_fixed", 2, (hsize_t[]){D, W}, t->rank_fixed) &&
             read_table(src, (*p)->name, "rank_heads", 3, (hsize_t[]){D, W, H}, t->rank_heads) &&
             read_table(src, (*p)->name, "rank_mlp", 3, (hsize_t[]){D, W, R}, t->rank_mlp);
    }
    if (!ok) score_tables_free(tables);
    return ok;
}
