/* The CNN family's zero-cost scoring (src/cnn/cnn_scores.h) and selection per FLOPs group
 * (src/cnn/cnn_select.h):
 *  - tables: for the extremes and 30 sampled architectures of cnn-micro and of
 *    tests/spaces/cnn-se.cfg (SE, expansion 1 beside larger ratios, 1x1 crops), the table score
 *    of random saliencies equals their sum over the entries the subnet's backward writes
 *    (cnn_case_view_mask: the views as cnn_net itself uses them, found without the tables'
 *    walk), to 1e-12 relative, and those entries are exactly cnn_arch_cost's params;
 *  - the pass: its saliency |w * dL/dw| for subnets of both spaces, data-free and with labels,
 *    against PyTorch (tests/oracle/cnn_saliency.py, float64 autograd on cnn_count.py's network);
 *    repeatable to the bit; BigNAS's zero gammas leave every residual layer's saliency 0;
 *  - selection: each group's best N against a sort of the same uniform draws, the filling's
 *    members inside their band, every band member of the draws inside the group's box, and the
 *    same seed giving the same selection. */
#include "check.h"
#include "cnn_case.h"
#include "oracle_run.h"

#include "cnn_cost.h"
#include "cnn_scores.h"
#include "cnn_select.h"
#include "h5.h"
#include "weights.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

_Static_assert(sizeof(real) == sizeof(float), "the oracle checks the float engine");

static int largest_resolution(const CnnSpace *space) {
    return space->resolution.values[space->resolution.count - 1];
}

/* ---- the tables against the views ---- */

static void tables_case(const char *path, uint64_t seed) {
    CnnSpace *space = cnn_case_space(path);
    Error err = {0};
    CnnNet *net = cnn_net_create(backend_cpu(), space, 2, &err);
    Rng rng = rng_stream(seed, 1);
    cnn_case_random_weights(net, &rng);
    const size_t n = net->table.n_params;
    double *saliency = malloc(n * sizeof *saliency), total = 0;
    bool *mask = malloc(n * sizeof *mask);
    for (size_t i = 0; i < n; i++) total += saliency[i] = rng_uniform(&rng);
    CnnScoreTables *tables = cnn_score_tables_build(net, space, saliency);
    const int side = largest_resolution(space);
    real *images = malloc((size_t)2 * net->in_channels * side * side * sizeof *images);
    real *logits = malloc((size_t)2 * net->classes * sizeof *logits);
    real *dlogits = malloc((size_t)2 * net->classes * sizeof *dlogits);
    double worst = 0;
    int agree = 0, counted = 0;
    for (int i = 0; i < 32; i++) {
        CnnArch arch;
        cnn_case_pick(space, i, &rng, &arch);
        const int64_t entries =
            (int64_t)cnn_case_view_mask(net, &arch, &rng, images, logits, dlogits, mask);
        double direct = 0;
        for (size_t j = 0; j < n; j++)
            if (mask[j]) direct += saliency[j];
        const double table = cnn_score(tables, &arch), rel = fabs(table - direct) / direct;
        worst = rel > worst ? rel : worst;
        agree += rel <= 1e-12;
        counted += entries == cnn_arch_cost(&arch, space).params;
        if (rel > 1e-12 || entries != cnn_arch_cost(&arch, space).params) {
            char text[CNN_ARCH_TEXT_MAX];
            cnn_arch_format(&arch, text, sizeof text);
            fprintf(stderr, "     %s: table %.17g, views %.17g over %lld entries\n", text, table,
                    direct, (long long)entries);
        }
    }
    printf("%s: %d of 32 table scores within 1e-12 of the views' sum (worst %.1e), %d over "
           "exactly cnn_arch_cost's params; tables %.2f MB\n",
           path, agree, worst, counted, tables->bytes / 1e6);
    CHECK_EQ_I64(agree, 32);
    CHECK_EQ_I64(counted, 32);
    /* the largest architecture holds every supernet parameter */
    CnnArch largest;
    cnn_arch_largest(space, &largest);
    CHECK_NEAR(cnn_score(tables, &largest) / total, 1, 1e-12);
    free(images), free(logits), free(dlogits), free(saliency), free(mask);
    cnn_score_tables_free(tables);
    cnn_net_free(net);
    cnn_space_free(space);
}

/* ---- the pass against PyTorch ---- */

enum { BATCH = 4 };

typedef struct {
    const char *label, *space, *arch;
    bool labels; /* cross-entropy on labels; else data-free */
} PassCase;

static const PassCase PASS_CASES[] = {
    {"cnn-micro: data-free, a sliced subnet with 3x3 of 5x5", "configs/spaces/cnn-micro.cfg",
     "28:16:16x1k3e1:16x2k5e6:32x2k3e6:40x3k5e6:56x2k3e6:192", false},
    {"cnn-micro: labels, a shallow subnet", "configs/spaces/cnn-micro.cfg",
     "24:24:8x1k3e1:24x1k3e6:24x3k5e6:48x2k3e6:64x2k5e6:256", true},
    {"cnn-se: data-free, SE, e 1 of 3, 1x1 of 3x3", "tests/spaces/cnn-se.cfg",
     "17:6:8x2k3e1:12x3k5e4:3x2k1e2:24x2k3e6:32", false},
};

/* The saliency by tensor name, in double. */
static void write_saliency(hid_t file, const char *group, const CnnNet *net, const double *s) {
    hid_t g = h5_create_group(file, group);
    for (int i = 0; i < net->table.n_tensors; i++) {
        const TensorInfo *t = &net->table.tensors[i];
        hsize_t dims[4];
        for (int d = 0; d < t->ndim; d++) dims[d] = (hsize_t)t->shape[d];
        h5_write(g, t->name, H5T_NATIVE_DOUBLE, t->ndim, dims, s + t->offset);
    }
    H5Gclose(g);
}

static void pass_case(hid_t file, int index, const PassCase *c) {
    CnnSpace *space = cnn_case_space(c->space);
    const CnnArch arch = cnn_case_arch(c->arch, space);
    Error err = {0};
    CnnNet *net = cnn_score_net_create(backend_cpu(), space, arch.resolution, BATCH, &err);
    cnn_score_init(net, 7 + (uint64_t)index, false);
    const size_t image = (size_t)net->in_channels * arch.resolution * arch.resolution;
    real *images = malloc(BATCH * image * sizeof *images);
    cnn_data_free_images(images, BATCH, net->in_channels, arch.resolution, 11);
    int labels[BATCH];
    for (int b = 0; b < BATCH; b++) labels[b] = (3 * b + index) % net->classes;
    const double loss = cnn_score_pass(net, &arch, images, c->labels ? labels : NULL, BATCH);
    double *saliency = cnn_saliency(net);
    /* repeatable: the same pass gives the same bits */
    CHECK(cnn_score_pass(net, &arch, images, c->labels ? labels : NULL, BATCH) == loss);
    double *again = cnn_saliency(net);
    CHECK(memcmp(saliency, again, net->table.n_params * sizeof *again) == 0);

    char name[32], text[CNN_ARCH_TEXT_MAX];
    snprintf(name, sizeof name, "case%d", index);
    cnn_arch_format(&arch, text, sizeof text);
    hid_t g = h5_create_group(file, name);
    h5_attr_string(g, "label", c->label);
    h5_attr_string(g, "space", c->space);
    h5_attr_string(g, "arch", text);
    weights_write(g, "params", &net->table, net->table.params);
    write_saliency(g, "saliency", net, saliency);
    const hsize_t dims[4] = {BATCH, (hsize_t)net->in_channels, (hsize_t)arch.resolution,
                             (hsize_t)arch.resolution};
    h5_write(g, "images", H5T_NATIVE_FLOAT, 4, dims, images);
    if (c->labels) h5_write(g, "labels", H5T_NATIVE_INT, 1, dims, labels);
    const hsize_t one = 1;
    h5_write(g, "loss", H5T_NATIVE_DOUBLE, 1, &one, &loss);
    H5Gclose(g);
    free(again), free(saliency), free(images);
    cnn_net_free(net);
    cnn_space_free(space);
}

/* BigNAS's zero gammas stop every residual branch's gradient: SNIP at that initialisation gives
 * every parameter of every layer but a stage's first exactly 0 (cnn_score_init's reason). */
static void zero_gamma_case(void) {
    CnnSpace *space = cnn_case_space("configs/spaces/cnn-micro.cfg");
    CnnArch arch;
    cnn_arch_largest(space, &arch);
    Error err = {0};
    CnnNet *net = cnn_score_net_create(backend_cpu(), space, arch.resolution, 2, &err);
    real *images = malloc((size_t)2 * arch.resolution * arch.resolution * sizeof *images);
    cnn_data_free_images(images, 2, 1, arch.resolution, 3);
    for (int bignas = 0; bignas < 2; bignas++) {
        cnn_score_init(net, 5, bignas);
        cnn_score_pass(net, &arch, images, NULL, 2);
        double *saliency = cnn_saliency(net), residual = 0, first = 0;
        for (int i = 0; i < net->table.n_tensors; i++) {
            const TensorInfo *t = &net->table.tensors[i];
            int s, l;
            if (sscanf(t->name, "stages.%d.%d.", &s, &l) != 2) continue;
            for (size_t j = 0; j < t->count; j++)
                *(l > 0 ? &residual : &first) += saliency[t->offset + j];
        }
        printf("cnn-micro largest, %s: saliency of residual layers %.3e, of first layers %.3e\n",
               bignas ? "BigNAS's zero gammas" : "gammas 1", residual, first);
        CHECK(first > 0);
        CHECK(bignas ? residual == 0 : residual > 0);
        free(saliency);
    }
    free(images);
    cnn_net_free(net);
    cnn_space_free(space);
}

/* ---- selection ---- */

typedef struct {
    CnnArch arch;
    double score;
    int64_t draw;
} Drawn;

static int by_rank(const void *pa, const void *pb) {
    const Drawn *a = pa, *b = pb;
    if (a->score != b->score) return a->score > b->score ? -1 : 1;
    return a->draw < b->draw ? -1 : a->draw > b->draw;
}

static double table_score(const CnnArch *arch, const void *tables) {
    return cnn_score(tables, arch);
}

/* A coarse score with many ties (the sum of the stage depths), so that the order of equal
 * scores is checked too. */
static double depth_score(const CnnArch *arch, const void *ctx) {
    (void)ctx;
    double d = 0;
    for (int s = 0; s < arch->n_stages; s++) d += arch->stages[s].depth;
    return d;
}

static bool in_box(const CnnArch *a, const CnnSpace *box) {
    bool in = cnn_choices_contain(&box->resolution, a->resolution) &&
              cnn_choices_contain(&box->stem.channels, a->stem_channels) &&
              cnn_choices_contain(&box->head_channels, a->head_channels);
    for (int s = 0; s < a->n_stages; s++) {
        const CnnStageSpace *b = &box->stages[s];
        in = in && cnn_choices_contain(&b->depth, a->stages[s].depth) &&
             cnn_choices_contain(&b->channels, a->stages[s].channels) &&
             cnn_choices_contain(&b->kernel, a->stages[s].kernel) &&
             cnn_choices_contain(&b->expand_ratio, a->stages[s].expand_ratio);
    }
    return in;
}

/* The selection of `samples` draws without filling against sorting them all. */
static void selection_against_sort(const CnnSpace *space, CnnScoreFn score, const void *ctx,
                                   const char *what) {
    enum { SAMPLES = 20000, TOP = 7 };
    const CnnSelectOptions o = {SAMPLES, TOP, 99, 0, 0};
    CnnSelection sel = cnn_select(space, &o, score, ctx);
    Drawn *drawn = malloc(SAMPLES * sizeof *drawn);
    const CnnGroups *groups = &space->groups;
    CnnSpace *box = malloc(sizeof *box);
    int exact = 0;
    for (int g = 0; g < groups->count; g++) {
        Rng rng = rng_stream(99, RNG_STREAM_CNN_SELECT);
        int n = 0, outside_box = 0;
        CHECK(cnn_group_box(space, groups->lo[g], groups->hi[g], box));
        for (int64_t i = 0; i < SAMPLES; i++) {
            CnnArch a;
            cnn_arch_sample(space, &rng, &a);
            if (cnn_group_of(groups, cnn_arch_cost(&a, space).flops) != g) continue;
            outside_box += !in_box(&a, box);
            drawn[n++] = (Drawn){a, score(&a, ctx), i};
        }
        CHECK_EQ_I64(outside_box, 0);
        CHECK_EQ_I64(sel.groups[g].uniform, n);
        qsort(drawn, (size_t)n, sizeof *drawn, by_rank);
        int kept = 0;
        bool same = true;
        for (int i = 0; i < n && kept < TOP; i++) {
            bool seen = false;
            for (int j = 0; j < i && !seen; j++)
                seen = cnn_arch_equal(&drawn[j].arch, &drawn[i].arch);
            if (seen) continue;
            const CnnCandidate *c = &sel.groups[g].best[kept++];
            same = same && kept <= sel.groups[g].kept && cnn_arch_equal(&c->arch, &drawn[i].arch) &&
                   c->score == drawn[i].score && c->draw == drawn[i].draw;
        }
        exact += same && kept == sel.groups[g].kept;
        printf("  %s, group %g M: %d uniform members, best %d as the sort's: %s\n", what,
               groups->target[g], n, kept, same && kept == sel.groups[g].kept ? "yes" : "NO");
    }
    CHECK_EQ_I64(exact, groups->count);
    int64_t members = sel.outside;
    for (int g = 0; g < groups->count; g++) members += sel.groups[g].uniform;
    CHECK_EQ_I64(members, SAMPLES);
    free(box);
    free(drawn);
    cnn_selection_free(&sel);
}

static bool same_selection(const CnnSelection *a, const CnnSelection *b) {
    bool same = a->n_groups == b->n_groups && a->outside == b->outside;
    for (int g = 0; same && g < a->n_groups; g++) {
        const CnnGroupSelection *x = &a->groups[g], *y = &b->groups[g];
        same = x->kept == y->kept && x->uniform == y->uniform && x->fill_draws == y->fill_draws;
        for (int i = 0; same && i < x->kept; i++)
            same = cnn_arch_equal(&x->best[i].arch, &y->best[i].arch) &&
                   x->best[i].score == y->best[i].score;
    }
    return same;
}

static void selection_case(void) {
    CnnSpace *space = cnn_case_space("configs/spaces/cnn-micro.cfg");
    CHECK_EQ_I64(space->groups.count, 4);
    CnnArch arch;
    cnn_arch_largest(space, &arch);
    Error err = {0};
    CnnNet *net = cnn_score_net_create(backend_cpu(), space, arch.resolution, 2, &err);
    cnn_score_init(net, 1, false);
    real *images = malloc((size_t)2 * arch.resolution * arch.resolution * sizeof *images);
    cnn_data_free_images(images, 2, 1, arch.resolution, 1);
    cnn_score_pass(net, &arch, images, NULL, 2);
    double *saliency = cnn_saliency(net);
    CnnScoreTables *tables = cnn_score_tables_build(net, space, saliency);
    selection_against_sort(space, table_score, tables, "SNIP");
    selection_against_sort(space, depth_score, NULL, "depth (ties)");

    /* filling: the 2 M group (thin) up to 300 members, every one inside its band */
    const CnnSelectOptions o = {2000, 5, 4, 300, 200000};
    CnnSelection a = cnn_select(space, &o, table_score, tables);
    const CnnGroupSelection *thin = &a.groups[0];
    printf("  filling the %g M group: %lld uniform members, %lld of %lld box draws\n",
           space->groups.target[0], (long long)thin->uniform, (long long)thin->fill_members,
           (long long)thin->fill_draws);
    CHECK(thin->uniform < 300 && thin->uniform + thin->fill_members == 300);
    bool inside = true;
    for (int g = 0; g < a.n_groups; g++)
        for (int i = 0; i < a.groups[g].kept; i++)
            inside = inside && a.groups[g].best[i].cost.flops >= a.groups[g].lo &&
                     a.groups[g].best[i].cost.flops <= a.groups[g].hi &&
                     a.groups[g].best[i].cost.flops ==
                         cnn_arch_cost(&a.groups[g].best[i].arch, space).flops;
    CHECK(inside);
    /* seeded: the same seed the same selection, another seed another */
    CnnSelection b = cnn_select(space, &o, table_score, tables);
    CHECK(same_selection(&a, &b));
    const CnnSelectOptions other = {2000, 5, 5, 300, 200000};
    CnnSelection c = cnn_select(space, &other, table_score, tables);
    CHECK(!same_selection(&a, &c));
    cnn_selection_free(&a), cnn_selection_free(&b), cnn_selection_free(&c);
    cnn_score_tables_free(tables);
    free(saliency), free(images);
    cnn_net_free(net);
    cnn_space_free(space);
}

int main(void) {
    h5_silence();
    tables_case("configs/spaces/cnn-micro.cfg", 31);
    tables_case("tests/spaces/cnn-se.cfg", 32);
    zero_gamma_case();
    selection_case();
    char dir[] = "/tmp/prenas-test-cnn-scores-XXXXXX";
    if (!mkdtemp(dir)) return 1;
    char path[512];
    snprintf(path, sizeof path, "%s/cnn-saliency.h5", dir);
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    CHECK(f >= 0);
    for (int i = 0; i < (int)(sizeof PASS_CASES / sizeof PASS_CASES[0]); i++)
        pass_case(f, i, &PASS_CASES[i]);
    H5Fclose(f);
    oracle_run("tests/oracle/cnn_saliency.py", path, dir);
    return check_summary();
}
