/* prenas-arch: the resource model, the isomer enumeration of a search space and the members
 * of one isomer group, on the command line (method.md §4, §8.2, §11.1); for a CNN space
 * (src/cnn) its summary, costs and random architectures. */
#include "arch.h"
#include "cli.h"
#include "cnn_arch.h"
#include "cnn_cost.h"
#include "cnn_space.h"
#include "config.h"
#include "cost.h"
#include "interval.h"
#include "isomer.h"
#include "rng.h"
#include "space.h"
#include "text.h"

#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char USAGE[] =
    "usage: prenas-arch --config SPACE.cfg [--arch ARCH [--json] | --sample N [--seed S]\n"
    "                   | --enumerate [--all-count-vectors] | --family\n"
    "                   | --isomers ARCH [--vary heads|ratios|both] [--limit N] [--seed S]]\n"
    "\n"
    "Exact costs of architectures of a search space, and the isomer groups of a ViT space.\n"
    "The space's `family` key says its kind: absent or \"vit\", a ViT (AutoFormer); \"cnn\", an\n"
    "MBConv CNN (BigNAS; docs/spaces.md, \"Writing a CNN space\").\n"
    "\n"
    "  --config FILE        the search space (configs/spaces/*.cfg); alone, prints its summary\n"
    "  --arch ARCH          one architecture and its exact costs. ViT:\n"
    "                       E:D:h0,...,h(D-1):r0,...,r(D-1), e.g.\n"
    "                       192:12:4,4,4,4,3,3,3,3,3,4,3,4:4,4,4,4,4,3.5,3.5,4,4,3.5,4,4\n"
    "                       prints: params=<int> flops_ref=<int> macs=<int>\n"
    "                         params     parameters it inherits (method.md 4.1, exact)\n"
    "                         flops_ref  FLOPs as the reference code counts them (4.3); compare\n"
    "                                    these with the paper\n"
    "                         macs       multiply-accumulates of its matrix products (4.4)\n"
    "                       CNN: RES:STEM:CxDkKeE:...:HEAD, the input resolution, the stem's\n"
    "                       channels, per MBConv stage C channels x D layers, kernel K and\n"
    "                       expansion ratio E, the head conv's channels; BigNAS's smallest:\n"
    "    192:32:16x1k3e1:24x2k3e6:40x2k3e6:80x2k3e6:112x2k3e6:192x2k3e6:320x1k3e6:1280\n"
    "                       prints: params=<int> flops=<int> macs=<int>\n"
    "                         params     learnable parameters, as PyTorch counts them (batch\n"
    "                                    norm's weight and bias; not its running statistics)\n"
    "                         flops      FLOPs as BigNAS and OFA count them, which are\n"
    "                                    multiply-accumulates: compare these with the papers\n"
    "                         macs       multiply-accumulates of the convs and the classifier\n"
    "                                    (equal to flops; src/cnn/cnn_cost.h)\n"
    "  --json               with --arch, ViT only: print the reference's JSON form instead\n"
    "  --sample N           N random architectures of the space, one a line with its costs:\n"
    "                       ARCH params=<int> flops=<int> macs=<int> (ViT: flops_ref). A CNN's\n"
    "                       are uniform over the space; a ViT's are drawn as the reference's\n"
    "                       training samples them (width, depth, then every layer's choices)\n"
    "  --seed S             with --sample or --limit: the seed (default 0)\n"
    "  --enumerate          ViT only: count the isomer groups (one representative architecture\n"
    "                       each) per parameter interval of the space (method.md 8.2)\n"
    "  --all-count-vectors  with --enumerate: every count vector, also those the reference\n"
    "                       never generates (no layer at a middle choice)\n"
    "  --isomers ARCH       ViT only: the members of ARCH's isomer group (method.md 11.1: the\n"
    "                       same width, depth and multisets of heads and MLP ratios, permuted\n"
    "                       over the layers) that are architectures of the space, one per line\n"
    "                       in lexicographic order after a '#' line describing the group; the\n"
    "                       list prenas-evaluate --archs reads\n"
    "  --family             print the space's family, vit or cnn (for scripts: the main job\n"
    "                       and slurm/pipeline.sh choose the stages' options by it)\n"
    "  --vary WHAT          with --isomers: permute the heads, the ratios, or both (default)\n"
    "  --limit N            with --isomers: at most N members, a uniform random sample without\n"
    "                       replacement that always includes ARCH (needed for a group of 2^64\n"
    "                       members or more)\n"
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

static void print_sample(const Space *space, long n, uint64_t seed) {
    Rng rng = rng_stream(seed, RNG_STREAM_ARCH_SAMPLE);
    for (long i = 0; i < n; i++) {
        Arch arch;
        char text[ARCH_TEXT_MAX];
        arch_sample(space, &rng, &arch);
        arch_format(&arch, text, sizeof text);
        ArchCost cost = arch_cost(&arch, space);
        printf("%s params=%lld flops_ref=%lld macs=%lld\n", text, (long long)cost.params,
               (long long)cost.flops_ref, (long long)cost.macs);
    }
}

/* ---- CNN spaces (src/cnn) ---- */

static void print_cnn_cost(const CnnCost *cost) {
    printf("params=%lld flops=%lld macs=%lld", (long long)cost->params, (long long)cost->flops,
           (long long)cost->macs);
}

/* "<before>ARCH params=.. flops=.. macs=.." without the newline; the cost printed. */
static CnnCost print_cnn_arch_line(const char *before, const CnnArch *arch, const CnnSpace *space) {
    char text[CNN_ARCH_TEXT_MAX];
    cnn_arch_format(arch, text, sizeof text);
    CnnCost cost = cnn_arch_cost(arch, space);
    printf("%s%s ", before, text);
    print_cnn_cost(&cost);
    return cost;
}

static void print_cnn_summary(const CnnSpace *space) {
    char a[CNN_MAX_CHOICES * 8], b[CNN_MAX_CHOICES * 8], c[CNN_MAX_CHOICES * 8],
        d[CNN_MAX_CHOICES * 8];
    printf("space %s (%s): MBConv CNN, %s\n", space->name, space->source,
           cnn_activation_name(space->activation));
    cnn_choices_format(&space->resolution, a, sizeof a);
    printf("  input %d %s, %d classes; resolution %s\n", space->in_channels,
           plural(space->in_channels, "channel", "channels"), space->num_classes, a);
    cnn_choices_format(&space->stem.channels, a, sizeof a);
    printf("  stem     conv %dx%d, stride %d; channels %s\n", space->stem.kernel,
           space->stem.kernel, space->stem.stride, a);
    for (int s = 0; s < space->n_stages; s++) {
        const CnnStageSpace *st = &space->stages[s];
        cnn_choices_format(&st->expand_ratio, a, sizeof a);
        cnn_choices_format(&st->kernel, b, sizeof b);
        cnn_choices_format(&st->channels, c, sizeof c);
        cnn_choices_format(&st->depth, d, sizeof d);
        printf("  stage %-2d MBConv: expansion %s; kernel %s; channels %s; depth %s; stride %d%s\n",
               s + 1, a, b, c, d, st->stride, st->se ? "; SE" : "");
    }
    cnn_choices_format(&space->head_channels, a, sizeof a);
    printf("  head     conv 1x1; channels %s; global average pool; linear, %d classes\n", a,
           space->num_classes);
    const double count = cnn_space_count(space);
    printf(count < 0x1p53 ? "  %.0f architectures\n" : "  %.6g architectures\n", count);
    CnnArch extreme[2];
    cnn_arch_smallest(space, &extreme[0]);
    cnn_arch_largest(space, &extreme[1]);
    for (int i = 0; i < 2; i++) {
        CnnCost cost = print_cnn_arch_line(i ? "  largest  " : "  smallest ", &extreme[i], space);
        printf(" (%.3fM parameters, %.1f MFLOPs)\n", (double)cost.params / 1e6,
               (double)cost.flops / 1e6);
    }
}

static void run_cnn(const char *config, const char *text, long sample, uint64_t seed) {
    Error err = {0};
    CnnSpace *space = cnn_space_load_file(config, &err);
    if (!space) die(&err);
    if (text) {
        CnnArch arch;
        if (!cnn_arch_parse(text, &arch, &err) || !cnn_arch_check(&arch, space, &err)) die(&err);
        CnnCost cost = cnn_arch_cost(&arch, space);
        print_cnn_cost(&cost);
        putchar('\n');
    } else if (sample > 0) {
        Rng rng = rng_stream(seed, RNG_STREAM_ARCH_SAMPLE);
        for (long i = 0; i < sample; i++) {
            CnnArch arch;
            cnn_arch_sample(space, &rng, &arch);
            print_cnn_arch_line("", &arch, space);
            putchar('\n');
        }
    } else {
        print_cnn_summary(space);
    }
    cnn_space_free(space);
}

int main(int argc, char **argv) {
    enum {
        OPT_JSON = CLI_OPT_FIRST,
        OPT_ALL_VECTORS,
        OPT_ISOMERS,
        OPT_VARY,
        OPT_LIMIT,
        OPT_SEED,
        OPT_SAMPLE,
        OPT_FAMILY
    };
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
        {"sample", required_argument, NULL, OPT_SAMPLE},
        {"family", no_argument, NULL, OPT_FAMILY},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, CLI_OPT_VERSION},
        {NULL, 0, NULL, 0}};
    const char *config = NULL, *arch = NULL, *isomers = NULL;
    bool json = false, enumerate = false, all_vectors = false, vary_given = false;
    bool limit_given = false, seed_given = false, family_only = false;
    IsomerVary vary = ISOMER_VARY_BOTH;
    uint64_t limit = 0, seed = 0;
    long sample = 0;
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
        case OPT_SAMPLE:
            sample = cli_long("--sample", optarg, 1, LONG_MAX);
            break;
        case OPT_FAMILY:
            family_only = true;
            break;
        default:
            cli_common_option(c, USAGE, argv);
        }
    }
    if (optind < argc) cli_usage_error("unexpected argument '%s'", argv[optind]);
    if (!config) cli_usage_error("--config SPACE.cfg is required");
    if ((arch != NULL) + enumerate + (isomers != NULL) + (sample > 0) + family_only > 1)
        cli_usage_error("--arch, --sample, --enumerate, --isomers and --family exclude each other");
    if (json && !arch) cli_usage_error("--json goes with --arch");
    if (all_vectors && !enumerate) cli_usage_error("--all-count-vectors goes with --enumerate");
    if ((vary_given || limit_given) && !isomers)
        cli_usage_error("--vary and --limit go with --isomers");
    if (seed_given && !limit_given && sample == 0)
        cli_usage_error("--seed goes with --sample or --limit");

    Error err = {0};
    ModelFamily family = FAMILY_VIT;
    if (!cfg_file_family(config, &family, &err)) die(&err);
    if (family_only) {
        puts(family == FAMILY_CNN ? "cnn" : "vit");
        return 0;
    }
    if (family == FAMILY_CNN) {
        const char *vit_only = json        ? "--json"
                               : enumerate ? "--enumerate"
                               : isomers   ? "--isomers"
                                           : NULL;
        if (vit_only)
            cli_usage_error("%s is for ViT spaces; %s is a CNN space (family \"cnn\")", vit_only,
                            config);
        run_cnn(config, arch, sample, seed);
        return 0;
    }
    Space *space = space_load_file(config, &err);
    if (!space) die(&err);
    if (arch)
        print_arch(space, arch, json);
    else if (sample > 0)
        print_sample(space, sample, seed);
    else if (enumerate)
        print_enumeration(space, all_vectors);
    else if (isomers)
        print_isomers(space, isomers, vary, limit, seed);
    else
        print_summary(space);
    space_free(space);
    return 0;
}
