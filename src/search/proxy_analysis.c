#include "proxy_analysis.h"

#include "analysis.h"
#include "artefact.h"
#include "eval_table.h"
#include "text.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int compare_ints(const int *a, const int *b, int n) {
    for (int i = 0; i < n; i++)
        if (a[i] != b[i]) return a[i] < b[i] ? -1 : 1;
    return 0;
}

/* Lexicographic in (E, D, heads, MLP ratios). */
static int compare_archs(const Arch *a, const Arch *b) {
    if (a->embed_dim != b->embed_dim) return a->embed_dim < b->embed_dim ? -1 : 1;
    if (a->depth != b->depth) return a->depth < b->depth ? -1 : 1;
    const int heads = compare_ints(a->num_heads, b->num_heads, a->depth);
    return heads ? heads : compare_ints(a->mlp_ratio, b->mlp_ratio, a->depth);
}

static int ascending(const void *a, const void *b) {
    const int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

typedef struct {
    Arch group; /* the group's member with ascending heads and ratios: equal for isomers */
    Measured measured;
    int line; /* in a CSV file; 0 for eval.h5 */
} Keyed;

static int by_group_then_arch(const void *a, const void *b) {
    const Keyed *p = a, *q = b;
    const int group = compare_archs(&p->group, &q->group);
    const int arch = group ? group : compare_archs(&p->measured.arch, &q->measured.arch);
    return arch ? arch : (p->line > q->line) - (p->line < q->line);
}

/* Sorts the architectures into groups; `items` is taken over. `lines` (NULL for eval.h5): each
 * item's line in the file, so that a duplicate names both. */
static bool measurements_group(Measured *items, const int *lines, int n, const char *path,
                               char *source, Measurements *out, Error *err) {
    memset(out, 0, sizeof *out);
    Keyed *keyed = xmalloc(sizeof *keyed * ((size_t)n + 1));
    for (int i = 0; i < n; i++) {
        keyed[i].measured = items[i];
        keyed[i].line = lines ? lines[i] : 0;
        keyed[i].group = items[i].arch;
        qsort(keyed[i].group.num_heads, (size_t)items[i].arch.depth, sizeof(int), ascending);
        qsort(keyed[i].group.mlp_ratio, (size_t)items[i].arch.depth, sizeof(int), ascending);
    }
    qsort(keyed, (size_t)n, sizeof *keyed, by_group_then_arch);
    out->group_start = xmalloc(sizeof *out->group_start * ((size_t)n + 1));
    for (int i = 0; i < n; i++) {
        items[i] = keyed[i].measured;
        if (i > 0 && arch_equal(&items[i].arch, &items[i - 1].arch) && !err->code) {
            char text[ARCH_TEXT_MAX];
            arch_format(&items[i].arch, text, sizeof text);
            if (lines)
                input_error(err, "architecture %s is listed twice, on lines %d and %d, %s", text,
                            keyed[i - 1].line, keyed[i].line, path);
            else
                input_error(err, "architecture %s is listed twice, %s", text, path);
        }
        if (i == 0 || compare_archs(&keyed[i].group, &keyed[i - 1].group) != 0)
            out->group_start[out->n_groups++] = i;
    }
    out->group_start[out->n_groups] = n;
    free(keyed);
    if (n < 2) input_error(err, "fewer than two architectures, %s", path);
    out->n = n;
    out->items = items;
    out->source = source;
    if (err->code) measurements_free(out);
    return err->code == 0;
}

static bool in_scores_space(const Arch *arch, const Space *space, const char *where, Error *err) {
    Error check = {0};
    if (arch_check(arch, space, &check)) return true;
    return input_error(err, "%s (the scores' space), %s", check.message, where);
}

static const char *input_path(const ArtefactMeta *meta, const char *role) {
    for (int i = 0; i < meta->n_inputs; i++)
        if (strcmp(meta->inputs[i].role, role) == 0) return meta->inputs[i].path;
    return "?";
}

bool measurements_read_eval(const char *path, const Space *space, Measurements *out, Error *err) {
    EvalTable table;
    Artefact artefact;
    if (!eval_table_read(path, &table, &artefact, err)) return false;
    Measured *items = xmalloc(sizeof *items * ((size_t)table.n + 1));
    bool ok = true;
    for (int i = 0; ok && i < table.n; i++) {
        if (table.rows[i].arch.family != FAMILY_VIT) {
            ok = input_error(err, "a CNN's evaluation: isomers are the ViT's, %s", path);
            break;
        }
        items[i] = (Measured){table.rows[i].arch.vit, table.rows[i].result.top1};
        ok = in_scores_space(&items[i].arch, space, path, err);
    }
    char *source = NULL;
    size_t size = 0;
    FILE *text = open_memstream(&source, &size);
    if (!text) fatal_at(__FILE__, __LINE__, "open_memstream: %m");
    fprintf(text, "top-1 on %lld images of the %s split of %s, supernet %s (%s)",
            table.n ? (long long)table.rows[0].result.images : 0LL, table.split,
            input_path(&artefact.meta, "dataset"), input_path(&artefact.meta, "supernet"), path);
    if (fclose(text) != 0) fatal_at(__FILE__, __LINE__, "open_memstream: %m");
    const int n = table.n;
    eval_table_free(&table);
    artefact_close(&artefact);
    if (!ok) {
        free(items), free(source);
        return false;
    }
    return measurements_group(items, NULL, n, path, source, out, err);
}

bool measurements_read_csv(const char *path, const Space *space, Measurements *out, Error *err) {
    FILE *f = fopen(path, "r");
    if (!f) return input_error(err, "cannot open: %m, %s", path);
    int capacity = 64, n = 0;
    Measured *items = xmalloc(sizeof *items * (size_t)capacity);
    int *lines = xmalloc(sizeof *lines * (size_t)capacity);
    char line[4096], where[ARTEFACT_PATH_MAX + 16];
    for (int number = 1; fgets(line, sizeof line, f); number++) {
        line[strcspn(line, "\r\n")] = '\0';
        if (line[0] == '\0' || line[0] == '#') continue;
        snprintf(where, sizeof where, "%s:%d", path, number);
        char *comma = strrchr(line, ',');
        if (comma) *comma = '\0';
        Measured m;
        Error syntax = {0};
        const bool named = comma && arch_parse(line, &m.arch, &syntax);
        /* line 1 is a header only when it names no architecture: "ARCH,nan" is a bad row */
        if (!named && number == 1) continue;
        if (!named || !parse_double(comma + 1, &m.accuracy)) {
            char *end = NULL;
            const double value = named ? strtod(comma + 1, &end) : 0;
            if (named && end != comma + 1 && *end == '\0' && !isfinite(value))
                input_error(err, "accuracy '%s' is not a finite number, %s", comma + 1, where);
            else
                input_error(err, "expected ARCH,ACCURACY, %s", where);
            break;
        }
        if (!in_scores_space(&m.arch, space, where, err)) break;
        if (n == capacity) {
            capacity *= 2;
            items = xrealloc(items, sizeof *items * (size_t)capacity);
            lines = xrealloc(lines, sizeof *lines * (size_t)capacity);
        }
        lines[n] = number;
        items[n++] = m;
    }
    fclose(f);
    if (err->code) {
        free(items), free(lines);
        return false;
    }
    const bool ok = measurements_group(items, lines, n, path, xstrdup(path), out, err);
    free(lines);
    return ok;
}

void measurements_free(Measurements *m) {
    free(m->items), free(m->group_start), free(m->source);
    memset(m, 0, sizeof *m);
}

bool proxy_analysis(const ScoreTables *tables, const Proxy *proxy, const Space *space,
                    const Measurements *m, ProxyAnalysis *out) {
    const bool tabled = score_tables_find(tables, proxy) != NULL;
    if (!tabled && !proxy->arch_value) return false;
    const size_t n = (size_t)m->n;
    double *accuracy = xmalloc(sizeof(double) * n), *rank_value = xmalloc(sizeof(double) * n);
    double *isomer_value = xmalloc(sizeof(double) * n);
    for (size_t i = 0; i < n; i++) {
        accuracy[i] = m->items[i].accuracy;
        rank_value[i] = score_rank(tables, proxy, &m->items[i].arch, space);
        isomer_value[i] =
            tabled ? score_isomer_value(tables, proxy, &m->items[i].arch) : rank_value[i];
    }
    *out = (ProxyAnalysis){.tau_all = kendall_tau_b(rank_value, accuracy, n),
                           .best_rank = xmalloc(sizeof(double) * ((size_t)m->n_groups + 1)),
                           .taus = xmalloc(sizeof(double) * ((size_t)m->n_groups + 1))};
    double mbr = 0, tau = 0;
    int tau_groups = 0;
    for (int g = 0; g < m->n_groups; g++) {
        const size_t first = (size_t)m->group_start[g],
                     size = (size_t)m->group_start[g + 1] - first;
        out->best_rank[g] = best_rank(isomer_value + first, accuracy + first, size);
        out->taus[g] = kendall_tau_b(isomer_value + first, accuracy + first, size);
        if (out->best_rank[g] >= 0) mbr += out->best_rank[g], out->mbr_groups++;
        if (!isnan(out->taus[g])) tau += out->taus[g], tau_groups++;
    }
    out->mbr = out->mbr_groups ? mbr / out->mbr_groups : NAN;
    out->tau_groups = tau_groups ? tau / tau_groups : NAN;
    free(accuracy), free(rank_value), free(isomer_value);
    return true;
}

void proxy_analysis_free(ProxyAnalysis *a) {
    free(a->best_rank), free(a->taus);
    a->best_rank = a->taus = NULL;
}
