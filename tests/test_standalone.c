/* Standalone subnets (method.md §10.2): the dense model cut out of a supernet computes what
 * the supernet computes for that subnet, its q/k/v rows are de-interleaved as §3.4 says, and
 * model-NAME.h5 gives back exactly what was written; a damaged file is an input error. For a
 * CNN (method.md §13) the dense model with its stored BN statistics computes what the supernet
 * computes after recalibrating that subnet, on a space with SE, an elastic expansion that
 * drops the expansion conv at e = 1, and three kernel sizes. */
#include "check.h"

#include "arch.h"
#include "artefact.h"
#include "h5.h"
#include "model.h"
#include "model_space.h"
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

/* Normal images of the standalone's input shape. */
static real *random_images(const Standalone *s, uint64_t seed) {
    Rng rng = rng_stream(seed, 0);
    const size_t n = (size_t)BATCH * s->channels * s->image_size * s->image_size;
    real *images = xmalloc(sizeof(real) * n);
    for (size_t i = 0; i < n; i++) images[i] = (real)rng_normal(&rng);
    return images;
}

/* The supernet's logits of `arch`, and the dense model's, for the same images (a CNN supernet's
 * batch norms recalibrated for the architecture beforehand). */
static double max_logit_difference(Model *supernet, const Standalone *s, const real *images,
                                   double *scale) {
    const Loss loss = {.kind = LOSS_LOGIT_SUM};
    const int C = supernet->classes;
    model_forward(supernet, &s->arch, images, BATCH, &loss, NULL);
    Error err = {0};
    Model *dense = standalone_model(backend_cpu(), s, BATCH, &err);
    model_forward(dense, &s->arch, images, BATCH, &loss, NULL);
    double worst = 0;
    *scale = 0;
    for (int i = 0; i < BATCH * C; i++) {
        worst = fmax(worst, fabs((double)dense->logits[i] - supernet->logits[i]));
        *scale = fmax(*scale, fabs((double)supernet->logits[i]));
    }
    model_free(dense);
    return worst;
}

/* The dense model's logits are the supernet's, within rounding; the worst ratio kept. */
static void check_logits(Model *supernet, const Standalone *s, const real *images,
                         const char *label, double *worst_ratio) {
    double scale;
    const double diff = max_logit_difference(supernet, s, images, &scale);
    CHECK(diff <= LOGIT_TOLERANCE * scale);
    *worst_ratio = fmax(*worst_ratio, diff / scale);
    printf("%-40s max |logit difference| %.3g (logits up to %.3g)\n", label, diff, scale);
}

/* Dense row t q + f of the q/k/v projection is supernet row 3 f + t, for weights and bias. */
static void check_deinterleaved(const Standalone *s, const Vit *vit) {
    const Arch *arch = &s->arch.vit;
    const int E = arch->embed_dim;
    for (int l = 0; l < arch->depth; l++) {
        const int q = vit->head_dim * arch->num_heads[l];
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
    snprintf(beyond, sizeof beyond, "blocks.%d.attn.qkv.weight", arch->depth);
    CHECK(find(s, beyond) == NULL); /* blocks past the subnet's depth are left out */
}

/* The dense tensors hold exactly the parameters the resource model counts (method.md §4.1;
 * cnn_cost.h), and for a CNN two running statistics per BN channel besides. */
static void check_parameter_count(const Standalone *s) {
    int64_t params = 0, statistics = 0, gammas = 0;
    for (int i = 0; i < s->n_tensors; i++) {
        const DenseTensor *d = &s->tensors[i];
        const bool running = strstr(d->name, ".running_") != NULL;
        *(running ? &statistics : &params) += (int64_t)d->count;
        if (strstr(d->name, ".bn.weight")) gammas += (int64_t)d->count;
    }
    CHECK_EQ_I64(params, s->cost.params);
    CHECK_EQ_I64(statistics, s->arch.family == FAMILY_CNN ? 2 * gammas : 0);
}

static void fill_deployment(Standalone *s, int classes) {
    s->mean[0] = 0.2860;
    s->std[0] = 0.3530;
    s->n_classes = classes;
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
    artefact_meta_set_config(&meta, model_space_text(&s->space));
    artefact_commit(&writer, &meta);
    artefact_meta_free(&meta);
}

static void check_same(const Standalone *a, const Standalone *b) {
    CHECK(model_arch_equal(&a->arch, &b->arch));
    CHECK_EQ_I64(b->cost.params, a->cost.params);
    CHECK(b->image_size == a->image_size && b->channels == a->channels);
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
    real *images = random_images(s, 9);
    const Loss loss = {.kind = LOSS_LOGIT_SUM};
    Model *extracted = standalone_model(backend_cpu(), s, BATCH, &err),
          *read = standalone_model(backend_cpu(), &back, BATCH, &err);
    model_forward(extracted, &s->arch, images, BATCH, &loss, NULL);
    model_forward(read, &back.arch, images, BATCH, &loss, NULL);
    CHECK(memcmp(extracted->logits, read->logits,
                 sizeof(real) * BATCH * (size_t)extracted->classes) == 0);
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
    const ModelSpace vit_space = model_space_of_vit(space);
    double worst_ratio = 0;
    for (size_t k = 0; k < sizeof archs / sizeof *archs; k++) {
        ModelArch arch;
        if (!CHECK(model_arch_parse(archs[k], &vit_space, &arch, &err))) continue;
        Standalone s;
        standalone_extract(&s, supernet, &arch, &vit_space);
        check_deinterleaved(&s, supernet->vit);
        check_parameter_count(&s);
        check_logits(supernet, &s, images, archs[k], &worst_ratio);
        if (k == 0) {
            fill_deployment(&s, supernet->classes);
            round_trip(&s);
            /* the comparison sees one q row swapped with its k row */
            DenseTensor *qkv = (DenseTensor *)find(&s, "blocks.0.attn.qkv.weight");
            const int q = supernet->vit->head_dim * arch.vit.num_heads[0];
            for (int c = 0; c < arch.vit.embed_dim; c++) {
                real *a = qkv->data + c, *b = qkv->data + (size_t)q * arch.vit.embed_dim + c;
                const real t = *a;
                *a = *b, *b = t;
            }
            double scale;
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

/* A small CNN space with what the micro space lacks: SE, e in {1, 6} (the expansion conv
 * exists in the supernet and not in an e = 1 subnet), three kernel sizes, depth gaps. */
static const char CNN_SPACE[] =
    "family = \"cnn\"; name = \"cnn-standalone-test\"; in_channels = 1; num_classes = 10;\n"
    "activation = \"swish\"; resolution = [20, 24];\n"
    "stem = { channels = [8, 12]; kernel = 3; stride = 2; };\n"
    "stages = (\n"
    "  { expand_ratio = [1]; kernel = [3]; channels = [8]; depth = [1]; stride = 1; },\n"
    "  { expand_ratio = [1, 6]; kernel = [3, 5]; channels = [12, 16]; depth = [1, 2];\n"
    "    stride = 2; se = true; },\n"
    "  { expand_ratio = [4, 6]; kernel = [3, 5, 7]; channels = [16, 24]; depth = [1, 3];\n"
    "    stride = 1; }\n"
    ");\n"
    "head = { channels = [32, 48]; };\n";

/* A CNN supernet with every tensor moved off its initial value, its subnets recalibrated on two
 * batches of images at the dataset's side 28 (resized to each resolution), then cut out. */
static void extracted_cnn_models(void) {
    Error err = {0};
    ModelSpace space;
    if (!CHECK(model_space_load_text(CNN_SPACE, "test", &space, &err))) {
        fprintf(stderr, "     %s\n", err.message);
        return;
    }
    Model *supernet = model_create(backend_cpu(), &space, BATCH, 28, &err);
    model_init(supernet, 1);
    Rng rng = rng_stream(7, 2);
    for (size_t i = 0; i < supernet->table->n_params; i++)
        supernet->table->params[i] += (real)(0.2 * (2 * rng_uniform(&rng) - 1));
    const Standalone shape = {.image_size = 28, .channels = 1};
    real *images = random_images(&shape, 3),
         *calibration[2] = {random_images(&shape, 4), random_images(&shape, 5)};
    /* the smallest, the largest, e = 1 with SE, kernel 5 of 7 at another resolution */
    const char *archs[] = {
        "20:8:8x1k3e1:12x1k3e1:16x1k3e4:32", "24:12:8x1k3e1:16x2k5e6:24x3k7e6:48",
        "24:8:8x1k3e1:16x2k3e1:16x1k5e6:48", "20:12:8x1k3e1:12x2k5e6:24x3k5e4:32"};
    double worst_ratio = 0;
    for (size_t k = 0; k < sizeof archs / sizeof *archs; k++) {
        ModelArch arch;
        if (!CHECK(model_arch_parse(archs[k], &space, &arch, &err))) {
            fprintf(stderr, "     %s\n", err.message);
            continue;
        }
        for (int b = 0; b < 2; b++) model_recalibrate(supernet, &arch, calibration[b], BATCH, b);
        Standalone s;
        standalone_extract(&s, supernet, &arch, &space);
        CHECK(s.image_size == 28 && s.channels == 1);
        check_parameter_count(&s);
        CHECK((find(&s, "stages.1.0.expand.conv.weight") != NULL) ==
              (arch.cnn.stages[1].expand_ratio > 1));
        CHECK((find(&s, "stages.2.2.project.bn.running_var") != NULL) ==
              (arch.cnn.stages[2].depth > 2));
        check_logits(supernet, &s, images, archs[k], &worst_ratio);
        if (k == 1) {
            fill_deployment(&s, supernet->classes);
            round_trip(&s);
            /* the dense model normalises by the stored statistics: moving one running mean
             * shows in the logits */
            DenseTensor *mean = (DenseTensor *)find(&s, "stages.2.1.depthwise.bn.running_mean");
            if (CHECK(mean)) mean->data[0] += 1;
            double scale;
            const double moved = max_logit_difference(supernet, &s, images, &scale);
            CHECK(moved > 100 * LOGIT_TOLERANCE * scale);
            printf("%-40s with one running mean moved by 1: %.3g\n", "", moved);
        }
        standalone_free(&s);
    }
    printf("CNN: worst difference relative to the logits' scale: %.3g (tolerance %g)\n",
           worst_ratio, LOGIT_TOLERANCE);
    free(images), free(calibration[0]), free(calibration[1]);
    model_free(supernet);
    model_space_free(&space);
}

int main(void) {
    h5_silence();
    if (!mkdtemp(dir)) return 1;
    extracted_models();
    extracted_cnn_models();
    rmdir(dir);
    return check_summary();
}
