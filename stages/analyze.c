/* prenas-analyze: how well each zero-cost proxy of scores.h5 predicts measured accuracies
 * (method.md §11): mean Best Rank inside isomer groups, Kendall's tau-b overall and inside
 * groups. Accuracies come from prenas-evaluate's eval.h5 or from a CSV file. */
#include "artefact.h"
#include "cli.h"
#include "h5.h"
#include "lineage.h"
#include "proxy_analysis.h"
#include "scores.h"
#include "space.h"
#include "text.h"

#include <getopt.h>
#include <stdio.h>

static const char USAGE[] =
    "usage: prenas-analyze --in scores.h5 (--eval eval.h5 | --accuracy FILE.csv) [--groups]\n"
    "\n"
    "For every proxy in scores.h5, compares its values with measured accuracies:\n"
    "  mBR    mean Best Rank over isomer groups (architectures of one width and depth whose\n"
    "         heads and MLP ratios are permutations of each other): in each group the proxy's\n"
    "         favourite has accuracy rank r of n, scoring (r-1)/(n-1); 0 = always the best,\n"
    "         1 = always the worst (method.md 11.1); a tie for favourite scores the mean of\n"
    "         the tied members. Isomers are compared by the allocation value the proxy gives\n"
    "         them (what prenas-select maximises).\n"
    "  tau    Kendall's tau-b between the proxy's ranking value and accuracy over all\n"
    "         architectures (method.md 11.2), and its mean inside groups.\n"
    "\n"
    "  --in FILE         scores.h5; every architecture must be one of its space\n"
    "  --eval FILE       eval.h5 of prenas-evaluate: its top-1 accuracies\n"
    "  --accuracy FILE   or CSV lines ARCH,ACCURACY (a header line is allowed), e.g.\n"
    "                    192:12:4,...,4:4,...,3.5,74.8\n"
    "  --groups          also one line per isomer group\n"
    "  --help, --version\n"
    "Exit status: 0 success, 2 bad usage or input.\n";

static void print_groups(const Proxy *proxy, const Measurements *m, const ProxyAnalysis *a) {
    for (int g = 0; g < m->n_groups; g++) {
        if (a->best_rank[g] < 0) continue;
        char text[ARCH_TEXT_MAX];
        arch_format(&m->items[m->group_start[g]].arch, text, sizeof text);
        const int members = m->group_start[g + 1] - m->group_start[g];
        printf("  %-14s group of %s: %d %s, best rank %.3f, tau %.3f\n", proxy->name, text, members,
               plural(members, "member", "members"), a->best_rank[g], a->taus[g]);
    }
}

int main(int argc, char **argv) {
    static const struct option options[] = {{"in", required_argument, NULL, 'i'},
                                            {"eval", required_argument, NULL, 'e'},
                                            {"accuracy", required_argument, NULL, 'a'},
                                            {"groups", no_argument, NULL, 'g'},
                                            {"help", no_argument, NULL, 'h'},
                                            {"version", no_argument, NULL, CLI_OPT_VERSION},
                                            {NULL, 0, NULL, 0}};
    const char *in = NULL, *eval = NULL, *csv = NULL;
    bool per_group = false;
    opterr = 0;
    for (int c; (c = getopt_long(argc, argv, "", options, NULL)) != -1;) {
        switch (c) {
        case 'i':
            in = optarg;
            break;
        case 'e':
            eval = optarg;
            break;
        case 'a':
            csv = optarg;
            break;
        case 'g':
            per_group = true;
            break;
        default:
            cli_common_option(c, USAGE, argv);
        }
    }
    if (optind < argc) cli_usage_error("unexpected argument '%s'", argv[optind]);
    if (!in || !eval == !csv)
        cli_usage_error("--in scores.h5 and one of --eval eval.h5 or --accuracy FILE.csv are "
                        "required");
    h5_silence();
    Error err = {0};
    Artefact scores;
    if (!artefact_open(&scores, in, SCORES_SCHEMA, SCORES_SCHEMA_VERSION, &err)) die(&err);
    Space *space = space_load_text(scores.meta.config, in, &err);
    if (!space) die(&err);
    ScoreTables tables;
    H5Source src = {scores.file, in, &err};
    if (!scores_read(&src, space, &tables)) die(&err);
    Measurements m;
    if (eval && !lineage_same_run(eval, in, &err)) die(&err);
    if (!(eval ? measurements_read_eval(eval, space, &m, &err)
               : measurements_read_csv(csv, space, &m, &err)))
        die(&err);

    printf("accuracies: %s\n", m.source);
    printf("%d architectures of %s in %d isomer groups\n", m.n, space->name, m.n_groups);
    printf("%-16s %8s %8s %10s %14s\n", "proxy", "mBR", "groups", "tau (all)", "tau (groups)");
    for (const Proxy *const *p = proxy_all(); *p; p++) {
        ProxyAnalysis a;
        if (!proxy_analysis(&tables, *p, space, &m, &a)) continue;
        if (per_group) print_groups(*p, &m, &a);
        printf("%-16s %8.3f %8d %10.3f %14.3f\n", (*p)->name, a.mbr, a.mbr_groups, a.tau_all,
               a.tau_groups);
        proxy_analysis_free(&a);
    }
    measurements_free(&m);
    score_tables_free(&tables);
    artefact_close(&scores);
    space_free(space);
    return 0;
}
