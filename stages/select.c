/* prenas-select: the preferred space (method.md §7, §8) from scores.h5; for a CNN space the
 * best sampled architectures per FLOPs group (§13, src/cnn/cnn_select.h). */
#include "arch.h"
#include "artefact.h"
#include "cli.h"
#include "cnn_artefacts.h"
#include "cnn_scores.h"
#include "comm.h"
#include "config.h"
#include "h5.h"
#include "interval.h"
#include "isomer.h"
#include "lineage.h"
#include "preferred.h"
#include "proxy.h"
#include "scores.h"
#include "space.h"
#include "text.h"

#include <getopt.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char USAGE[] =
    "usage: prenas-select --in scores.h5 --out preferred.h5 [options]\n"
    "\n"
    "Enumerates the isomer groups of the search space (method.md 8.2), builds each group's\n"
    "representative with the isomer proxy (7), bins the representatives into resource\n"
    "intervals [lo + k w, lo + (k+1) w) and keeps the best per interval by the ranking proxy:\n"
    "the preferred space that prenas-train trains.\n"
    "\n"
    "  --in FILE            scores.h5 from prenas-score\n"
    "  --out FILE           preferred.h5 to write (atomically)\n"
    "  --config FILE        the search space; must be the one scores.h5 was made for\n"
    "                       (default: the space recorded in scores.h5)\n"
    "  --budget B           params (default), flops (the reference's count, comparable to the\n"
    "                       paper) or macs\n"
    "  --min X --max Y --width W  intervals, in millions of parameters or G(FL)OPs, or with a\n"
    "                       decimal suffix K, M or G (0.05, 50K); default: the space's\n"
    "                       `intervals` for the budget\n"
    "  --per-interval N     architectures kept per interval (default 1; per FLOPs group of a CNN\n"
    "                       space: 5)\n"
    "  --proxy NAME         isomer proxy (default: the one scores.h5 names)\n"
    "  --rank-by NAME       ranking proxy (default snip, method.md 6.4)\n"
    "  --all-count-vectors  also the count vectors the reference never generates (no layer at a\n"
    "                       middle choice)\n"
    "  --json FILE          also the reference's candidate JSON (interval_cands/*.json form)\n"
    "  --refined FILE       also the refined space (method.md 5.3) as a configuration file\n"
    "  --help, --version\n"
    "Proxies: %s.\n"
    "\n"
    "Scores of a CNN space (method.md 13): architectures are drawn uniformly from the space\n"
    "(too large to enumerate), scored by SNIP from the saliency, and each of the space's FLOPs\n"
    "groups (its `groups` key; another --config may give other groups) keeps its best\n"
    "--per-interval (default 5 here); groups the draws barely reach are filled by draws from\n"
    "their box (src/cnn/cnn_select.h). The intervals, proxies, --json and --refined are the\n"
    "ViT's; --budget can only be flops.\n"
    "  --samples M          uniform draws from the space (default 100000)\n"
    "  --group-min K        fill a group with fewer members up to K (default 1000; 0: never)\n"
    "  --group-cap C        at most C filling draws per group (default 1000000)\n"
    "  --seed S             the draws (default: the scores' seed)\n"
    "\n"
    "MPI: ranks share the enumeration; the result does not depend on the rank count. A CNN\n"
    "space's selection runs on rank 0. Exit status: 0 success, 2 bad usage or input, 1 failure.\n";

typedef struct {
    const char *in, *out, *config, *json, *refined, *proxy, *rank_by;
    const char *min, *max, *width;
    Budget budget;
    int per_interval; /* 0: the family's default */
    bool all_count_vectors;
    int64_t samples, group_min, group_cap; /* CNN spaces */
    uint64_t seed;
    bool seed_given, budget_given;
    const char *vit_only, *cnn_only; /* the first option given that only one family takes */
} Options;

static Options parse(int argc, char **argv) {
    enum {
        OPT_MIN = CLI_OPT_FIRST,
        OPT_MAX,
        OPT_WIDTH,
        OPT_PER,
        OPT_RANK,
        OPT_ALL,
        OPT_REFINED,
        OPT_SAMPLES,
        OPT_GROUP_MIN,
        OPT_GROUP_CAP,
        OPT_SEED
    };
    static const struct option options[] = {{"in", required_argument, NULL, 'i'},
                                            {"out", required_argument, NULL, 'o'},
                                            {"config", required_argument, NULL, 'c'},
                                            {"json", required_argument, NULL, 'j'},
                                            {"refined", required_argument, NULL, OPT_REFINED},
                                            {"budget", required_argument, NULL, 'b'},
                                            {"min", required_argument, NULL, OPT_MIN},
                                            {"max", required_argument, NULL, OPT_MAX},
                                            {"width", required_argument, NULL, OPT_WIDTH},
                                            {"per-interval", required_argument, NULL, OPT_PER},
                                            {"proxy", required_argument, NULL, 'p'},
                                            {"rank-by", required_argument, NULL, OPT_RANK},
                                            {"all-count-vectors", no_argument, NULL, OPT_ALL},
                                            {"samples", required_argument, NULL, OPT_SAMPLES},
                                            {"group-min", required_argument, NULL, OPT_GROUP_MIN},
                                            {"group-cap", required_argument, NULL, OPT_GROUP_CAP},
                                            {"seed", required_argument, NULL, OPT_SEED},
                                            {"help", no_argument, NULL, 'h'},
                                            {"version", no_argument, NULL, CLI_OPT_VERSION},
                                            {NULL, 0, NULL, 0}};
    Options o = {.rank_by = "snip",
                 .budget = BUDGET_PARAMS,
                 .samples = 100000,
                 .group_min = 1000,
                 .group_cap = 1000000};
    char names[128];
    proxy_names(names, sizeof names);
    opterr = 0;
    for (int c; (c = getopt_long(argc, argv, "", options, NULL)) != -1;) {
        switch (c) {
        case 'i':
            o.in = optarg;
            break;
        case 'o':
            o.out = optarg;
            break;
        case 'c':
            o.config = optarg;
            break;
        case 'j':
            o.json = optarg;
            cli_first(&o.vit_only, "--json");
            break;
        case OPT_REFINED:
            o.refined = optarg;
            cli_first(&o.vit_only, "--refined");
            break;
        case 'b':
            if (!budget_parse(optarg, &o.budget))
                cli_usage_error("--budget '%s': expected params, flops or macs", optarg);
            o.budget_given = true;
            break;
        case OPT_MIN:
            o.min = optarg;
            cli_first(&o.vit_only, "--min");
            break;
        case OPT_MAX:
            o.max = optarg;
            cli_first(&o.vit_only, "--max");
            break;
        case OPT_WIDTH:
            o.width = optarg;
            cli_first(&o.vit_only, "--width");
            break;
        case OPT_PER:
            o.per_interval = (int)cli_long("--per-interval", optarg, -1000000, 1000000);
            if (o.per_interval <= 0)
                cli_usage_error("--per-interval %d: must be at least 1", o.per_interval);
            break;
        case 'p':
            o.proxy = optarg;
            cli_first(&o.vit_only, "--proxy");
            break;
        case OPT_RANK:
            o.rank_by = optarg;
            /* snip is the CNN's ranking too */
            if (strcmp(optarg, "snip") != 0) cli_first(&o.vit_only, "--rank-by");
            break;
        case OPT_ALL:
            o.all_count_vectors = true;
            cli_first(&o.vit_only, "--all-count-vectors");
            break;
        case OPT_SAMPLES:
            o.samples = cli_long("--samples", optarg, 1, 1000000000L);
            cli_first(&o.cnn_only, "--samples");
            break;
        case OPT_GROUP_MIN:
            o.group_min = cli_long("--group-min", optarg, 0, 1000000000L);
            cli_first(&o.cnn_only, "--group-min");
            break;
        case OPT_GROUP_CAP:
            o.group_cap = cli_long("--group-cap", optarg, 0, 1000000000000L);
            cli_first(&o.cnn_only, "--group-cap");
            break;
        case OPT_SEED:
            o.seed = (uint64_t)cli_long("--seed", optarg, 0, INT64_MAX);
            cli_first(&o.cnn_only, "--seed");
            o.seed_given = true;
            break;
        case 'h':
            printf(USAGE, names);
            exit(0);
        default:
            cli_common_option(c, NULL, argv);
        }
    }
    if (optind < argc) cli_usage_error("unexpected argument '%s'", argv[optind]);
    if (!o.in) cli_usage_error("--in scores.h5 is required");
    if (!o.out) cli_usage_error("--out preferred.h5 is required");
    if (o.proxy && !proxy_find(o.proxy))
        cli_usage_error("--proxy '%s': unknown (known: %s)", o.proxy, names);
    if (!proxy_find(o.rank_by))
        cli_usage_error("--rank-by '%s': unknown (known: %s)", o.rank_by, names);
    if ((o.min || o.max || o.width) && !(o.min && o.max && o.width))
        cli_usage_error("--min, --max and --width go together");
    return o;
}

/* The budget's intervals: the command line's, or the space's. */
static Intervals choose_intervals(const Options *o, const Space *space) {
    const int64_t unit = o->budget == BUDGET_PARAMS ? 1000000 : 1000000000;
    IntervalSpec spec;
    if (o->min) {
        spec = (IntervalSpec){true, cli_size("--min", o->min, unit),
                              cli_size("--max", o->max, unit), cli_size("--width", o->width, unit)};
    } else {
        const IntervalSpec *given = budget_intervals(o->budget, space);
        if (!given)
            die_input("the space gives no %s intervals; pass --min, --max and --width, %s",
                      budget_name(o->budget), space->source);
        spec = *given;
    }
    if (spec.width <= 0) cli_usage_error("--width must be positive");
    if (spec.min >= spec.max) cli_usage_error("--min must be below --max");
    Intervals in = intervals_make(spec.min, spec.max, spec.width);
    if (in.count == 0) cli_usage_error("no interval of width --width fits between --min and --max");
    return in;
}

static char *preferred_text(void (*print)(FILE *, const Preferred *, const SelectOptions *),
                            const Preferred *p, const SelectOptions *s) {
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&text, &size);
    if (!out) fatal_at(__FILE__, __LINE__, "open_memstream: %m");
    print(out, p, s);
    fclose(out);
    return text;
}

static void select_vit(Options o, const Comm *comm, ArtefactGuard *guard, const Artefact *scores,
                       int argc, char **argv) {
    if (!o.per_interval) o.per_interval = 1;
    if (o.cnn_only)
        cli_usage_error("%s is for CNN scores; %s holds a ViT space's", o.cnn_only, o.in);
    Error err = {0};
    Space *space =
        space_recorded(scores->meta.config, o.in, o.config, "the scores were computed", &err);
    if (!space) die(&err);
    ScoreTables tables;
    H5Source src = {scores->file, o.in, &err};
    if (!scores_read(&src, space, &tables)) die(&err);
    char default_proxy[64] = "snip-layernorm";
    if (!o.proxy)
        h5_read_attr_string(&src, scores->file, "default_proxy", default_proxy,
                            sizeof default_proxy);
    if (err.code) die(&err);
    SelectOptions s = {.budget = o.budget,
                       .intervals = choose_intervals(&o, space),
                       .per_interval = o.per_interval,
                       .isomer = proxy_find(o.proxy ? o.proxy : default_proxy),
                       .rank = proxy_find(o.rank_by),
                       .all_count_vectors = o.all_count_vectors};
    if (!s.isomer) die_input("scores.h5 names an unknown proxy '%s', %s", default_proxy, o.in);
    if (!score_tables_find(&tables, s.isomer) ||
        (!s.rank->arch_value && !score_tables_find(&tables, s.rank)))
        die_input("scores.h5 has no tables for proxy '%s' or '%s', %s", s.isomer->name,
                  s.rank->name, o.in);
    IsomerGroups groups;
    if (!isomer_groups(space, o.all_count_vectors, &groups, &err)) die(&err);
    ArtefactWriter writer = {.file = -1};
    if (comm->rank == 0) artefact_begin_guarded(&writer, o.out, guard, &err);
    comm_check(comm, &err);

    const double start = MPI_Wtime();
    size_t first, count, total = 0;
    comm_share(comm, groups.count, &first, &count);
    Candidate *mine = xcalloc(count + 1, sizeof *mine);
    candidates_compute(space, &tables, &groups, first, count, &s, mine);
    Candidate *all = comm_gather_bytes(comm, mine, count * sizeof *mine, &total);
    free(mine);
    if (comm->rank == 0) {
        Preferred p = preferred_select(all, total / sizeof *all, &s);
        const double seconds = MPI_Wtime() - start;
        Arch *chosen = xcalloc((size_t)p.n_chosen + 1, sizeof *chosen);
        for (int i = 0; i < p.n_chosen; i++) chosen[i] = p.chosen[i].arch;
        char name[80];
        snprintf(name, sizeof name, "%s-preferred", space->name);
        Space *refined = p.n_chosen ? space_refine(space, chosen, p.n_chosen, name) : NULL;
        ArtefactMeta meta;
        artefact_meta_init(&meta, PREFERRED_SCHEMA, PREFERRED_SCHEMA_VERSION, argc, argv);
        artefact_meta_set_config(&meta, space->text);
        meta.seed = scores->meta.seed;
        meta.world_size = comm->size;
        /* the scores' run; its space's digest also for scores that predate the lineage */
        meta.lineage = scores->meta.lineage;
        lineage_space_digest(space, meta.lineage.space);
        if (!artefact_meta_add_input(&meta, "scores", o.in, &err)) {
            artefact_abort(&writer);
            die(&err);
        }
        preferred_write(writer.file, &p, &s, refined ? refined->text : "");
        char *json = o.json ? preferred_text(preferred_write_json, &p, &s) : NULL;
        artefact_guard_hold(guard);
        const bool written =
            (!json || atomic_write_text(o.json, json, &err)) &&
            (!o.refined || !refined || atomic_write_text(o.refined, refined->text, &err));
        artefact_guard_release(guard);
        if (!written) {
            artefact_abort(&writer);
            die(&err);
        }
        artefact_commit(&writer, &meta);
        printf("prenas-select: %s, %lld isomer groups (%s count vectors), isomer proxy %s, "
               "ranked by %s, budget %s\n",
               space->name, (long long)p.n_groups, o.all_count_vectors ? "all" : "the reference's",
               s.isomer->name, s.rank->name, budget_name(s.budget));
        preferred_print_table(stdout, &p, &s);
        int empty = 0;
        for (int k = 0; k < p.n_intervals; k++) empty += p.kept[k] == 0;
        printf("%d preferred %s in %d %s (%d empty), %lld groups outside the intervals; %.2f s "
               "on %d rank(s) -> %s\n",
               p.n_chosen, plural(p.n_chosen, "architecture", "architectures"), p.n_intervals,
               plural(p.n_intervals, "interval", "intervals"), empty, (long long)p.outside, seconds,
               comm->size, o.out);
        free(json);
        free(chosen);
        space_free(refined);
        artefact_meta_free(&meta);
        preferred_free(&p);
        free(all);
    }
    isomer_groups_free(&groups);
    score_tables_free(&tables);
    space_free(space);
}

static double score_of(const CnnArch *arch, const void *tables) {
    return cnn_score(tables, arch);
}

/* CNN scores (method.md §13): the best sampled architectures per FLOPs group, on rank 0. */
static void select_cnn(Options o, const Comm *comm, ArtefactGuard *guard, const Artefact *scores,
                       int argc, char **argv) {
    if (o.vit_only)
        cli_usage_error("%s is for ViT scores; %s holds a CNN space's", o.vit_only, o.in);
    if (o.budget_given && o.budget != BUDGET_FLOPS)
        cli_usage_error("--budget %s: a CNN space is selected by FLOPs groups (method.md 13)",
                        budget_name(o.budget));
    if (!o.per_interval) o.per_interval = 5;
    Error err = {0};
    CnnSpace *space =
        cnn_space_recorded(scores->meta.config, o.in, o.config, "the scores were computed", &err);
    if (space && space->groups.count == 0)
        input_error(&err,
                    "the space names no FLOPs groups (its `groups` key, docs/spaces.md)%s, %s",
                    o.config ? "" : "; give --config with them", space->source);
    comm_check(comm, &err);
    const H5Source src = {scores->file, o.in, &err};
    CnnScoreTables *tables = comm->rank == 0 ? cnn_scores_tables_read(&src, space) : NULL;
    ArtefactWriter writer = {.file = -1};
    if (comm->rank == 0 && tables) artefact_begin_guarded(&writer, o.out, guard, &err);
    comm_check(comm, &err);
    if (comm->rank == 0) {
        const CnnSelectOptions so = {o.samples, o.per_interval,
                                     o.seed_given ? o.seed : scores->meta.seed, o.group_min,
                                     o.group_cap};
        CnnSelection sel = cnn_select(space, &so, score_of, tables);
        ArtefactMeta meta;
        artefact_meta_init(&meta, PREFERRED_SCHEMA, PREFERRED_SCHEMA_VERSION, argc, argv);
        artefact_meta_set_config(&meta, space->text);
        meta.seed = so.seed;
        meta.world_size = comm->size;
        meta.lineage = scores->meta.lineage;
        cnn_space_digest(space, meta.lineage.space);
        if (!artefact_meta_add_input(&meta, "scores", o.in, &err)) {
            artefact_abort(&writer);
            die(&err);
        }
        cnn_preferred_write(writer.file, &sel, space, &so);
        artefact_commit(&writer, &meta);
        artefact_meta_free(&meta);
        int kept = 0, empty = 0;
        for (int g = 0; g < sel.n_groups; g++) {
            kept += sel.groups[g].kept;
            empty += sel.groups[g].kept == 0;
        }
        printf("prenas-select: %s (CNN), %lld uniform draws (seed %llu), ranked by snip, budget "
               "flops\n",
               space->name, (long long)sel.samples, (unsigned long long)so.seed);
        cnn_selection_print(stdout, &sel, space);
        printf("%d preferred %s in %d FLOPs %s (%d empty), %lld draws in no group; %.2f s -> "
               "%s\n",
               kept, plural(kept, "architecture", "architectures"), sel.n_groups,
               plural(sel.n_groups, "group", "groups"), empty, (long long)sel.outside,
               sel.seconds_uniform + sel.seconds_fill, o.out);
        cnn_selection_free(&sel);
        cnn_score_tables_free(tables);
    }
    cnn_space_free(space);
}

int main(int argc, char **argv) {
    Options o = parse(argc, argv);
    Error err = {0};
    if (!artefact_check_not_input(o.out, 2, (const char *[]){o.in, o.config}, &err)) die(&err);
    /* before MPI starts threads; static: the signal thread may outlive main's frame */
    static ArtefactGuard guard;
    artefact_guard_start(&guard);
    Comm comm = comm_start(&argc, &argv);
    h5_silence();
    Artefact scores;
    ModelFamily family = FAMILY_VIT;
    if (!artefact_open(&scores, o.in, SCORES_SCHEMA, SCORES_SCHEMA_VERSION, &err) ||
        !cfg_text_family(scores.meta.config, o.in, &family, &err))
        die(&err);
    /* a --config of the other family: said so, not as a key its reader misses */
    ModelFamily given = family;
    if (o.config && cfg_file_family(o.config, &given, &err) && given != family)
        input_error(&err, "the scores were computed for a %s space, %s is a %s space, %s",
                    family == FAMILY_CNN ? "CNN" : "ViT", o.config,
                    given == FAMILY_CNN ? "CNN" : "ViT", o.in);
    if (err.code) die(&err);
    if (family == FAMILY_CNN)
        select_cnn(o, &comm, &guard, &scores, argc, argv);
    else
        select_vit(o, &comm, &guard, &scores, argc, argv);
    artefact_close(&scores);
    comm_finish();
    return 0;
}
