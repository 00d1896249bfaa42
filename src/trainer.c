#include "trainer.h"

#include "error.h"
#include "kernels.h"

#include <math.h>
#include <mpi.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    real *logits, *probs, *targets, *dlogits, *loss, *drop;
} StepBuffers;

static StepBuffers buffers_alloc(const Vit *vit, int batch) {
    const size_t n = (size_t)batch * vit->classes;
    return (StepBuffers){xmalloc(sizeof(real) * n),
                         xmalloc(sizeof(real) * n),
                         xmalloc(sizeof(real) * n),
                         xmalloc(sizeof(real) * n),
                         xmalloc(sizeof(real) * (size_t)batch),
                         xmalloc(sizeof(real) * 2 * (size_t)vit->depth * batch)};
}

static void buffers_free(StepBuffers *b) {
    free(b->logits), free(b->probs), free(b->targets), free(b->dlogits), free(b->loss),
        free(b->drop);
}

static double global_norm(const Vit *vit) {
    double sum = 0;
#pragma omp parallel for reduction(+ : sum) schedule(static)
    for (size_t i = 0; i < vit->n_params; i++) sum += (double)vit->grads[i] * vit->grads[i];
    return sqrt(sum);
}

/* One step: returns the global mean loss (NaN or infinite: the update was skipped). */
static double train_step(Trainer *t, const Batch *batch, const Arch *arch, StepBuffers *b,
                         double lr) {
    const Recipe *r = t->recipe;
    Vit *vit = t->vit;
    const int n = t->loader->per_rank_batch, C = vit->classes, world = t->comm->size;
    double start = MPI_Wtime();
    vit_drop_path_scales(b->drop, vit, arch, n, r->drop_path, t->state->seed,
                         (uint64_t)batch->first_sample);
    real *drop = r->drop_path > 0 ? b->drop : NULL;
    vit_zero_grads(vit);
    vit_forward(vit, arch, batch->images, n, drop, b->logits);
    soft_targets(b->targets, batch->labels, batch->partner, batch->mix, r->label_smoothing, n, C);
    cross_entropy_forward(b->loss, b->probs, b->logits, b->targets, n, C);
    /* each rank's mean over the global batch, so that the sum over ranks is the mean */
    cross_entropy_backward(b->dlogits, b->probs, b->targets, n, C, 1.0 / ((double)n * world));
    double loss = 0;
    for (int i = 0; i < n; i++) loss += b->loss[i] / ((double)n * world);
    double now = MPI_Wtime();
    t->times.forward += now - start;
    start = now;
    vit_backward(vit, arch, b->dlogits, n, drop);
    now = MPI_Wtime();
    t->times.backward += now - start;
    start = now;
    comm_sum_reals(t->comm, vit->grads, vit->n_params);
    comm_sum_doubles(t->comm, &loss, 1);
    now = MPI_Wtime();
    t->times.allreduce += now - start;
    start = now;
    if (isfinite(loss)) {
        if (r->clip_grad > 0) {
            const double norm = global_norm(vit);
            if (norm > r->clip_grad) {
                const real scale = (real)(r->clip_grad / (norm + 1e-6));
                for (size_t i = 0; i < vit->n_params; i++) vit->grads[i] *= scale;
            }
        }
        adamw_step(t->opt, vit, lr);
    }
    t->times.optimizer += MPI_Wtime() - start;
    t->times.steps++;
    return loss;
}

static void format_duration(double seconds, char *buf, size_t size) {
    const long s = (long)seconds;
    if (s >= 3600)
        snprintf(buf, size, "%ldh%02ldm", s / 3600, s / 60 % 60);
    else
        snprintf(buf, size, "%ldm%02lds", s / 60, s % 60);
}

static void report(Trainer *t, int64_t epoch, double loss, double lr, double rate, double eta,
                   bool line) {
    if (t->comm->rank != 0) return;
    const int64_t per_epoch = t->loader->steps_per_epoch;
    char left[32];
    format_duration(eta, left, sizeof left);
    const bool tty = t->live_bar;
    if (line || tty) {
        printf("%sepoch %lld/%d  step %lld/%lld  loss %.4f  lr %.3g  %.1f img/s  ETA %s%s",
               tty ? "\r" : "", (long long)epoch + 1, t->recipe->epochs,
               (long long)((t->state->step - 1) % per_epoch + 1), (long long)per_epoch, loss, lr,
               rate, left, line ? "\n" : "   ");
        fflush(stdout);
    }
    if (line && t->log) {
        fprintf(t->log, "step=%lld epoch=%lld loss=%.6f lr=%.6g img_per_s=%.2f skipped=%lld\n",
                (long long)t->state->step, (long long)epoch, loss, lr, rate,
                (long long)t->state->skipped);
        fflush(t->log);
    }
}

static void evaluate_monitored(Trainer *t, int64_t epoch) {
    EvalImages val = t->val;
    if (t->recipe->eval_max_images > 0 && val.count > t->recipe->eval_max_images)
        val.count = t->recipe->eval_max_images;
    for (int i = 0; i < t->n_monitored; i++) {
        const EvalResult e =
            evaluate_subnet(t->vit, &t->monitored[i], &val, t->recipe->eval_batch, t->comm);
        if (t->comm->rank != 0) continue;
        printf("epoch %lld: %s subnet val top-1 %.2f%% (top-5 %.2f%%, loss %.4f, %lld images)\n",
               (long long)epoch + 1, t->monitored_names[i], e.top1, e.top5, e.loss,
               (long long)e.images);
        if (t->log)
            fprintf(t->log, "eval epoch=%lld subnet=%s top1=%.4f top5=%.4f loss=%.6f\n",
                    (long long)epoch, t->monitored_names[i], e.top1, e.top5, e.loss);
    }
    if (t->log) fflush(t->log);
}

static bool save(Trainer *t, Error *err) {
    int ok = 1;
    if (t->comm->rank == 0)
        ok = checkpoint_save(t->rundir, t->recipe->checkpoint_keep, t->vit, t->opt, t->state,
                             t->checkpoint, err);
    return !comm_failed(t->comm, err) && ok;
}

TrainOutcome trainer_run(Trainer *t, Error *err) {
    const Recipe *r = t->recipe;
    const int64_t per_epoch = t->loader->steps_per_epoch;
    const LrSchedule schedule = {recipe_peak_lr(r), r->min_lr, r->warmup_lr, r->epochs,
                                 r->warmup_epochs};
    StepBuffers b = buffers_alloc(t->vit, t->loader->per_rank_batch);
    TrainOutcome outcome = TRAIN_DONE;
    double session_start = MPI_Wtime(), loss_sum = 0;
    int64_t window_steps = 0, session_steps = 0, last_saved = t->state->step;
    while (t->state->step < t->stop_step) {
        const int64_t step = t->state->step, epoch = step / per_epoch;
        const double lr = lr_at_epoch(&schedule, (int)epoch);
        Arch arch;
        sampler_draw(t->sampler, step, &arch);
        const Batch *batch = loader_next(t->loader, step, &t->times.data);
        const double loss = train_step(t, batch, &arch, &b, lr);
        t->state->step++;
        t->state->samples += r->batch;
        window_steps++, session_steps++;
        if (isfinite(loss)) {
            loss_sum += loss;
            t->state->nonfinite_run = 0;
        } else {
            t->state->skipped++;
            if (++t->state->nonfinite_run >= r->max_nonfinite) {
                input_error(err,
                            "%lld steps in a row had a non-finite loss (last at step %lld); the "
                            "last good checkpoint is kept, %s/supernet.h5",
                            (long long)t->state->nonfinite_run, (long long)step, t->rundir);
                outcome = TRAIN_FAILED;
                break;
            }
        }
        const double now = MPI_Wtime();
        const double rate = (double)(session_steps * r->batch) / (now - session_start);
        const double eta = (double)(t->stop_step - t->state->step) * r->batch / rate;
        const bool epoch_end = t->state->step % per_epoch == 0;
        const bool log_line = t->state->step % r->log_every == 0 || epoch_end;
        report(t, epoch, window_steps ? loss_sum / (double)window_steps : loss, lr, rate, eta,
               log_line);
        if (log_line) loss_sum = 0, window_steps = 0;
        if (epoch_end && r->eval_every_epochs > 0 && (epoch + 1) % r->eval_every_epochs == 0)
            evaluate_monitored(t, epoch);
        /* every rank must agree to stop at the same step */
        int signalled = *t->signalled != 0;
        CHECK_MPI(MPI_Allreduce(MPI_IN_PLACE, &signalled, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD));
        if (signalled) {
            outcome = TRAIN_STOPPED_BY_SIGNAL;
            break;
        }
        if (t->state->step % r->checkpoint_every == 0 && t->state->step < t->stop_step) {
            t->state->seconds += MPI_Wtime() - session_start;
            session_start = MPI_Wtime(), session_steps = 0;
            if (!save(t, err)) break;
            last_saved = t->state->step;
        }
    }
    buffers_free(&b);
    if (err->code) return TRAIN_FAILED;
    if (outcome == TRAIN_DONE && t->state->step < (int64_t)r->epochs * per_epoch)
        outcome = TRAIN_STOPPED_BY_STEPS;
    t->state->seconds += MPI_Wtime() - session_start;
    if (t->state->step != last_saved || t->state->step == 0) save(t, err);
    return outcome;
}
