/* CNN architectures (src/cnn/cnn_arch) and their cost (src/cnn/cnn_cost): the shipped spaces'
 * shapes, the text form, the check against a space, the extremes, sampling, and one
 * architecture counted by hand.
 * tests/oracle/cnn_count.py checks the costs of many more against PyTorch (cli_cnn_arch). */
#include "check.h"
#include "cnn_case.h"

#include "cnn_arch.h"
#include "cnn_cost.h"
#include "cnn_space.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char BIGNAS_SMALLEST[] =
    "192:32:16x1k3e1:24x2k3e6:40x2k3e6:80x2k3e6:112x2k3e6:192x2k3e6:320x1k3e6:1280";
static const char BIGNAS_LARGEST[] =
    "320:40:24x2k3e1:32x3k3e6:48x3k5e6:88x4k5e6:128x6k5e6:216x6k5e6:352x2k5e6:1408";

/* method.md §13's table: the strides give its resolution column, the side at each stage's
 * input (and the head's) for inputs of 192 and 320. */
static void bignas_table(void) {
    CnnSpace *space = cnn_case_space("configs/spaces/cnn-bignas.cfg");
    CHECK_EQ_I64(space->n_stages, 7);
    CHECK_EQ_I64(space->in_channels, 3);
    CHECK_EQ_I64(space->num_classes, 1000);
    CHECK_EQ_I64(space->resolution.count, 5);
    CHECK_EQ_I64(space->head_channels.count, 17);
    static const int table[2][9] = {{192, 96, 96, 48, 24, 12, 12, 6, 6},
                                    {320, 160, 160, 80, 40, 20, 20, 10, 10}};
    for (int r = 0; r < 2; r++) {
        int side = table[r][0];
        side = cnn_conv_side(side, space->stem.stride);
        for (int s = 0; s < space->n_stages; s++) {
            CHECK_EQ_I64(side, table[r][1 + s]);
            side = cnn_conv_side(side, space->stages[s].stride);
        }
        CHECK_EQ_I64(side, table[r][8]);
    }
    CHECK_EQ_I64((int64_t)cnn_space_count(space), 6266880000);
    cnn_space_free(space);

    space = cnn_case_space("configs/spaces/cnn-micro.cfg");
    CHECK_EQ_I64(space->in_channels, 1);
    CHECK_EQ_I64(space->num_classes, 10);
    CHECK_EQ_I64((int64_t)cnn_space_count(space), 221184);
    char list[64];
    cnn_choices_format(&space->resolution, list, sizeof list);
    CHECK_STR_CONTAINS(list, "24, 28, 32");
    cnn_space_free(space);
}

static void round_trips(void) {
    const char *texts[] = {BIGNAS_SMALLEST, BIGNAS_LARGEST, "8:4:4x1k3e1:8x2k3e2:16",
                           "1:1:1x1k1e1:1", "2048:4096:4096x32k11e8:4096"};
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        CnnArch arch, again;
        Error err = {0};
        if (!CHECK(cnn_arch_parse(texts[i], &arch, &err)))
            fprintf(stderr, "     %s\n", err.message);
        char formatted[CNN_ARCH_TEXT_MAX];
        cnn_arch_format(&arch, formatted, sizeof formatted);
        CHECK(strcmp(formatted, texts[i]) == 0);
        CHECK(cnn_arch_parse(formatted, &again, &err) && cnn_arch_equal(&arch, &again));
    }
    CnnArch arch;
    Error err = {0};
    CHECK(cnn_arch_parse(BIGNAS_SMALLEST, &arch, &err));
    CHECK_EQ_I64(arch.resolution, 192);
    CHECK_EQ_I64(arch.stem_channels, 32);
    CHECK_EQ_I64(arch.n_stages, 7);
    CHECK_EQ_I64(arch.stages[3].channels, 80);
    CHECK_EQ_I64(arch.stages[6].depth, 1);
    CHECK_EQ_I64(arch.stages[0].expand_ratio, 1);
    CHECK_EQ_I64(arch.stages[1].kernel, 3);
    CHECK_EQ_I64(arch.head_channels, 1280);
    /* one text per architecture: a field in another order is another architecture */
    CnnArch other;
    CHECK(cnn_arch_parse("192:32:16x1k3e1:24x2k3e6:40x2k3e6:80x2k3e6:112x2k3e6:192x2k3e6:"
                         "320x1k5e6:1280",
                         &other, &err));
    CHECK(!cnn_arch_equal(&arch, &other));
}

static void expect_refused(const char *text, const char *message_part) {
    CnnArch arch;
    Error err = {0};
    if (!CHECK(!cnn_arch_parse(text, &arch, &err))) fprintf(stderr, "     accepted: %s\n", text);
    CHECK_EQ_I64(err.code, EXIT_INPUT);
    CHECK_STR_CONTAINS(err.message, message_part);
    CHECK(strchr(err.message, '\n') == NULL);
}

static void malformed(void) {
    expect_refused("", "architecture '': 1 field(s), expected RES:STEM:CxDkKeE:...:HEAD");
    expect_refused("192:32:1280", "3 field(s), expected RES:STEM:CxDkKeE");
    expect_refused("192:32:16x1k3:1280", "stage 1 '16x1k3' is not CxDkKeE (channels x depth, "
                                         "kernel, expansion ratio), e.g. 24x2k3e6");
    expect_refused("192:32:16x1k3e1x:1280", "stage 1 '16x1k3e1x' is not CxDkKeE");
    expect_refused("192:32:16x1k3e1:24X2k3e6:1280", "stage 2 '24X2k3e6' is not CxDkKeE");
    expect_refused("192:32:16x0k3e1:1280", "stage 1 '16x0k3e1' is not CxDkKeE");
    expect_refused("192:32:16x01k3e1:1280", "stage 1 '16x01k3e1' is not CxDkKeE");
    expect_refused("192:32:16x1k13e1:1280", "stage 1 kernel 13 is above 11");
    expect_refused("192:32:16x33k3e1:1280", "stage 1 depth 33 is above 32");
    expect_refused("192:32:16x1k3e9:1280", "stage 1 expansion ratio 9 is above 8");
    expect_refused("192:32:16x1k3e99999999999:1280", "stage 1 '16x1k3e99999999999' is not");
    expect_refused("0192:32:16x1k3e1:1280", "resolution '0192' is not an integer in [1, 2048]");
    expect_refused("4096:32:16x1k3e1:1280", "resolution '4096' is not an integer in [1, 2048]");
    expect_refused("192::16x1k3e1:1280", "stem channels '' is not an integer in [1, 4096]");
    expect_refused("192:+32:16x1k3e1:1280", "stem channels '+32' is not an integer");
    expect_refused("192:32:16x1k3e1:1280 ", "head channels '1280 ' is not an integer");
    expect_refused("192:32:16x1k3e1:", "head channels '' is not an integer");
    expect_refused("192: 32:16x1k3e1:1280", "stem channels ' 32'");
    char many[CNN_ARCH_TEXT_MAX] = "192:32:";
    for (int s = 0; s < CNN_MAX_STAGES + 1; s++) strcat(many, "8x1k3e1:");
    strcat(many, "64");
    expect_refused(many, "more than 12 stages");
    char longer[CNN_ARCH_TEXT_MAX + 8];
    memset(longer, '1', sizeof longer - 1);
    longer[sizeof longer - 1] = '\0';
    expect_refused(longer, "architecture text longer than 255 characters");
}

static void expect_outside(const CnnSpace *space, const char *text, const char *message_part) {
    CnnArch arch;
    Error err = {0};
    CHECK(cnn_arch_parse(text, &arch, &err));
    if (!CHECK(!cnn_arch_check(&arch, space, &err))) fprintf(stderr, "     accepted: %s\n", text);
    CHECK_EQ_I64(err.code, EXIT_INPUT);
    CHECK_STR_CONTAINS(err.message, message_part);
    CHECK_STR_CONTAINS(err.message, space->source);
    CHECK(strchr(err.message, '\n') == NULL);
}

static void against_the_space(void) {
    CnnSpace *space = cnn_case_space("configs/spaces/cnn-bignas.cfg");
    CnnArch arch;
    Error err = {0};
    CHECK(cnn_arch_parse(BIGNAS_SMALLEST, &arch, &err) && cnn_arch_check(&arch, space, &err));
    CHECK(cnn_arch_parse(BIGNAS_LARGEST, &arch, &err) && cnn_arch_check(&arch, space, &err));
    expect_outside(space, "192:32:16x1k3e1:24x2k3e6:1280", "2 stages, the space has 7");
    expect_outside(space,
                   "200:32:16x1k3e1:24x2k3e6:40x2k3e6:80x2k3e6:112x2k3e6:192x2k3e6:320x1k3e6:1280",
                   "resolution 200 is not a choice (192, 224, 256, 288, 320), "
                   "configs/spaces/cnn-bignas.cfg");
    expect_outside(space,
                   "192:36:16x1k3e1:24x2k3e6:40x2k3e6:80x2k3e6:112x2k3e6:192x2k3e6:320x1k3e6:1280",
                   "stem channels 36 is not a choice (32, 40)");
    expect_outside(space,
                   "192:32:16x1k3e1:24x2k3e6:40x2k7e6:80x2k3e6:112x2k3e6:192x2k3e6:320x1k3e6:1280",
                   "stage 3 kernel 7 is not a choice (3, 5)");
    expect_outside(space,
                   "192:32:16x1k3e1:24x2k3e4:40x2k3e6:80x2k3e6:112x2k3e6:192x2k3e6:320x1k3e6:1280",
                   "stage 2 expansion ratio 4 is not a choice (6)");
    expect_outside(space,
                   "192:32:16x1k3e1:24x2k3e6:40x2k3e6:80x2k3e6:112x7k3e6:192x2k3e6:320x1k3e6:1280",
                   "stage 5 depth 7 is not a choice (2, 3, 4, 5, 6)");
    expect_outside(space,
                   "192:32:16x1k3e1:24x2k3e6:40x2k3e6:80x2k3e6:112x2k3e6:196x2k3e6:320x1k3e6:1280",
                   "stage 6 channels 196 is not a choice (192, 200, 208, 216)");
    expect_outside(space,
                   "192:32:16x1k3e1:24x2k3e6:40x2k3e6:80x2k3e6:112x2k3e6:192x2k3e6:320x1k3e6:1281",
                   "head channels 1281 is not a choice (1280, 1288, ");
    cnn_space_free(space);
}

/* The extremes of the shipped spaces; their costs are tests/oracle/cnn_count.py's too. */
static void extremes(void) {
    static const struct {
        const char *path, *smallest, *largest;
        int64_t params[2], flops[2];
    } cases[] = {{"configs/spaces/cnn-bignas.cfg",
                  BIGNAS_SMALLEST,
                  BIGNAS_LARGEST,
                  {3392488, 9241632},
                  {206390144, 1841398400}},
                 {"configs/spaces/cnn-micro.cfg",
                  "24:16:8x1k3e1:16x1k3e6:24x1k3e6:40x1k3e6:56x1k3e6:192",
                  "32:24:16x1k3e1:24x2k5e6:32x3k5e6:48x3k5e6:64x2k5e6:256",
                  {57946, 280730},
                  {1482240, 13469696}}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        CnnSpace *space = cnn_case_space(cases[i].path);
        CnnArch arch[2];
        cnn_arch_smallest(space, &arch[0]);
        cnn_arch_largest(space, &arch[1]);
        for (int e = 0; e < 2; e++) {
            char text[CNN_ARCH_TEXT_MAX];
            cnn_arch_format(&arch[e], text, sizeof text);
            CHECK_STR_CONTAINS(text, e ? cases[i].largest : cases[i].smallest);
            Error err = {0};
            CHECK(cnn_arch_check(&arch[e], space, &err));
            CnnCost cost = cnn_arch_cost(&arch[e], space);
            CHECK_EQ_I64(cost.params, cases[i].params[e]);
            CHECK_EQ_I64(cost.flops, cases[i].flops[e]);
            CHECK_EQ_I64(cost.macs, cost.flops);
        }
        cnn_space_free(space);
    }
}

/* Every draw lies in the space, the same seed gives the same draws, and every choice of every
 * list turns up (each has probability 1/2 or 1/3 in the micro space; 300 draws miss one with
 * probability below 1e-50). */
static void sampling(void) {
    CnnSpace *space = cnn_case_space("configs/spaces/cnn-micro.cfg");
    Rng a = rng_stream(7, RNG_STREAM_ARCH_SAMPLE), b = rng_stream(7, RNG_STREAM_ARCH_SAMPLE);
    Rng c = rng_stream(8, RNG_STREAM_ARCH_SAMPLE);
    CnnArch smallest, largest;
    cnn_arch_smallest(space, &smallest);
    cnn_arch_largest(space, &largest);
    bool all_in = true, same = true, differ = false, low[3] = {false}, high[3] = {false};
    CnnCost lo = cnn_arch_cost(&smallest, space), hi = cnn_arch_cost(&largest, space);
    bool within = true;
    for (int i = 0; i < 300; i++) {
        CnnArch x, y, z;
        cnn_arch_sample(space, &a, &x);
        cnn_arch_sample(space, &b, &y);
        cnn_arch_sample(space, &c, &z);
        Error err = {0};
        all_in = all_in && cnn_arch_check(&x, space, &err);
        same = same && cnn_arch_equal(&x, &y);
        differ = differ || !cnn_arch_equal(&x, &z);
        CnnCost cost = cnn_arch_cost(&x, space);
        within = within && cost.params >= lo.params && cost.params <= hi.params &&
                 cost.macs >= lo.macs && cost.macs <= hi.macs;
        low[0] = low[0] || x.stem_channels == 16;
        high[0] = high[0] || x.stem_channels == 24;
        low[1] = low[1] || x.stages[3].depth == 1;
        high[1] = high[1] || x.stages[3].depth == 3;
        low[2] = low[2] || x.head_channels == 192;
        high[2] = high[2] || x.head_channels == 256;
    }
    CHECK(all_in);
    CHECK(same);
    CHECK(differ);
    CHECK(within);
    for (int k = 0; k < 3; k++) CHECK(low[k] && high[k]);
    /* every resolution, counted exactly */
    int seen[3] = {0, 0, 0};
    Rng d = rng_stream(1, RNG_STREAM_ARCH_SAMPLE);
    for (int i = 0; i < 300; i++) {
        CnnArch x;
        cnn_arch_sample(space, &d, &x);
        for (int k = 0; k < 3; k++) seen[k] += x.resolution == space->resolution.values[k];
    }
    for (int k = 0; k < 3; k++) CHECK(seen[k] > 50 && seen[k] < 150);
    cnn_space_free(space);
}

static const char TINY_SPACE[] =
    "family = \"cnn\"; name = \"tiny\"; in_channels = 1; num_classes = 2;\n"
    "resolution = [8];\n"
    "stem = { channels = [4]; kernel = 3; stride = 2; };\n"
    "stages = (\n"
    "  { expand_ratio = [1]; kernel = [3]; channels = [4]; depth = [1]; stride = 1; },\n"
    "  { expand_ratio = [2]; kernel = [3]; channels = [8]; depth = [2]; stride = 2; se = true; }\n"
    ");\n"
    "head = { channels = [16]; };\n";

/* 8:4:4x1k3e1:8x2k3e2:16 term by term (cnn_cost.h): 8 pixels, stem stride 2 -> 4x4, stage 2's
 * stride -> 2x2. */
static void by_hand(void) {
    Error err = {0};
    CnnSpace *space = cnn_space_load_text(TINY_SPACE, "tiny.cfg", &err);
    if (!CHECK(space != NULL)) {
        fprintf(stderr, "     %s\n", err.message);
        return;
    }
    CnnArch arch;
    CHECK(cnn_arch_parse("8:4:4x1k3e1:8x2k3e2:16", &arch, &err) &&
          cnn_arch_check(&arch, space, &err));
    const int64_t params = (1 * 4 * 9 + 2 * 4)                         /* stem 3x3, 1 -> 4 */
                           + (4 * 9 + 2 * 4) + (4 * 4 + 2 * 4)         /* stage 1: dw, proj */
                           + (4 * 8 + 2 * 8) + (8 * 9 + 2 * 8)         /* 2.1: expand 4 -> 8, dw */
                           + (8 * 1 + 1 + 1 * 8 + 8) + (8 * 8 + 2 * 8) /* SE to max(1, 4/4), proj */
                           + (8 * 16 + 2 * 16) + (16 * 9 + 2 * 16)     /* 2.2: expand 8->16, dw */
                           + (16 * 2 + 2 + 2 * 16 + 16) + (16 * 8 + 2 * 8) /* SE to 8/4, proj */
                           + (8 * 16 + 2 * 16)                             /* head 1x1 */
                           + (16 * 2 + 2);                                 /* classifier */
    const int64_t macs = 16 * (1 * 4 * 9)                                  /* stem at 4x4 */
                         + 16 * (4 * 9) + 16 * (4 * 4)                     /* stage 1 at 4x4 */
                         + 16 * (4 * 8) + 4 * (8 * 9)               /* expand at 4x4, dw to 2x2 */
                         + 2 * 8 * 1 + 4 * (8 * 8)                  /* SE, proj */
                         + 4 * (8 * 16) + 4 * (16 * 9) + 2 * 16 * 2 /* 2.2 at 2x2 */
                         + 4 * (16 * 8)                             /* proj */
                         + 4 * (8 * 16) + 16 * 2;                   /* head, classifier */
    CHECK_EQ_I64(params, 1109);
    CHECK_EQ_I64(macs, 4688);
    CnnCost cost = cnn_arch_cost(&arch, space);
    CHECK_EQ_I64(cost.params, params);
    CHECK_EQ_I64(cost.macs, macs);
    CHECK_EQ_I64(cost.flops, macs);
    CHECK_EQ_I64(cnn_se_channels(3), 1);
    CHECK_EQ_I64(cnn_se_channels(8), 2);
    CHECK_EQ_I64(cnn_conv_side(17, 3), 6);
    CHECK_EQ_I64(cnn_conv_side(7, 2), 4);
    cnn_space_free(space);
}

int main(void) {
    bignas_table();
    round_trips();
    malformed();
    against_the_space();
    extremes();
    sampling();
    by_hand();
    return check_summary();
}
