#ifndef PRENAS_TRAINER_H
#define PRENAS_TRAINER_H

/* Preferred one-shot training (method.md §9.2): every step, one architecture for all ranks,
 * each rank's slice of the global batch forward and backward, gradients averaged across
 * ranks, AdamW on the whole supernet at the epoch's learning rate. Checkpoints, logs, the
 * per-epoch validation of two monitored subnets, and stopping on request. */

#include "checkpoint.h"
#include "comm.h"
#include "evaluate.h"
#include "loader.h"
#include "model.h"
#include "optim.h"
#include "recipe.h"
#include "sampler.h"

#include <signal.h>
#include <stdio.h>

typedef struct {
    double data, forward, backward, allreduce, optimizer; /* seconds, this session */
    int64_t steps;
} StepTimes;

typedef struct {
    const Recipe *recipe;
    const Comm *comm;
    Model *model;
    AdamW *opt;
    Loader *loader;
    const Sampler *sampler;
    TrainState *state;
    const CheckpointContext *checkpoint;
    const char *rundir;
    EvalImages val;
    const ModelArch *monitored; /* evaluated on val at the end of epochs */
    const char *const *monitored_names;
    int n_monitored;
    int64_t stop_step;                /* --steps, or the recipe's end */
    volatile sig_atomic_t *signalled; /* set by SIGTERM / SIGUSR1 */
    FILE *log;                        /* rank 0: RUNDIR/train.log, key:value lines */
    bool live_bar;                    /* progress redrawn in place (a terminal) or as lines */
    StepTimes times;
    char last_good[4200]; /* the newest checkpoint of the run ("" none): the resumed one, then
                             each one written */
} Trainer;

typedef enum {
    TRAIN_DONE,
    TRAIN_STOPPED_BY_STEPS,
    TRAIN_STOPPED_BY_SIGNAL,
    TRAIN_FAILED
} TrainOutcome;

/* Trains until the recipe's last epoch, stop_step or a signal, checkpointing on the way and
 * at the end. A non-finite loss skips its step; recipe->max_nonfinite in a row is an error,
 * and so is an update that leaves a weight non-finite (err set, naming the last checkpoint,
 * if any; no checkpoint with non-finite weights is ever written). */
TrainOutcome trainer_run(Trainer *trainer, Error *err);

#endif
