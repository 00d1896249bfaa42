/* CNN search-space configurations (src/cnn/cnn_space): the family key and every validation
 * error naming file, line and key. */
#include "check.h"
#include "config_case.h"

#include "cnn_space.h"
#include "config.h"
#include "space.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A valid space, one setting per line, so that a case can replace line i (1-based). */
static const char *const BASE[] = {
    "family = \"cnn\";",
    "name = \"case\";",
    "in_channels = 1;",
    "num_classes = 10;",
    "activation = \"swish\";",
    "resolution = [24, 28];",
    "stem = { channels = [8, 16]; kernel = 3; stride = 1; };",
    "stages = (",
    "  { expand_ratio = [1]; kernel = [3]; channels = [8]; depth = [1]; stride = 1; },",
    /* one line of the file, split here for width */
    ("  { expand_ratio = [6]; kernel = [3, 5]; channels = [16, 24]; depth = [1, 2]; stride = 2; "
     "se = true; }"),
    ");",
    "head = { channels = [64]; };",
    "groups = { flops = [2.0, 4.0]; tolerance = 0.1; };",
};
enum { BASE_LINES = sizeof BASE / sizeof BASE[0] };

/* Each case: BASE with line `line` replaced by `text`, refused with a message holding
 * `message` and naming case.cfg:`message_line` (0: no line). */
static const struct {
    int line;
    const char *text, *message;
    int message_line;
} CASES[] = {
    {1, "family = \"rnn\";", "family: \"rnn\" is not one of \"vit\", \"cnn\"", 1},
    {1, "", "missing key 'family': a CNN space says family = \"cnn\"", 0},
    {1, "family = \"vit\";", "family: a ViT space, where a CNN space is needed", 1},
    {2, "name = \"case\"; colour = 3;", "colour: unknown key (expected one of: family", 2},
    {2, "", "missing key 'name'", 0},
    {3, "in_channels = 5;", "in_channels: 5 is outside [1, 4]", 3},
    {4, "num_classes = = 10;", "syntax error", 4},
    {5, "activation = \"gelu\";", "activation: \"gelu\" is not one of \"swish\", \"relu6\"", 5},
    {6, "resolution = [28, 24];", "resolution: choices must be strictly ascending", 6},
    {6, "resolution = [];", "resolution: the list of choices is empty", 6},
    {6, "resolution = 28;", "resolution: expected an array", 6},
    {6, "resolution = [28, 4096];", "resolution[1]: 4096 is outside [1, 2048]", 6},
    {7, "stem = { channels = [8]; kernel = 4; stride = 1; };", "stem.kernel: kernel 4 is even", 7},
    {7, "stem = { channels = [8]; kernel = 3; };", "stem: missing key 'stride'", 7},
    {7, "stem = { channels = [8]; kernel = 3; stride = 1; se = true; };", "stem.se: unknown key",
     7},
    {8, "stages = {", "syntax error", 0},
    {9, "  3,", "stages[0]: expected a group", 9},
    {9, "  { expand_ratio = [1]; kernel = [3]; channels = [8]; depth = [0]; stride = 1; },",
     "stages[0].depth[0]: 0 is outside [1, 32]", 9},
    {9, "  { expand_ratio = [1]; kernel = [3, 4]; channels = [8]; depth = [1]; stride = 1; },",
     "stages[0].kernel: kernel 4 is even", 9},
    {9, "  { expand_ratio = [9]; kernel = [3]; channels = [8]; depth = [1]; stride = 1; },",
     "stages[0].expand_ratio[0]: 9 is outside [1, 8]", 9},
    {9, "  { expand_ratio = [1]; kernel = [3]; channels = [8]; depth = [1]; },",
     "stages[0]: missing key 'stride'", 9},
    {9, "  { expand_ratio = [1]; kernel = [3]; channels = [8]; depth = [1]; stride = 1; w = 2; },",
     "stages[0].w: unknown key (expected one of: expand_ratio, kernel", 9},
    {10, "  { expand_ratio = [6]; kernel = [3]; channels = [16, 5000]; depth = [1]; stride = 2; }",
     "stages[1].channels[1]: 5000 is outside [1, 4096]", 10},
    {10,
     "  { expand_ratio = [6]; kernel = [3]; channels = [16]; depth = [1]; stride = 2; se = 1; }",
     "stages[1].se: expected true or false", 10},
    {12, "head = { channels = [64]; width = 2; };", "head.width: unknown key", 12},
    {12, "", "missing key 'head'", 0},
    {13, "groups = [2.0];", "groups: expected a group", 13},
    {13, "groups = { flops = [2.0]; };", "groups: missing key 'tolerance'", 13},
    {13, "groups = { flops = [2.0]; tolerance = 0.6; };",
     "groups.tolerance: 0.6 is outside [0, 0.5]", 13},
    {13, "groups = { flops = []; tolerance = 0.1; };", "groups.flops: 0 groups (expected 1 to 16)",
     13},
    {13, "groups = { flops = [2.0, -1.0]; tolerance = 0.1; };",
     "groups.flops: -1 MFLOPs is outside (0, 1e9]", 13},
    {13, "groups = { flops = [4.0, 2.0]; tolerance = 0.1; };",
     "groups.flops: groups 4 and 2: each band must lie above the previous one", 13},
    {13, "groups = { flops = [2.0, 2.4]; tolerance = 0.1; };",
     "groups.flops: groups 2 and 2.4: each band must lie above the previous one", 13},
    {13, "groups = { flops = [2.0]; tolerance = 0.1; width = 1; };", "groups.width: unknown key",
     13},
};

static void validation_errors(void) {
    char *config = config_case(BASE, BASE_LINES, 0, NULL);
    Error err = {0};
    CnnSpace *space = cnn_space_load_text(config, "case.cfg", &err);
    if (!CHECK(space != NULL)) fprintf(stderr, "     %s\n", err.message);
    if (space) {
        CHECK_EQ_I64(space->n_stages, 2);
        CHECK(space->stages[1].se && !space->stages[0].se);
        CHECK_EQ_I64(space->activation, CNN_SWISH);
        /* groups: [T (1 - t), T (1 + t)] in whole FLOPs, both ends in */
        const CnnGroups *g = &space->groups;
        CHECK_EQ_I64(g->count, 2);
        CHECK_EQ_I64(g->lo[0], 1800000);
        CHECK_EQ_I64(g->hi[1], 4400000);
        CHECK_EQ_I64(cnn_group_of(g, 1799999), -1);
        CHECK_EQ_I64(cnn_group_of(g, 1800000), 0);
        CHECK_EQ_I64(cnn_group_of(g, 2200000), 0);
        CHECK_EQ_I64(cnn_group_of(g, 3600000), 1);
        CHECK_EQ_I64(cnn_group_of(g, 4400001), -1);
    }
    cnn_space_free(space);
    free(config);
    /* the groups are optional */
    config = config_case(BASE, BASE_LINES, 13, "");
    space = cnn_space_load_text(config, "case.cfg", &err);
    if (CHECK(space != NULL)) CHECK_EQ_I64(space->groups.count, 0);
    cnn_space_free(space);
    free(config);
    /* whole numbers too; tolerance 0 is one value per group */
    config = config_case(BASE, BASE_LINES, 13, "groups = { flops = [2, 4]; tolerance = 0; };");
    space = cnn_space_load_text(config, "case.cfg", &err);
    if (CHECK(space != NULL))
        CHECK(space->groups.lo[1] == 4000000 && space->groups.hi[1] == 4000000);
    cnn_space_free(space);
    free(config);
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) {
        config = config_case(BASE, BASE_LINES, CASES[i].line, CASES[i].text);
        memset(&err, 0, sizeof err);
        space = cnn_space_load_text(config, "case.cfg", &err);
        if (!CHECK(space == NULL)) fprintf(stderr, "     accepted: %s\n", CASES[i].text);
        check_config_error(&err, CASES[i].message, "case.cfg", CASES[i].message_line);
        cnn_space_free(space);
        free(config);
    }
}

/* Errors from a file name the file and the line. */
static void file_errors(void) {
    char path[256], where[320];
    config_case_file(BASE, BASE_LINES, 4, "num_classes = 1;", path, sizeof path);
    Error err = {0};
    CHECK(cnn_space_load_file(path, &err) == NULL);
    snprintf(where, sizeof where, "num_classes: 1 is outside [2, 1048576], %s:4", path);
    CHECK_STR_CONTAINS(err.message, where);
    config_case_remove(path);
}

/* The family key: the ViT files have none (or "vit"), the CNN ones "cnn"; each reader refuses
 * the other family's files by that key. */
static void families(void) {
    static const struct {
        const char *path;
        ModelFamily family;
    } files[] = {{"configs/spaces/vit-tiny.cfg", FAMILY_VIT},
                 {"configs/spaces/micro.cfg", FAMILY_VIT},
                 {"configs/spaces/cnn-micro.cfg", FAMILY_CNN},
                 {"configs/spaces/cnn-bignas.cfg", FAMILY_CNN}};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        Error err = {0};
        ModelFamily family = FAMILY_CNN + 1;
        CHECK(cfg_file_family(files[i].path, &family, &err));
        CHECK_EQ_I64(family, files[i].family);
    }
    Error err = {0};
    CHECK(cnn_space_load_file("configs/spaces/micro.cfg", &err) == NULL);
    CHECK_STR_CONTAINS(err.message, "missing key 'family': a CNN space says family = \"cnn\"");
    CHECK_STR_CONTAINS(err.message, "configs/spaces/micro.cfg");
    memset(&err, 0, sizeof err);
    CHECK(space_load_file("configs/spaces/cnn-micro.cfg", &err) == NULL);
    CHECK_STR_CONTAINS(
        err.message,
        "family: a CNN space, where a ViT space is needed (prenas-analyze and prenas-bench-step "
        "take ViT spaces only), configs/spaces/cnn-micro.cfg:");
    /* a ViT space may say family = "vit" */
    memset(&err, 0, sizeof err);
    char *text = cfg_read_file("configs/spaces/micro.cfg", "space", &err);
    size_t size = strlen(text) + 32;
    char *with_family = malloc(size);
    snprintf(with_family, size, "family = \"vit\";\n%s", text);
    Space *vit = space_load_text(with_family, "vit.cfg", &err);
    if (!CHECK(vit != NULL)) fprintf(stderr, "     %s\n", err.message);
    space_free(vit);
    free(with_family);
    free(text);
    memset(&err, 0, sizeof err);
    ModelFamily family;
    CHECK(!cfg_file_family("/nonexistent.cfg", &family, &err));
    CHECK_STR_CONTAINS(err.message, "cannot open the space configuration");
}

int main(void) {
    validation_errors();
    file_errors();
    families();
    return check_summary();
}
