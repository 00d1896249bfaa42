#include "model.h"

#include "error.h"

#include <math.h>
#include <stdlib.h>

/* The family's supernet and the geometry of its inputs; false with err set (the CNN's ops). */
static bool create_net(Model *m, const ModelSpace *space, int max_batch, int image_side,
                       Error *err) {
    if (space->family == FAMILY_CNN) {
        if (!(m->cnn = cnn_net_create(m->be, space->cnn, max_batch, err))) return false;
        m->table = &m->cnn->table;
        m->bn = cnn_bn_stats_create(m->cnn);
        m->classes = m->cnn->classes, m->channels = m->cnn->in_channels;
        m->image_side = image_side ? image_side : m->cnn->max_resolution;
        const size_t R = (size_t)m->cnn->max_resolution;
        m->resized =
            m->be->ops->alloc(m->be, sizeof(real) * (size_t)max_batch * m->channels * R * R);
        return true;
    }
    m->vit = vit_create(m->be, space->vit, max_batch);
    m->table = &m->vit->table;
    m->classes = m->vit->classes, m->channels = m->vit->channels;
    m->image_side = m->vit->image_size;
    if (image_side && image_side != m->image_side)
        fatal_at(__FILE__, __LINE__, "a ViT of %dx%d images given %dx%d ones", m->image_side,
                 m->image_side, image_side, image_side);
    return true;
}

Model *model_create(const Backend *be, const ModelSpace *space, int max_batch, int image_side,
                    Error *err) {
    Model *m = xcalloc(1, sizeof *m);
    m->family = space->family;
    m->be = be;
    m->max_batch = max_batch;
    if (!create_net(m, space, max_batch, image_side, err)) {
        free(m);
        return NULL;
    }
    const size_t B = (size_t)max_batch, n = B * (size_t)m->classes;
    const size_t drop = m->vit ? 2 * (size_t)m->vit->depth * B : 1;
    const size_t image = (size_t)m->channels * m->image_side * m->image_side;
    const BackendOps *ops = be->ops;
    m->logits = ops->alloc(be, sizeof(real) * n);
    m->targets = ops->alloc(be, sizeof(real) * n);
    m->probs = ops->alloc(be, sizeof(real) * n);
    m->dlogits = ops->alloc(be, sizeof(real) * n);
    m->loss = ops->alloc(be, sizeof(real) * B);
    m->drop_scales = ops->alloc(be, sizeof(real) * drop);
    m->images = ops->alloc(be, sizeof(real) * B * image);
    m->labels = ops->alloc(be, sizeof(int) * B);
    m->partner = ops->alloc(be, sizeof(int) * B);
    m->mix = ops->alloc(be, sizeof(real) * B);
    m->ranks = ops->alloc(be, sizeof(int) * B);
    m->host_drop_scales = xmalloc(sizeof(real) * drop);
    m->host_logits = xmalloc(sizeof(real) * n);
    m->host_loss = xmalloc(sizeof(real) * B);
    m->host_ranks = xmalloc(sizeof(int) * B);
    return m;
}

void model_free(Model *m) {
    if (!m) return;
    const Backend *be = m->be;
    void *on_backend[] = {m->logits, m->targets, m->probs,   m->dlogits, m->loss,  m->drop_scales,
                          m->images, m->labels,  m->partner, m->mix,     m->ranks, m->resized};
    for (size_t i = 0; i < sizeof on_backend / sizeof on_backend[0]; i++)
        if (on_backend[i]) be->ops->free(be, on_backend[i]);
    free(m->host_drop_scales), free(m->host_logits), free(m->host_loss), free(m->host_ranks);
    vit_free(m->vit);
    cnn_bn_stats_free(m->bn);
    cnn_net_free(m->cnn);
    free(m);
}

void model_init(Model *m, uint64_t seed) {
    if (m->cnn)
        cnn_net_init(m->cnn, seed);
    else
        vit_init(m->vit, seed);
}

/* Host images [n, C, S, S] on the backend (on the CPU the host array itself). */
static const real *upload_images(Model *m, const real *images, int n) {
    const size_t S = (size_t)m->image_side;
    return backend_input(m->be, m->images, images, sizeof(real) * (size_t)n * m->channels * S * S);
}

/* Backend images x at the CNN architecture's resolution. */
static const real *cnn_input(Model *m, const CnnArch *arch, const real *x, int n) {
    if (arch->resolution == m->image_side) return x;
    m->be->ops->resize_bilinear(m->be, m->resized, x, n, m->channels, m->image_side, m->image_side,
                                arch->resolution, arch->resolution);
    return m->resized;
}

static void check_batch(const Model *m, int n) {
    if (n < 1 || n > m->max_batch)
        fatal_at(__FILE__, __LINE__, "batch %d outside the model's 1..%d", n, m->max_batch);
}

/* The logits of a forward of backend images into m->logits. */
static void net_forward(Model *m, const ModelArch *arch, const real *x, int n,
                        const DropPath *drop) {
    const Backend *be = m->be;
    const size_t N = (size_t)n;
    m->last_scales = NULL;
    if (m->cnn) {
        if (drop && drop->max_rate > 0)
            fatal_at(__FILE__, __LINE__, "drop path %g on a CNN: the ViT's only", drop->max_rate);
        if (!drop && (m->bn_batches == 0 || !model_arch_equal(&m->bn_arch, arch)))
            fatal_at(__FILE__, __LINE__, "a CNN subnet evaluated before its BN recalibration");
        cnn_net_forward(m->cnn, &arch->cnn, cnn_input(m, &arch->cnn, x, n), n,
                        drop ? CNN_TRAINING : CNN_EVALUATION, m->bn, m->logits);
        return;
    }
    Vit *vit = m->vit;
    if (drop && drop->max_rate > 0) {
        vit_drop_path_scales(m->host_drop_scales, vit, &arch->vit, n, drop->max_rate, drop->seed,
                             drop->first_sample);
        m->last_scales = backend_input(be, m->drop_scales, m->host_drop_scales,
                                       sizeof(real) * 2 * (size_t)vit->depth * N);
    }
    vit_forward(vit, &arch->vit, x, n, m->last_scales, m->logits);
}

double model_forward(Model *m, const ModelArch *arch, const real *images, int n, const Loss *loss,
                     const DropPath *drop) {
    check_batch(m, n);
    const Backend *be = m->be;
    const BackendOps *ops = be->ops;
    const int C = m->classes;
    const size_t N = (size_t)n;
    net_forward(m, arch, upload_images(m, images, n), n, drop);
    m->last_kind = loss->kind;
    if (loss->kind == LOSS_LOGIT_SUM) {
        ops->row_sums(be, m->loss, m->logits, n, C);
        return ops->sum(be, m->logits, N * C);
    }
    const int *labels = backend_input(be, m->labels, loss->labels, sizeof(int) * N);
    const int *partner =
        loss->partner ? backend_input(be, m->partner, loss->partner, sizeof(int) * N) : labels;
    const real *mix = backend_input(be, m->mix, loss->mix, sizeof(real) * N);
    ops->soft_targets(be, m->targets, labels, partner, mix, loss->smoothing, n, C);
    ops->cross_entropy_forward(be, m->loss, m->probs, m->logits, m->targets, n, C);
    return ops->sum(be, m->loss, N);
}

void model_infer(Model *m, const ModelArch *arch, const real *images, int n) {
    check_batch(m, n);
    net_forward(m, arch, images, n, NULL);
}

void model_backward(Model *m, const ModelArch *arch, int n, double grad_scale) {
    const Backend *be = m->be;
    const int C = m->classes;
    if (m->last_kind == LOSS_LOGIT_SUM) /* d(sum of logits) / d logit = 1 */
        be->ops->fill(be, m->dlogits, (size_t)n * C, grad_scale);
    else
        be->ops->cross_entropy_backward(be, m->dlogits, m->probs, m->targets, n, C, grad_scale);
    if (m->cnn)
        cnn_net_backward(m->cnn, &arch->cnn, m->dlogits, n);
    else
        vit_backward(m->vit, &arch->vit, m->dlogits, n, m->last_scales);
}

void model_set_bn_group(Model *m, int images) {
    if (m->cnn) m->cnn->bn_group = images;
}

bool model_needs_recalibration(const Model *m) {
    return m->cnn != NULL;
}

void model_recalibrate(Model *m, const ModelArch *arch, const real *images, int n,
                       int batches_seen) {
    if (!m->cnn) return;
    check_batch(m, n);
    cnn_net_recalibrate_batch(m->cnn, &arch->cnn,
                              cnn_input(m, &arch->cnn, upload_images(m, images, n), n), n,
                              batches_seen, m->bn);
    m->bn_arch = *arch;
    m->bn_batches = batches_seen + 1;
}

void model_adopt_bn_statistics(Model *m, const ModelArch *arch) {
    m->bn_arch = *arch;
    m->bn_batches = 1;
}

const real *model_logits(const Model *m, int n) {
    const size_t bytes = sizeof(real) * (size_t)n * (size_t)m->classes;
    if (m->be->kind == DEVICE_CPU) return m->logits;
    m->be->ops->download(m->be, m->host_logits, m->logits, bytes);
    return m->host_logits;
}

BatchMetrics model_metrics(const Model *m, const int *labels, int n) {
    const Backend *be = m->be;
    const size_t N = (size_t)n;
    be->ops->label_ranks(be, m->ranks, m->logits,
                         backend_input(be, m->labels, labels, sizeof(int) * N), n, m->classes);
    be->ops->download(be, m->host_ranks, m->ranks, sizeof(int) * N);
    be->ops->download(be, m->host_loss, m->loss, sizeof(real) * N);
    BatchMetrics r = {0, 0, 0, 0};
    for (int i = 0; i < n; i++) {
        r.loss_sum += m->host_loss[i];
        const int above = m->host_ranks[i]; /* classes scored higher than the true one */
        if (above < 0) {
            r.nonfinite++;
            continue;
        }
        r.top1 += above == 0;
        r.top5 += above < 5;
    }
    return r;
}
