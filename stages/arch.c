/* prenas-arch: the resource model, the isomer enumeration of a search space and the members
 * of one isomer group, on the command line (method.md §4, §8.2, §11.1). */
#include "arch.h"
#include "cli.h"
#include "cost.h"
#include "interval.h"
#include "isomer.h"
#include "space.h"
#include "text.h"

#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char USAGE[] =
    "usage: prenas-arch --config SPACE.cfg [--arch ARCH [--json] | --enumerate "
    "[--all-count-vectors]\n"
    "                   | --isomers ARCH [--vary heads|ratios|both] [--limit N] [--seed S]]\n"
    "\n"
    "Exact costs of architectures of a ViT search space, and its isomer groups.\n"
    "\n"
    "  --config FILE        the search space (configs/spaces/*.cfg); alone, prints its summary\n"
    "  --arch ARCH          one architecture, E:D:h0,...,h(D-1):r0,...,r(D-1), e.g.\n"
    "                       192:12:4,4,4,4,3,3,3,3,3,4,3,4:4,4,4,4,4,3.5,3.5,4,4,3.5,4,4\n"
    "                       prints: params=<int> flops_ref=<int> macs=<int>\n"
    "                         params     parameters it inherits (method.md 4.1, exact)\n"
    "                         flops_ref  FLOPs as the reference code counts them (4.3); compare\n"
    "                                    these with the paper\n"
    "                         macs       multiply-accumulates of its matrix products (4.4)\n"
    "  --json               with --arch: print the reference's JSON form instead\n"
    "  --enumerate          count the isomer groups (one representative architecture each)\n"
    "                       per parameter interval of the space (method.md 8.2)\n"
    "  --all-count-vectors  with --enumerate: every count vector, also those the reference\n"
    "                       never generates (no layer at a middle choice)\n"
    "  --isomers ARCH       the members of ARCH's isomer group (method.md 11.1: the same width,\n"
    "                       depth and multisets of heads and MLP ratios, permuted over the\n"
    "                       layers) that are architectures of the space, one per line in\n"
    "                       lexicographic order after a '#' line describing the group; the\n"
    "                       list prenas-evaluate --archs reads\n"
    "  --vary WHAT          with --isomers: permute the heads, the ratios, or both (default)\n"
    "  --limit N            with --isomers: at most N members, a uniform random sample without\n"
    "                       replacement that always includes ARCH (needed for a group of 2^64\n"
    "                       members or more)\n"
    "  --seed S             with --limit: the sample's seed (default 0)\n"
    "  --help, --version\n"
    "\n"
    "Exit status: 0 success, 2 bad usage, configuration or architecture.\n";

/* Millions, exactly: 5994760 -> "5.99476M". */
static void format_millions(int64_t value, char *buf, size_t size) {
    int n = snprintf(buf, size, "%lld.%06lld", (long long)(value / 1000000),
                     (long long)(value % 1000000));
    while (n > 0 && buf[n - 1] == '0') buf[--n] = '\0';
    if (n > 0 && buf[n - 1] == '.') n--;
    snprintf(buf + n, size - (size_t)n, "M");
}

static double architecture_count(const Space *space) {
    double total = 0;
    for (int w = 0; w < space->n_widths; w++) {
        const SpaceWidth *width = &space->widths[w];
        for (int d = 0; d < width->depths.count; d++) {
            double n = 1;
            for (int l = 0; l < width->depths.values[d]; l++)
                n *= (double)width->num_heads[l].count * width->mlp_ratio[l].count;
            total += n;
        }
    }
    return total;
}

static void print_summary(const Space *space) {
    char a[ARCH_TEXT_MAX], b[64], c[64];
    const SupernetShape *sn = &space->supernet;
    printf("space %s (%s)\n", space->name, space->source);
    printf("  input %dx%dx%d, patch %d: %dx%d = %d patches + class token; %d classes\n",
           space->image_size, space->image_size, space->in_channels, space->patch_size,
           space_grid_side(space), space_grid_side(space), space_num_patches(space),
           space->num_classes);
    printf("  head dim %d; relative positions clipped at %d\n", space->head_dim,
           space->max_relative_position);
    format_milli(sn->mlp_ratio, b, sizeof b);
    printf("  supernet: embed %d, depth %d, heads %d, mlp ratio %s: %lld parameters\n",
           sn->embed_dim, sn->depth, sn->num_heads, b, (long long)supernet_param_count(space));
    if (space->uniform) {
        char e[128], d[128], h[128], r[128];
        choice_list_format(&space->choices.embed_dim, false, e, sizeof e);
        choice_list_format(&space->choices.depth, false, d, sizeof d);
        choice_list_format(&space->choices.num_heads, false, h, sizeof h);
        choice_list_format(&space->choices.mlp_ratio, true, r, sizeof r);
        printf("  choices: embed %s; depth %s; heads %s; mlp ratio %s\n", e, d, h, r);
    } else {
        printf("  refined space: %d widths with per-layer choices\n", space->n_widths);
    }
    Arch smallest, largest;
    arch_smallest(space, &smallest);
    arch_largest(space, &largest);
    ArchCost lo = arch_cost(&smallest, space), hi = arch_cost(&largest, space);
    format_millions(lo.params, b, sizeof b);
    format_millions(hi.params, c, sizeof c);
    printf("  %.6g architectures, %s to %s parameters\n", architecture_count(space), b, c);
    arch_format(&smallest, a, sizeof a);
    printf("  smallest %s\n", a);
    arch_format(&largest, a, sizeof a);
    printf("  largest  %s\n", a);
    const IntervalSpec *iv = &space->param_intervals;
    Intervals in = intervals_make(iv->min, iv->max, iv->width);
    format_millions(iv->min, b, sizeof b);
    format_millions(interval_hi(&in, in.count - 1), c, sizeof c);
    char w[32];
    format_millions(iv->width, w, sizeof w);
    printf("  parameter intervals: %d from %s to %s, width %s\n", in.count, b, c, w);
}

static void print_arch(const Space *space, const char *text, bool json) {
    Error err = {0};
    Arch arch;
    if (!arch_parse(text, &arch, &err) || !arch_check(&arch, space, &err)) die(&err);
    ArchCost cost = arch_cost(&arch, space);
    if (!json) {
        printf("params=%lld flops_ref=%lld macs=%lld\n", (long long)cost.params,
               (long long)cost.flops_ref, (long long)cost.macs);
        return;
    }
    cJSON *object = arch_to_json(&arch);
    cJSON_AddNumberToObject(object, "num_params", (double)cost.params / 1e6);
    char *printed = cJSON_Print(object);
    if (!printed) fatal_at(__FILE__, __LINE__, "out of memory (JSON)");
    printf("%s\n", printed);
    free(printed);
    cJSON_Delete(object);
}

static void print_enumeration(const Space *space, bool all_count_vectors) {
    Error err = {0};
    IsomerGroups groups;
    if (!isomer_groups(space, all_count_vectors, &groups, &err)) die(&err);
    const IntervalSpec *iv = &space->param_intervals;
    Intervals in = intervals_make(iv->min, iv->max, iv->width);
    int64_t *per_interval = xcalloc((size_t)in.count + 1, sizeof *per_interval);
    int64_t outside = 0;
    for (size_t i = 0; i < groups.count; i++) {
        int k = interval_of(&in, groups.items[i].cost.params);
        if (k < 0)
            outside++;
        else
            per_interval[k]++;
    }
    printf("# isomer groups of %s (%s), %s count vectors\n", space->name, space->source,
           all_count_vectors ? "all" : "the reference's");
    for (int k = 0; k < in.count; k++) {
        char lo[32], hi[32];
        format_millions(interval_lo(&in, k), lo, sizeof lo);
        format_millions(interval_hi(&in, k), hi, sizeof hi);
        printf("interval [%s, %s) groups=%lld\n", lo, hi, (long long)per_interval[k]);
    }
    printf("groups=%zu in_intervals=%lld outside=%lld\n", groups.count,
           (long long)(groups.count - (size_t)outside), (long long)outside);
    free(per_interval);
    isomer_groups_free(&groups);
}

/* "3 x4, 4 x8": each value and the layers that take it. */
static void format_multiset(const IsomerMultiset *set, bool milli, char *buf, size_t size) {
    size_t used = 0;
    buf[0] = '\0';
    for (int v = 0; v < set->n_values && used < size; v++) {
        char value[32];
        if (milli)
            format_milli(set->values[v], value, sizeof value);
        else
            snprintf(value, sizeof value, "%d", set->values[v]);
        used += (size_t)snprintf(buf + used, size - used, "%s%s x%d", v ? ", " : "", value,
                                 set->counts[v]);
    }
}

static void print_isomers(const Space *space, const char *text, IsomerVary vary, uint64_t limit,
                          uint64_t seed) {
    Error err = {0};
    Arch arch;
    IsomerListing listing;
    if (!arch_parse(text, &arch, &err) ||
        !isomer_listing(space, &arch, vary, limit, seed, &listing, &err))
        die(&err);
    char canonical[ARCH_TEXT_MAX], heads[512], ratios[512], size[128], members[64];
    arch_format(&arch, canonical, sizeof canonical);
    format_multiset(&listing.heads, false, heads, sizeof heads);
    format_multiset(&listing.ratios, true, ratios, sizeof ratios);
    if (listing.size == ISOMER_TOO_MANY) {
        snprintf(size, sizeof size, "%" PRIu64 " or more members (too many to count)",
                 listing.size);
        snprintf(members, sizeof members, "those in the space");
    } else {
        int n = snprintf(size, sizeof size, "%" PRIu64 " members", listing.size);
        if (listing.in_space < listing.size)
            snprintf(size + n, sizeof size - (size_t)n, ", %" PRIu64 " not in the space (skipped)",
                     listing.size - listing.in_space);
        snprintf(members, sizeof members, "%" PRIu64 " in the space", listing.in_space);
    }
    printf("# isomer group of %s: E %d, D %d; heads %s (%s); MLP ratios %s (%s); %s; ", canonical,
           arch.embed_dim, arch.depth, vary & ISOMER_VARY_HEADS ? "permuted" : "fixed", heads,
           vary & ISOMER_VARY_RATIOS ? "permuted" : "fixed", ratios, size);
    if (listing.sampled)
        printf("a random sample of %" PRIu64 " of %s%s (seed %" PRIu64 "), ARCH included\n",
               listing.count, listing.size == ISOMER_TOO_MANY ? "" : "the ", members, seed);
    else
        printf("complete: all %s\n", members);
    for (uint64_t i = 0; i < listing.count; i++) {
        Arch member;
        isomer_listing_member(&listing, i, &member);
        arch_format(&member, canonical, sizeof canonical);
        puts(canonical);
    }
    isomer_listing_free(&listing);
}

int main(int argc, char **argv) {
    enum { OPT_JSON = CLI_OPT_FIRST, OPT_ALL_VECTORS, OPT_ISOMERS, OPT_VARY, OPT_LIMIT, OPT_SEED };
    static const struct option options[] = {
        {"config", required_argument, NULL, 'c'},
        {"arch", required_argument, NULL, 'a'},
        {"json", no_argument, NULL, OPT_JSON},
        {"enumerate", no_argument, NULL, 'e'},
        {"all-count-vectors", no_argument, NULL, OPT_ALL_VECTORS},
        {"isomers", required_argument, NULL, OPT_ISOMERS},
        {"vary", required_argument, NULL, OPT_VARY},
        {"limit", required_argument, NULL, OPT_LIMIT},
        {"seed", required_argument, NULL, OPT_SEED},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, CLI_OPT_VERSION},
        {NULL, 0, NULL, 0}};
    const char *config = NULL, *arch = NULL, *isomers = NULL;
    bool json = false, enumerate = false, all_vectors = false, vary_given = false;
    bool limit_given = false, seed_given = false;
    IsomerVary vary = ISOMER_VARY_BOTH;
    uint64_t limit = 0, seed = 0;
    opterr = 0;
    for (int c; (c = getopt_long(argc, argv, "", options, NULL)) != -1;) {
        switch (c) {
        case 'c':
            config = optarg;
            break;
        case 'a':
            arch = optarg;
            break;
        case OPT_JSON:
            json = true;
            break;
        case 'e':
            enumerate = true;
            break;
        case OPT_ALL_VECTORS:
            all_vectors = true;
            break;
        case OPT_ISOMERS:
            isomers = optarg;
            break;
        case OPT_VARY:
            vary_given = true;
            if (strcmp(optarg, "heads") == 0)
                vary = ISOMER_VARY_HEADS;
            else if (strcmp(optarg, "ratios") == 0)
                vary = ISOMER_VARY_RATIOS;
            else if (strcmp(optarg, "both") == 0)
                vary = ISOMER_VARY_BOTH;
            else
                cli_usage_error("--vary must be heads, ratios or both, not '%s'", optarg);
            break;
        case OPT_LIMIT:
            limit_given = true;
            limit = (uint64_t)cli_long("--limit", optarg, 1, LONG_MAX);
            break;
        case OPT_SEED:
            seed_given = true;
            seed = (uint64_t)cli_long("--seed", optarg, 0, LONG_MAX);
            break;
        default:
            cli_common_option(c, USAGE, argv);
        }
    }
    if (optind < argc) cli_usage_error("unexpected argument '%s'", argv[optind]);
    if (!config) cli_usage_error("--config SPACE.cfg is required");
    if ((arch != NULL) + enumerate + (isomers != NULL) > 1)
        cli_usage_error("--arch, --enumerate and --isomers exclude each other");
    if (json && !arch) cli_usage_error("--json goes with --arch");
    if (all_vectors && !enumerate) cli_usage_error("--all-count-vectors goes with --enumerate");
    if ((vary_given || limit_given) && !isomers)
        cli_usage_error("--vary and --limit go with --isomers");
    if (seed_given && !limit_given) cli_usage_error("--seed goes with --limit");

    Error err = {0};
    Space *space = space_load_file(config, &err);
    if (!space) die(&err);
    if (arch)
        print_arch(space, arch, json);
    else if (enumerate)
        print_enumeration(space, all_vectors);
    else if (isomers)
        print_isomers(space, isomers, vary, limit, seed);
    else
        print_summary(space);
    space_free(space);
    return 0;
}
