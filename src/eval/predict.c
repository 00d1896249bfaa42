#include "predict.h"

#include "error.h"
#include "import/image.h"
#include "model_space.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static FILE *memory_stream(char **text, size_t *size) {
    FILE *out = open_memstream(text, size);
    if (!out) fatal_at(__FILE__, __LINE__, "open_memstream: %m");
    return out;
}

bool predictor_init(Predictor *p, const Backend *be, const Standalone *s, int batch, int top_k,
                    bool labelled, Error *err) {
    memset(p, 0, sizeof *p);
    p->standalone = s;
    if (!(p->model = standalone_model(be, s, batch, err))) return false;
    p->shape = (ImageShape){s->image_size, s->image_size, s->channels, s->n_classes};
    p->batch = batch;
    p->top_k = top_k < s->n_classes ? top_k : s->n_classes;
    p->labelled = labelled;
    p->pixels = xmalloc(image_bytes(p->shape) * (size_t)batch);
    p->input = xmalloc(sizeof(real) * image_bytes(p->shape) * (size_t)batch);
    p->labels = xmalloc(sizeof *p->labels * (size_t)batch);
    p->probs = xmalloc(sizeof *p->probs * (size_t)s->n_classes);
    p->order = xmalloc(sizeof *p->order * (size_t)s->n_classes);
    p->rows = memory_stream(&p->rows_text, &p->rows_size);
    p->failures = memory_stream(&p->failures_text, &p->failures_size);
    return true;
}

void predictor_free(Predictor *p) {
    if (p->rows) fclose(p->rows);
    if (p->failures) fclose(p->failures);
    free(p->rows_text), free(p->failures_text);
    free(p->pixels), free(p->input), free(p->labels), free(p->probs), free(p->order);
    model_free(p->model);
    memset(p, 0, sizeof *p);
}

bool predict_check_dataset(const Standalone *s, const char *model_path, const DatasetFile *data,
                           Error *err) {
    if (!model_space_fits_dataset(&s->space, data, err)) return false;
    const ImageShape shape = data->shape;
    if (shape.height != s->image_size || shape.width != s->image_size)
        return input_error(err, "the dataset's images are %dx%d, the model takes %dx%d, %s and %s",
                           shape.height, shape.width, s->image_size, s->image_size,
                           data->artefact.path, model_path);
    for (int c = 0; c < s->n_classes; c++)
        if (strcmp(data->class_names[c], s->class_names[c]) != 0)
            return input_error(
                err, "the dataset's class %d is '%s', the model's is '%s', %s and %s", c,
                data->class_names[c], s->class_names[c], data->artefact.path, model_path);
    return true;
}

/* RFC 4180: a field with a comma, a quote or a line break is quoted, its quotes doubled. */
static void write_field(FILE *out, const char *text) {
    if (!text[strcspn(text, ",\"\r\n")]) {
        fputs(text, out);
        return;
    }
    fputc('"', out);
    for (const char *c = text; *c; c++) {
        if (*c == '"') fputc('"', out);
        fputc(*c, out);
    }
    fputc('"', out);
}

/* Whether class a ranks before class b: the higher probability, the lower index on a tie. */
static bool ranks_before(const double *probs, int a, int b) {
    return probs[a] > probs[b] || (probs[a] == probs[b] && a < b);
}

/* One CSV row: the input, its label's name (label < 0: no label column), then the top-k
 * classes and their softmax probabilities. A row with a non-finite logit has NaN
 * probabilities and its classes in index order. */
static void write_row(Predictor *p, const char *input, int label, const real *logits) {
    const Standalone *s = p->standalone;
    const int C = s->n_classes;
    double max = -INFINITY, sum = 0;
    bool finite = true;
    for (int c = 0; c < C; c++) {
        finite = finite && isfinite(logits[c]);
        max = fmax(max, (double)logits[c]);
    }
    for (int c = 0; c < C; c++) sum += p->probs[c] = finite ? exp((double)logits[c] - max) : NAN;
    p->counts.nonfinite += !finite;
    for (int c = 0; c < C; c++) {
        p->probs[c] /= sum;
        p->order[c] = c;
    }
    for (int j = 0; j < p->top_k; j++) { /* a partial selection sort: k is small */
        int best = j;
        for (int i = j + 1; i < C; i++)
            if (ranks_before(p->probs, p->order[i], p->order[best])) best = i;
        const int chosen = p->order[best];
        p->order[best] = p->order[j];
        p->order[j] = chosen;
    }
    write_field(p->rows, input);
    if (p->labelled) {
        fputc(',', p->rows);
        write_field(p->rows, s->class_names[label]);
    }
    for (int j = 0; j < p->top_k; j++) {
        fputc(',', p->rows);
        write_field(p->rows, s->class_names[p->order[j]]);
        fprintf(p->rows, ",%.6f", p->probs[p->order[j]]);
    }
    fputc('\n', p->rows);
}

/* The first n images of p->pixels through the model; labels NULL when unknown. */
static void predict_batch(Predictor *p, int n, const char *const *inputs, const int *labels) {
    const Standalone *s = p->standalone;
    images_to_tensor(p->input, p->pixels, n, p->shape, s->mean, s->std);
    const Loss loss = labels ? (Loss){.kind = LOSS_CROSS_ENTROPY, .labels = labels}
                             : (Loss){.kind = LOSS_LOGIT_SUM};
    model_forward(p->model, &s->arch, p->input, n, &loss, NULL);
    if (labels) { /* counted as prenas-evaluate counts them */
        const BatchMetrics m = model_metrics(p->model, labels, n);
        p->counts.top1 += m.top1;
        p->counts.top5 += m.top5;
        p->counts.labelled += n;
    }
    const real *logits = model_logits(p->model, n);
    for (int i = 0; i < n; i++)
        write_row(p, inputs[i], labels ? labels[i] : -1, logits + (size_t)i * (size_t)s->n_classes);
    p->counts.images += n;
}

enum { INPUT_NAME_MAX = 48 };

bool predict_split(Predictor *p, DatasetFile *data, const char *split, const Comm *comm,
                   Error *err) {
    if (!dataset_split(data, split))
        return input_error(err, "the dataset has no '%s' split, %s", split, data->artefact.path);
    SplitImages images;
    if (!split_images_open(data, split, false, &images, err)) return false;
    size_t first, count;
    comm_share(comm, (size_t)images.count, &first, &count);
    char(*names)[INPUT_NAME_MAX] = xmalloc(sizeof *names * (size_t)p->batch);
    const char **inputs = xmalloc(sizeof *inputs * (size_t)p->batch);
    int64_t *rows = xmalloc(sizeof *rows * (size_t)p->batch);
    bool ok = true;
    for (size_t done = 0; ok && done < count; done += (size_t)p->batch) {
        const int n = (int)(count - done < (size_t)p->batch ? count - done : (size_t)p->batch);
        for (int i = 0; i < n; i++) {
            rows[i] = (int64_t)(first + done) + i;
            p->labels[i] = images.labels[rows[i]];
            snprintf(names[i], INPUT_NAME_MAX, "%s:%lld", split, (long long)rows[i]);
            inputs[i] = names[i];
        }
        ok = split_images_gather(&images, rows, n, p->pixels, err);
        if (ok) predict_batch(p, n, inputs, p->labels);
    }
    free(names), free(inputs), free(rows);
    split_images_close(&images);
    return ok;
}

void predict_files(Predictor *p, char *const *paths, int n, const Comm *comm) {
    size_t first, count;
    comm_share(comm, (size_t)n, &first, &count);
    const ImageShape shape = p->shape;
    const size_t bytes = image_bytes(shape);
    Error *errors = xmalloc(sizeof *errors * (size_t)p->batch);
    bool *loaded = xmalloc(sizeof *loaded * (size_t)p->batch);
    const char **inputs = xmalloc(sizeof *inputs * (size_t)p->batch);
    for (size_t done = 0; done < count; done += (size_t)p->batch) {
        const int m = (int)(count - done < (size_t)p->batch ? count - done : (size_t)p->batch);
        char *const *batch_paths = paths + first + done;
        memset(errors, 0, sizeof *errors * (size_t)m);
#pragma omp parallel for schedule(dynamic)
        for (int i = 0; i < m; i++)
            loaded[i] = image_load(batch_paths[i], shape.height, shape.width, shape.channels,
                                   p->pixels + (size_t)i * bytes, &errors[i]);
        int kept = 0; /* the loaded images, moved together in input order */
        for (int i = 0; i < m; i++) {
            if (!loaded[i]) {
                fprintf(p->failures, "%s: skipped: %s\n", program_invocation_short_name,
                        errors[i].message);
                p->counts.failed++;
                continue;
            }
            if (kept != i)
                memmove(p->pixels + (size_t)kept * bytes, p->pixels + (size_t)i * bytes, bytes);
            inputs[kept++] = batch_paths[i];
        }
        if (kept) predict_batch(p, kept, inputs, NULL);
    }
    free(errors), free(loaded), free(inputs);
}

/* Rank 0: the gathered bytes as a string, after `prefix`. */
static char *gather_text(const Comm *comm, FILE **stream, char **text, size_t *size,
                         const char *prefix) {
    if (fclose(*stream) != 0) fatal_at(__FILE__, __LINE__, "open_memstream: %m");
    *stream = NULL;
    size_t total = 0;
    char *all = comm_gather_bytes(comm, *text, *size, &total);
    if (comm->rank != 0) return NULL;
    const size_t head = strlen(prefix);
    char *out = xmalloc(head + total + 1);
    memcpy(out, prefix, head);
    memcpy(out + head, all, total);
    out[head + total] = '\0';
    free(all);
    return out;
}

void predictor_gather(Predictor *p, const Comm *comm, Predictions *out) {
    char *header;
    size_t header_size;
    FILE *h = memory_stream(&header, &header_size);
    fputs(p->labelled ? "input,label" : "input", h);
    for (int j = 1; j <= p->top_k; j++) fprintf(h, ",class%d,prob%d", j, j);
    fputc('\n', h);
    if (fclose(h) != 0) fatal_at(__FILE__, __LINE__, "open_memstream: %m");
    out->csv = gather_text(comm, &p->rows, &p->rows_text, &p->rows_size, header);
    out->failures = gather_text(comm, &p->failures, &p->failures_text, &p->failures_size, "");
    free(header);
    const PredictCounts *c = &p->counts;
    double sums[6] = {(double)c->images, (double)c->failed, (double)c->labelled,
                      (double)c->top1,   (double)c->top5,   (double)c->nonfinite};
    comm_sum_doubles(comm, sums, 6);
    out->counts = (PredictCounts){(int64_t)sums[0], (int64_t)sums[1], (int64_t)sums[2],
                                  (int64_t)sums[3], (int64_t)sums[4], (int64_t)sums[5]};
}

void predictions_free(Predictions *out) {
    free(out->csv), free(out->failures);
    memset(out, 0, sizeof *out);
}
