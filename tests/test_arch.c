/* Architecture text form and JSON form: round trips, rejections, space checks. */
#include "check.h"
#include "golden.h"

#include "arch.h"
#include "space.h"
#include "text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static Space *load(const char *name) {
    char path[256];
    snprintf(path, sizeof path, "configs/spaces/%s.cfg", name);
    Error err = {0};
    Space *space = space_load_file(path, &err);
    if (!space) {
        fprintf(stderr, "%s\n", err.message);
        exit(1);
    }
    return space;
}

static void text_round_trips(void) {
    for (int i = 0; i < GOLDEN_CANDIDATE_COUNT; i++) {
        Arch arch;
        Error err = {0};
        CHECK(arch_parse(GOLDEN_CANDIDATES[i].arch, &arch, &err));
        char text[ARCH_TEXT_MAX];
        arch_format(&arch, text, sizeof text);
        CHECK(strcmp(text, GOLDEN_CANDIDATES[i].arch) == 0);
    }
    /* Non-canonical spellings parse to the same architecture and print canonically. */
    Arch a, b;
    Error err = {0};
    CHECK(arch_parse("64:2:4,4:4.0,3.50", &a, &err));
    CHECK(arch_parse("64:2:4,4:4,3.5", &b, &err));
    CHECK(arch_equal(&a, &b));
    char text[ARCH_TEXT_MAX];
    arch_format(&a, text, sizeof text);
    CHECK(strcmp(text, "64:2:4,4:4,3.5") == 0);
    CHECK(arch_parse("64:1:2:3.125", &a, &err));
    arch_format(&a, text, sizeof text);
    CHECK(strcmp(text, "64:1:2:3.125") == 0);
    CHECK_EQ_I64(arch_hidden_dim(&a, 0), 200);
}

/* MLP widths as the reference computes them, Python's int(E * r) on doubles (values from
 * /usr/bin/python3): one below the exact floor where E * r rounds down in binary. */
static void hidden_widths_as_python(void) {
    static const struct {
        int embed_dim;
        const char *ratio;
        int hidden;
    } cases[] = {
        {240, "4.1", 983}, {240, "4.225", 1013}, {240, "1.025", 245},   {240, "2.05", 491},
        {100, "0.29", 28}, {100, "0.57", 56},    {25, "1.16", 28},      {50, "2.32", 115},
        {45, "1.4", 62},   {60, "2.05", 122},    {1000, "1.001", 1000}, {192, "3.5", 672},
        {7, "1.1", 7},     {56, "0.1", 5},       {624, "4", 2496},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[64];
        snprintf(text, sizeof text, "%d:1:1:%s", cases[i].embed_dim, cases[i].ratio);
        Arch arch;
        Error err = {0};
        CHECK(arch_parse(text, &arch, &err));
        CHECK_EQ_I64(arch_hidden_dim(&arch, 0), cases[i].hidden);
    }
}

/* For every ratio a space may hold, the width is int(E * r) with r the double that strtod
 * (and Python's float) makes of the ratio's text. */
static void hidden_width_of_every_ratio(void) {
    static const int widths[] = {1, 7, 25, 45, 50, 60, 100, 192, 240, 1000, 4096, 65536};
    int mismatches = 0;
    for (int milli = 1; milli <= 64000; milli++) {
        char text[32];
        format_milli(milli, text, sizeof text);
        const double ratio = strtod(text, NULL);
        for (size_t i = 0; i < sizeof widths / sizeof widths[0]; i++)
            mismatches += mlp_hidden_width(widths[i], milli) != (int)(widths[i] * ratio);
    }
    CHECK_EQ_I64(mismatches, 0);
}

static void rejections(void) {
    static const struct {
        const char *text, *message;
    } cases[] = {
        {"", "1 field(s)"},
        {"192:12", "2 field(s)"},
        {"192:2:4,4:4,4:5", "5 field(s)"},
        {"x:2:4,4:4,4", "embed dim 'x' is not a positive integer"},
        {"-192:2:4,4:4,4", "embed dim '-192'"},
        {"192:0:4:4", "depth '0' is not an integer in [1, 64]"},
        {"192:65:4:4", "depth '65'"},
        {"192:2:4:4,4", "depth 2 but 1 head counts and 2 MLP ratios"},
        {"192:2:4,4:4", "depth 2 but 2 head counts and 1 MLP ratios"},
        {"192:2:4,0:4,4", "head counts must be positive integers"},
        {"192:2:4,3.5:4,4", "head counts must be positive integers"},
        {"192:2:4,4:4,-1", "MLP ratios must be positive decimals"},
        {"192:2:4,4:4,4.0001", "at most three decimals"},
        {"192:2:4,4:4,1e1", "MLP ratios"},
        {"192:2:4,4:4,0", "MLP ratio of layer 1 is 0"},
        {"192:2:4,4:4,", "depth 2 but 2 head counts and 1 MLP ratios"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        Arch arch;
        Error err = {0};
        if (!CHECK(!arch_parse(cases[i].text, &arch, &err)))
            fprintf(stderr, "     %s\n", cases[i].text);
        CHECK_EQ_I64(err.code, EXIT_INPUT);
        CHECK_STR_CONTAINS(err.message, cases[i].message);
    }
}

static void space_checks(void) {
    Space *tiny = load("vit-tiny");
    static const struct {
        const char *text, *message;
    } cases[] = {
        {"200:12:4,4,4,4,3,3,3,3,3,4,3,4:4,4,4,4,4,3.5,3.5,4,4,3.5,4,4",
         "embed dim 200 is not a choice of the space (192, 216, 240), configs/spaces/vit-tiny.cfg"},
        {"192:11:4,4,4,4,3,3,3,3,3,4,3:4,4,4,4,4,3.5,3.5,4,4,3.5,4",
         "depth 11 is not a choice for embed dim 192 (12, 13, 14)"},
        {"192:12:4,4,4,4,3,3,3,3,3,4,3,5:4,4,4,4,4,3.5,3.5,4,4,3.5,4,4",
         "layer 11 has 5 heads, not a choice (3, 4)"},
        {"192:12:4,4,4,4,3,3,3,3,3,4,3,4:4,4,4,4,4,3,3.5,4,4,3.5,4,4",
         "layer 5 has MLP ratio 3, not a choice (3.5, 4)"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        Arch arch;
        Error err = {0};
        CHECK(arch_parse(cases[i].text, &arch, &err));
        CHECK(!arch_check(&arch, tiny, &err));
        CHECK_STR_CONTAINS(err.message, cases[i].message);
    }
    space_free(tiny);
    /* Every golden candidate belongs to its space. */
    for (int i = 0; i < GOLDEN_CANDIDATE_COUNT; i++) {
        Space *space = load(GOLDEN_CANDIDATES[i].space);
        Arch arch;
        Error err = {0};
        CHECK(arch_parse(GOLDEN_CANDIDATES[i].arch, &arch, &err) && arch_check(&arch, space, &err));
        space_free(space);
    }
}

static void json_forms(void) {
    for (int i = 0; i < GOLDEN_CANDIDATE_COUNT; i++) {
        Arch arch, back;
        Error err = {0};
        CHECK(arch_parse(GOLDEN_CANDIDATES[i].arch, &arch, &err));
        cJSON *json = arch_to_json(&arch);
        char *printed = cJSON_PrintUnformatted(json);
        cJSON *parsed = cJSON_Parse(printed);
        CHECK(arch_from_json(parsed, &back, &err));
        CHECK(arch_equal(&arch, &back));
        cJSON_Delete(parsed);
        free(printed);
        cJSON_Delete(json);
    }
    /* The reference's own spelling: 4 as an integer, extra keys, the width repeated. */
    const char *reference =
        "{\"layer_num\": 3, \"mlp_ratio\": [4, 3.5, 4.0], \"num_heads\": [4, 3, 4],"
        " \"embed_dim\": [192, 192, 192], \"num_params\": 1.0, \"score\": 2.5}";
    cJSON *parsed = cJSON_Parse(reference);
    Arch arch, expected;
    Error err = {0};
    CHECK(arch_from_json(parsed, &arch, &err));
    CHECK(arch_parse("192:3:4,3,4:4,3.5,4", &expected, &err));
    CHECK(arch_equal(&arch, &expected));
    cJSON_Delete(parsed);

    static const struct {
        const char *json, *message;
    } bad[] = {
        {"[1, 2]", "must be a JSON object"},
        {"{\"mlp_ratio\": [4], \"num_heads\": [4], \"embed_dim\": [192]}", "\"layer_num\" missing"},
        {"{\"layer_num\": 2, \"mlp_ratio\": [4], \"num_heads\": [4, 4], \"embed_dim\": [192, 192]}",
         "lists of layer_num = 2 values"},
        {"{\"layer_num\": 2, \"mlp_ratio\": [4, 4], \"num_heads\": [4, 4], \"embed_dim\": [192, "
         "216]}",
         "differs between layers"},
        {"{\"layer_num\": 1, \"mlp_ratio\": [4], \"num_heads\": [4.5], \"embed_dim\": [192]}",
         "\"num_heads\"[0] is not a positive integer"},
        {"{\"layer_num\": 1, \"mlp_ratio\": [\"4\"], \"num_heads\": [4], \"embed_dim\": 192}",
         "\"mlp_ratio\"[0] is not a positive ratio"},
        /* not thousandths, however close: the reference would size the MLP by this value */
        {"{\"layer_num\": 1, \"mlp_ratio\": [4.0000000001], \"num_heads\": [4], \"embed_dim\": "
         "192}",
         "\"mlp_ratio\"[0] is not a positive ratio"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        Error e = {0};
        cJSON *p = cJSON_Parse(bad[i].json);
        CHECK(p != NULL);
        CHECK(!arch_from_json(p, &arch, &e));
        CHECK_STR_CONTAINS(e.message, bad[i].message);
        cJSON_Delete(p);
    }
}

static void extremes(void) {
    Space *small = load("vit-small");
    Arch smallest, largest;
    arch_smallest(small, &smallest);
    arch_largest(small, &largest);
    char text[ARCH_TEXT_MAX];
    arch_format(&smallest, text, sizeof text);
    CHECK(strcmp(text, "320:13:5,5,5,5,5,5,5,5,5,5,5,5,5:3,3,3,3,3,3,3,3,3,3,3,3,3") == 0);
    arch_format(&largest, text, sizeof text);
    CHECK(strcmp(text, "448:14:7,7,7,7,7,7,7,7,7,7,7,7,7,7:4,4,4,4,4,4,4,4,4,4,4,4,4,4") == 0);
    CHECK_EQ_I64(arch_qkv_dim(&largest, small, 0), 448);
    CHECK_EQ_I64(arch_hidden_dim(&largest, 0), 1792);
    space_free(small);
}

int main(void) {
    text_round_trips();
    hidden_widths_as_python();
    hidden_width_of_every_ratio();
    rejections();
    space_checks();
    json_forms();
    extremes();
    return check_summary();
}
