/* Search-space configurations: the shipped spaces, the refined form, and every validation
 * error naming file, line and key. */
#include "check.h"
#include "config_case.h"
#include "golden.h"

#include "arch.h"
#include "space.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A valid space, one setting per line, so that a case can replace line i (1-based i+1). */
static const char *const BASE[] = {
    "name = \"case\";",
    "image_size = 28;",
    "patch_size = 4;",
    "in_channels = 1;",
    "num_classes = 10;",
    "head_dim = 16;",
    "max_relative_position = 7;",
    "supernet = { embed_dim = 64; depth = 4; num_heads = 4; mlp_ratio = 4.0; };",
    "choices = {",
    "  embed_dim = [48, 64];",
    "  depth = [3, 4];",
    "  num_heads = [3, 4];",
    "  mlp_ratio = [3.5, 4.0];",
    "};",
    "data_free = { mean = [0.5]; std = [0.25]; };",
    "intervals = { params = { min = 0.1; max = 0.5; width = 0.1; }; };",
};
enum { BASE_LINES = sizeof BASE / sizeof BASE[0] };

static void expect_error(int line, const char *text, const char *message_part, int message_line) {
    char *config = config_case(BASE, BASE_LINES, line, text);
    Error err = {0};
    Space *space = space_load_text(config, "case.cfg", &err);
    if (!CHECK(space == NULL)) fprintf(stderr, "     accepted: %s\n", text);
    check_config_error(&err, message_part, "case.cfg", message_line);
    space_free(space);
    free(config);
}

static void validation_errors(void) {
    expect_error(1, "name = \"case\"; colour = 3;", "colour: unknown key", 1);
    expect_error(2, "image_size = \"big\";", "image_size: expected an integer", 2);
    expect_error(2, "image_size = 30;", "image_size 30 is not a multiple of patch_size 4", 3);
    expect_error(6, "", "missing key 'head_dim'", 0);
    expect_error(8, "supernet = { embed_dim = 64; depth = 4; num_heads = 5; mlp_ratio = 4.0; };",
                 "embed_dim 64 must equal head_dim x num_heads = 16 x 5", 8);
    expect_error(8, "supernet = { embed_dim = 64; depth = 4; num_heads = 4; mlp = 4.0; };",
                 "supernet.mlp: unknown key", 8);
    expect_error(10, "  embed_dim = [];", "choices.embed_dim: the list of choices is empty", 10);
    expect_error(10, "  embed_dim = [48, 96];", "embed_dim 96 exceeds the supernet's 64", 9);
    expect_error(11, "  depth = [4, 3];", "choices.depth: choices must be strictly ascending", 11);
    expect_error(11, "  depth = [3, 5];", "depth 5 exceeds the supernet's 4", 9);
    expect_error(11, "  depth = 4;", "choices.depth: expected an array", 11);
    expect_error(12, "  num_heads = [3, 4, 5];", "5 heads exceed the supernet's 4", 9);
    expect_error(12, "  num_heads = [0, 4];", "choices.num_heads[0]: 0 is outside", 12);
    expect_error(13, "  mlp_ratio = [3.5, 4.0625];", "at most three decimals", 13);
    /* within 1e-9 of 4.0 but not 4.0: the reference would size its MLP by this value */
    expect_error(13, "  mlp_ratio = [3.5, 4.0000000001];", "at most three decimals", 13);
    expect_error(13, "  mlp_ratio = [3.5, 4.5];",
                 "MLP width 288 (embed_dim 64) exceeds the supernet's 256", 9);
    expect_error(13, "  mlp_ratio = [3.5, \"4\"];", "syntax error", 13);
    expect_error(14, "}; widths = ();", "give exactly one of 'choices'", 9);
    expect_error(15, "data_free = { mean = [0.5, 0.5]; std = [0.25]; };",
                 "data_free.mean: 2 values for 1 input channels", 15);
    expect_error(15, "data_free = { mean = [0.5]; std = [0.0]; };", "std must be positive", 15);
    expect_error(16, "intervals = { params = { min = 0.5; max = 0.5; width = 0.1; }; };",
                 "must be below max", 16);
    expect_error(16, "intervals = { params = { min = 0.1; max = 0.5; width = 0.0; }; };",
                 "width must be positive", 16);
    expect_error(16, "intervals = { params = { min = 0.1; max = 0.5; }; };",
                 "intervals.params: missing key 'width'", 16);
    expect_error(3, "patch_size = = 4;", "syntax error", 3);
}

static const char REFINED[] =
    "name = \"refined\"; image_size = 28; patch_size = 4; in_channels = 1; num_classes = 10;\n"
    "head_dim = 16; max_relative_position = 7;\n"
    "supernet = { embed_dim = 64; depth = 3; num_heads = 4; mlp_ratio = 4.0; };\n"
    "widths = (\n"
    "  { embed_dim = 48; depth = [2]; num_heads = ([4], [3]); mlp_ratio = ([4.0], [3.5]); },\n"
    "  { embed_dim = 64; depth = [2, 3];\n"
    "    num_heads = ([3, 4], [4], [3]);\n"
    "    mlp_ratio = ([4.0], [3.0, 4.0], [3.5]); }\n"
    ");\n"
    "data_free = { mean = [0.5]; std = [0.25]; };\n"
    "intervals = { params = { min = 0.0; max = 0.3; width = 0.1; }; };\n";

static void refined_form(void) {
    Error err = {0};
    Space *space = space_load_text(REFINED, "refined.cfg", &err);
    if (!CHECK(space != NULL)) {
        fprintf(stderr, "     %s\n", err.message);
        return;
    }
    CHECK(!space->uniform);
    CHECK_EQ_I64(space->n_widths, 2);
    CHECK_EQ_I64(space->widths[1].n_layers, 3);
    CHECK_EQ_I64(space->widths[1].mlp_ratio[1].values[0], 3000);
    Arch arch;
    CHECK(arch_parse("64:3:4,4,3:4,3,3.5", &arch, &err));
    CHECK(arch_check(&arch, space, &err));
    CHECK(arch_parse("48:2:4,3:4,4", &arch, &err));
    CHECK(!arch_check(&arch, space, &err));
    CHECK_STR_CONTAINS(err.message, "layer 1 has MLP ratio 4, not a choice (3.5)");
    memset(&err, 0, sizeof err);
    CHECK(arch_parse("48:3:4,3,3:4,3.5,3.5", &arch, &err));
    CHECK(!arch_check(&arch, space, &err));
    CHECK_STR_CONTAINS(err.message, "depth 3 is not a choice for embed dim 48 (2)");
    Arch largest;
    arch_largest(space, &largest);
    CHECK_EQ_I64(largest.embed_dim, 64);
    CHECK_EQ_I64(largest.depth, 3);
    CHECK_EQ_I64(largest.num_heads[0], 4);
    CHECK_EQ_I64(largest.mlp_ratio[1], 4000);
    space_free(space);

    char *bad = strdup(REFINED);
    char *dup = strstr(bad, "embed_dim = 64; depth = [2, 3]");
    memcpy(dup, "embed_dim = 48", 14);
    memset(&err, 0, sizeof err);
    CHECK(space_load_text(bad, "refined.cfg", &err) == NULL);
    CHECK_STR_CONTAINS(err.message, "widths[1]: embed_dim 48 appears twice, refined.cfg:6");
    free(bad);

    bad = strdup(REFINED);
    char *lists = strstr(bad, "num_heads = ([3, 4], [4], [3]);");
    memcpy(lists, "num_heads = ([3, 4], [4]);      ", 32);
    memset(&err, 0, sizeof err);
    CHECK(space_load_text(bad, "refined.cfg", &err) == NULL);
    CHECK_STR_CONTAINS(err.message,
                       "widths[1].num_heads: 2 per-layer lists for a largest depth of 3");
    free(bad);
}

static void shipped_spaces(void) {
    static const struct {
        const char *path;
        int image, patch, channels, classes, head_dim, tokens, widths;
    } expected[] = {
        {"configs/spaces/vit-tiny.cfg", 224, 16, 3, 1000, 64, 197, 3},
        {"configs/spaces/vit-small.cfg", 224, 16, 3, 1000, 64, 197, 3},
        {"configs/spaces/vit-base.cfg", 224, 16, 3, 1000, 64, 197, 3},
        {"configs/spaces/micro.cfg", 28, 4, 1, 10, 16, 50, 3},
    };
    for (int i = 0; i < 4; i++) {
        Error err = {0};
        Space *space = space_load_file(expected[i].path, &err);
        if (!CHECK(space != NULL)) {
            fprintf(stderr, "     %s\n", err.message);
            continue;
        }
        CHECK(space->uniform);
        CHECK_EQ_I64(space->image_size, expected[i].image);
        CHECK_EQ_I64(space->patch_size, expected[i].patch);
        CHECK_EQ_I64(space->in_channels, expected[i].channels);
        CHECK_EQ_I64(space->num_classes, expected[i].classes);
        CHECK_EQ_I64(space->head_dim, expected[i].head_dim);
        CHECK_EQ_I64(space_num_tokens(space), expected[i].tokens);
        CHECK_EQ_I64(space->n_widths, expected[i].widths);
        CHECK(space->text && strstr(space->text, "supernet") != NULL);
        space_free(space);
    }
}

/* Errors from a file name the file; a missing file is an input error too. */
static void file_errors(void) {
    char path[256];
    config_case_file(BASE, BASE_LINES, 5, "num_classes = 1;", path, sizeof path);
    Error err = {0};
    CHECK(space_load_file(path, &err) == NULL);
    char where[300];
    snprintf(where, sizeof where, "num_classes: 1 is outside [2, 1048576], %s:5", path);
    CHECK_STR_CONTAINS(err.message, where);
    config_case_remove(path);
    memset(&err, 0, sizeof err);
    CHECK(space_load_file(path, &err) == NULL);
    CHECK_EQ_I64(err.code, EXIT_INPUT);
    CHECK_STR_CONTAINS(err.message, "No such file");
}

static Space *load_or_die(const char *path) {
    Error err = {0};
    Space *space = space_load_file(path, &err);
    if (!space) {
        fprintf(stderr, "%s\n", err.message);
        exit(1);
    }
    return space;
}

static bool same_space(const Space *a, const Space *b) {
    bool same = a->uniform == b->uniform && a->n_widths == b->n_widths &&
                memcmp(&a->supernet, &b->supernet, sizeof a->supernet) == 0 &&
                memcmp(&a->param_intervals, &b->param_intervals, sizeof a->param_intervals) == 0 &&
                a->data_free_mean[0] == b->data_free_mean[0] &&
                a->data_free_std[a->in_channels - 1] == b->data_free_std[b->in_channels - 1];
    for (int w = 0; same && w < a->n_widths; w++)
        same = memcmp(&a->widths[w], &b->widths[w], sizeof a->widths[w]) == 0;
    return same;
}

/* Writing a space as text and reading it back gives the same space. */
static void format_round_trip(void) {
    const char *paths[] = {"configs/spaces/vit-tiny.cfg", "configs/spaces/vit-base.cfg",
                           "configs/spaces/micro.cfg"};
    for (int i = 0; i < 3; i++) {
        Space *space = load_or_die(paths[i]);
        char *text = space_format(space);
        Error err = {0};
        Space *again = space_load_text(text, "formatted", &err);
        CHECK(again && same_space(space, again));
        free(text);
        space_free(again);
        space_free(space);
    }
    Error err = {0};
    Space *refined = space_load_text(REFINED, "refined.cfg", &err);
    char *text = space_format(refined);
    Space *again = space_load_text(text, "formatted", &err);
    CHECK(again && same_space(refined, again));
    free(text);
    space_free(again);
    space_free(refined);
}

/* method.md §5.3: the golden candidates refine to the reference's published tiny.yaml,
 * small.yaml and base.yaml (their SUPERNET blocks and per-layer lists). */
static void refine_golden(void) {
    static const struct {
        const char *space;
        int first, count;
        SupernetShape supernet;
    } cases[] = {{"vit-tiny", 0, 6, {256, 14, 4, 4000}},
                 {"vit-small", 6, 4, {448, 14, 7, 4000}},
                 {"vit-base", 10, 3, {640, 14, 10, 4000}}};
    for (int c = 0; c < 3; c++) {
        char path[128];
        snprintf(path, sizeof path, "configs/spaces/%s.cfg", cases[c].space);
        Space *base = load_or_die(path);
        Arch archs[6];
        Error err = {0};
        for (int i = 0; i < cases[c].count; i++)
            CHECK(arch_parse(GOLDEN_CANDIDATES[cases[c].first + i].arch, &archs[i], &err));
        Space *refined = space_refine(base, archs, cases[c].count, "refined");
        CHECK(!refined->uniform);
        CHECK(memcmp(&refined->supernet, &cases[c].supernet, sizeof refined->supernet) == 0);
        CHECK_EQ_I64(refined->n_widths, 3);
        for (int i = 0; i < cases[c].count; i++) CHECK(arch_check(&archs[i], refined, &err));
        if (c == 0) {
            const SpaceWidth *w240 = space_width(refined, 240);
            char text[256];
            CHECK(w240 && w240->depths.count == 2 && w240->depths.values[1] == 14);
            /* tiny.yaml, MLP_RATIO[240] and NUM_HEADS[240] */
            static const char *const ratios[14] = {"4",      "3.5, 4", "4", "4", "3.5, 4",
                                                   "3.5, 4", "3.5, 4", "4", "4", "3.5, 4",
                                                   "4",      "3.5, 4", "4", "4"};
            for (int l = 0; l < 14; l++) {
                choice_list_format(&w240->mlp_ratio[l], true, text, sizeof text);
                CHECK(strcmp(text, ratios[l]) == 0);
                choice_list_format(&w240->num_heads[l], false, text, sizeof text);
                CHECK(strcmp(text, l == 13 ? "4" : "3, 4") == 0);
            }
            const SpaceWidth *w192 = space_width(refined, 192);
            CHECK(w192 && w192->n_layers == 12 && w192->mlp_ratio[5].values[0] == 3500);
        }
        space_free(refined);
        space_free(base);
    }
}

/* A refined supernet holds every architecture it was made from: E_s = head_dim x H_s as in the
 * reference (micro: 64 for a 48-wide subnet with 4 heads), more heads where that would be
 * narrower than the widest subnet (80 or 72 channels with at most 4 heads of 16). */
static void refine_wide_few_heads(void) {
    static const struct {
        const char *archs[2];
        SupernetShape supernet;
    } cases[] = {
        {{"48:4:4,3,3,4:4,3,3,4", NULL}, {64, 4, 4, 4000}},
        {{"80:4:4,4,3,4:3,4,3.5,3", "64:5:3,4,4,3,3:4,4,4,4,4"}, {80, 5, 5, 4000}},
        {{"72:4:3,3,3,3:3,3,3,3", "48:6:4,4,4,4,4,4:3.5,3.5,3.5,3.5,3.5,3.5"}, {80, 6, 5, 3500}},
        {{"80:4:1,1,1,1:3,3,3,3", NULL}, {80, 4, 5, 3000}},
    };
    Space *micro = load_or_die("configs/spaces/micro.cfg");
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        Arch archs[2];
        int n = 0;
        Error err = {0};
        for (; n < 2 && cases[c].archs[n]; n++)
            CHECK(arch_parse(cases[c].archs[n], &archs[n], &err));
        Space *refined = space_refine(micro, archs, n, "refined");
        const SupernetShape *got = &refined->supernet, *want = &cases[c].supernet;
        CHECK_EQ_I64(got->embed_dim, want->embed_dim);
        CHECK_EQ_I64(got->depth, want->depth);
        CHECK_EQ_I64(got->num_heads, want->num_heads);
        CHECK_EQ_I64(got->mlp_ratio, want->mlp_ratio);
        for (int i = 0; i < n; i++) CHECK(arch_check(&archs[i], refined, &err));
        space_free(refined);
    }
    space_free(micro);
}

int main(void) {
    char *base = config_case(BASE, BASE_LINES, 0, NULL);
    Error err = {0};
    Space *space = space_load_text(base, "case.cfg", &err);
    if (!CHECK(space != NULL)) fprintf(stderr, "     the base case fails: %s\n", err.message);
    space_free(space);
    free(base);
    validation_errors();
    refined_form();
    shipped_spaces();
    file_errors();
    format_round_trip();
    refine_golden();
    refine_wide_few_heads();
    return check_summary();
}
