#include "trainer.h"

#include "error.h"
#include "grad_sync.h"
#include "kernels.h"

#include <math.h>
#include <mpi.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* One step: returns the global mean loss (NaN or infinite: the update was skipped). The
 * gradients are summed over ranks by `sync`, which the backward pass feeds as it goes. */
static double train_step(Trainer *t, GradSync *sync, const Batch *batch, const ModelArch *arch,
                         double lr) {
    const Recipe *r = t->recipe;
    Model *model = t->model;
    ParamTable *table = model->table;
    const int n = t->loader->per_rank_batch, world = t->comm->size;
    double start = MPI_Wtime();
    param_table_zero_grads(table);
    const Loss loss_head = {LOSS_CROSS_ENTROPY, batch->labels, batch->partner, batch->mix,
                            r->label_smoothing};
    const DropPath drop = {r->drop_path, t->state->seed, (uint64_t)batch->first_sample};
    /* each rank's mean over the global batch, so that the sum over ranks is the mean */
    double loss =
        model_forward(model, arch, batch->images, n, &loss_head, &drop) / ((double)n * world);
    double now = MPI_Wtime();
    t->times.forward += now - start;
    start = now;
    model_backward(model, arch, n, 1.0 / ((double)n * world));
    now = MPI_Wtime();
    t->times.backward += now - start;
    start = now;
    grad_sync_finish(sync);
    comm_sum_doubles(t->comm, &loss, 1);
    now = MPI_Wtime();
    t->times.allreduce += now - start;
    start = now;
    if (isfinite(loss)) {
        if (r->clip_grad > 0) {
            const Backend *be = table->be;
            const double norm = sqrt(be->ops->sum_squares(be, table->grads, table->n_params));
            if (norm > r->clip_grad)
                be->ops->scale(be, table->grads, table->n_params, r->clip_grad / (norm + 1e-6));
        }
        adamw_step(t->opt, table, lr);
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
        Error err = {0};
        const EvalResult e =
            evaluate_subnet(t->model, &t->monitored[i], &val, t->recipe->eval_batch, t->comm, &err);
        comm_check(t->comm, &err);
        if (t->comm->rank != 0) continue;
        printf("epoch %lld: %s subnet val top-1 %.2f%% (top-5 %.2f%%, loss %.4f, %lld images",
               (long long)epoch + 1, t->monitored_names[i], e.top1, e.top5, e.loss,
               (long long)e.images);
        if (e.nonfinite) printf(", %lld with non-finite logits", (long long)e.nonfinite);
        printf(")\n");
        if (t->log)
            fprintf(t->log,
                    "eval epoch=%lld subnet=%s top1=%.4f top5=%.4f loss=%.6f nonfinite=%lld\n",
                    (long long)epoch, t->monitored_names[i], e.top1, e.top5, e.loss,
                    (long long)e.nonfinite);
    }
    if (t->log) fflush(t->log);
}

/* What a failed run leaves to continue from, for its error message. */
static const char *last_good(const Trainer *t) {
    return t->last_good[0] ? t->last_good : "none: no checkpoint was written";
}

static bool save(Trainer *t, Error *err) {
    bool ok = true;
    if (t->comm->rank == 0 &&
        !(ok = checkpoint_save(t->rundir, t->recipe->checkpoint_keep, t->model->table, t->opt,
                               t->state, t->checkpoint, err))) {
        const size_t n = strlen(err->message);
        snprintf(err->message + n, sizeof err->message - n, "; last complete checkpoint: %s",
                 last_good(t));
    }
    if (comm_failed(t->comm, err) || !ok) return false;
    snprintf(t->last_good, sizeof t->last_good, "%s/checkpoint-%08lld.h5", t->rundir,
             (long long)t->state->step);
    return true;
}

TrainOutcome trainer_run(Trainer *t, Error *err) {
    const Recipe *r = t->recipe;
    ParamTable *table = t->model->table;
    const int64_t per_epoch = t->loader->steps_per_epoch;
    const LrSchedule schedule = {.lr_max = recipe_peak_lr(r),
                                 .lr_min = r->min_lr,
                                 .warmup_lr = r->warmup_lr,
                                 .epochs = r->epochs,
                                 .warmup_epochs = r->warmup_epochs,
                                 .epoch_lag = r->lr_epoch_lag};
    TrainOutcome outcome = TRAIN_DONE;
    double session_start = MPI_Wtime(), loss_sum = 0;
    int64_t window_finite = 0, session_steps = 0, last_saved = t->state->step;
    GradSync *sync = grad_sync_create(t->comm, table->be, table->grads, table->n_params,
                                      &(GradSyncOptions){.announce = stdout});
    table->on_grads_ready = grad_sync_on_ready;
    table->on_grads_ready_ctx = sync;
    while (t->state->step < t->stop_step) {
        const int64_t step = t->state->step, epoch = step / per_epoch;
        const double lr = lr_at_epoch(&schedule, (int)epoch);
        ModelArch arch;
        sampler_draw(t->sampler, step, &arch);
        const Batch *batch = loader_next(t->loader, step, &t->times.data, err);
        const double loss = train_step(t, sync, batch, &arch, lr);
        t->state->step++;
        t->state->samples += r->batch;
        session_steps++;
        if (isfinite(loss)) {
            loss_sum += loss;
            window_finite++;
            t->state->nonfinite_run = 0;
            /* a finite loss can still give non-finite weights (e.g. AdamW with eps 0 on an
             * entry that never had a gradient): such weights are never checkpointed */
            const size_t bad =
                table->be->ops->count_nonfinite(table->be, table->params, table->n_params);
            if (bad) {
                input_error(err,
                            "the update of step %lld made %zu weights non-finite (NaN or "
                            "infinite); last checkpoint with finite weights: %s",
                            (long long)step + 1, bad, last_good(t));
                outcome = TRAIN_FAILED;
                break;
            }
        } else {
            t->state->skipped++;
            if (++t->state->nonfinite_run >= r->max_nonfinite) {
                input_error(err,
                            "%lld steps in a row had a non-finite loss (last at step %lld); last "
                            "checkpoint with finite weights: %s",
                            (long long)t->state->nonfinite_run, (long long)step + 1, last_good(t));
                outcome = TRAIN_FAILED;
                break;
            }
        }
        const double now = MPI_Wtime();
        const double rate = (double)(session_steps * r->batch) / (now - session_start);
        const double eta = (double)(t->stop_step - t->state->step) * r->batch / rate;
        const bool epoch_end = t->state->step % per_epoch == 0;
        const bool log_line = t->state->step % r->log_every == 0 || epoch_end;
        /* a window of skipped steps has no mean loss: NaN says so, 0 would not */
        report(t, epoch, window_finite ? loss_sum / (double)window_finite : NAN, lr, rate, eta,
               log_line);
        if (log_line) loss_sum = 0, window_finite = 0;
        if (epoch_end && r->eval_every_epochs > 0 && (epoch + 1) % r->eval_every_epochs == 0)
            evaluate_monitored(t, epoch);
        /* every rank must agree to stop at the same step: for a signal, or for images one
         * rank could not read (its step trained on zeros: never checkpointed; the caller's
         * comm_check prints the error of the first such rank) */
        int stop[2] = {*t->signalled != 0, err->code != 0};
        CHECK_MPI(MPI_Allreduce(MPI_IN_PLACE, stop, 2, MPI_INT, MPI_MAX, MPI_COMM_WORLD));
        if (stop[1]) {
            outcome = TRAIN_FAILED;
            break;
        }
        if (stop[0]) {
            outcome = TRAIN_STOPPED_BY_SIGNAL;
            break;
        }
        if (t->state->step % r->checkpoint_every == 0 && t->state->step < t->stop_step) {
            t->state->seconds += MPI_Wtime() - session_start;
            session_start = MPI_Wtime(), session_steps = 0;
            if (!save(t, err)) { /* on every rank: comm_failed agreed */
                outcome = TRAIN_FAILED;
                break;
            }
            last_saved = t->state->step;
        }
    }
    table->on_grads_ready = NULL;
    table->on_grads_ready_ctx = NULL;
    grad_sync_free(sync);
    if (err->code || outcome == TRAIN_FAILED) return TRAIN_FAILED;
    if (outcome == TRAIN_DONE && t->state->step < (int64_t)r->epochs * per_epoch)
        outcome = TRAIN_STOPPED_BY_STEPS;
    t->state->seconds += MPI_Wtime() - session_start;
    if (t->state->step != last_saved || t->state->step == 0) save(t, err);
    return outcome;
}
