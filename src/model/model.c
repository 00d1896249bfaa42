#include "model.h"

#include "error.h"

#include <math.h>
#include <stdlib.h>

Model *model_create(const Backend *be, const Space *space, int max_batch) {
    Model *m = xcalloc(1, sizeof *m);
    m->vit = vit_create(be, space, max_batch);
    m->table = &m->vit->table;
    m->be = be;
    m->max_batch = max_batch;
    const Vit *vit = m->vit;
    const size_t B = (size_t)max_batch, n = B * (size_t)vit->classes;
    const size_t drop = 2 * (size_t)vit->depth * B;
    const size_t image = (size_t)vit->channels * vit->image_size * vit->image_size;
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
    void *on_backend[] = {m->logits, m->targets, m->probs,   m->dlogits, m->loss, m->drop_scales,
                          m->images, m->labels,  m->partner, m->mix,     m->ranks};
    for (size_t i = 0; i < sizeof on_backend / sizeof on_backend[0]; i++)
        be->ops->free(be, on_backend[i]);
    free(m->host_drop_scales), free(m->host_logits), free(m->host_loss), free(m->host_ranks);
    vit_free(m->vit);
    free(m);
}

double model_forward(Model *m, const Arch *arch, const real *images, int n, const Loss *loss,
                     const DropPath *drop) {
    if (n < 1 || n > m->max_batch)
        fatal_at(__FILE__, __LINE__, "batch %d outside the model's 1..%d", n, m->max_batch);
    Vit *vit = m->vit;
    const Backend *be = m->be;
    const BackendOps *ops = be->ops;
    const int C = vit->classes;
    const size_t N = (size_t)n;
    m->last_scales = NULL;
    if (drop && drop->max_rate > 0) {
        vit_drop_path_scales(m->host_drop_scales, vit, arch, n, drop->max_rate, drop->seed,
                             drop->first_sample);
        m->last_scales = backend_input(be, m->drop_scales, m->host_drop_scales,
                                       sizeof(real) * 2 * (size_t)vit->depth * N);
    }
    const size_t image = (size_t)vit->channels * vit->image_size * vit->image_size;
    vit_forward(vit, arch, backend_input(be, m->images, images, sizeof(real) * N * image), n,
                m->last_scales, m->logits);
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

void model_backward(Model *m, const Arch *arch, int n, double grad_scale) {
    const Backend *be = m->be;
    const int C = m->vit->classes;
    if (m->last_kind == LOSS_LOGIT_SUM) /* d(sum of logits) / d logit = 1 */
        be->ops->fill(be, m->dlogits, (size_t)n * C, grad_scale);
    else
        be->ops->cross_entropy_backward(be, m->dlogits, m->probs, m->targets, n, C, grad_scale);
    vit_backward(m->vit, arch, m->dlogits, n, m->last_scales);
}

const real *model_logits(const Model *m, int n) {
    const size_t bytes = sizeof(real) * (size_t)n * (size_t)m->vit->classes;
    if (m->be->kind == DEVICE_CPU) return m->logits;
    m->be->ops->download(m->be, m->host_logits, m->logits, bytes);
    return m->host_logits;
}

BatchMetrics model_metrics(const Model *m, const int *labels, int n) {
    const Backend *be = m->be;
    const size_t N = (size_t)n;
    be->ops->label_ranks(be, m->ranks, m->logits,
                         backend_input(be, m->labels, labels, sizeof(int) * N), n, m->vit->classes);
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
