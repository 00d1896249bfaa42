#include "eval_table.h"

#include "config.h"
#include "h5.h"
#include "text.h"

#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

EvalTable eval_table_new(const ModelArch *archs, int n, const int *interval, const double *score,
                         bool preferred, const ModelSpace *space) {
    EvalTable t = {.n = n, .rows = xcalloc((size_t)n + 1, sizeof(EvalRow))};
    snprintf(t.split, sizeof t.split, "val");
    for (int i = 0; i < n; i++) {
        EvalRow *r = &t.rows[i];
        r->arch = archs[i];
        r->cost = model_arch_cost(&archs[i], space);
        r->preferred = preferred;
        r->interval = interval ? interval[i] : -1;
        r->score = score ? score[i] : NAN;
    }
    return t;
}

void eval_table_free(EvalTable *t) {
    free(t->rows);
    memset(t, 0, sizeof *t);
}

static int by_params(const void *a, const void *b, void *table) {
    const EvalRow *rows = ((const EvalTable *)table)->rows;
    const EvalRow *x = &rows[*(const int *)a], *y = &rows[*(const int *)b];
    if (x->cost.params != y->cost.params) return x->cost.params < y->cost.params ? -1 : 1;
    char tx[MODEL_ARCH_TEXT_MAX], ty[MODEL_ARCH_TEXT_MAX];
    model_arch_format(&x->arch, tx, sizeof tx);
    model_arch_format(&y->arch, ty, sizeof ty);
    return strcmp(tx, ty);
}

int *eval_table_order(const EvalTable *t) {
    int *order = xmalloc(sizeof *order * ((size_t)t->n + 1));
    for (int i = 0; i < t->n; i++) order[i] = i;
    qsort_r(order, (size_t)t->n, sizeof *order, by_params, (void *)t);
    return order;
}

static void latency_text(const Latency *l, char *buf, size_t size) {
    if (l->median_ms > 0)
        snprintf(buf, size, "%.3f", l->median_ms);
    else
        snprintf(buf, size, "-");
}

void eval_table_print(FILE *out, const EvalTable *t) {
    const bool timed = t->latency_repeats > 0;
    char latn[32];
    snprintf(latn, sizeof latn, "ms b%d", t->latency_batch);
    fprintf(out, "%-10s %9s %8s %8s %8s", "params", "MACs", "top-1", "top-5", "loss");
    if (timed) fprintf(out, " %9s %9s", "ms b1", latn);
    fprintf(out, "  architecture (%s split)\n", t->split);
    int *order = eval_table_order(t);
    for (int k = 0; k < t->n; k++) {
        const EvalRow *r = &t->rows[order[k]];
        char text[MODEL_ARCH_TEXT_MAX], a[32], b[32];
        model_arch_format(&r->arch, text, sizeof text);
        fprintf(out, "%-10lld %8.1fM %7.2f%% %7.2f%% %8.4f", (long long)r->cost.params,
                (double)r->cost.macs / 1e6, r->result.top1, r->result.top5, r->result.loss);
        latency_text(&r->latency[0], a, sizeof a);
        latency_text(&r->latency[1], b, sizeof b);
        if (timed) fprintf(out, " %9s %9s", a, b);
        fprintf(out, "  %s%s", text, r->preferred ? "" : "  (extra)");
        if (r->result.nonfinite)
            fprintf(out, "  [%lld %s]", (long long)r->result.nonfinite,
                    plural(r->result.nonfinite, "image with non-finite logits",
                           "images with non-finite logits"));
        fputc('\n', out);
    }
    free(order);
    if (timed)
        fprintf(out,
                "latency: median of %d forwards (min..max in eval.h5 and the CSV) on %s, %d "
                "thread(s)\n",
                t->latency_repeats, t->latency_device, t->latency_threads);
}

void eval_table_log(FILE *log, const char *prefix, const EvalTable *t) {
    for (int i = 0; i < t->n; i++) {
        const EvalRow *r = &t->rows[i];
        char text[MODEL_ARCH_TEXT_MAX];
        model_arch_format(&r->arch, text, sizeof text);
        fprintf(log, "%s arch=%s params=%lld top1=%.4f top5=%.4f loss=%.6f nonfinite=%lld\n",
                prefix, text, (long long)r->cost.params, r->result.top1, r->result.top5,
                r->result.loss, (long long)r->result.nonfinite);
    }
}

/* ---- eval.h5 ---- */

typedef struct {
    const char *name;
    size_t offset; /* in EvalRow */
} Column;

#define COLUMN(name, field)                                                                        \
    { name, offsetof(EvalRow, field) }
static const Column int64_columns[] = {
    COLUMN("params", cost.params),
    COLUMN("flops_ref", cost.flops), /* a CNN's FLOPs under the ViT's name (artefacts.md) */
    COLUMN("macs", cost.macs),
    COLUMN("images", result.images),
    COLUMN("nonfinite", result.nonfinite),
};
static const Column double_columns[] = {
    COLUMN("top1", result.top1),
    COLUMN("top5", result.top5),
    COLUMN("loss", result.loss),
    COLUMN("score", score),
};
#undef COLUMN
enum {
    N_INT64 = sizeof int64_columns / sizeof int64_columns[0],
    N_DOUBLE = sizeof double_columns / sizeof double_columns[0]
};

void eval_table_write(hid_t file, const EvalTable *t) {
    const size_t n = (size_t)t->n;
    h5_attr_string(file, "split", t->split);
    h5_attr_int(file, "latency_batch", t->latency_batch);
    h5_attr_int(file, "latency_repeats", t->latency_repeats);
    h5_attr_int(file, "latency_threads", t->latency_threads);
    h5_attr_string(file, "latency_device", t->latency_device);
    h5_attr_int(file, "bn_images", t->bn_images);
    h5_attr_int(file, "bn_batch", t->bn_batch);
    char **texts = xmalloc(sizeof *texts * (n + 1));
    for (size_t i = 0; i < n; i++) {
        texts[i] = xmalloc(MODEL_ARCH_TEXT_MAX);
        model_arch_format(&t->rows[i].arch, texts[i], MODEL_ARCH_TEXT_MAX);
    }
    h5_write_strings(file, "arch", (const char *const *)texts, t->n);
    for (size_t i = 0; i < n; i++) free(texts[i]);
    free(texts);
    const hsize_t dims[1] = {n}, dims3[2] = {n, 3};
    char *column = xmalloc(sizeof(double) * 3 * (n + 1));
    for (int c = 0; c < N_INT64; c++) {
        for (size_t i = 0; i < n; i++)
            memcpy(column + i * sizeof(int64_t),
                   (const char *)&t->rows[i] + int64_columns[c].offset, sizeof(int64_t));
        h5_write(file, int64_columns[c].name, H5T_NATIVE_INT64, 1, dims, column);
    }
    for (int c = 0; c < N_DOUBLE; c++) {
        for (size_t i = 0; i < n; i++)
            memcpy(column + i * sizeof(double),
                   (const char *)&t->rows[i] + double_columns[c].offset, sizeof(double));
        h5_write(file, double_columns[c].name, H5T_NATIVE_DOUBLE, 1, dims, column);
    }
    int *ints = (int *)column;
    for (size_t i = 0; i < n; i++) ints[i] = t->rows[i].interval;
    h5_write(file, "interval", H5T_NATIVE_INT, 1, dims, ints);
    for (size_t i = 0; i < n; i++) ints[i] = t->rows[i].preferred;
    h5_write(file, "preferred", H5T_NATIVE_INT, 1, dims, ints);
    for (int b = 0; b < 2; b++) {
        double *lat = (double *)column;
        for (size_t i = 0; i < n; i++) {
            const Latency *l = &t->rows[i].latency[b];
            lat[3 * i] = l->median_ms, lat[3 * i + 1] = l->min_ms, lat[3 * i + 2] = l->max_ms;
        }
        h5_write(file, b ? "latency_batch_ms" : "latency_1_ms", H5T_NATIVE_DOUBLE, 2, dims3, lat);
    }
    free(column);
}

/* A column of n entries into `out` (n x per_row values of `type`). */
static bool read_column(const H5Source *src, const char *name, hid_t type, int n, int per_row,
                        void *out) {
    hsize_t dims[2];
    hid_t d = h5_open_dataset(src, name, per_row > 1 ? 2 : 1, dims);
    if (d < 0) return false;
    bool ok = (dims[0] == (hsize_t)n && (per_row == 1 || dims[1] == (hsize_t)per_row)) ||
              input_error(src->err, "/%s does not have %d rows, %s", name, n, src->path);
    ok = ok && h5_read(src, d, name, type, 0, 0, out);
    H5Dclose(d);
    return ok;
}

bool eval_table_read(const char *path, EvalTable *t, Artefact *a, Error *err) {
    memset(t, 0, sizeof *t);
    if (!artefact_open(a, path, EVAL_SCHEMA, EVAL_SCHEMA_VERSION, err)) return false;
    H5Source src = {a->file, path, err};
    int64_t batch = 0, repeats = 0, threads = 0;
    int n = 0;
    char **texts = NULL;
    bool ok = h5_read_attr_string(&src, a->file, "split", t->split, sizeof t->split) &&
              h5_read_attr_int(&src, a->file, "latency_batch", &batch) &&
              h5_read_attr_int(&src, a->file, "latency_repeats", &repeats) &&
              h5_read_attr_int(&src, a->file, "latency_threads", &threads) &&
              h5_read_attr_string(&src, a->file, "latency_device", t->latency_device,
                                  sizeof t->latency_device) &&
              (texts = h5_read_strings(&src, "arch", H5_LIST_MAX, &n)) != NULL;
    t->latency_batch = (int)batch, t->latency_repeats = (int)repeats,
    t->latency_threads = (int)threads;
    t->n = n;
    t->rows = xcalloc((size_t)n + 1, sizeof *t->rows);
    ModelFamily family = FAMILY_VIT;
    ok = ok && (!a->meta.config[0] || cfg_text_family(a->meta.config, path, &family, err));
    int64_t bn_batch = 0; /* eval.h5 files of ViTs before the CNN family have neither */
    if (ok && family == FAMILY_CNN)
        ok = h5_read_attr_int(&src, a->file, "bn_images", &t->bn_images) &&
             h5_read_attr_int(&src, a->file, "bn_batch", &bn_batch);
    if (ok && family == FAMILY_CNN && (t->bn_images < 1 || bn_batch < 1 || bn_batch > 65536))
        ok = input_error(err, "bn_images %lld, bn_batch %lld: not a recalibration set, %s",
                         (long long)t->bn_images, (long long)bn_batch, path);
    t->bn_batch = (int)bn_batch;
    for (int i = 0; ok && i < n; i++)
        ok = model_arch_read_stored(texts[i], family, NULL, path, &t->rows[i].arch, err);
    for (int i = 0; texts && i < n; i++) free(texts[i]);
    free(texts);
    char *column = xmalloc(sizeof(double) * 3 * ((size_t)n + 1));
    for (int c = 0; ok && c < N_INT64; c++) {
        ok = read_column(&src, int64_columns[c].name, H5T_NATIVE_INT64, n, 1, column);
        for (int i = 0; ok && i < n; i++)
            memcpy((char *)&t->rows[i] + int64_columns[c].offset, column + i * sizeof(int64_t),
                   sizeof(int64_t));
    }
    for (int c = 0; ok && c < N_DOUBLE; c++) {
        ok = read_column(&src, double_columns[c].name, H5T_NATIVE_DOUBLE, n, 1, column);
        for (int i = 0; ok && i < n; i++)
            memcpy((char *)&t->rows[i] + double_columns[c].offset, column + i * sizeof(double),
                   sizeof(double));
    }
    int *ints = (int *)column;
    ok = ok && read_column(&src, "interval", H5T_NATIVE_INT, n, 1, ints);
    for (int i = 0; ok && i < n; i++) t->rows[i].interval = ints[i];
    ok = ok && read_column(&src, "preferred", H5T_NATIVE_INT, n, 1, ints);
    for (int i = 0; ok && i < n; i++) t->rows[i].preferred = ints[i] != 0;
    for (int b = 0; ok && b < 2; b++) {
        double *lat = (double *)column;
        ok = read_column(&src, b ? "latency_batch_ms" : "latency_1_ms", H5T_NATIVE_DOUBLE, n, 3,
                         lat);
        for (int i = 0; ok && i < n; i++)
            t->rows[i].latency[b] = (Latency){lat[3 * i], lat[3 * i + 1], lat[3 * i + 2]};
    }
    free(column);
    if (!ok) {
        eval_table_free(t);
        artefact_close(a);
    }
    return ok;
}

/* ---- text forms ---- */

static bool write_text(const char *path, FILE *out, char **text, Error *err) {
    if (fclose(out) != 0) fatal_at(__FILE__, __LINE__, "open_memstream: %m");
    const bool ok = atomic_write_text(path, *text, err);
    free(*text);
    return ok;
}

bool eval_table_write_csv(const char *path, const EvalTable *t, Error *err) {
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&text, &size);
    if (!out) fatal_at(__FILE__, __LINE__, "open_memstream: %m");
    fprintf(out, "arch,preferred,interval,score,params,flops_ref,macs,split,images,top1,top5,loss,"
                 "nonfinite,latency_1_ms,latency_1_min_ms,latency_1_max_ms,latency_batch,"
                 "latency_batch_ms,latency_batch_min_ms,latency_batch_max_ms\n");
    int *order = eval_table_order(t);
    for (int k = 0; k < t->n; k++) {
        const EvalRow *r = &t->rows[order[k]];
        char text_arch[MODEL_ARCH_TEXT_MAX];
        model_arch_format(&r->arch, text_arch, sizeof text_arch);
        fprintf(out,
                "\"%s\",%d,%d,%.9g,%lld,%lld,%lld,%s,%lld,%.4f,%.4f,%.6f,%lld,%.4f,%.4f,%.4f,%d,"
                "%.4f,%.4f,%.4f\n",
                text_arch, r->preferred, r->interval, r->score, (long long)r->cost.params,
                (long long)r->cost.flops, (long long)r->cost.macs, t->split,
                (long long)r->result.images, r->result.top1, r->result.top5, r->result.loss,
                (long long)r->result.nonfinite, r->latency[0].median_ms, r->latency[0].min_ms,
                r->latency[0].max_ms, t->latency_batch, r->latency[1].median_ms,
                r->latency[1].min_ms, r->latency[1].max_ms);
    }
    free(order);
    return write_text(path, out, &text, err);
}

bool eval_table_write_markdown(const char *path, const EvalTable *t, Error *err) {
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&text, &size);
    if (!out) fatal_at(__FILE__, __LINE__, "open_memstream: %m");
    fprintf(out,
            "| params | MACs (M) | top-1 (%%, %s) | top-5 (%%) | loss | latency b1 (ms) | "
            "latency b%d (ms) | architecture |\n",
            t->split, t->latency_batch);
    fprintf(out, "|---:|---:|---:|---:|---:|---:|---:|---|\n");
    int *order = eval_table_order(t);
    for (int k = 0; k < t->n; k++) {
        const EvalRow *r = &t->rows[order[k]];
        char text_arch[MODEL_ARCH_TEXT_MAX], a[32], b[32];
        model_arch_format(&r->arch, text_arch, sizeof text_arch);
        latency_text(&r->latency[0], a, sizeof a);
        latency_text(&r->latency[1], b, sizeof b);
        fprintf(out, "| %lld | %.1f | %.2f | %.2f | %.4f | %s | %s | `%s`%s |\n",
                (long long)r->cost.params, (double)r->cost.macs / 1e6, r->result.top1,
                r->result.top5, r->result.loss, a, b, text_arch, r->preferred ? "" : " (extra)");
    }
    free(order);
    fprintf(out, "\nAccuracy on the %s split (%lld images)", t->split,
            t->n ? (long long)t->rows[0].result.images : 0LL);
    if (t->latency_repeats)
        fprintf(out, "; latency: median of %d forwards on %s, %d thread(s)", t->latency_repeats,
                t->latency_device, t->latency_threads);
    fprintf(out, ".\n");
    return write_text(path, out, &text, err);
}
