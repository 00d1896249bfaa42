#include "specialize.h"

#include "config.h"
#include "text.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- constraints ---- */

static const char *const LIMIT_NAMES[LIMIT_KINDS] = {"params", "flops", "macs", "latency"};

const char *limit_name(LimitKind kind) {
    return LIMIT_NAMES[kind];
}

bool limit_kind_parse(const char *name, LimitKind *kind) {
    for (int k = 0; k < LIMIT_KINDS; k++)
        if (strcmp(name, LIMIT_NAMES[k]) == 0) return *kind = (LimitKind)k, true;
    return false;
}

const char *limit_syntax(LimitKind kind) {
    return kind == LIMIT_LATENCY ? "milliseconds, with an optional ms (2.5, 2.5ms)"
                                 : size_syntax(1);
}

/* A latency as typed: "2.5" or "2.5ms". */
static bool parse_ms(const char *text, double *ms) {
    char number[64];
    const size_t n = strlen(text);
    const size_t digits = n > 2 && strcmp(text + n - 2, "ms") == 0 ? n - 2 : n;
    if (digits >= sizeof number) return false;
    memcpy(number, text, digits);
    number[digits] = '\0';
    return parse_double(number, ms);
}

bool constraints_add(Constraints *c, LimitKind kind, const char *value) {
    if (kind == LIMIT_LATENCY) {
        double ms;
        if (!parse_ms(value, &ms) || !(ms > 0)) return false;
        if (c->max_latency_ms == 0 || ms < c->max_latency_ms) c->max_latency_ms = ms;
        return true;
    }
    int64_t cost;
    if (!parse_size(value, 1, &cost) || cost <= 0) return false;
    if (c->max_cost[kind] == 0 || cost < c->max_cost[kind]) c->max_cost[kind] = cost;
    return true;
}

void constraints_merge(Constraints *c, const Constraints *more) {
    for (int k = 0; k < LIMIT_LATENCY; k++)
        if (more->max_cost[k] && (!c->max_cost[k] || more->max_cost[k] < c->max_cost[k]))
            c->max_cost[k] = more->max_cost[k];
    if (more->max_latency_ms > 0 &&
        (c->max_latency_ms == 0 || more->max_latency_ms < c->max_latency_ms))
        c->max_latency_ms = more->max_latency_ms;
}

static bool limited(const Constraints *c, LimitKind kind) {
    return kind == LIMIT_LATENCY ? c->max_latency_ms > 0 : c->max_cost[kind] > 0;
}

bool constraints_empty(const Constraints *c) {
    for (int k = 0; k < LIMIT_KINDS; k++)
        if (limited(c, (LimitKind)k)) return false;
    return true;
}

static int64_t row_cost(const EvalRow *r, LimitKind kind) {
    return kind == LIMIT_PARAMS  ? r->cost.params
           : kind == LIMIT_FLOPS ? r->cost.flops
                                 : r->cost.macs;
}

/* "300K" for a cost, "2.5 ms" for a latency */
static void format_value(LimitKind kind, int64_t cost, double ms, char *buf, size_t size) {
    if (kind == LIMIT_LATENCY)
        snprintf(buf, size, "%g ms", ms);
    else
        format_size(cost, buf, size);
}

void constraints_format(const Constraints *c, char *buf, size_t size) {
    size_t used = 0;
    buf[0] = '\0';
    for (int k = 0; k < LIMIT_KINDS && used < size; k++) {
        if (!limited(c, (LimitKind)k)) continue;
        char value[32];
        format_value((LimitKind)k, k < LIMIT_LATENCY ? c->max_cost[k] : 0, c->max_latency_ms, value,
                     sizeof value);
        const int n = snprintf(buf + used, size - used, "%s%s <= %s", used ? ", " : "",
                               LIMIT_NAMES[k], value);
        used += n > 0 ? (size_t)n : 0;
    }
    if (!used) snprintf(buf, size, "no limit");
}

/* The row within every limit; a latency that was not measured (0) meets none. */
static bool within(const EvalRow *r, const Constraints *c) {
    for (int k = 0; k < LIMIT_LATENCY; k++)
        if (c->max_cost[k] && row_cost(r, (LimitKind)k) > c->max_cost[k]) return false;
    const double ms = r->latency[0].median_ms;
    return c->max_latency_ms == 0 || (ms > 0 && ms <= c->max_latency_ms);
}

/* ---- budget lists ---- */

static char *trim(char *s) {
    while (isspace((unsigned char)*s)) s++;
    char *end = s + strlen(s);
    while (end > s && isspace((unsigned char)end[-1])) *--end = '\0';
    return s;
}

static bool target_parse(char *entry, const char *where, Target *t, Error *err) {
    *t = (Target){0};
    LimitKind kind = LIMIT_PARAMS;
    char *value = entry, *colon = strchr(entry, ':');
    char written[TARGET_NAME_MAX];
    snprintf(written, sizeof written, "%s", entry);
    if (colon) {
        *colon = '\0';
        if (!limit_kind_parse(trim(entry), &kind))
            return input_error(err,
                               "budget '%s': unknown kind '%s' (expected params, flops, macs or "
                               "latency), %s",
                               written, trim(entry), where);
        value = trim(colon + 1);
    }
    if (strlen(value) > TARGET_NAME_MAX - 16 || !constraints_add(&t->limits, kind, value))
        return input_error(err, "budget '%s': expected %s, %s", written, limit_syntax(kind), where);
    if (kind == LIMIT_PARAMS)
        snprintf(t->name, sizeof t->name, "%s", value);
    else
        snprintf(t->name, sizeof t->name, "%s-%s%s", LIMIT_NAMES[kind], value,
                 kind == LIMIT_LATENCY && !strstr(value, "ms") ? "ms" : "");
    return true;
}

bool targets_parse(const char *text, const char *where, Target **targets, int *n, Error *err) {
    char *copy = xstrdup(text);
    size_t entries = 1;
    for (char *p = copy; *p; p++) {
        if (*p == '#')
            for (; *p && *p != '\n'; p++) *p = ' '; /* a comment runs to the end of its line */
        entries += *p == ',' || *p == '\n';
        if (!*p) break;
    }
    *targets = xcalloc(entries, sizeof **targets);
    *n = 0;
    bool ok = true;
    char *state = NULL;
    for (char *entry = strtok_r(copy, ",\n", &state); ok && entry;
         entry = strtok_r(NULL, ",\n", &state)) {
        entry = trim(entry);
        if (!*entry) continue;
        Target *t = &(*targets)[*n];
        ok = target_parse(entry, where, t, err);
        for (int i = 0; ok && i < *n; i++)
            if (strcmp((*targets)[i].name, t->name) == 0)
                ok = input_error(err, "budget '%s' is given twice, %s", t->name, where);
        *n += ok;
    }
    if (ok && *n == 0) ok = input_error(err, "no budget in the list, %s", where);
    free(copy);
    if (!ok) {
        free(*targets);
        *targets = NULL, *n = 0;
    }
    return ok;
}

bool targets_load(const char *argument, Target **targets, int *n, Error *err) {
    struct stat st;
    if (stat(argument, &st) != 0 || !S_ISREG(st.st_mode))
        return targets_parse(argument, "--budgets", targets, n, err);
    char *text = cfg_read_file(argument, "budget list", err);
    const bool ok = text && targets_parse(text, argument, targets, n, err);
    free(text);
    return ok;
}

/* ---- choosing ---- */

/* Higher first, NaN (not measured, not scored) last. */
static int descending(double x, double y) {
    const int nx = isnan(x) != 0, ny = isnan(y) != 0;
    if (nx || ny) return nx - ny;
    return x > y ? -1 : x < y ? 1 : 0;
}

static int by_params_then_text(const EvalRow *a, const EvalRow *b) {
    if (a->cost.params != b->cost.params) return a->cost.params < b->cost.params ? -1 : 1;
    char ta[MODEL_ARCH_TEXT_MAX], tb[MODEL_ARCH_TEXT_MAX];
    model_arch_format(&a->arch, ta, sizeof ta);
    model_arch_format(&b->arch, tb, sizeof tb);
    return strcmp(ta, tb);
}

/* Negative when row a is the better choice. */
static int rule_order(ChooseBy by, const EvalRow *a, const EvalRow *b) {
    int d;
    if (by == CHOOSE_BY_ACCURACY) {
        d = descending(a->result.top1, b->result.top1);
    } else {
        d = a->interval != b->interval ? (a->interval > b->interval ? -1 : 1)
                                       : descending(a->score, b->score);
    }
    return d ? d : by_params_then_text(a, b);
}

static bool considered(const Candidates *c, const EvalRow *r) {
    return c->by == CHOOSE_BY_ACCURACY || r->preferred;
}

static double row_value(const EvalRow *r, LimitKind kind) {
    return kind == LIMIT_LATENCY ? r->latency[0].median_ms : (double)row_cost(r, kind);
}

/* "params 123456, latency 0.512 ms": params and every limited kind. */
static void row_costs(const EvalRow *r, const Constraints *limits, char *buf, size_t size) {
    size_t used = (size_t)snprintf(buf, size, "params %lld", (long long)r->cost.params);
    for (int k = LIMIT_FLOPS; k < LIMIT_KINDS && used < size; k++) {
        if (!limited(limits, (LimitKind)k)) continue;
        char value[32];
        format_value((LimitKind)k, k < LIMIT_LATENCY ? row_cost(r, (LimitKind)k) : 0,
                     r->latency[0].median_ms, value, sizeof value);
        const int n = snprintf(buf + used, size - used, ", %s %s", LIMIT_NAMES[k], value);
        used += n > 0 ? (size_t)n : 0;
    }
}

static const char *rows_noun(const Candidates *c) {
    return c->by == CHOOSE_BY_ACCURACY ? "architectures" : "preferred architectures";
}

/* No row within the limits: name the smallest by the first limited kind. */
static bool unsatisfiable(const Candidates *c, const Constraints *limits, int n, Error *err) {
    LimitKind kind = LIMIT_PARAMS;
    while (!limited(limits, kind)) kind++;
    const EvalTable *t = c->table;
    const EvalRow *smallest = NULL;
    for (int i = 0; i < t->n; i++) {
        const EvalRow *r = &t->rows[i];
        if (!considered(c, r)) continue;
        if (!smallest || row_value(r, kind) < row_value(smallest, kind) ||
            (row_value(r, kind) == row_value(smallest, kind) &&
             by_params_then_text(r, smallest) < 0))
            smallest = r;
    }
    char text[MODEL_ARCH_TEXT_MAX], what[256], costs[256];
    model_arch_format(&smallest->arch, text, sizeof text);
    constraints_format(limits, what, sizeof what);
    row_costs(smallest, limits, costs, sizeof costs);
    return input_error(err, "no architecture meets %s: the smallest of the %d %s is %s (%s), %s",
                       what, n, rows_noun(c), text, costs, c->source);
}

static bool check_inputs(const Candidates *c, const Constraints *limits, Error *err) {
    const EvalTable *t = c->table;
    if (c->by == CHOOSE_BY_ACCURACY && strcmp(t->split, "val") != 0)
        return input_error(err,
                           "accuracies on the %s split never choose a model (only val ones do: "
                           "the test split is for the final report), %s",
                           t->split, c->source);
    if (limits->max_latency_ms > 0) {
        if (c->by != CHOOSE_BY_ACCURACY)
            return input_error(err,
                               "a latency limit needs measured latencies (an eval.h5 of "
                               "prenas-evaluate), %s",
                               c->source);
        if (t->latency_repeats == 0)
            return input_error(err, "a latency limit, but no latency was measured, %s", c->source);
        if (strcmp(t->latency_device, c->device) != 0)
            return input_error(err,
                               "a latency limit, but the latencies were measured on %s and this "
                               "run is on %s, %s",
                               t->latency_device, c->device, c->source);
    }
    return true;
}

bool specialize_choose(const Candidates *c, const Constraints *limits, Choice *choice, Error *err) {
    *choice = (Choice){.chosen = -1, .runner_up = -1};
    if (!check_inputs(c, limits, err)) return false;
    const EvalTable *t = c->table;
    for (int i = 0; i < t->n; i++) {
        const EvalRow *r = &t->rows[i];
        if (!considered(c, r)) continue;
        choice->considered++;
        if (!within(r, limits)) continue;
        choice->qualified++;
        if (choice->chosen < 0 || rule_order(c->by, r, &t->rows[choice->chosen]) < 0) {
            choice->runner_up = choice->chosen;
            choice->chosen = i;
        } else if (choice->runner_up < 0 || rule_order(c->by, r, &t->rows[choice->runner_up]) < 0) {
            choice->runner_up = i;
        }
    }
    if (choice->considered == 0)
        return c->by == CHOOSE_BY_RANKING
                   ? input_error(err,
                                 "no preferred architectures to rank (the supernet was trained "
                                 "on the whole space): choose by measured accuracy (eval.h5), %s",
                                 c->source)
                   : input_error(err, "no architectures, %s", c->source);
    if (choice->qualified == 0) return unsatisfiable(c, limits, choice->considered, err);
    return true;
}

/* ---- what was chosen, for people and for the model file ---- */

/* "val top-1 81.25%" or "interval 2, score 1.234e+03" */
static void rule_value(const Candidates *c, const EvalRow *r, char *buf, size_t size) {
    if (c->by == CHOOSE_BY_ACCURACY && isnan(r->result.top1))
        snprintf(buf, size, "%s top-1 not measured", c->table->split);
    else if (c->by == CHOOSE_BY_ACCURACY)
        snprintf(buf, size, "%s top-1 %.2f%%", c->table->split, r->result.top1);
    else
        snprintf(buf, size, "interval %d, score %.6g", r->interval, r->score);
}

static void explain_row(FILE *out, const char *label, const Candidates *c, const EvalRow *r) {
    char value[64], text[MODEL_ARCH_TEXT_MAX];
    rule_value(c, r, value, sizeof value);
    model_arch_format(&r->arch, text, sizeof text);
    fprintf(out, "  %-10s %s, params %lld, MACs %.1fM", label, value, (long long)r->cost.params,
            (double)r->cost.macs / 1e6);
    if (r->latency[0].median_ms > 0) fprintf(out, ", latency %.3f ms", r->latency[0].median_ms);
    fprintf(out, "  %s%s\n", text, r->preferred ? "" : "  (extra)");
}

void specialize_explain(FILE *out, const Candidates *c, const Constraints *limits,
                        const Choice *choice) {
    char what[256];
    constraints_format(limits, what, sizeof what);
    if (c->by == CHOOSE_BY_ACCURACY)
        fprintf(out, "%s: the highest %s top-1 of the %d within the limits, of %d %s (%s)\n", what,
                c->table->split, choice->qualified, choice->considered, rows_noun(c), c->source);
    else
        fprintf(out,
                "%s: the preferred ranking (highest interval, then proxy score) of the %d within "
                "the limits, of %d %s (%s)\n",
                what, choice->qualified, choice->considered, rows_noun(c), c->source);
    explain_row(out, "chosen", c, &c->table->rows[choice->chosen]);
    if (choice->runner_up >= 0)
        explain_row(out, "runner-up", c, &c->table->rows[choice->runner_up]);
    else
        fprintf(out, "  %-10s none: the only one within the limits\n", "runner-up");
}

void specialize_label(Standalone *s, const Candidates *c, const Constraints *limits,
                      const Choice *choice) {
    const EvalRow *r = &c->table->rows[choice->chosen];
    const int n =
        c->by == CHOOSE_BY_ACCURACY
            ? snprintf(s->chosen_by, sizeof s->chosen_by, "%s top-1 (eval.h5) within ",
                       c->table->split)
            : snprintf(s->chosen_by, sizeof s->chosen_by, "preferred ranking (Eq. 12) within ");
    constraints_format(limits, s->chosen_by + n, sizeof s->chosen_by - (size_t)n);
    snprintf(s->split, sizeof s->split, "%s", c->by == CHOOSE_BY_ACCURACY ? c->table->split : "");
    s->top1 = c->by == CHOOSE_BY_ACCURACY ? r->result.top1 : NAN;
}

/* The row of `arch` in a table; NULL when the table lacks it. */
static const EvalRow *find_row(const EvalTable *t, const ModelArch *arch) {
    for (int i = 0; t && i < t->n; i++)
        if (model_arch_equal(&t->rows[i].arch, arch)) return &t->rows[i];
    return NULL;
}

char *specialize_summary(const Candidates *c, const EvalTable *test, const Target *targets,
                         const Choice *choices, const char *const *paths, int n) {
    int limits_width = (int)strlen("limits"), path_width = (int)strlen("file");
    for (int i = 0; i < n; i++) {
        char what[256];
        constraints_format(&targets[i].limits, what, sizeof what);
        if ((int)strlen(what) > limits_width) limits_width = (int)strlen(what);
        if ((int)strlen(paths[i]) > path_width) path_width = (int)strlen(paths[i]);
    }
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&text, &size);
    if (!out) fatal_at(__FILE__, __LINE__, "open_memstream: %m");
    fprintf(out, "%-*s %10s %9s %10s %10s %10s  %-*s  architecture\n", limits_width, "limits",
            "params", "MACs", "val top-1", "test top-1", "latency", path_width, "file");
    for (int i = 0; i < n; i++) {
        const EvalRow *r = &c->table->rows[choices[i].chosen];
        const EvalRow *t = find_row(test, &r->arch);
        char what[256], val[32] = "ranked", tested[32] = "-", latency[32] = "-";
        char arch[MODEL_ARCH_TEXT_MAX];
        constraints_format(&targets[i].limits, what, sizeof what);
        if (c->by == CHOOSE_BY_ACCURACY) snprintf(val, sizeof val, "%.2f%%", r->result.top1);
        if (t) snprintf(tested, sizeof tested, "%.2f%%", t->result.top1);
        const double ms = r->latency[0].median_ms > 0 ? r->latency[0].median_ms
                          : t                         ? t->latency[0].median_ms
                                                      : 0;
        if (ms > 0) snprintf(latency, sizeof latency, "%.3f ms", ms);
        model_arch_format(&r->arch, arch, sizeof arch);
        fprintf(out, "%-*s %10lld %8.1fM %10s %10s %10s  %-*s  %s\n", limits_width, what,
                (long long)r->cost.params, (double)r->cost.macs / 1e6, val, tested, latency,
                path_width, paths[i], arch);
    }
    if (fclose(out) != 0) fatal_at(__FILE__, __LINE__, "open_memstream: %m");
    return text;
}

/* ---- provenance ---- */

bool specialize_check_eval(const Artefact *eval, const ArtefactInput *supernet, Error *err) {
    const ArtefactInput *in = artefact_meta_input(&eval->meta, "supernet");
    if (!in)
        return input_error(err, "%s names no supernet among its inputs, so it cannot be %s's",
                           eval->path, supernet->path);
    if (strcmp(in->sha256, supernet->sha256) != 0)
        return input_error(err,
                           "%s evaluated another supernet (%s, SHA-256 %.12s...), not %s "
                           "(SHA-256 %.12s...)",
                           eval->path, in->path, in->sha256, supernet->path, supernet->sha256);
    return true;
}

bool specialize_check_test(const Artefact *eval, const EvalTable *test,
                           const ArtefactInput *supernet, Error *err) {
    if (!specialize_check_eval(eval, supernet, err)) return false;
    if (strcmp(test->split, "test") != 0)
        return input_error(err,
                           "--test wants an evaluation of the test split (prenas-evaluate --split "
                           "test), and this one is of the %s split, %s",
                           test->split, eval->path);
    return true;
}

bool specialize_dataset(const char *given, const Artefact *supernet, DatasetFile *dataset,
                        Error *err) {
    if (given) return dataset_open(dataset, given, err);
    const ArtefactInput *in = artefact_meta_input(&supernet->meta, "dataset");
    if (!in)
        return input_error(err,
                           "the supernet names no dataset: give the training dataset with --data "
                           "(its normalisation and class names go into the model), %s",
                           supernet->path);
    char sha[SHA256_HEX_SIZE];
    Error ignored = {0};
    if (access(in->path, R_OK) != 0)
        return input_error(err,
                           "the supernet's training dataset %s cannot be read here: give it with "
                           "--data (its normalisation and class names go into the model), %s",
                           in->path, supernet->path);
    if (!sha256_file(in->path, sha, &ignored) || strcmp(sha, in->sha256) != 0)
        return input_error(err,
                           "the supernet's training dataset %s has changed since (SHA-256): give "
                           "the dataset with --data (its normalisation and class names go into "
                           "the model), %s",
                           in->path, supernet->path);
    return dataset_open(dataset, in->path, err);
}

void specialize_set_data(Standalone *s, const DatasetFile *dataset) {
    const SplitInfo *train = dataset_split(dataset, "train");
    for (int c = 0; c < dataset->shape.channels; c++)
        s->mean[c] = train->mean[c], s->std[c] = train->std[c];
    s->n_classes = dataset->shape.num_classes;
    s->class_names = xcalloc((size_t)s->n_classes, sizeof *s->class_names);
    for (int i = 0; i < s->n_classes; i++) s->class_names[i] = xstrdup(dataset->class_names[i]);
}
