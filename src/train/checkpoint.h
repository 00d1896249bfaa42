#ifndef PRENAS_CHECKPOINT_H
#define PRENAS_CHECKPOINT_H

/* Training checkpoints: RUNDIR/checkpoint-<step>.h5 (schema prenas.supernet with /optim and
 * /state), written atomically; RUNDIR/supernet.h5 is then made the newest one (a hard link,
 * replaced atomically) and all but the newest `keep` are removed. A checkpoint holds
 * everything a run needs to continue exactly: weights, AdamW moments and step, the
 * training step, and the seed every random stream derives from (the streams are functions
 * of the seed and the step, epoch and sample position, so they need no state of their own). */

#include "artefact.h"
#include "error.h"
#include "model.h"
#include "optim.h"
#include "recipe.h"
#include "training_set.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct {
    int64_t step; /* optimizer steps taken or skipped */
    int64_t skipped,
        nonfinite_run; /* steps skipped for a non-finite loss; the current run of them */
    int64_t samples;   /* images trained on */
    uint64_t seed;
    int world_size, batch;
    char sampling[16];
    char dataset[SHA256_HEX_SIZE]; /* dataset_identity of --data; "" in checkpoints before it */
    double seconds;                /* training wall time over all sessions */
} TrainState;

typedef struct {
    const char *space_text;  /* the training supernet's space (either family's) */
    const TrainingSet *set;  /* its architectures, kept as /archs */
    const char *recipe_text; /* recorded as /meta/config */
    const ArtefactInput *inputs;
    int n_inputs;
    int argc;
    char **argv;
    const Lineage *lineage; /* the run's search space and data (src/base/lineage.h) */
} CheckpointContext;

bool checkpoint_save(const char *rundir, int keep, const ParamTable *table, const AdamW *opt,
                     const TrainState *state, const CheckpointContext *context, Error *err);
/* Removes all but the newest `keep` checkpoint-<step>.h5 files of RUNDIR. checkpoint_save does
 * it after each checkpoint; a resumed run does it first, for a run killed after its last
 * checkpoint's rename, which has nothing left to save. */
void checkpoint_rotate(const char *rundir, int keep);
/* RUNDIR/supernet.h5 when it is a training checkpoint; "" otherwise. */
void checkpoint_latest(const char *rundir, char *path, size_t size);
/* A checkpoint read without a run to check it against (its reader as tests/fuzz drives it):
 * the space's text (caller frees), to build the supernet, then its weights, AdamW state and
 * run state into that supernet. */
char *checkpoint_space(const char *path, Error *err);
bool checkpoint_load(const char *path, ParamTable *table, AdamW *opt, TrainState *state,
                     Error *err);
/* The weights, AdamW state and run state of a checkpoint, for continuing a run, read from the
 * one opening of the file that checks it. `run` and `recipe` are this command's, `state` holds
 * its seed, sampling and dataset identity on entry and the checkpoint's state on return. A
 * resumed run must train every step as the checkpoint's run would have: the same supernet
 * (space), architectures (/archs: --preferred's list or --arch), recipe settings
 * (recipe_trains_alike: all but checkpoint/eval/log intervals, name, device, precision and
 * max_nonfinite), --seed, --sampling and data (its identity, not its path). Any other value is
 * an input error naming the checkpoint, the setting and both values. The rank count, --steps,
 * --workers, --images, --device and --precision may change. */
bool checkpoint_resume(const char *path, const CheckpointContext *run, const Recipe *recipe,
                       TrainState *state, ParamTable *table, AdamW *opt, Error *err);

/* A trained supernet (RUNDIR/supernet.h5 or any checkpoint) for evaluation, search and
 * specialisation, of either family: its space, the architectures it was trained on (/archs:
 * n = 0 after whole-space training), its seed (what a CNN's BN recalibration set is drawn
 * from, as in training), and its weights in a model with room for max_batch images. */
typedef struct {
    ModelSpace space; /* the training supernet's */
    int n;
    ModelArch *archs;  /* of the space's family */
    int *interval;     /* preferred.h5's interval index, -1 for a fixed architecture */
    double *score;     /* the ranking proxy's, NaN for a fixed architecture */
    char sampling[64]; /* /meta/@mode: how it was trained */
    int64_t step;
    uint64_t seed; /* /state/@seed; 0 for weights without a run state (tools/torch2h5.py) */
    Model *model;
} TrainedSupernet;

/* image_side: the side of the images a CNN is given, which it resizes to each architecture's
 * resolution (the dataset's; 0: the space's largest resolution); a ViT takes its space's. */
bool trained_supernet_open(TrainedSupernet *supernet, const Backend *be, const char *path,
                           int max_batch, int image_side, Error *err);
void trained_supernet_close(TrainedSupernet *supernet);
/* What a stage needs to know of a trained supernet before it opens it or loads its weights
 * otherwise: its space's family (a CNN's model needs a recalibration batch, say) and, when
 * `seed` is not NULL, the run's /state/@seed (0 for weights without a run state), which
 * draws a CNN's recalibration images. */
bool trained_supernet_peek(const char *path, ModelFamily *family, uint64_t *seed, Error *err);

#endif
