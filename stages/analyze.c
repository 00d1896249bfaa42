/* prenas-analyze: how well each zero-cost proxy of scores.h5 predicts measured accuracies
 * (method.md §11): mean Best Rank inside isomer groups, Kendall's tau-b overall and inside
 * groups. Accuracies come from a CSV file (arch,accuracy per line). */
#include "analysis.h"
#include "arch.h"
#include "artefact.h"
#include "cli.h"
#include "h5.h"
#include "proxy.h"
#include "scores.h"
#include "space.h"
#include "text.h"

#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char USAGE[] =
    "usage: prenas-analyze --in scores.h5 --accuracy FILE.csv [--groups]\n"
    "\n"
    "For every proxy in scores.h5, compares its values with measured accuracies:\n"
    "  mBR    mean Best Rank over isomer groups (architectures of one width and depth whose\n"
    "         heads and MLP ratios are permutations of each other): in each group the proxy's\n"
    "         favourite has accuracy rank r of n, scoring (r-1)/(n-1); 0 = always the best,\n"
    "         1 = always the worst (method.md 11.1). Isomers are compared by the allocation\n"
    "         value the proxy gives them (what prenas-select maximises).\n"
    "  tau    Kendall's tau-b between the proxy's ranking value and accuracy over all\n"
    "         architectures (method.md 11.2), and its mean inside groups.\n"
    "\n"
    "  --in FILE         scores.h5 (its space decides the isomer groups)\n"
    "  --accuracy FILE   CSV lines ARCH,ACCURACY (a header line is allowed), e.g.\n"
    "                    192:12:4,...,4:4,...,3.5,74.8\n"
    "  --groups          also one line per isomer group\n"
    "  --help, --version\n"
    "Exit status: 0 success, 2 bad usage or input.\n";

typedef struct {
    Arch arch;
    double accuracy;
    char group[256];
} Entry;

/* Isomers share width, depth and the multisets of their per-layer choices. */
static void group_key(const Arch *a, char *key, size_t size) {
    int heads[SPACE_MAX_DEPTH], ratios[SPACE_MAX_DEPTH];
    memcpy(heads, a->num_heads, sizeof(int) * (size_t)a->depth);
    memcpy(ratios, a->mlp_ratio, sizeof(int) * (size_t)a->depth);
    for (int i = 1; i < a->depth; i++)
        for (int j = i; j > 0 && heads[j] < heads[j - 1]; j--) {
            int t = heads[j];
            heads[j] = heads[j - 1], heads[j - 1] = t;
        }
    for (int i = 1; i < a->depth; i++)
        for (int j = i; j > 0 && ratios[j] < ratios[j - 1]; j--) {
            int t = ratios[j];
            ratios[j] = ratios[j - 1], ratios[j - 1] = t;
        }
    Arch sorted = *a;
    memcpy(sorted.num_heads, heads, sizeof(int) * (size_t)a->depth);
    memcpy(sorted.mlp_ratio, ratios, sizeof(int) * (size_t)a->depth);
    arch_format(&sorted, key, size);
}

static Entry *read_accuracies(const char *path, const Space *space, size_t *n, Error *err) {
    FILE *f = fopen(path, "r");
    if (!f) {
        input_error(err, "cannot open: %m, %s", path);
        return NULL;
    }
    size_t capacity = 64, count = 0;
    Entry *entries = xmalloc(capacity * sizeof *entries);
    char line[4096];
    for (int number = 1; fgets(line, sizeof line, f); number++) {
        line[strcspn(line, "\r\n")] = '\0';
        if (line[0] == '\0' || line[0] == '#') continue;
        char *comma = strrchr(line, ',');
        double accuracy;
        if (comma) *comma = '\0';
        Arch arch;
        Error parse_err = {0};
        if (!comma || !parse_double(comma + 1, &accuracy) || !arch_parse(line, &arch, &parse_err)) {
            if (number == 1 && count == 0) continue; /* a header */
            input_error(err, "expected ARCH,ACCURACY, %s:%d", path, number);
            break;
        }
        if (!arch_check(&arch, space, &parse_err)) {
            input_error(err, "%s, %s:%d", parse_err.message, path, number);
            break;
        }
        if (count == capacity) entries = xrealloc(entries, (capacity *= 2) * sizeof *entries);
        entries[count].arch = arch;
        entries[count].accuracy = accuracy;
        group_key(&arch, entries[count].group, sizeof entries[count].group);
        count++;
    }
    fclose(f);
    if (err->code == 0 && count < 2) input_error(err, "fewer than two architectures, %s", path);
    if (err->code) {
        free(entries);
        return NULL;
    }
    *n = count;
    return entries;
}

static int by_group(const void *a, const void *b) {
    return strcmp(((const Entry *)a)->group, ((const Entry *)b)->group);
}

int main(int argc, char **argv) {
    static const struct option options[] = {{"in", required_argument, NULL, 'i'},
                                            {"accuracy", required_argument, NULL, 'a'},
                                            {"groups", no_argument, NULL, 'g'},
                                            {"help", no_argument, NULL, 'h'},
                                            {"version", no_argument, NULL, CLI_OPT_VERSION},
                                            {NULL, 0, NULL, 0}};
    const char *in = NULL, *accuracy_path = NULL;
    bool per_group = false;
    opterr = 0;
    for (int c; (c = getopt_long(argc, argv, "", options, NULL)) != -1;) {
        switch (c) {
        case 'i':
            in = optarg;
            break;
        case 'a':
            accuracy_path = optarg;
            break;
        case 'g':
            per_group = true;
            break;
        default:
            cli_common_option(c, USAGE, argv);
        }
    }
    if (optind < argc) cli_usage_error("unexpected argument '%s'", argv[optind]);
    if (!in || !accuracy_path)
        cli_usage_error("--in scores.h5 and --accuracy FILE.csv are required");
    h5_silence();
    Error err = {0};
    Artefact scores;
    if (!artefact_open(&scores, in, SCORES_SCHEMA, SCORES_SCHEMA_VERSION, &err)) die(&err);
    Space *space = space_load_text(scores.meta.config, in, &err);
    if (!space) die(&err);
    ScoreTables tables;
    H5Source src = {scores.file, in, &err};
    if (!scores_read(&src, space, &tables)) die(&err);
    size_t n;
    Entry *entries = read_accuracies(accuracy_path, space, &n, &err);
    if (!entries) die(&err);
    qsort(entries, n, sizeof *entries, by_group);

    double *accuracy = xmalloc(n * sizeof *accuracy), *rank_value = xmalloc(n * sizeof *rank_value);
    double *isomer_value = xmalloc(n * sizeof *isomer_value);
    for (size_t i = 0; i < n; i++) accuracy[i] = entries[i].accuracy;
    printf("%zu architectures of %s from %s\n", n, space->name, accuracy_path);
    printf("%-16s %8s %8s %10s %14s\n", "proxy", "mBR", "groups", "tau (all)", "tau (groups)");
    for (const Proxy *const *p = proxy_all(); *p; p++) {
        if (!(*p)->arch_value && !score_tables_find(&tables, *p)) continue;
        for (size_t i = 0; i < n; i++) {
            rank_value[i] = score_rank(&tables, *p, &entries[i].arch, space);
            isomer_value[i] = score_tables_find(&tables, *p)
                                  ? score_isomer_value(&tables, *p, &entries[i].arch)
                                  : rank_value[i];
        }
        double mbr = 0, tau_sum = 0;
        int groups = 0, tau_groups = 0;
        for (size_t first = 0, last; first < n; first = last) {
            for (last = first + 1; last < n && !strcmp(entries[last].group, entries[first].group);)
                last++;
            const double r = best_rank(isomer_value + first, accuracy + first, last - first);
            const double tau = kendall_tau_b(isomer_value + first, accuracy + first, last - first);
            if (r >= 0) mbr += r, groups++;
            if (!isnan(tau)) tau_sum += tau, tau_groups++;
            if (per_group && r >= 0)
                printf("  %-14s group %s: %zu members, best rank %.3f, tau %.3f\n", (*p)->name,
                       entries[first].group, last - first, r, tau);
        }
        printf("%-16s %8.3f %8d %10.3f %14.3f\n", (*p)->name, groups ? mbr / groups : NAN, groups,
               kendall_tau_b(rank_value, accuracy, n), tau_groups ? tau_sum / tau_groups : NAN);
    }
    free(accuracy), free(rank_value), free(isomer_value), free(entries);
    score_tables_free(&tables);
    artefact_close(&scores);
    space_free(space);
    return 0;
}
