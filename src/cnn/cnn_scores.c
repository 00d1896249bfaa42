/* The CNN family's zero-cost pass, SNIP saliency and prefix-sum tables (cnn_scores.h). */
#include "cnn_scores.h"

#include "cnn_cost.h"
#include "kernels.h"
#include "rng.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- the pass ---- */

CnnNet *cnn_score_net_create(const Backend *be, const CnnSpace *space, int resolution, int batch,
                             Error *err) {
    if (resolution < 1 || resolution > CNN_MAX_RESOLUTION) {
        input_error(err, "pass resolution %d is outside [1, %d]", resolution, CNN_MAX_RESOLUTION);
        return NULL;
    }
    /* the same space with the pass's resolution as its only one: cnn_net_create sizes the
     * activations for the space's largest */
    CnnSpace *at = xmalloc(sizeof *at);
    *at = *space;
    at->resolution = (CnnChoices){.count = 1, .values = {resolution}};
    CnnNet *net = cnn_net_create(be, at, batch, err);
    free(at);
    return net;
}

void cnn_score_init(CnnNet *net, uint64_t seed, bool bignas_gamma) {
    cnn_net_init(net, seed);
    if (bignas_gamma) return;
    const Backend *be = net->table.be;
    for (int s = 0; s < net->n_stages; s++)
        for (int l = 0; l < net->depth[s]; l++)
            if (net->dims[s][l].residual)
                be->ops->fill(be, net->p.layers[s][l].project.bn_weight,
                              (size_t)net->dims[s][l].out, 1.0);
}

void cnn_data_free_images(real *images, int batch, int channels, int side, uint64_t seed) {
    const size_t n = (size_t)channels * side * side;
    for (int i = 0; i < batch; i++) {
        Rng rng = rng_stream_at(seed, RNG_STREAM_DATA_FREE, (uint64_t)i);
        for (size_t p = 0; p < n; p++) images[(size_t)i * n + p] = (real)rng_normal(&rng);
    }
}

/* The loss of host logits [batch, classes] and its gradient: the sum of all logits (dL/dz = 1),
 * or the mean cross-entropy against targets smoothed by 0.1 (method.md §6.1). */
static double loss_and_gradient(const real *logits, const int *labels, int batch, int classes,
                                real *dlogits) {
    const size_t n = (size_t)batch * classes;
    double loss = 0;
    if (!labels) {
        for (size_t i = 0; i < n; i++) {
            loss += logits[i];
            dlogits[i] = 1;
        }
        return loss;
    }
    real *targets = xmalloc(sizeof(real) * n), *probs = xmalloc(sizeof(real) * n);
    real *per_image = xmalloc(sizeof(real) * (size_t)batch);
    soft_targets(targets, labels, labels, NULL, 0.1, batch, classes);
    cross_entropy_forward(per_image, probs, logits, targets, batch, classes);
    cross_entropy_backward(dlogits, probs, targets, batch, classes, 1.0 / batch);
    for (int b = 0; b < batch; b++) loss += per_image[b] / batch;
    free(targets), free(probs), free(per_image);
    return loss;
}

double cnn_score_pass(CnnNet *net, const CnnArch *arch, const real *images, const int *labels,
                      int batch) {
    const Backend *be = net->table.be;
    const BackendOps *ops = be->ops;
    const size_t image_bytes =
        sizeof(real) * (size_t)batch * net->in_channels * arch->resolution * arch->resolution;
    const size_t logit_bytes = sizeof(real) * (size_t)batch * net->classes;
    real *x = ops->alloc(be, image_bytes), *logits = ops->alloc(be, logit_bytes);
    real *dlogits = ops->alloc(be, logit_bytes);
    real *host_logits = xmalloc(logit_bytes), *host_dlogits = xmalloc(logit_bytes);
    ops->upload(be, x, images, image_bytes);
    param_table_zero_grads(&net->table);
    cnn_net_forward(net, arch, x, batch, CNN_TRAINING, NULL, logits);
    ops->download(be, host_logits, logits, logit_bytes);
    const double loss = loss_and_gradient(host_logits, labels, batch, net->classes, host_dlogits);
    ops->upload(be, dlogits, host_dlogits, logit_bytes);
    cnn_net_backward(net, arch, dlogits, batch);
    ops->free(be, x), ops->free(be, logits), ops->free(be, dlogits);
    free(host_logits), free(host_dlogits);
    return loss;
}

double *cnn_saliency(const CnnNet *net) {
    const ParamTable *t = &net->table;
    const size_t n = t->n_params, bytes = n * sizeof(real);
    const real *theta = backend_host_begin(t->be, t->params, bytes);
    const real *grad = backend_host_begin(t->be, t->grads, bytes);
    double *saliency = xmalloc(n * sizeof *saliency);
    /* two floats' product is exact in double */
    for (size_t i = 0; i < n; i++) saliency[i] = fabs((double)theta[i] * (double)grad[i]);
    backend_host_end(t->be, (void *)grad, t->grads, bytes, false);
    backend_host_end(t->be, (void *)theta, t->params, bytes, false);
    return saliency;
}

/* ---- the tables ---- */

/* The table entry of a named view of the parameters. */
static const TensorInfo *tensor_of(const CnnNet *net, const real *view) {
    const size_t offset = (size_t)(view - net->table.params);
    for (int i = 0; i < net->table.n_tensors; i++)
        if (net->table.tensors[i].offset == offset) return &net->table.tensors[i];
    fatal_at(__FILE__, __LINE__, "cnn_score_tables: a view outside the tensor table");
}

/* The prefix sums of the tensor at `view` for each kernel size of `kernels` (NULL: its own K,
 * which is 1 but for the stem's and the depthwise weights). Leading rows are outer so that a
 * row's running sum adds to the previous row's prefix: no subtraction, every term >= 0. */
static size_t prefix_build(CnnPrefix *p, const CnnNet *net, const real *view,
                           const CnnChoices *kernels, const double *saliency) {
    if (!view) return 0; /* a tensor this net does not have: never read */
    const TensorInfo *t = tensor_of(net, view);
    const double *sal = saliency + t->offset;
    const int K = t->ndim == 4 ? (int)t->shape[2] : 1;
    p->rows = (int)t->shape[0];
    p->cols = t->ndim >= 2 ? (int)t->shape[1] : 1;
    p->n_kernels = kernels ? kernels->count : 1;
    for (int i = 0; i < p->n_kernels; i++) p->kernels[i] = kernels ? kernels->values[i] : K;
    const size_t plane = (size_t)(p->rows + 1) * (p->cols + 1);
    p->sum = xcalloc(plane * p->n_kernels, sizeof *p->sum);
    for (int i = 0; i < p->n_kernels; i++) {
        const int k = p->kernels[i], off = (K - k) / 2;
        if (k > K || (K - k) % 2) fatal_at(__FILE__, __LINE__, "kernel %d of %s", k, t->name);
        double *P = p->sum + plane * i;
        for (int r = 0; r < p->rows; r++) {
            double running = 0;
            for (int c = 0; c < p->cols; c++) {
                const double *kk = sal + ((size_t)r * p->cols + c) * K * K;
                for (int y = off; y < off + k; y++)
                    for (int x = off; x < off + k; x++) running += kk[y * K + x];
                P[(size_t)(r + 1) * (p->cols + 1) + c + 1] =
                    P[(size_t)r * (p->cols + 1) + c + 1] + running;
            }
        }
    }
    return plane * p->n_kernels * sizeof *p->sum;
}

static size_t conv_bn_build(CnnConvBnPrefix *p, const CnnNet *net, const CnnConvBn *view,
                            const CnnChoices *kernels, const double *saliency) {
    return prefix_build(&p->weight, net, view->weight, kernels, saliency) +
           prefix_build(&p->bn_weight, net, view->bn_weight, NULL, saliency) +
           prefix_build(&p->bn_bias, net, view->bn_bias, NULL, saliency);
}

CnnScoreTables *cnn_score_tables_build(const CnnNet *net, const CnnSpace *space,
                                       const double *saliency) {
    CnnScoreTables *t = xcalloc(1, sizeof *t);
    t->in_channels = net->in_channels;
    t->classes = net->classes;
    t->stem_kernel = net->stem_kernel;
    t->n_stages = net->n_stages;
    memcpy(t->depth, net->depth, sizeof t->depth);
    memcpy(t->dims, net->dims, sizeof t->dims);
    const CnnTensors *p = &net->p;
    size_t bytes = conv_bn_build(&t->stem, net, &p->stem, NULL, saliency);
    for (int s = 0; s < net->n_stages; s++)
        for (int l = 0; l < net->depth[s]; l++) {
            const CnnLayerTensors *v = &p->layers[s][l];
            CnnLayerPrefix *lp = &t->layers[s][l];
            bytes += conv_bn_build(&lp->expand, net, &v->expand, NULL, saliency);
            bytes += conv_bn_build(&lp->depthwise, net, &v->depthwise, &space->stages[s].kernel,
                                   saliency);
            bytes += prefix_build(&lp->se_reduce_weight, net, v->se_reduce_weight, NULL, saliency);
            bytes += prefix_build(&lp->se_reduce_bias, net, v->se_reduce_bias, NULL, saliency);
            bytes += prefix_build(&lp->se_expand_weight, net, v->se_expand_weight, NULL, saliency);
            bytes += prefix_build(&lp->se_expand_bias, net, v->se_expand_bias, NULL, saliency);
            bytes += conv_bn_build(&lp->project, net, &v->project, NULL, saliency);
        }
    bytes += conv_bn_build(&t->head, net, &p->head, NULL, saliency);
    bytes += prefix_build(&t->classifier_weight, net, p->classifier_weight, NULL, saliency);
    bytes += prefix_build(&t->classifier_bias, net, p->classifier_bias, NULL, saliency);
    t->bytes = bytes;
    return t;
}

static void conv_bn_free(CnnConvBnPrefix *p) {
    free(p->weight.sum), free(p->bn_weight.sum), free(p->bn_bias.sum);
}

void cnn_score_tables_free(CnnScoreTables *t) {
    if (!t) return;
    conv_bn_free(&t->stem);
    conv_bn_free(&t->head);
    for (int s = 0; s < t->n_stages; s++)
        for (int l = 0; l < t->depth[s]; l++) {
            CnnLayerPrefix *lp = &t->layers[s][l];
            conv_bn_free(&lp->expand), conv_bn_free(&lp->depthwise), conv_bn_free(&lp->project);
            free(lp->se_reduce_weight.sum), free(lp->se_reduce_bias.sum);
            free(lp->se_expand_weight.sum), free(lp->se_expand_bias.sum);
        }
    free(t->classifier_weight.sum), free(t->classifier_bias.sum);
    free(t);
}

/* The saliency over rows [0, rows), columns [0, cols) and the centred k x k. */
static double prefix_at(const CnnPrefix *p, int rows, int cols, int k) {
    int i = 0;
    while (i < p->n_kernels && p->kernels[i] != k) i++;
    if (i == p->n_kernels || rows > p->rows || cols > p->cols || !p->sum)
        fatal_at(__FILE__, __LINE__, "cnn_score: a view [%d, %d, %d] outside its tables", rows,
                 cols, k);
    return p->sum[(size_t)i * (p->rows + 1) * (p->cols + 1) + (size_t)rows * (p->cols + 1) + cols];
}

/* A conv's leading [out, in] at kernel k and its batch norm's leading `out`. */
static double conv_bn_at(const CnnConvBnPrefix *p, int out, int in, int k) {
    return prefix_at(&p->weight, out, in, k) + prefix_at(&p->bn_weight, out, 1, 1) +
           prefix_at(&p->bn_bias, out, 1, 1);
}

/* The views of cnn_net.c's layer_shape: input width (the previous stage's, or the stem's, for a
 * stage's first layer), expanded width e x input, SE's of the input width. */
double cnn_score(const CnnScoreTables *t, const CnnArch *arch) {
    double score = conv_bn_at(&t->stem, arch->stem_channels, t->in_channels, t->stem_kernel);
    int in = arch->stem_channels;
    for (int s = 0; s < arch->n_stages; s++) {
        const CnnStageArch *a = &arch->stages[s];
        for (int l = 0; l < a->depth; l++) {
            const CnnLayerPrefix *p = &t->layers[s][l];
            const int mid = in * a->expand_ratio, out = a->channels;
            if (a->expand_ratio > 1) score += conv_bn_at(&p->expand, mid, in, 1);
            score += conv_bn_at(&p->depthwise, mid, 1, a->kernel);
            if (t->dims[s][l].has_se) {
                const int se = cnn_se_channels(in);
                score += prefix_at(&p->se_reduce_weight, se, mid, 1) +
                         prefix_at(&p->se_reduce_bias, se, 1, 1) +
                         prefix_at(&p->se_expand_weight, mid, se, 1) +
                         prefix_at(&p->se_expand_bias, mid, 1, 1);
            }
            score += conv_bn_at(&p->project, out, mid, 1);
            in = out;
        }
    }
    score += conv_bn_at(&t->head, arch->head_channels, in, 1);
    return score + prefix_at(&t->classifier_weight, t->classes, arch->head_channels, 1) +
           prefix_at(&t->classifier_bias, t->classes, 1, 1);
}
