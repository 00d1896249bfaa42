#include "model.h"

#include "error.h"
#include "kernels.h"

#include <math.h>
#include <stdlib.h>

Model *model_create(const Space *space, int max_batch) {
    Model *m = xcalloc(1, sizeof *m);
    m->vit = vit_create(space, max_batch);
    m->max_batch = max_batch;
    const size_t n = (size_t)max_batch * (size_t)m->vit->classes;
    m->logits = xmalloc(sizeof(real) * n);
    m->targets = xmalloc(sizeof(real) * n);
    m->probs = xmalloc(sizeof(real) * n);
    m->dlogits = xmalloc(sizeof(real) * n);
    m->loss = xmalloc(sizeof(real) * (size_t)max_batch);
    m->drop_scales = xmalloc(sizeof(real) * 2 * (size_t)m->vit->depth * (size_t)max_batch);
    return m;
}

void model_free(Model *m) {
    if (!m) return;
    vit_free(m->vit);
    free(m->logits), free(m->targets), free(m->probs), free(m->dlogits), free(m->loss),
        free(m->drop_scales);
    free(m);
}

double model_forward(Model *m, const Arch *arch, const real *images, int n, const Loss *loss,
                     const DropPath *drop) {
    if (n < 1 || n > m->max_batch)
        fatal_at(__FILE__, __LINE__, "batch %d outside the model's 1..%d", n, m->max_batch);
    Vit *vit = m->vit;
    const int C = vit->classes;
    m->last_dropped = drop && drop->max_rate > 0;
    if (m->last_dropped)
        vit_drop_path_scales(m->drop_scales, vit, arch, n, drop->max_rate, drop->seed,
                             drop->first_sample);
    vit_forward(vit, arch, images, n, m->last_dropped ? m->drop_scales : NULL, m->logits);
    m->last_kind = loss->kind;
    double sum = 0;
    if (loss->kind == LOSS_LOGIT_SUM) {
        for (int i = 0; i < n; i++) {
            double s = 0;
            for (int c = 0; c < C; c++) s += m->logits[(size_t)i * C + c];
            m->loss[i] = (real)s;
            sum += s;
        }
        return sum;
    }
    soft_targets(m->targets, loss->labels, loss->partner ? loss->partner : loss->labels, loss->mix,
                 loss->smoothing, n, C);
    cross_entropy_forward(m->loss, m->probs, m->logits, m->targets, n, C);
    for (int i = 0; i < n; i++) sum += m->loss[i];
    return sum;
}

void model_backward(Model *m, const Arch *arch, int n, double grad_scale) {
    Vit *vit = m->vit;
    const int C = vit->classes;
    if (m->last_kind == LOSS_LOGIT_SUM) /* d(sum of logits) / d logit = 1 */
        for (size_t i = 0; i < (size_t)n * C; i++) m->dlogits[i] = (real)grad_scale;
    else
        cross_entropy_backward(m->dlogits, m->probs, m->targets, n, C, grad_scale);
    vit_backward(vit, arch, m->dlogits, n, m->last_dropped ? m->drop_scales : NULL);
}

BatchMetrics model_metrics(const Model *m, const int *labels, int n) {
    const int C = m->vit->classes;
    BatchMetrics r = {0, 0, 0, 0};
    for (int i = 0; i < n; i++) {
        const real *z = m->logits + (size_t)i * C;
        r.loss_sum += m->loss[i];
        bool finite = true;
        for (int c = 0; c < C; c++) finite = finite && isfinite(z[c]);
        if (!finite) {
            r.nonfinite++;
            continue;
        }
        int above = 0; /* classes scored higher than the true one */
        for (int c = 0; c < C; c++) above += z[c] > z[labels[i]];
        r.top1 += above == 0;
        r.top5 += above < 5;
    }
    return r;
}
