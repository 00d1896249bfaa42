/* prenas-op-parity: the CUDA backend against the CPU backend, op by op (tests/ops/op_cases.c)
 * and a whole training step of the micro and Tiny supernets, with timings on request.
 *
 *   prenas-op-parity [--device cuda|cpu] [--precision fp32|tf32|bf16] [--timing]
 *                    [--filter SUBSTR] [--steps-only]
 *
 * `--device cpu --precision bf16` tests the CPU's bf16 products (kernels/cpu/gemm_bf16.h)
 * against its fp32 the same way. Exit status: 0 when every comparison passes, 1 when one
 * fails, 77 (ctest's skip) when the backend asked for is not there (no usable GPU; a CPU
 * without AVX512-BF16), 2 for a bad command line. --against-cpu, left out of the usage text on
 * purpose, compares the CPU backend with itself: every error must be exactly 0, so it checks
 * the harness rather than a backend (ctest op_parity_selfcheck runs it where there is no GPU).
 *
 * Dependencies are on purpose few (kernels/; vit, model, optim, rng, arch, error of src/): the
 * GPU machine builds this without MPI, HDF5, libconfig or cJSON, so the spaces are written
 * here rather than read from configs/spaces/. */
#include "op_cases.h"

#include "arch.h"
#include "error.h"
#include "model.h"
#include "optim.h"
#include "rng.h"
#include "space.h"
#include "vit.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
    Precision precision;
    const char *device;
    bool timing, steps_only, against_cpu;
    const char *filter;
} Options;

typedef struct {
    int cases, passed, failed, skipped;
    bool family_skipped[OP_FAMILIES]; /* said once per family */
} Tally;

/* The two backends: `ref` the CPU, `test` the one under test. */
typedef struct {
    const Backend *ref, *test;
    const char *test_label; /* "gpu", or "cpu2" in the self-check */
} Pair;

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static uint64_t name_seed(const char *name) { /* FNV-1a: inputs do not depend on the filter */
    uint64_t h = 0xcbf29ce484222325ULL;
    for (; *name; name++) h = (h ^ (unsigned char)*name) * 0x100000001b3ULL;
    return h;
}

static bool selected(const Options *o, const char *name) {
    return !o->filter || strstr(name, o->filter) != NULL;
}

/* One compact line per comparison: name, precision, worst error, tolerance, verdict, the
 * timings, and last (the only field of varying width) where the worst error is. */
static void report(Tally *t, const Options *o, const char *name, double err, const char *where,
                   double tol, const char *timing) {
    const bool pass = err <= tol; /* NaN fails */
    t->cases++;
    if (pass)
        t->passed++;
    else
        t->failed++;
    printf("%-42s %s  err %8.1e  tol %7.0e  %s%s%s%s\n", name, op_precision_name(o->precision), err,
           tol, pass ? "PASS" : "FAIL", timing ? timing : "", where ? "  " : "",
           where ? where : "");
    fflush(stdout);
}

/* ---- comparing buffers ---- */

static double value_at(const OpBuffer *b, const void *p, size_t i) {
    switch (b->kind) {
    case BUF_INT:
        return ((const int *)p)[i];
    case BUF_RESULT:
        return ((const double *)p)[i];
    default:
        return (double)((const real *)p)[i];
    }
}

/* max|got - ref| / max|ref|; non-finite entries must be the same class on both sides (a NaN
 * where the reference has one is agreement). */
static double buffer_error(const OpBuffer *b, const void *ref, const void *got) {
    if (b->kind == BUF_SEGMENTS)
        return memcmp(ref, got, b->count * sizeof(AdamWSegment)) ? INFINITY : 0;
    double max_ref = 0, max_err = 0;
    for (size_t i = 0; i < b->count; i++) {
        const double r = value_at(b, ref, i), g = value_at(b, got, i);
        if (isnan(r) || isnan(g)) {
            if (!(isnan(r) && isnan(g))) return INFINITY;
            continue;
        }
        if (isinf(r) || isinf(g)) {
            if (r != g) return INFINITY;
            continue;
        }
        max_ref = fmax(max_ref, fabs(r));
        max_err = fmax(max_err, fabs(g - r));
    }
    return max_err == 0 ? 0 : max_err / fmax(max_ref, 1e-30);
}

/* Inputs and upstream gradients must come back untouched and integers must agree, whatever
 * the precision; everything else gets the case's tolerance. */
static double buffer_tolerance(const OpCase *c, const OpBuffer *b, Precision precision) {
    if (b->role == ROLE_INPUT || b->role == ROLE_UPSTREAM || b->kind == BUF_INT ||
        b->kind == BUF_SEGMENTS)
        return 0;
    return op_tolerance(c->tolerance, precision);
}

/* ---- timing ---- */

enum { TIMING_REPEATS = 7 };

static int compare_doubles(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median milliseconds of forward (+ backward) on inputs already on the backend, after one
 * untimed call; accumulating outputs keep growing across repeats, which costs the same. */
static double time_case(const OpCase *c, const Backend *be, const OpLayout *l, void *const *in) {
    void *dev[OP_MAX_BUFFERS] = {0};
    op_device_upload(be, l, in, dev);
    const bool backward = op_case_has_backward(l);
    double ms[TIMING_REPEATS];
    for (int r = -1; r < TIMING_REPEATS; r++) {
        be->ops->sync(be);
        const double start = now();
        op_case_forward(c, be, l, dev);
        if (backward) op_case_backward(c, be, l, dev);
        be->ops->sync(be);
        if (r >= 0) ms[r] = 1e3 * (now() - start);
    }
    op_device_free(be, l, dev);
    qsort(ms, TIMING_REPEATS, sizeof ms[0], compare_doubles);
    return ms[TIMING_REPEATS / 2];
}

/* ---- op cases ---- */

static void run_op_case(const OpCase *c, const Pair *pair, const Options *o, Tally *t) {
    if (!op_case_supported(c, pair->test)) { /* backend.h: a family a backend leaves out */
        if (!t->family_skipped[c->family])
            printf("%s: not implemented on %s: its cases are skipped\n", op_family_name(c->family),
                   pair->test->name);
        t->family_skipped[c->family] = true;
        t->skipped++;
        return;
    }
    OpLayout ref_layout, test_layout;
    op_case_layout(c, pair->ref, &ref_layout);
    op_case_layout(c, pair->test, &test_layout);
    void *in[OP_MAX_BUFFERS] = {0}, *ref[OP_MAX_BUFFERS] = {0}, *got[OP_MAX_BUFFERS] = {0};
    op_host_alloc(&ref_layout, in);
    op_host_alloc(&ref_layout, ref);
    op_host_alloc(&ref_layout, got);
    op_case_init(c, &ref_layout, in, name_seed(c->name));
    op_case_run(c, pair->ref, &ref_layout, true, in, ref);
    op_case_run(c, pair->test, &test_layout, true, in, got);

    /* the buffer furthest beyond (or closest to) its tolerance */
    double worst_err = 0, worst_tol = 0, worst_ratio = -1;
    const char *worst = NULL;
    for (int i = 0; i < ref_layout.count; i++) {
        const OpBuffer *b = &ref_layout.b[i];
        if (b->kind == BUF_SCRATCH) continue;
        const double err = buffer_error(b, ref[i], got[i]);
        const double tol = buffer_tolerance(c, b, o->precision);
        const double ratio = err == 0 ? 0 : tol > 0 ? err / tol : INFINITY;
        if (ratio > worst_ratio || (ratio == worst_ratio && err > worst_err)) {
            worst_ratio = ratio;
            worst_err = err;
            worst_tol = tol;
            worst = b->name;
        }
    }
    /* a case whose every buffer is exact shows its class's tolerance */
    if (worst_err == 0) worst_tol = op_tolerance(c->tolerance, o->precision);
    char where[40], timing[96] = "";
    snprintf(where, sizeof where, "(%s)", worst ? worst : "-");
    if (worst_err == 0) where[0] = '\0';
    if (o->timing) {
        const double ref_ms = time_case(c, pair->ref, &ref_layout, in);
        const double test_ms = time_case(c, pair->test, &test_layout, in);
        snprintf(timing, sizeof timing, "  cpu %10.4f ms  %s %10.4f ms", ref_ms, pair->test_label,
                 test_ms);
    }
    report(t, o, c->name, worst_err, where[0] ? where : NULL, worst_tol, timing);
    op_host_free(&ref_layout, in);
    op_host_free(&ref_layout, ref);
    op_host_free(&ref_layout, got);
}

/* ---- whole training steps ---- */

/* A `choices` space as space.c builds it from a file (fill_uniform_widths): every width
 * takes every depth and every layer every head count and ratio. */
static void uniform_space(Space *sp, const char *name, int image_size, int patch_size, int channels,
                          int classes, int head_dim, int radius, SupernetShape supernet,
                          const ChoiceList *embed, const ChoiceList *depth, const ChoiceList *heads,
                          const ChoiceList *ratios) {
    memset(sp, 0, sizeof *sp);
    snprintf(sp->name, sizeof sp->name, "%s", name);
    snprintf(sp->source, sizeof sp->source, "tests/ops/op_parity.c (%s)", name);
    sp->image_size = image_size;
    sp->patch_size = patch_size;
    sp->in_channels = channels;
    sp->num_classes = classes;
    sp->head_dim = head_dim;
    sp->max_relative_position = radius;
    sp->supernet = supernet;
    sp->uniform = true;
    sp->choices.embed_dim = *embed;
    sp->choices.depth = *depth;
    sp->choices.num_heads = *heads;
    sp->choices.mlp_ratio = *ratios;
    sp->n_widths = embed->count;
    for (int w = 0; w < embed->count; w++) {
        SpaceWidth *width = &sp->widths[w];
        width->embed_dim = embed->values[w];
        width->depths = *depth;
        width->n_layers = depth->values[depth->count - 1];
        for (int l = 0; l < width->n_layers; l++) {
            width->num_heads[l] = *heads;
            width->mlp_ratio[l] = *ratios;
        }
    }
}

/* configs/spaces/micro.cfg */
static void micro_space(Space *sp) {
    const ChoiceList embed = {3, {48, 64, 80}}, depth = {3, {4, 5, 6}}, heads = {3, {3, 4, 5}},
                     ratios = {3, {3000, 3500, 4000}};
    uniform_space(sp, "micro", 28, 4, 1, 10, 16, 7, (SupernetShape){80, 6, 5, 4000}, &embed, &depth,
                  &heads, &ratios);
}

/* configs/spaces/vit-tiny.cfg */
static void tiny_space(Space *sp) {
    const ChoiceList embed = {3, {192, 216, 240}}, depth = {3, {12, 13, 14}}, heads = {2, {3, 4}},
                     ratios = {2, {3500, 4000}};
    uniform_space(sp, "vit-tiny", 224, 16, 3, 1000, 64, 14, (SupernetShape){256, 14, 4, 4000},
                  &embed, &depth, &heads, &ratios);
}

typedef struct {
    const char *name;
    const Space *space;
    Arch arch;
    int batch;
} StepCase;

enum { STEP_INIT_SEED = 11, STEP_DROP_SEED = 77 };

/* Host copies of a backend's arena. */
static real *download(const Backend *be, const real *src, size_t n) {
    real *host = xmalloc(n * sizeof *host);
    be->ops->download(be, host, src, n * sizeof *host);
    return host;
}

/* From the same initial weights: forward (cross-entropy, smoothing 0.1, drop path 0.1 with a
 * fixed seed) and backward of the mean loss. Returns the loss sum. */
static double train_pass(Model *model, const StepCase *sc, const real *images, const int *labels) {
    vit_init(model->vit, STEP_INIT_SEED);
    param_table_zero_grads(&model->vit->table);
    const Loss loss = {LOSS_CROSS_ENTROPY, labels, NULL, NULL, 0.1};
    const DropPath drop = {0.1, STEP_DROP_SEED, 0};
    const double sum =
        model_forward(model, &(const ModelArch){.family = FAMILY_VIT, .vit = sc->arch}, images,
                      sc->batch, &loss, &drop);
    model_backward(model, &(const ModelArch){.family = FAMILY_VIT, .vit = sc->arch}, sc->batch,
                   1.0 / sc->batch);
    return sum;
}

/* The worst tensor of two arenas laid out as vit->table.tensors: each tensor's error normalised by
 * its own largest reference entry (*name NULL when every one agrees exactly). */
static double worst_tensor(const Vit *vit, const real *ref, const real *got, const char **name) {
    double worst = 0;
    *name = NULL;
    for (int i = 0; i < vit->table.n_tensors; i++) {
        const TensorInfo *ti = &vit->table.tensors[i];
        const OpBuffer view = {.kind = BUF_REAL, .count = ti->count};
        const double err = buffer_error(&view, ref + ti->offset, got + ti->offset);
        if (err > worst || isnan(err)) {
            worst = err;
            *name = ti->name;
        }
    }
    return worst;
}

/* Steps per second of forward, backward and AdamW, after one untimed step; at least three
 * steps and a second. */
static double step_rate(Model *model, const StepCase *sc, const real *images, const int *labels) {
    AdamW opt = adamw_create(model->table, 0.9, 0.999, 1e-8, 0.05);
    const Backend *be = model->be;
    const Loss loss = {LOSS_CROSS_ENTROPY, labels, NULL, NULL, 0.1};
    int steps = 0;
    double start = 0, elapsed = 0;
    for (int s = -1; s < 3 || elapsed < 1.0; s++) {
        if (s == 0) start = now();
        const DropPath drop = {0.1, STEP_DROP_SEED, (uint64_t)(s + 1) * (uint64_t)sc->batch};
        param_table_zero_grads(&model->vit->table);
        model_forward(model, &(const ModelArch){.family = FAMILY_VIT, .vit = sc->arch}, images,
                      sc->batch, &loss, &drop);
        model_backward(model, &(const ModelArch){.family = FAMILY_VIT, .vit = sc->arch}, sc->batch,
                       1.0 / sc->batch);
        adamw_step(&opt, model->table, 1e-4);
        be->ops->sync(be);
        if (s >= 0) {
            steps++;
            elapsed = now() - start;
        }
        if (steps >= 200) break;
    }
    adamw_free(&opt);
    return steps * sc->batch / elapsed;
}

static void run_step(const StepCase *sc, const Pair *pair, const Options *o, Tally *t) {
    const ModelSpace space = model_space_of_vit(sc->space);
    Model *ref = model_create(pair->ref, &space, sc->batch, 0, NULL);
    Model *test = model_create(pair->test, &space, sc->batch, 0, NULL);
    const Vit *rv = ref->vit;
    const size_t n = rv->table.n_params, classes = (size_t)rv->classes;
    const size_t image = (size_t)rv->channels * rv->image_size * rv->image_size;
    real *images = xmalloc((size_t)sc->batch * image * sizeof *images);
    int *labels = xmalloc((size_t)sc->batch * sizeof *labels);
    Rng rng = rng_stream(name_seed(sc->name), 0);
    for (size_t i = 0; i < (size_t)sc->batch * image; i++) images[i] = (real)rng_normal(&rng);
    for (int b = 0; b < sc->batch; b++) labels[b] = (int)((7 * (size_t)b + 3) % classes);
    const double tol_out = op_tolerance(TOL_STEP_OUTPUT, o->precision);
    const double tol_grad = op_tolerance(TOL_STEP_GRAD, o->precision);
    const double tol_update = op_tolerance(TOL_ELEMENTWISE, o->precision);
    char name[96];
    const char *where;

    /* forward and backward on both */
    const double ref_loss = train_pass(ref, sc, images, labels);
    const double test_loss = train_pass(test, sc, images, labels);
    const size_t n_logits = (size_t)sc->batch * classes;
    real *ref_logits = xmalloc(n_logits * sizeof *ref_logits);
    real *test_logits = xmalloc(n_logits * sizeof *test_logits);
    memcpy(ref_logits, model_logits(ref, sc->batch), n_logits * sizeof *ref_logits);
    memcpy(test_logits, model_logits(test, sc->batch), n_logits * sizeof *test_logits);
    real *ref_grads = download(pair->ref, rv->table.grads, n);
    real *test_grads = download(pair->test, test->vit->table.grads, n);

    snprintf(name, sizeof name, "%s: loss", sc->name);
    const OpBuffer scalar = {.kind = BUF_RESULT, .count = 1};
    report(t, o, name, buffer_error(&scalar, &ref_loss, &test_loss), NULL, tol_out, NULL);
    snprintf(name, sizeof name, "%s: logits", sc->name);
    const OpBuffer logits = {.kind = BUF_REAL, .count = n_logits};
    report(t, o, name, buffer_error(&logits, ref_logits, test_logits), NULL, tol_out, NULL);
    snprintf(name, sizeof name, "%s: gradients", sc->name);
    const double grad_err = worst_tensor(rv, ref_grads, test_grads, &where);
    char tensor[96];
    snprintf(tensor, sizeof tensor, "(%s)", where ? where : "");
    report(t, o, name, grad_err, where ? tensor : NULL, tol_grad, NULL);

    /* the same step again from the same state: bit for bit (backend.h: no atomics) */
    train_pass(test, sc, images, labels);
    real *again = download(pair->test, test->vit->table.grads, n);
    const bool same =
        memcmp(again, test_grads, n * sizeof *again) == 0 &&
        memcmp(model_logits(test, sc->batch), test_logits, n_logits * sizeof *test_logits) == 0;
    snprintf(name, sizeof name, "%s: repeat bit-identical", sc->name);
    report(t, o, name, same ? 0 : INFINITY, same ? NULL : "(grads or logits differ)", 0, NULL);

    /* AdamW from the reference's gradients on both: with each backend's own, entries whose
     * gradient is within rounding of zero could move by lr in opposite directions (the first
     * step moves every entry by about lr sign(g)), which says nothing about either backend */
    pair->test->ops->upload(pair->test, test->vit->table.grads, ref_grads, n * sizeof *ref_grads);
    AdamW ref_opt = adamw_create(&rv->table, 0.9, 0.999, 1e-8, 0.05);
    AdamW test_opt = adamw_create(test->table, 0.9, 0.999, 1e-8, 0.05);
    adamw_step(&ref_opt, ref->table, 1e-3);
    adamw_step(&test_opt, test->table, 1e-3);
    const real *ref_arenas[3] = {rv->table.params, ref_opt.m, ref_opt.v};
    const real *test_arenas[3] = {test->vit->table.params, test_opt.m, test_opt.v};
    static const char *const arena_names[3] = {"params", "m", "v"};
    double update_err = 0;
    char update_where[112] = "";
    for (int a = 0; a < 3; a++) {
        real *r = download(pair->ref, ref_arenas[a], n),
             *g = download(pair->test, test_arenas[a], n);
        const double err = worst_tensor(rv, r, g, &where);
        if (where && (err > update_err || isnan(err))) {
            update_err = err;
            snprintf(update_where, sizeof update_where, "(%s %s)", arena_names[a], where);
        }
        free(r), free(g);
    }
    snprintf(name, sizeof name, "%s: adamw update", sc->name);
    report(t, o, name, update_err, update_where[0] ? update_where : NULL, tol_update, NULL);
    adamw_free(&ref_opt);
    adamw_free(&test_opt);

    if (o->timing) {
        const double ref_rate = step_rate(ref, sc, images, labels);
        const double test_rate = step_rate(test, sc, images, labels);
        printf("%-42s %s  step  cpu %10.1f img/s  %s %10.1f img/s\n", sc->name,
               op_precision_name(o->precision), ref_rate, pair->test_label, test_rate);
    }
    free(images), free(labels), free(ref_logits), free(test_logits), free(ref_grads);
    free(test_grads), free(again);
    model_free(ref);
    model_free(test);
}

static void run_steps(const Pair *pair, const Options *o, Tally *t) {
    Space *micro = xcalloc(1, sizeof *micro), *tiny = xcalloc(1, sizeof *tiny);
    micro_space(micro);
    tiny_space(tiny);
    StepCase steps[2] = {{"step micro 80:6 b8", micro, {0}, 8},
                         {"step tiny 216:13 b8", tiny, {0}, 8}};
    arch_largest(micro, &steps[0].arch);
    /* Tiny's middle width and depth, heads and ratios mixed: every tensor a leading slice,
     * layer 13 unused (its gradients must stay exactly zero on both) */
    Arch *a = &steps[1].arch;
    a->embed_dim = 216;
    a->depth = 13;
    for (int l = 0; l < a->depth; l++) {
        a->num_heads[l] = l % 3 == 0 ? 3 : 4;
        a->mlp_ratio[l] = l % 2 == 0 ? 4000 : 3500;
    }
    for (int i = 0; i < 2; i++)
        if (selected(o, steps[i].name)) run_step(&steps[i], pair, o, t);
    free(micro);
    free(tiny);
}

/* ---- command line ---- */

static void usage(FILE *out) {
    fprintf(out, "usage: prenas-op-parity [--device cuda|cpu] [--precision fp32|tf32|bf16] "
                 "[--timing]\n"
                 "                        [--filter SUBSTR] [--steps-only]\n"
                 "Compares every op of the CUDA backend (--device cpu: the CPU backend at\n"
                 "--precision bf16), and a whole training step of the micro and Tiny supernets,\n"
                 "with the CPU backend in fp32 on identical inputs.\n");
}

static bool parse_precision(const char *text, Precision *p) {
    for (int i = 0; i < 3; i++)
        if (strcmp(text, op_precision_name((Precision)i)) == 0) {
            *p = (Precision)i;
            return true;
        }
    return false;
}

int main(int argc, char **argv) {
    Options o = {PRECISION_FP32, "cuda", false, false, false, NULL};
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--precision") == 0 && i + 1 < argc) {
            if (!parse_precision(argv[++i], &o.precision)) {
                fprintf(stderr, "prenas-op-parity: --precision %s: expected fp32, tf32 or bf16\n",
                        argv[i]);
                return EXIT_INPUT;
            }
        } else if (strcmp(arg, "--device") == 0 && i + 1 < argc) {
            o.device = argv[++i];
        } else if (strcmp(arg, "--filter") == 0 && i + 1 < argc) {
            o.filter = argv[++i];
        } else if (strcmp(arg, "--timing") == 0) {
            o.timing = true;
        } else if (strcmp(arg, "--steps-only") == 0) {
            o.steps_only = true;
        } else if (strcmp(arg, "--against-cpu") == 0) {
            o.against_cpu = true;
        } else if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "prenas-op-parity: unknown or incomplete option %s\n", arg);
            usage(stderr);
            return EXIT_INPUT;
        }
    }

    Backend test;
    char why[512] = "";
    if (o.against_cpu) {
        test = *backend_cpu(); /* the precision only picks the tolerances */
    } else if (!backend_open(&test, o.device, op_precision_name(o.precision), why, sizeof why)) {
        printf("op-parity: skipped: %s\n", why);
        return 77;
    } else if (test.kind == DEVICE_CPU && test.precision == PRECISION_FP32) {
        printf("op-parity: skipped: %s: the CPU against itself is --against-cpu\n", test.name);
        backend_close(&test);
        return 77;
    }
    const Pair pair = {backend_cpu(), &test,
                       o.against_cpu             ? "cpu2"
                       : test.kind == DEVICE_CPU ? "cpu-bf16"
                                                 : "gpu"};
    printf("op-parity: %s against %s, precision %s\n", test.name, pair.ref->name,
           op_precision_name(o.precision));

    Tally t = {0};
    if (!o.steps_only)
        for (int i = 0; i < op_case_count(); i++)
            if (selected(&o, op_case(i)->name)) run_op_case(op_case(i), &pair, &o, &t);
    run_steps(&pair, &o, &t);
    if (!o.against_cpu) backend_close(&test);
    printf("op-parity: %d cases, %d passed, %d failed (precision %s)", t.cases, t.passed, t.failed,
           op_precision_name(o.precision));
    if (t.skipped) printf("; %d skipped: not on this backend", t.skipped);
    printf("\n");
    return t.failed == 0 && t.cases > 0 ? 0 : 1;
}
