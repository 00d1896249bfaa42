#include "preferred.h"

#include "allocate.h"
#include "config.h"
#include "error.h"
#include "h5.h"
#include "text.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- budgets ---- */

static const char *const BUDGET_NAMES[] = {"params", "flops", "macs"};

const char *budget_name(Budget budget) {
    return BUDGET_NAMES[budget];
}

bool budget_parse(const char *name, Budget *budget) {
    for (int b = 0; b < 3; b++)
        if (strcmp(name, BUDGET_NAMES[b]) == 0) {
            *budget = (Budget)b;
            return true;
        }
    return false;
}

int64_t budget_value(Budget budget, const ArchCost *cost) {
    return budget == BUDGET_PARAMS  ? cost->params
           : budget == BUDGET_FLOPS ? cost->flops_ref
                                    : cost->macs;
}

const IntervalSpec *budget_intervals(Budget budget, const Space *space) {
    const IntervalSpec *spec = budget == BUDGET_PARAMS  ? &space->param_intervals
                               : budget == BUDGET_FLOPS ? &space->flops_intervals
                                                        : &space->macs_intervals;
    return spec->present ? spec : NULL;
}

/* The unit an interval bound is shown and keyed in: millions of parameters, G (FL)OPs. */
static double budget_unit(Budget budget) {
    return budget == BUDGET_PARAMS ? 1e6 : 1e9;
}

/* ---- representatives and candidates ---- */

static void allocate_dimension(int depth, const ChoiceList *choices, const int *counts,
                               const double *cumulative, size_t stride, const int *index_of,
                               int *values) {
    double increments[SPACE_MAX_DEPTH * SPACE_MAX_CHOICES] = {0};
    for (int l = 0; l < depth; l++)
        for (int k = 1; k < choices->count; k++)
            increments[l * choices->count + k] =
                cumulative[l * stride + index_of[k]] - cumulative[l * stride + index_of[k - 1]];
    int picked[SPACE_MAX_DEPTH];
    allocate_choices(depth, choices->count, counts, increments, picked);
    for (int l = 0; l < depth; l++) values[l] = choices->values[picked[l]];
}

void isomer_representative(const Space *space, const ScoreTables *tables, const Proxy *isomer,
                           const IsomerGroup *group, Arch *arch) {
    const ScoreLayout *l = &tables->layout;
    const ProxyTables *t = score_tables_find(tables, isomer);
    const int w = layout_width(l, group->embed_dim);
    if (!t || w < 0) fatal_at(__FILE__, __LINE__, "isomer proxy or width missing from the tables");
    memset(arch, 0, sizeof *arch);
    arch->embed_dim = group->embed_dim;
    arch->depth = group->depth;
    const ChoiceList *heads = &space->choices.num_heads, *ratios = &space->choices.mlp_ratio;
    int head_index[SPACE_MAX_CHOICES], ratio_index[SPACE_MAX_CHOICES];
    for (int k = 0; k < heads->count; k++) head_index[k] = heads->values[k];
    for (int k = 0; k < ratios->count; k++) ratio_index[k] = layout_ratio(l, ratios->values[k]);
    const size_t base = (size_t)w * l->depth;
    allocate_dimension(group->depth, heads, group->heads.counts,
                       t->alloc_heads + base * (l->max_heads + 1), (size_t)l->max_heads + 1,
                       head_index, arch->num_heads);
    allocate_dimension(group->depth, ratios, group->ratios.counts,
                       t->alloc_mlp + base * l->n_ratios, (size_t)l->n_ratios, ratio_index,
                       arch->mlp_ratio);
}

void candidates_compute(const Space *space, const ScoreTables *tables, const IsomerGroups *groups,
                        size_t first, size_t count, const SelectOptions *o, Candidate *out) {
#pragma omp parallel for schedule(dynamic, 64)
    for (size_t i = 0; i < count; i++) {
        Candidate *c = &out[i];
        const IsomerGroup *g = &groups->items[first + i];
        isomer_representative(space, tables, o->isomer, g, &c->arch);
        c->cost = g->cost;
        c->score = score_rank(tables, o->rank, &c->arch, space);
        c->group = (int64_t)(first + i);
        c->interval = interval_of(&o->intervals, budget_value(o->budget, &c->cost));
    }
}

/* ---- selection ---- */

static int by_score_then_group(const void *a, const void *b) {
    const Candidate *x = *(const Candidate *const *)a, *y = *(const Candidate *const *)b;
    if (x->score != y->score) return x->score > y->score ? -1 : 1;
    return x->group < y->group ? -1 : x->group > y->group;
}

Preferred preferred_select(const Candidate *all, size_t n, const SelectOptions *o) {
    Preferred p = {.n_intervals = o->intervals.count, .n_groups = (int64_t)n};
    p.in_interval = xcalloc((size_t)p.n_intervals + 1, sizeof *p.in_interval);
    p.kept = xcalloc((size_t)p.n_intervals + 1, sizeof *p.kept);
    p.chosen = xcalloc((size_t)p.n_intervals * o->per_interval + 1, sizeof *p.chosen);
    const Candidate **members = xmalloc((n + 1) * sizeof *members);
    for (int k = 0; k < p.n_intervals; k++) {
        size_t m = 0;
        for (size_t i = 0; i < n; i++)
            if (all[i].interval == k) members[m++] = &all[i];
        qsort(members, m, sizeof *members, by_score_then_group);
        p.in_interval[k] = (int64_t)m;
        p.kept[k] = (int)(m < (size_t)o->per_interval ? m : (size_t)o->per_interval);
        for (int j = 0; j < p.kept[k]; j++) p.chosen[p.n_chosen++] = *members[j];
    }
    for (size_t i = 0; i < n; i++) p.outside += all[i].interval < 0;
    free(members);
    return p;
}

void preferred_free(Preferred *p) {
    free(p->in_interval), free(p->kept), free(p->chosen);
    memset(p, 0, sizeof *p);
}

/* ---- preferred.h5 ---- */

void preferred_write(hid_t file, const Preferred *p, const SelectOptions *o,
                     const char *refined_space_text) {
    h5_attr_string(file, "budget", budget_name(o->budget));
    h5_attr_string(file, "isomer_proxy", o->isomer->name);
    h5_attr_string(file, "rank_proxy", o->rank->name);
    h5_attr_string(file, "count_vectors", o->all_count_vectors ? "all" : "reference");
    h5_attr_int(file, "per_interval", o->per_interval);
    h5_attr_int(file, "groups", p->n_groups);
    h5_attr_int(file, "outside_intervals", p->outside);
    hid_t iv = h5_create_group(file, "intervals");
    const int k = p->n_intervals;
    int64_t *lo = xmalloc(sizeof *lo * (size_t)(k + 1)),
            *hi = xmalloc(sizeof *hi * (size_t)(k + 1));
    for (int i = 0; i < k; i++)
        lo[i] = interval_lo(&o->intervals, i), hi[i] = interval_hi(&o->intervals, i);
    hsize_t n_intervals[1] = {(hsize_t)k};
    h5_write(iv, "lo", H5T_NATIVE_INT64, 1, n_intervals, lo);
    h5_write(iv, "hi", H5T_NATIVE_INT64, 1, n_intervals, hi);
    h5_write(iv, "groups", H5T_NATIVE_INT64, 1, n_intervals, p->in_interval);
    h5_write(iv, "kept", H5T_NATIVE_INT, 1, n_intervals, p->kept);
    CHECK_H5(H5Gclose(iv));
    free(lo), free(hi);

    const int n = p->n_chosen;
    char **texts = xmalloc(sizeof *texts * (size_t)(n + 1));
    int *interval = xmalloc(sizeof *interval * (size_t)(n + 1));
    int64_t *params = xmalloc(sizeof *params * (size_t)(n + 1)),
            *flops = xmalloc(sizeof *flops * (size_t)(n + 1));
    int64_t *macs = xmalloc(sizeof *macs * (size_t)(n + 1)),
            *group = xmalloc(sizeof *group * (size_t)(n + 1));
    double *score = xmalloc(sizeof *score * (size_t)(n + 1));
    for (int i = 0; i < n; i++) {
        const Candidate *c = &p->chosen[i];
        texts[i] = xmalloc(ARCH_TEXT_MAX);
        arch_format(&c->arch, texts[i], ARCH_TEXT_MAX);
        interval[i] = c->interval, params[i] = c->cost.params, flops[i] = c->cost.flops_ref;
        macs[i] = c->cost.macs, group[i] = c->group, score[i] = c->score;
    }
    hid_t cg = h5_create_group(file, "candidates");
    hsize_t count[1] = {(hsize_t)n};
    h5_write_strings(cg, "arch", (const char *const *)texts, n);
    h5_write(cg, "interval", H5T_NATIVE_INT, 1, count, interval);
    h5_write(cg, "params", H5T_NATIVE_INT64, 1, count, params);
    h5_write(cg, "flops_ref", H5T_NATIVE_INT64, 1, count, flops);
    h5_write(cg, "macs", H5T_NATIVE_INT64, 1, count, macs);
    h5_write(cg, "group", H5T_NATIVE_INT64, 1, count, group);
    h5_write(cg, "score", H5T_NATIVE_DOUBLE, 1, count, score);
    CHECK_H5(H5Gclose(cg));
    for (int i = 0; i < n; i++) free(texts[i]);
    free(texts), free(interval), free(params), free(flops), free(macs), free(group), free(score);
    h5_write_text(file, "refined_space", refined_space_text);
}

/* Python's repr of a float: the fewest significant digits that read back as the same double,
 * in positional notation for exponents -4 to 15 (with ".0" on integral values), scientific
 * beyond. */
static void format_python_float(double value, char *buf, size_t size) {
    int digits = 1;
    for (; digits < 17; digits++) {
        snprintf(buf, size, "%.*e", digits - 1, value);
        if (strtod(buf, NULL) == value) break;
    }
    const int exponent = value == 0 ? 0 : (int)floor(log10(fabs(value)));
    if (exponent < -4 || exponent >= 16) return; /* keep the scientific form */
    const int decimals = digits - 1 - exponent;
    snprintf(buf, size, "%.*f", decimals > 0 ? decimals : 0, value);
    if (!strchr(buf, '.')) strncat(buf, ".0", size - strlen(buf) - 1);
}

static void json_list(FILE *out, const char *key, const int *values, int n, bool milli, bool last) {
    fprintf(out, "      \"%s\": [\n", key);
    for (int i = 0; i < n; i++) {
        char text[32];
        if (milli)
            format_python_float(values[i] / 1000.0, text, sizeof text);
        else
            snprintf(text, sizeof text, "%d", values[i]);
        fprintf(out, "        %s%s\n", text, i + 1 < n ? "," : "");
    }
    fprintf(out, "      ]%s\n", last ? "" : ",");
}

void preferred_write_json(FILE *out, const Preferred *p, const SelectOptions *o) {
    fputs("{", out);
    int written = 0, at = 0;
    for (int k = 0; k < p->n_intervals; k++) {
        const int kept = p->kept[k];
        if (kept == 0) continue; /* the reference omits empty intervals */
        char key[32];
        format_python_float((double)interval_hi(&o->intervals, k) / budget_unit(o->budget), key,
                            sizeof key);
        fprintf(out, "%s\n  \"%s\": [", written++ ? "," : "", key);
        for (int j = 0; j < kept; j++) {
            const Candidate *c = &p->chosen[at + j];
            int dims[SPACE_MAX_DEPTH];
            for (int l = 0; l < c->arch.depth; l++) dims[l] = c->arch.embed_dim;
            char params[32], score[40];
            format_python_float((double)c->cost.params / 1e6, params, sizeof params);
            format_python_float(c->score, score, sizeof score);
            fprintf(out, "%s\n    {\n      \"layer_num\": %d,\n", j ? "," : "", c->arch.depth);
            json_list(out, "mlp_ratio", c->arch.mlp_ratio, c->arch.depth, true, false);
            json_list(out, "num_heads", c->arch.num_heads, c->arch.depth, false, false);
            json_list(out, "embed_dim", dims, c->arch.depth, false, false);
            fprintf(out, "      \"num_params\": %s,\n      \"score\": %s\n    }", params, score);
        }
        fputs("\n  ]", out);
        at += kept;
    }
    fputs(written ? "\n}\n" : "}\n", out);
}

void preferred_print_table(FILE *out, const Preferred *p, const SelectOptions *o) {
    const double unit = budget_unit(o->budget);
    const char *suffix = o->budget == BUDGET_PARAMS ? "M" : "G";
    fprintf(out, "%-18s %-10s %14s %14s %16s  %s\n", "interval", "groups", "params", "flops_ref",
            o->rank->name, "architecture");
    int at = 0;
    for (int k = 0; k < p->n_intervals; k++) {
        char range[48];
        snprintf(range, sizeof range, "[%g%s, %g%s)", interval_lo(&o->intervals, k) / unit, suffix,
                 interval_hi(&o->intervals, k) / unit, suffix);
        if (p->kept[k] == 0) {
            fprintf(out, "%-18s %-10lld %14s %14s %16s  (no architecture in this interval)\n",
                    range, (long long)p->in_interval[k], "-", "-", "-");
            continue;
        }
        for (int j = 0; j < p->kept[k]; j++) {
            const Candidate *c = &p->chosen[at++];
            char text[ARCH_TEXT_MAX];
            arch_format(&c->arch, text, sizeof text);
            fprintf(out, "%-18s %-10lld %14lld %14lld %16.6g  %s\n", j ? "" : range,
                    j ? 0LL : (long long)p->in_interval[k], (long long)c->cost.params,
                    (long long)c->cost.flops_ref, c->score, text);
        }
    }
}

/* ---- reading ---- */

bool preferred_open(PreferredFile *f, const char *path, Error *err) {
    memset(f, 0, sizeof *f);
    if (!artefact_open(&f->artefact, path, PREFERRED_SCHEMA, PREFERRED_SCHEMA_VERSION, err))
        return false;
    ModelFamily family = FAMILY_VIT;
    if (!cfg_text_family(f->artefact.meta.config, path, &family, err)) {
        artefact_close(&f->artefact);
        return false;
    }
    H5Source src = {f->artefact.file, path, err};
    int n = 0;
    char **texts = h5_read_strings(&src, "candidates/arch", H5_LIST_MAX, &n);
    bool ok = texts != NULL;
    if (ok && n == 0) ok = input_error(err, "no preferred architecture, %s", path);
    f->n = n;
    f->archs = xcalloc((size_t)n + 1, sizeof *f->archs);
    f->interval = xcalloc((size_t)n + 1, sizeof *f->interval);
    f->score = xcalloc((size_t)n + 1, sizeof *f->score);
    for (int i = 0; ok && i < n; i++)
        if (!model_arch_read_stored(texts[i], family, NULL, path, &f->archs[i], err)) ok = false;
    hsize_t dims[1];
    hid_t d = ok ? h5_open_dataset(&src, "candidates/interval", 1, dims) : -1;
    ok = ok && d >= 0 && dims[0] == (hsize_t)n &&
         h5_read(&src, d, "candidates/interval", H5T_NATIVE_INT, 0, 0, f->interval);
    if (d >= 0) H5Dclose(d);
    d = ok ? h5_open_dataset(&src, "candidates/score", 1, dims) : -1;
    ok = ok && d >= 0 && dims[0] == (hsize_t)n &&
         h5_read(&src, d, "candidates/score", H5T_NATIVE_DOUBLE, 0, 0, f->score);
    if (d >= 0) H5Dclose(d);
    if (ok == false && err->code == 0) input_error(err, "malformed candidates, %s", path);
    for (int i = 0; texts && i < n; i++) free(texts[i]);
    free(texts);
    if (!ok) preferred_close(f);
    return ok;
}

void preferred_close(PreferredFile *f) {
    free(f->archs), free(f->interval), free(f->score);
    artefact_close(&f->artefact);
    memset(f, 0, sizeof *f);
    f->artefact.file = -1;
}
