#ifndef PRENAS_TRAINING_SET_H
#define PRENAS_TRAINING_SET_H

/* What a supernet is trained on (method.md §9.1, §9.9, §12.1): the search space, the space of
 * the supernet that trains (the refined space of preferred.h5, or the search space), and the
 * architectures: the preferred list (balanced, uniform and resample sampling), one fixed
 * architecture, or none (the whole space). Its monitored subnets, validated at the end of
 * epochs, are the smallest and the largest of them by params (the space's extremes for
 * whole-space training). Checkpoints keep the list (`/archs`), so that prenas-evaluate and
 * prenas-specialize need nothing but supernet.h5. */

#include "error.h"
#include "model_family.h"
#include "sampler.h"

#include <hdf5.h>
#include <stdbool.h>

typedef struct {
    ModelSpace search;   /* the --config space */
    ModelSpace training; /* the supernet's: the refined space (a ViT's selection), or a copy of
                            the search space (a CNN's selection has no refined space) */
    int n;               /* architectures trained on; 0: the whole space */
    ModelArch *archs;    /* [n] in preferred.h5's order */
    int *interval;       /* [n] preferred.h5's interval index; -1 for a fixed architecture */
    double *score;       /* [n] the ranking proxy's score; NaN for a fixed architecture */
    ModelArch monitored[2];
    const char *monitored_names[2]; /* "smallest", "largest"; "trained" when only one */
    int n_monitored;
} TrainingSet;

/* The set of a prenas-train command: `preferred_path` for the preferred modes (its search
 * space must be `config`'s), `arch_text` for fixed sampling. Resample sampling needs a ViT's
 * selection (the refined space). */
bool training_set_open(TrainingSet *set, const char *config, SamplingMode mode,
                       const char *preferred_path, const char *arch_text, Error *err);
void training_set_close(TrainingSet *set);

/* /archs/{arch, interval, score} of a checkpoint (nothing for whole-space training). */
void training_set_write(hid_t file, const TrainingSet *set);

#endif
