#ifndef PRENAS_SPECIALIZE_H
#define PRENAS_SPECIALIZE_H

/* Specialisation (method.md §10.2, paper Eq. 12): the architecture a trained supernet deploys
 * under resource constraints, chosen among the rows of an evaluation table
 * (src/eval/eval_table.h) by one of two rules:
 *  - by measured accuracy, Eq. 12 itself: the highest top-1 among all rows (preferred and
 *    extra) that meet every constraint. Only val-split accuracies choose; the test split
 *    never chooses anything.
 *  - by the preferred ranking, Eq. 12 in practice when nothing was measured: among the
 *    preferred rows within the constraints, the highest interval, then the highest proxy
 *    score (every interval holds one candidate and the intervals grow, so this is the
 *    largest preferred architecture within the budget).
 * Ties go to fewer params, then to the smaller canonical architecture string. */

#include "eval_table.h"
#include "space.h"
#include "standalone.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

typedef enum { LIMIT_PARAMS, LIMIT_FLOPS, LIMIT_MACS, LIMIT_LATENCY, LIMIT_KINDS } LimitKind;

/* Upper limits that must all hold; 0 is no limit. Costs are whole counts (method.md §4):
 * params (§4.1), FLOPs as the reference counts them (§4.3), MACs (§4.4). The latency is the
 * batch-1 median in milliseconds that prenas-evaluate measured (eval.h5). */
typedef struct {
    int64_t max_cost[LIMIT_LATENCY]; /* by LimitKind */
    double max_latency_ms;
} Constraints;

const char *limit_name(LimitKind kind); /* "params", "flops", "macs", "latency" */
bool limit_kind_parse(const char *name, LimitKind *kind);
/* What a limit's value looks like, for messages. */
const char *limit_syntax(LimitKind kind);
/* One limit as typed: a cost by parse_size with bare numbers plain counts (300000, 300K, 0.3M,
 * 1.4G), a latency in milliseconds with an optional "ms" (2.5, 2.5ms); positive. A second limit
 * of a kind keeps the tighter (both must hold). False when the value is not one. */
bool constraints_add(Constraints *c, LimitKind kind, const char *value);
/* Every limit of `more` into `c`, the tighter of two of a kind. */
void constraints_merge(Constraints *c, const Constraints *more);
bool constraints_empty(const Constraints *c);
/* "params <= 300K, latency <= 2.5 ms"; "no limit" when empty. */
void constraints_format(const Constraints *c, char *buf, size_t size);

/* A budget of --budgets: the model file model-<name>.h5 and its limits. */
enum { TARGET_NAME_MAX = 64 };
typedef struct {
    char name[TARGET_NAME_MAX]; /* the value as written ("0.3M"), led by the kind for all but
                                   params ("flops-1.4G", "latency-2.5ms") */
    Constraints limits;
} Target;

/* A budget list: entries `[KIND:]VALUE` separated by commas or line breaks, KIND params (the
 * default), flops, macs or latency, VALUE as constraints_add takes it; blanks, and comments
 * from '#' to the end of a line, are skipped. At least one entry; no name twice. `where`
 * names the list in messages. The caller frees *targets. */
bool targets_parse(const char *text, const char *where, Target **targets, int *n, Error *err);
/* --budgets' argument: the list in a file when it names one, else the list itself. */
bool targets_load(const char *argument, Target **targets, int *n, Error *err);

typedef enum { CHOOSE_BY_ACCURACY, CHOOSE_BY_RANKING } ChooseBy;

typedef struct {
    const EvalTable *table;
    ChooseBy by;
    const char *source; /* the file of the rows (eval.h5, or supernet.h5 for the ranking) */
    const char *device; /* this run's backend (backend_device): latencies must be from it */
} Candidates;

typedef struct {
    int chosen, runner_up; /* rows of the table; runner_up -1 when the chosen one was alone */
    int qualified;         /* rows within every limit */
    int considered;        /* rows the rule chooses among: all, or the preferred ones */
} Choice;

/* The architecture for `limits`. Input errors: accuracies of a split other than val; a latency
 * limit without latencies measured on c->device; no row to choose among (ranking a supernet
 * trained on the whole space); no row within the limits (the message names the smallest row,
 * by the first limited kind, with its costs). */
bool specialize_choose(const Candidates *c, const Constraints *limits, Choice *choice, Error *err);

/* Why: the limits, the rule, what it saw of the chosen row and of the runner-up (accuracy and
 * split, or interval and score; costs). A few lines for people. */
void specialize_explain(FILE *out, const Candidates *c, const Constraints *limits,
                        const Choice *choice);
/* The standalone's chosen_by / split / top1 (split "" and top1 NaN for the ranking). */
void specialize_label(Standalone *s, const Candidates *c, const Constraints *limits,
                      const Choice *choice);

/* The table of the models written, one line each: limits, params, MACs, val top-1 ("ranked"
 * when chosen by the ranking), test top-1 from `test` (an evaluation of the test split, which
 * reports and never chooses; NULL, or an architecture it lacks: "-"), batch-1 median latency
 * (the choosing table's, else `test`'s; "-" when neither measured it), file, architecture.
 * Returned as text (the caller frees it): printed, and kept beside the models. */
char *specialize_summary(const Candidates *c, const EvalTable *test, const Target *targets,
                         const Choice *choices, const char *const *paths, int n);

/* eval.h5 must hold this supernet's accuracies: its /meta input of role "supernet" must have
 * the supernet's SHA-256 (`supernet`: its path and digest). */
bool specialize_check_eval(const Artefact *eval, const ArtefactInput *supernet, Error *err);
/* The test evaluation of specialize_summary: this supernet's (as above), of the test split. */
bool specialize_check_test(const Artefact *eval, const EvalTable *test,
                           const ArtefactInput *supernet, Error *err);

/* The dataset that gives a model its input normalisation (the train split's mean / std) and
 * class names: `given` (--data) when not NULL, otherwise the supernet's /meta input of role
 * "dataset" if that file is still there with the SHA-256 recorded (an error that asks for
 * --data otherwise). Opened into `dataset`; whether it fits the supernet's space is the
 * caller's check (model_space_fits_dataset), once the supernet is open. */
bool specialize_dataset(const char *given, const Artefact *supernet, DatasetFile *dataset,
                        Error *err);
/* The dataset's normalisation (its train split's) and class names into the standalone. */
void specialize_set_data(Standalone *s, const DatasetFile *dataset);

#endif
