/* The C engine against an independent PyTorch implementation (tests/oracle/vit_oracle.py,
 * float64): logits, loss and every supernet gradient for subnets of the micro and Tiny
 * spaces, then a few AdamW steps over the whole supernet. Tolerance: 1e-4 of each tensor's
 * largest entry (the engine computes in float32). */
#include "check.h"

#include "arch.h"
#include "h5.h"
#include "kernels.h"
#include "optim.h"
#include "rng.h"
#include "space.h"
#include "vit.h"
#include "weights.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    const char *label, *space;             /* a configuration file */
    int image_size, max_relative_position; /* 0: as in the space */
    bool class_token_pooling;
    const char *arch;
    int batch, adamw_steps;
} OracleCase;

static const OracleCase CASES[] = {
    {"micro: narrower and shallower than the supernet", "configs/spaces/micro.cfg", 0, 0, false,
     "64:5:4,3,5,4,3:4,3.5,3,4,3.5", 4, 0},
    {"micro: relative positions clipped at 2, class-token pooling", "configs/spaces/micro.cfg", 0,
     2, true, "48:4:3,5,4,3:3,4,3.5,4", 3, 0},
    {"tiny at 64x64: the PreNAS-Ti subnet", "configs/spaces/vit-tiny.cfg", 64, 0, false,
     "192:12:4,4,4,4,3,3,3,3,3,4,3,4:4,4,4,4,4,3.5,3.5,4,4,3.5,4,4", 2, 0},
    {"micro: three AdamW steps on the largest subnet", "configs/spaces/micro.cfg", 0, 0, false,
     "80:6:5,4,3,5,4,5:4,3,3.5,4,4,3", 4, 3},
    {"ratios inexact in binary: MLP widths 983 and 491, not 984 and 492", "tests/spaces/ratio.cfg",
     0, 0, false, "240:2:15,15:4.1,2.05", 2, 0},
};

static const double LR = 1e-3, BETA1 = 0.9, BETA2 = 0.999, EPS = 1e-8, WEIGHT_DECAY = 0.05;

static Space *case_space(const OracleCase *c) {
    Error err = {0};
    Space *base = space_load_file(c->space, &err);
    if (!base) {
        fprintf(stderr, "%s\n", err.message);
        exit(1);
    }
    if (c->image_size) base->image_size = c->image_size;
    if (c->max_relative_position) base->max_relative_position = c->max_relative_position;
    base->class_token_pooling = c->class_token_pooling;
    char *text = space_format(base); /* reload: the modified space is validated too */
    Space *space = space_load_text(text, c->label, &err);
    if (!space) {
        fprintf(stderr, "%s\n", err.message);
        exit(1);
    }
    free(text);
    space_free(base);
    return space;
}

typedef struct {
    real *images, *targets;
} Batch;

static Batch random_batch(const Vit *vit, int batch, Rng *rng) {
    const size_t pixels = (size_t)batch * vit->channels * vit->image_size * vit->image_size;
    Batch b = {malloc(pixels * sizeof(real)), malloc((size_t)batch * vit->classes * sizeof(real))};
    for (size_t i = 0; i < pixels; i++) b.images[i] = (real)rng_normal(rng);
    int label_a[16], label_b[16];
    real mix[16];
    for (int i = 0; i < batch; i++) {
        label_a[i] = (int)rng_below(rng, (uint64_t)vit->classes);
        label_b[i] = (int)rng_below(rng, (uint64_t)vit->classes);
        mix[i] = (real)rng_uniform(rng);
    }
    soft_targets(b.targets, label_a, label_b, mix, 0.1, batch, vit->classes);
    return b;
}

static void write_real(hid_t loc, const char *name, int rank, const hsize_t *dims,
                       const real *data) {
    h5_write(loc, name, sizeof(real) == 4 ? H5T_NATIVE_FLOAT : H5T_NATIVE_DOUBLE, rank, dims, data);
}

static double mean_loss(Vit *vit, const Arch *arch, const Batch *b, int batch, real *logits,
                        real *probs, bool backward) {
    real loss[16], *dlogits = malloc((size_t)batch * vit->classes * sizeof(real));
    vit_forward(vit, arch, b->images, batch, NULL, logits);
    cross_entropy_forward(loss, probs, logits, b->targets, batch, vit->classes);
    double mean = 0;
    for (int i = 0; i < batch; i++) mean += loss[i] / batch;
    if (backward) {
        cross_entropy_backward(dlogits, probs, b->targets, batch, vit->classes, 1.0 / batch);
        vit_backward(vit, arch, dlogits, batch, NULL);
    }
    free(dlogits);
    return mean;
}

/* Largest |c - o| and |o| over an array. It passes at 1e-4 of its largest entry, or below
 * `floor`: a gradient that vanishes by cancellation (e.g. the key tables seen only by the
 * class token's query, whose softmax gradient sums to zero) is rounding noise in float32,
 * and must only be small against the gradients around it. */
static bool compare(const char *what, const real *c, const real *o, size_t n, double floor) {
    double max_err = 0, max_ref = 0;
    for (size_t i = 0; i < n; i++) {
        double err = fabs((double)c[i] - o[i]);
        max_err = err > max_err ? err : max_err;
        max_ref = fabs(o[i]) > max_ref ? fabs(o[i]) : max_ref;
    }
    double rel = max_ref > 0 ? max_err / max_ref : max_err;
    bool ok = rel <= 1e-4 || max_err <= floor;
    printf("    %-56s max|oracle| %.3e  max abs err %.2e  rel %.1e%s\n", what, max_ref, max_err,
           rel, ok ? "" : "  <-- FAIL");
    return ok;
}

static double max_abs(const real *a, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) m = fabs(a[i]) > m ? fabs(a[i]) : m;
    return m;
}

static void run_case(const OracleCase *c, const char *dir) {
    printf("%s (%s)\n", c->label, c->arch);
    Space *space = case_space(c);
    Vit *vit = vit_create(backend_cpu(), space, c->batch);
    Arch arch;
    Error err = {0};
    CHECK(arch_parse(c->arch, &arch, &err) && arch_check(&arch, space, &err));
    vit_init(vit, 7);
    Rng rng = rng_stream(42, 7);
    for (size_t i = 0; i < vit->table.n_params;
         i++) /* biases and gains off their initial 0 and 1 */
        vit->table.params[i] += (real)(0.02 * (2 * rng_uniform(&rng) - 1));
    const int steps = c->adamw_steps, n_batches = steps > 0 ? steps : 1;
    Batch batches[8];
    for (int k = 0; k < n_batches; k++) batches[k] = random_batch(vit, c->batch, &rng);

    char in_path[512], out_path[512], command[2048];
    snprintf(in_path, sizeof in_path, "%s/oracle-in.h5", dir);
    snprintf(out_path, sizeof out_path, "%s/oracle-out.h5", dir);
    hid_t f = H5Fcreate(in_path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    CHECK(f >= 0);
    h5_attr_int(f, "patch_size", space->patch_size);
    h5_attr_int(f, "head_dim", space->head_dim);
    h5_attr_int(f, "max_relative_position", space->max_relative_position);
    h5_attr_int(f, "class_token_pooling", space->class_token_pooling);
    h5_attr_string(f, "arch", c->arch);
    h5_attr_int(f, "adamw_steps", steps);
    const double hyper[5] = {LR, BETA1, BETA2, EPS, WEIGHT_DECAY};
    const char *hyper_names[5] = {"lr", "beta1", "beta2", "eps", "weight_decay"};
    for (int i = 0; i < 5; i++) h5_attr_doubles(f, hyper_names[i], &hyper[i], 1);
    weights_write(f, "params", &vit->table, vit->table.params);
    for (int k = 0; k < n_batches; k++) {
        char name[32];
        snprintf(name, sizeof name, "batch%d", k);
        hid_t g = h5_create_group(f, name);
        hsize_t image_dims[4] = {(hsize_t)c->batch, (hsize_t)vit->channels,
                                 (hsize_t)vit->image_size, (hsize_t)vit->image_size};
        hsize_t target_dims[2] = {(hsize_t)c->batch, (hsize_t)vit->classes};
        write_real(g, "images", 4, image_dims, batches[k].images);
        write_real(g, "targets", 2, target_dims, batches[k].targets);
        H5Gclose(g);
    }
    H5Fclose(f);
    const char *python = getenv("PRENAS_PYTHON") ? getenv("PRENAS_PYTHON") : "/usr/bin/python3";
    snprintf(command, sizeof command, "%s tests/oracle/vit_oracle.py %s %s", python, in_path,
             out_path);
    if (!CHECK(system(command) == 0)) {
        fprintf(stderr, "     the oracle failed: %s\n", command);
        return;
    }

    const size_t n_logits = (size_t)c->batch * vit->classes;
    real *logits = malloc(n_logits * sizeof(real)), *probs = malloc(n_logits * sizeof(real));
    real *oracle_logits = malloc(n_logits * sizeof(real));
    real *oracle = malloc(vit->table.n_params * sizeof(real));
    param_table_zero_grads(&vit->table);
    const double loss = mean_loss(vit, &arch, &batches[0], c->batch, logits, probs, true);

    hid_t o = H5Fopen(out_path, H5F_ACC_RDONLY, H5P_DEFAULT);
    H5Source src = {o, out_path, &err};
    hsize_t dims[2];
    hid_t d = h5_open_dataset(&src, "logits", 2, dims);
    CHECK(d >= 0 &&
          h5_read(&src, d, "logits", sizeof(real) == 4 ? H5T_NATIVE_FLOAT : H5T_NATIVE_DOUBLE, 0, 0,
                  oracle_logits));
    H5Dclose(d);
    double oracle_loss = 0;
    d = h5_open_dataset(&src, "loss", 0, dims);
    CHECK(d >= 0 && h5_read(&src, d, "loss", H5T_NATIVE_DOUBLE, 0, 0, &oracle_loss));
    H5Dclose(d);
    printf("    loss: C %.8f, oracle %.8f\n", loss, oracle_loss);
    CHECK_NEAR(loss, oracle_loss, 1e-5 * fabs(oracle_loss));
    CHECK(compare("logits", logits, oracle_logits, n_logits, 0));
    CHECK(weights_read(&src, "grads", &vit->table, oracle));
    const double floor = 1e-7 * max_abs(oracle, vit->table.n_params);
    printf("    gradients: abs floor %.1e (1e-7 of the largest)\n", floor);
    int failures = 0;
    for (int i = 0; i < vit->table.n_tensors; i++) {
        const TensorInfo *t = &vit->table.tensors[i];
        char what[128];
        snprintf(what, sizeof what, "grad %s", t->name);
        failures +=
            !compare(what, vit->table.grads + t->offset, oracle + t->offset, t->count, floor);
    }
    CHECK_EQ_I64(failures, 0);

    if (steps > 0) {
        double oracle_losses[8];
        d = h5_open_dataset(&src, "adamw_losses", 1, dims);
        CHECK(d >= 0 && h5_read(&src, d, "adamw_losses", H5T_NATIVE_DOUBLE, 0, 0, oracle_losses));
        H5Dclose(d);
        AdamW opt = adamw_create(&vit->table, BETA1, BETA2, EPS, WEIGHT_DECAY);
        for (int k = 0; k < steps; k++) {
            param_table_zero_grads(&vit->table);
            double step_loss = mean_loss(vit, &arch, &batches[k], c->batch, logits, probs, true);
            adamw_step(&opt, &vit->table, LR);
            printf("    AdamW step %d: loss C %.8f, oracle %.8f\n", k + 1, step_loss,
                   oracle_losses[k]);
            CHECK_NEAR(step_loss, oracle_losses[k], 1e-5 * fabs(oracle_losses[k]));
        }
        /* Adam moves an entry by about lr whatever the size of its gradient, so entries whose
         * gradient is at rounding level may move differently in float and double: compare
         * the parameters by the fraction that agree to 1e-6 and by the largest difference,
         * bounded by what three steps can move. */
        CHECK(weights_read(&src, "params_after", &vit->table, oracle));
        size_t close = 0;
        double max_diff = 0;
        for (size_t i = 0; i < vit->table.n_params; i++) {
            double diff = fabs((double)vit->table.params[i] - oracle[i]);
            close += diff <= 1e-6;
            max_diff = diff > max_diff ? diff : max_diff;
        }
        printf("    parameters after %d steps: %.5f%% within 1e-6 of the oracle, largest "
               "difference %.2e\n",
               steps, 100.0 * close / vit->table.n_params, max_diff);
        CHECK((double)close / vit->table.n_params > 0.999);
        CHECK(max_diff <= 2 * steps * LR);
        adamw_free(&opt);
    }
    H5Fclose(o);
    for (int k = 0; k < n_batches; k++) free(batches[k].images), free(batches[k].targets);
    free(logits), free(probs), free(oracle_logits), free(oracle);
    vit_free(vit);
    space_free(space);
}

int main(void) {
    h5_silence();
    char dir[] = "/tmp/prenas-test-oracle-XXXXXX";
    if (!mkdtemp(dir)) return 1;
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) run_case(&CASES[i], dir);
    int rc = check_summary();
    char command[128];
    snprintf(command, sizeof command, "rm -rf %s", dir);
    if (system(command) != 0) rc = 1;
    return rc;
}
