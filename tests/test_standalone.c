/* Standalone subnets (method.md §10.2): the dense model cut out of a supernet computes what
 * the supernet computes for that subnet, its q/k/v rows are de-interleaved as §3.4 says, and
 * model-NAME.h5 gives back exactly what was written; a damaged file is an input error. */
#include "check.h"

#include "arch.h"
#include "artefact.h"
#include "h5.h"
#include "model.h"
#include "rng.h"
#include "space.h"
#include "standalone.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { BATCH = 5 };

static char dir[] = "/tmp/prenas-test-standalone-XXXXXX";

/* Differences of the order of float rounding: the dense model runs the same operations on
 * matrices of other leading dimensions, so oneDNN may sum in another order. */
static const double LOGIT_TOLERANCE = 1e-5;

static const DenseTensor *find(const Standalone *s, const char *name) {
    for (int i = 0; i < s->n_tensors; i++)
        if (strcmp(s->tensors[i].name, name) == 0) return &s->tensors[i];
    return NULL;
}

/* The supernet's logits of `arch`, and the dense model's, for the same images. */
static double max_logit_difference(Model *supernet, const Standalone *s, const real *images,
                                   double *scale) {
    const Loss loss = {.kind = LOSS_LOGIT_SUM};
    const int C = supernet->vit->classes;
    model_forward(supernet, &(const ModelArch){.family = FAMILY_VIT, .vit = s->arch}, images, BATCH,
                  &loss, NULL);
    Model *dense = standalone_model(backend_cpu(), s, BATCH);
    model_forward(dense, &(const ModelArch){.family = FAMILY_VIT, .vit = s->arch}, images, BATCH,
                  &loss, NULL);
    double worst = 0;
    *scale = 0;
    for (int i = 0; i < BATCH * C; i++) {
        worst = fmax(worst, fabs((double)dense->logits[i] - supernet->logits[i]));
        *scale = fmax(*scale, fabs((double)supernet->logits[i]));
    }
    model_free(dense);
    return worst;
}

/* Dense row t q + f of the q/k/v projection is supernet row 3 f + t, for weights and bias. */
static void check_deinterleaved(const Standalone *s, const Vit *vit) {
    const int E = s->arch.embed_dim;
    for (int l = 0; l < s->arch.depth; l++) {
        const int q = vit->head_dim * s->arch.num_heads[l];
        char name[80];
        snprintf(name, sizeof name, "blocks.%d.attn.qkv.weight", l);
        const DenseTensor *w = find(s, name);
        snprintf(name, sizeof name, "blocks.%d.attn.qkv.bias", l);
        const DenseTensor *b = find(s, name);
        if (!CHECK(w && b)) return;
        CHECK(w->ndim == 2 && w->shape[0] == 3 * q && w->shape[1] == E);
        CHECK(b->ndim == 1 && b->shape[0] == 3 * q);
        const VitLinear *super = &vit->p.blocks[l].qkv;
        int64_t mismatches = 0;
        for (int t = 0; t < 3; t++)
            for (int f = 0; f < q; f++) {
                const real *dense_row = w->data + (size_t)(t * q + f) * E;
                const real *super_row = super->weight + (size_t)(3 * f + t) * vit->embed;
                mismatches += memcmp(dense_row, super_row, sizeof(real) * E) != 0;
                mismatches += b->data[t * q + f] != super->bias[3 * f + t];
            }
        CHECK_EQ_I64(mismatches, 0);
    }
    char beyond[80];
    snprintf(beyond, sizeof beyond, "blocks.%d.attn.qkv.weight", s->arch.depth);
    CHECK(find(s, beyond) == NULL); /* blocks past the subnet's depth are left out */
}

/* The dense tensors hold exactly the parameters the resource model counts (method.md §4.1). */
static void check_parameter_count(const Standalone *s) {
    int64_t total = 0;
    for (int i = 0; i < s->n_tensors; i++) total += (int64_t)s->tensors[i].count;
    CHECK_EQ_I64(total, s->cost.params);
}

static void fill_deployment(Standalone *s) {
    s->mean[0] = 0.2860;
    s->std[0] = 0.3530;
    s->n_classes = s->space->num_classes;
    s->class_names = xcalloc((size_t)s->n_classes, sizeof *s->class_names);
    for (int c = 0; c < s->n_classes; c++) {
        char name[32];
        snprintf(name, sizeof name, "class, \"%d\"", c); /* characters a CSV must quote */
        s->class_names[c] = xstrdup(name);
    }
    snprintf(s->chosen_by, sizeof s->chosen_by, "val top-1 (eval.h5)");
    snprintf(s->split, sizeof s->split, "val");
    s->top1 = 87.25;
}

static void write_model(const char *path, const Standalone *s) {
    Error err = {0};
    ArtefactWriter writer;
    if (!CHECK(artefact_begin(&writer, path, &err))) return;
    standalone_write(writer.file, s);
    ArtefactMeta meta;
    char *argv[] = {"test_standalone", NULL};
    artefact_meta_init(&meta, MODEL_SCHEMA, MODEL_SCHEMA_VERSION, 1, argv);
    artefact_meta_set_config(&meta, s->space->text);
    artefact_commit(&writer, &meta);
    artefact_meta_free(&meta);
}

static void check_same(const Standalone *a, const Standalone *b) {
    char ta[ARCH_TEXT_MAX], tb[ARCH_TEXT_MAX];
    arch_format(&a->arch, ta, sizeof ta);
    arch_format(&b->arch, tb, sizeof tb);
    CHECK(strcmp(ta, tb) == 0);
    CHECK_EQ_I64(b->cost.params, a->cost.params);
    CHECK(b->space->image_size == a->space->image_size &&
          b->space->in_channels == a->space->in_channels);
    if (!CHECK(b->n_tensors == a->n_tensors)) return;
    int differing = 0;
    for (int i = 0; i < a->n_tensors; i++) {
        const DenseTensor *x = &a->tensors[i], *y = find(b, x->name);
        differing += !y || y->ndim != x->ndim || memcmp(y->shape, x->shape, sizeof x->shape) != 0 ||
                     y->count != x->count || memcmp(y->data, x->data, sizeof(real) * x->count) != 0;
    }
    CHECK(differing == 0);
    CHECK(b->mean[0] == a->mean[0] && b->std[0] == a->std[0]);
    if (CHECK(b->n_classes == a->n_classes))
        for (int c = 0; c < a->n_classes; c++)
            CHECK(strcmp(b->class_names[c], a->class_names[c]) == 0);
    CHECK(strcmp(b->chosen_by, a->chosen_by) == 0 && strcmp(b->split, a->split) == 0);
    CHECK(b->top1 == a->top1);
}

/* A copy of `path` cut to `keep` of its bytes. */
static void truncated_copy(const char *path, const char *copy, double keep) {
    FILE *in = fopen(path, "rb"), *out = fopen(copy, "wb");
    if (!CHECK(in && out)) return;
    fseek(in, 0, SEEK_END);
    const long n = (long)(ftell(in) * keep);
    fseek(in, 0, SEEK_SET);
    for (long i = 0; i < n; i++) fputc(fgetc(in), out);
    fclose(in);
    fclose(out);
}

static void round_trip(const Standalone *s) {
    char path[256], damaged[256];
    snprintf(path, sizeof path, "%s/model-test.h5", dir);
    write_model(path, s);
    Standalone back;
    Artefact artefact;
    Error err = {0};
    if (!CHECK(standalone_read(path, &back, &artefact, &err))) {
        fprintf(stderr, "     %s\n", err.message);
        return;
    }
    CHECK(strcmp(artefact.meta.schema, MODEL_SCHEMA) == 0);
    artefact_close(&artefact);
    check_same(s, &back);

    /* the file's weights run as the extracted ones: the same logits bit for bit */
    Rng rng = rng_stream(9, 0);
    const size_t pixels = (size_t)BATCH * 28 * 28;
    real *images = xmalloc(sizeof(real) * pixels);
    for (size_t i = 0; i < pixels; i++) images[i] = (real)rng_normal(&rng);
    const Loss loss = {.kind = LOSS_LOGIT_SUM};
    Model *extracted = standalone_model(backend_cpu(), s, BATCH),
          *read = standalone_model(backend_cpu(), &back, BATCH);
    model_forward(extracted, &(const ModelArch){.family = FAMILY_VIT, .vit = s->arch}, images,
                  BATCH, &loss, NULL);
    model_forward(read, &(const ModelArch){.family = FAMILY_VIT, .vit = back.arch}, images, BATCH,
                  &loss, NULL);
    CHECK(memcmp(extracted->logits, read->logits,
                 sizeof(real) * BATCH * (size_t)extracted->vit->classes) == 0);
    model_free(extracted), model_free(read);
    free(images);
    standalone_free(&back);

    /* damaged files: one input error naming the file, nothing half-read left behind */
    const double keeps[] = {0.5, 0.98};
    for (int k = 0; k < 2; k++) {
        snprintf(damaged, sizeof damaged, "%s/model-cut.h5", dir);
        truncated_copy(path, damaged, keeps[k]);
        memset(&err, 0, sizeof err);
        CHECK(!standalone_read(damaged, &back, &artefact, &err));
        CHECK(err.code == EXIT_INPUT);
        CHECK_STR_CONTAINS(err.message, damaged);
    }
    unlink(damaged);
    unlink(path);
}

static void extracted_models(void) {
    Error err = {0};
    Space *space = space_load_file("configs/spaces/micro.cfg", &err);
    if (!CHECK(space)) return;
    Model *supernet =
        model_create(backend_cpu(), &(const ModelSpace){FAMILY_VIT, space, NULL}, BATCH, 0, NULL);
    vit_init(supernet->vit, 1);
    /* biases and LayerNorms start at 0 and 1: move every weight so that a misplaced row or
     * a missing tensor shows in the logits */
    Rng rng = rng_stream(7, 1);
    for (size_t i = 0; i < supernet->vit->table.n_params; i++)
        supernet->vit->table.params[i] += (real)(0.2 * (2 * rng_uniform(&rng) - 1));
    const size_t pixels = (size_t)BATCH * 28 * 28;
    real *images = xmalloc(sizeof(real) * pixels);
    for (size_t i = 0; i < pixels; i++) images[i] = (real)rng_normal(&rng);

    /* fewer heads than the widest and mixed ratios; all heads at the smallest width; the
     * smallest and the largest subnets */
    const char *archs[] = {"48:4:3,5,4,3:3,4,3.5,4", "64:5:4,3,5,4,3:4,3.5,3,4,3.5",
                           "48:4:3,3,3,3:3,3,3,3", "80:6:5,5,5,5,5,5:4,4,4,4,4,4"};
    double worst_ratio = 0;
    for (size_t k = 0; k < sizeof archs / sizeof *archs; k++) {
        Arch arch;
        if (!CHECK(arch_parse(archs[k], &arch, &err) && arch_check(&arch, space, &err))) continue;
        Standalone s;
        standalone_extract(&s, supernet->vit, &arch, space);
        check_deinterleaved(&s, supernet->vit);
        check_parameter_count(&s);
        double scale;
        const double diff = max_logit_difference(supernet, &s, images, &scale);
        CHECK(diff <= LOGIT_TOLERANCE * scale);
        worst_ratio = fmax(worst_ratio, diff / scale);
        printf("%-32s max |logit difference| %.3g (logits up to %.3g)\n", archs[k], diff, scale);
        if (k == 0) {
            fill_deployment(&s);
            round_trip(&s);
            /* the comparison sees one q row swapped with its k row */
            DenseTensor *qkv = (DenseTensor *)find(&s, "blocks.0.attn.qkv.weight");
            const int q = supernet->vit->head_dim * arch.num_heads[0];
            for (int c = 0; c < arch.embed_dim; c++) {
                real *a = qkv->data + c, *b = qkv->data + (size_t)q * arch.embed_dim + c;
                const real t = *a;
                *a = *b, *b = t;
            }
            const double swapped = max_logit_difference(supernet, &s, images, &scale);
            CHECK(swapped > 100 * LOGIT_TOLERANCE * scale);
            printf("%-32s with q row 0 and k row 0 of block 0 swapped: %.3g\n", "", swapped);
        }
        standalone_free(&s);
    }
    printf("worst difference relative to the logits' scale: %.3g (tolerance %g)\n", worst_ratio,
           LOGIT_TOLERANCE);
    free(images);
    model_free(supernet);
    space_free(space);
}

int main(void) {
    h5_silence();
    if (!mkdtemp(dir)) return 1;
    extracted_models();
    rmdir(dir);
    return check_summary();
}
