#ifndef PRENAS_PREFERRED_H
#define PRENAS_PREFERRED_H

/* The preferred space (method.md §7, §8): one representative architecture per isomer group,
 * binned into resource intervals, the best N of each interval by a ranking proxy. Stored as
 * preferred.h5 (schema prenas.preferred, docs/artefacts.md); also written in the reference's
 * candidate JSON (§8.3). */

#include "artefact.h"
#include "cost.h"
#include "interval.h"
#include "isomer.h"
#include "model_family.h"
#include "proxy.h"
#include "scores.h"
#include "space.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define PREFERRED_SCHEMA "prenas.preferred"
enum { PREFERRED_SCHEMA_VERSION = 1 };

typedef enum { BUDGET_PARAMS, BUDGET_FLOPS, BUDGET_MACS } Budget;

const char *budget_name(Budget budget); /* "params", "flops", "macs" */
bool budget_parse(const char *name, Budget *budget);
int64_t budget_value(Budget budget, const ArchCost *cost);
/* The space's intervals for this budget (§8.1); absent when the space gives none. */
const IntervalSpec *budget_intervals(Budget budget, const Space *space);

typedef struct {
    Arch arch;
    ArchCost cost;
    double score;  /* by the ranking proxy */
    int64_t group; /* position in the enumeration of §8.2 */
    int interval;  /* -1: in none */
} Candidate;

/* The group's representative: heads and MLP ratios allocated by `isomer` (§7). */
void isomer_representative(const Space *space, const ScoreTables *tables, const Proxy *isomer,
                           const IsomerGroup *group, Arch *arch);

typedef struct {
    Budget budget;
    Intervals intervals;
    int per_interval;
    const Proxy *isomer, *rank;
    bool all_count_vectors;
} SelectOptions;

/* Candidates for groups [first, first + count) of the enumeration. */
void candidates_compute(const Space *space, const ScoreTables *tables, const IsomerGroups *groups,
                        size_t first, size_t count, const SelectOptions *options, Candidate *out);

typedef struct {
    int n_intervals;
    int64_t *in_interval; /* [n_intervals]: groups that fell in each interval */
    int *kept;            /* [n_intervals]: how many of them are kept (<= per_interval) */
    Candidate *chosen;    /* interval by interval, best first */
    int n_chosen;
    int64_t n_groups, outside;
} Preferred;

/* Bins every candidate and keeps the best per interval (stable: equal scores keep the
 * enumeration order). `all` holds the whole enumeration, in order. */
Preferred preferred_select(const Candidate *all, size_t n, const SelectOptions *options);
void preferred_free(Preferred *preferred);

void preferred_write(hid_t file, const Preferred *preferred, const SelectOptions *options,
                     const char *refined_space_text);
/* The reference's interval_cands JSON: {"6.0": [{"layer_num": .., "mlp_ratio": [..],
 * "num_heads": [..], "embed_dim": [..], "num_params": .., "score": ..}], ...}, 2-space
 * indentation as Python's json writes it; keys are interval upper ends in the budget's unit
 * (M parameters, G FLOPs). */
void preferred_write_json(FILE *out, const Preferred *preferred, const SelectOptions *options);
void preferred_print_table(FILE *out, const Preferred *preferred, const SelectOptions *options);

/* Reading preferred.h5 (prenas-train): the chosen architectures in order, in the family of the
 * space it records (a ViT's selection, or a CNN's: cnn_artefacts.h), syntax checked only. */
typedef struct {
    Artefact artefact;
    int n;
    ModelArch *archs;
    int *interval;
    double *score;
} PreferredFile;

bool preferred_open(PreferredFile *file, const char *path, Error *err);
void preferred_close(PreferredFile *file);

#endif
