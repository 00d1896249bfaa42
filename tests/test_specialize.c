/* Specialisation (method.md §10.2, Eq. 12) on hand-made evaluation tables: the choice by
 * measured accuracy and by the preferred ranking, its tie rules, several limits at once,
 * latency limits and their provenance, the refusals (test split, nothing within the limits,
 * nothing to rank), budget lists and the sizes they are written in, and the table of the models
 * written (val and test top-1, latency). */
#include "check.h"

#include "specialize.h"
#include "text.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *arch;
    int64_t params, flops, macs;
    double top1;
    bool preferred;
    int interval;
    double score, latency_ms;
} Row;

/* A table of val accuracies measured on the cpu with latencies when any row has one. */
static EvalTable table_of(const Row *rows, int n) {
    EvalTable t = {.n = n, .rows = calloc((size_t)n, sizeof(EvalRow))};
    snprintf(t.split, sizeof t.split, "val");
    snprintf(t.latency_device, sizeof t.latency_device, "cpu");
    for (int i = 0; i < n; i++) {
        EvalRow *r = &t.rows[i];
        Error err = {0};
        r->arch.family = FAMILY_VIT;
        CHECK(arch_parse(rows[i].arch, &r->arch.vit, &err));
        r->cost = (ModelCost){rows[i].params, rows[i].flops, rows[i].macs};
        r->result.top1 = rows[i].top1;
        r->preferred = rows[i].preferred;
        r->interval = rows[i].interval;
        r->score = rows[i].score;
        r->latency[0].median_ms = rows[i].latency_ms;
        if (rows[i].latency_ms > 0) t.latency_batch = 8, t.latency_repeats = 5;
    }
    return t;
}

static Constraints limits_of(const char *params, const char *flops, const char *macs,
                             const char *latency) {
    Constraints c = {0};
    const char *values[LIMIT_KINDS] = {params, flops, macs, latency};
    for (int k = 0; k < LIMIT_KINDS; k++)
        if (values[k]) CHECK(constraints_add(&c, (LimitKind)k, values[k]));
    return c;
}

/* The chosen and runner-up rows' architecture strings ("" for none). */
static bool choose(const EvalTable *t, ChooseBy by, const Constraints *limits, Choice *choice,
                   Error *err) {
    const Candidates c = {t, by, "eval.h5", "cpu"};
    *err = (Error){0};
    return specialize_choose(&c, limits, choice, err);
}

static const char *arch_text(const EvalTable *t, int row, char *buf) {
    if (row < 0) return "";
    model_arch_format(&t->rows[row].arch, buf, MODEL_ARCH_TEXT_MAX);
    return buf;
}

#define CHECK_CHOICE(t, choice, chosen_arch, runner_arch)                                          \
    do {                                                                                           \
        char a_[MODEL_ARCH_TEXT_MAX], b_[MODEL_ARCH_TEXT_MAX];                                     \
        CHECK(strcmp(arch_text(&(t), (choice).chosen, a_), (chosen_arch)) == 0);                   \
        CHECK(strcmp(arch_text(&(t), (choice).runner_up, b_), (runner_arch)) == 0);                \
    } while (0)

static void test_sizes(void) {
    int64_t v = 0;
    CHECK(parse_size("0.3M", 1, &v) && v == 300000);
    CHECK(parse_size("300K", 1, &v) && v == 300000);
    CHECK(parse_size("300k", 1, &v) && v == 300000);
    CHECK(parse_size("1.4G", 1, &v) && v == 1400000000);
    CHECK(parse_size("5994760", 1, &v) && v == 5994760);
    CHECK(parse_size("5.99476M", 1, &v) && v == 5994760);
    CHECK(parse_size("1.379653176G", 1, &v) && v == 1379653176);
    CHECK(parse_size("0.3", 1000000, &v) && v == 300000); /* prenas-select's bare millions */
    CHECK(parse_size("0.05", 1000000, &v) && v == 50000);
    CHECK(parse_size("1.4", 1000000000, &v) && v == 1400000000);
    CHECK(parse_size("9223372036854775807", 1, &v) && v == INT64_MAX);
    CHECK(!parse_size("0.3", 1, &v));                 /* a fraction of a parameter */
    CHECK(!parse_size("0.0000005", 1000000, &v));     /* half a parameter */
    CHECK(!parse_size("1.0000000001G", 1, &v));       /* more than 9 decimals */
    CHECK(!parse_size("9223372036854775808", 1, &v)); /* beyond int64 */
    CHECK(!parse_size("9300000000G", 1, &v));
    const char *bad[] = {"", "M", "-1", "+1", "1e6", "1.", ".5", "1 M", "1MB", "1T", "0x10", "1m"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) CHECK(!parse_size(bad[i], 1, &v));

    char buf[32];
    const struct {
        int64_t value;
        const char *text;
    } formats[] = {
        {300000, "300K"}, {5994760, "5.99476M"}, {1379653176, "1.379653176G"}, {999, "999"},
        {1000, "1K"},     {1001, "1.001K"},      {1400000000, "1.4G"},         {0, "0"},
        {200000, "200K"}, {1000000, "1M"}};
    for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++) {
        format_size(formats[i].value, buf, sizeof buf);
        CHECK_STR_CONTAINS(buf, formats[i].text);
        CHECK(strlen(buf) == strlen(formats[i].text));
        CHECK(parse_size(buf, 1, &v) && v == formats[i].value); /* every form reads back */
    }
}

static void test_constraints(void) {
    Constraints c = {0};
    CHECK(constraints_empty(&c));
    CHECK(constraints_add(&c, LIMIT_PARAMS, "0.3M"));
    CHECK(constraints_add(&c, LIMIT_PARAMS, "400K")); /* the tighter stays */
    CHECK_EQ_I64(c.max_cost[LIMIT_PARAMS], 300000);
    CHECK(constraints_add(&c, LIMIT_PARAMS, "250000"));
    CHECK_EQ_I64(c.max_cost[LIMIT_PARAMS], 250000);
    CHECK(constraints_add(&c, LIMIT_LATENCY, "2.5ms"));
    CHECK(constraints_add(&c, LIMIT_LATENCY, "3"));
    CHECK_NEAR(c.max_latency_ms, 2.5, 0);
    CHECK(!constraints_empty(&c));
    CHECK(!constraints_add(&c, LIMIT_PARAMS, "0"));
    CHECK(!constraints_add(&c, LIMIT_PARAMS, "0.3"));
    CHECK(!constraints_add(&c, LIMIT_LATENCY, "0ms"));
    CHECK(!constraints_add(&c, LIMIT_LATENCY, "-1"));
    CHECK(!constraints_add(&c, LIMIT_LATENCY, "fast"));
    char text[128];
    constraints_format(&c, text, sizeof text);
    CHECK(strcmp(text, "params <= 250K, latency <= 2.5 ms") == 0);

    Constraints more = limits_of("200K", "1.4G", NULL, "4");
    constraints_merge(&c, &more);
    constraints_format(&c, text, sizeof text);
    CHECK(strcmp(text, "params <= 200K, flops <= 1.4G, latency <= 2.5 ms") == 0);
    Constraints none = {0};
    constraints_format(&none, text, sizeof text);
    CHECK(strcmp(text, "no limit") == 0);
}

static void test_budget_lists(void) {
    Target *t = NULL;
    int n = 0;
    Error err = {0};
    CHECK(targets_parse("0.2M, 0.3M\nflops:50M  # the paper's count\n\n macs : 1.5G,latency:2.5,"
                        "params:5994760, latency:0.5ms\n# done\n",
                        "budgets.txt", &t, &n, &err));
    CHECK_EQ_I64(n, 7);
    const char *names[] = {"0.2M",          "0.3M",    "flops-50M",    "macs-1.5G",
                           "latency-2.5ms", "5994760", "latency-0.5ms"};
    for (int i = 0; i < n && i < 7; i++) CHECK(strcmp(t[i].name, names[i]) == 0);
    if (n == 7) {
        CHECK_EQ_I64(t[0].limits.max_cost[LIMIT_PARAMS], 200000);
        CHECK_EQ_I64(t[2].limits.max_cost[LIMIT_FLOPS], 50000000);
        CHECK_EQ_I64(t[2].limits.max_cost[LIMIT_PARAMS], 0);
        CHECK_EQ_I64(t[3].limits.max_cost[LIMIT_MACS], 1500000000);
        CHECK_NEAR(t[4].limits.max_latency_ms, 2.5, 0);
        CHECK_EQ_I64(t[5].limits.max_cost[LIMIT_PARAMS], 5994760);
        CHECK_NEAR(t[6].limits.max_latency_ms, 0.5, 0);
    }
    free(t);

    const struct {
        const char *list, *message;
    } bad[] = {
        {"0.3M,0.3M", "budget '0.3M' is given twice, --budgets"},
        {"0.3M,flop:3M", "budget 'flop:3M': unknown kind 'flop' (expected params, flops, macs or "
                         "latency), --budgets"},
        {"0.3", "budget '0.3': expected a whole count"},
        {"latency:soon", "budget 'latency:soon': expected milliseconds"},
        {"params:", "budget 'params:': expected a whole count"},
        {" # nothing\n,\n", "no budget in the list, --budgets"},
        {"0.2M/../x", "budget '0.2M/../x': expected a whole count"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err = (Error){0};
        CHECK(!targets_parse(bad[i].list, "--budgets", &t, &n, &err));
        CHECK_STR_CONTAINS(err.message, bad[i].message);
        CHECK(t == NULL && n == 0);
    }
}

/* Eq. 12 by accuracy: the best top-1 within the limits, among preferred and extra rows. */
static void test_by_accuracy(void) {
    const Row rows[] = {
        {"64:4:4,3,4,5:4,4,3,3.5", 196778, 11000000, 11800000, 70.0, true, 0, 10, 0},
        {"80:4:4,4,4,5:4,4,3.5,4", 299922, 16300000, 17100000, 75.0, true, 1, 20, 0},
        {"80:4:4,4,5,4:4,4,3.5,4", 299922, 16300000, 17100000, 76.5, false, -1, NAN, 0},
        {"80:6:5,4,5,5,5,5:4,4,3.5,4,4,4", 467986, 25700000, 27200000, 80.0, true, 3, 40, 0},
        {"48:4:3,3,3,3:3,3,3,3", 150000, 9000000, 9500000, NAN, false, -1, NAN, 0},
    };
    EvalTable t = table_of(rows, 5);
    Choice ch;
    Error err;
    Constraints c = limits_of("0.3M", NULL, NULL, NULL);
    CHECK(choose(&t, CHOOSE_BY_ACCURACY, &c, &ch, &err));
    /* the extra architecture measured best; a NaN accuracy never wins */
    CHECK_CHOICE(t, ch, "80:4:4,4,5,4:4,4,3.5,4", "80:4:4,4,4,5:4,4,3.5,4");
    CHECK_EQ_I64(ch.qualified, 4);
    CHECK_EQ_I64(ch.considered, 5);
    c = limits_of("1M", NULL, NULL, NULL);
    CHECK(choose(&t, CHOOSE_BY_ACCURACY, &c, &ch, &err));
    CHECK_CHOICE(t, ch, "80:6:5,4,5,5,5,5:4,4,3.5,4,4,4", "80:4:4,4,5,4:4,4,3.5,4");

    /* the limit is inclusive: exactly 196778 params */
    c = limits_of("196778", NULL, NULL, NULL);
    CHECK(choose(&t, CHOOSE_BY_ACCURACY, &c, &ch, &err));
    CHECK_CHOICE(t, ch, "64:4:4,3,4,5:4,4,3,3.5", "48:4:3,3,3,3:3,3,3,3");

    /* the label the model file keeps */
    Standalone s = {0};
    const Candidates cand = {&t, CHOOSE_BY_ACCURACY, "eval.h5", "cpu"};
    specialize_label(&s, &cand, &c, &ch);
    CHECK(strcmp(s.chosen_by, "val top-1 (eval.h5) within params <= 196.778K") == 0);
    CHECK(strcmp(s.split, "val") == 0);
    CHECK_NEAR(s.top1, 70.0, 0);

    /* the explanation names the limits, the rule, both rows and their accuracies */
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&text, &size);
    specialize_explain(out, &cand, &c, &ch);
    fclose(out);
    CHECK_STR_CONTAINS(text, "params <= 196.778K: the highest val top-1 of the 2 within the "
                             "limits, of 5 architectures (eval.h5)");
    CHECK_STR_CONTAINS(text, "chosen     val top-1 70.00%, params 196778");
    CHECK_STR_CONTAINS(text, "64:4:4,3,4,5:4,4,3,3.5\n");
    CHECK_STR_CONTAINS(text, "runner-up  val top-1 not measured, params 150000");
    free(text);
    eval_table_free(&t);
}

/* Equal accuracy: fewer params wins, then the smaller architecture string. */
static void test_ties(void) {
    const Row rows[] = {
        {"80:4:4,4,5,4:4,4,3.5,4", 299922, 1, 1, 75.0, true, 1, 5, 0},
        {"80:4:4,4,4,5:4,4,3.5,4", 299922, 1, 1, 75.0, true, 1, 5, 0},
        {"64:5:4,4,4,4,4:4,4,4,4,4", 290000, 1, 1, 75.0, true, 1, 5, 0},
        {"64:4:4,3,4,5:4,4,3,3.5", 196778, 1, 1, 74.9, true, 0, 9, 0},
    };
    EvalTable t = table_of(rows, 4);
    Choice ch;
    Error err;
    Constraints c = limits_of("300K", NULL, NULL, NULL);
    CHECK(choose(&t, CHOOSE_BY_ACCURACY, &c, &ch, &err));
    CHECK_CHOICE(t, ch, "64:5:4,4,4,4,4:4,4,4,4,4", "80:4:4,4,4,5:4,4,3.5,4");
    /* the same under the ranking (same interval and score) */
    CHECK(choose(&t, CHOOSE_BY_RANKING, &c, &ch, &err));
    CHECK_CHOICE(t, ch, "64:5:4,4,4,4,4:4,4,4,4,4", "80:4:4,4,4,5:4,4,3.5,4");
    /* without the smaller one: the string decides between the equal-sized isomers, whatever
     * their order in the table */
    c = limits_of("300K", NULL, NULL, NULL);
    t.rows[2].cost.params = 300001;
    CHECK(choose(&t, CHOOSE_BY_ACCURACY, &c, &ch, &err));
    CHECK_CHOICE(t, ch, "80:4:4,4,4,5:4,4,3.5,4", "80:4:4,4,5,4:4,4,3.5,4");
    const EvalRow first = t.rows[0];
    t.rows[0] = t.rows[1], t.rows[1] = first;
    CHECK(choose(&t, CHOOSE_BY_ACCURACY, &c, &ch, &err));
    CHECK_CHOICE(t, ch, "80:4:4,4,4,5:4,4,3.5,4", "80:4:4,4,5,4:4,4,3.5,4");
    eval_table_free(&t);
}

static void test_several_limits(void) {
    const Row rows[] = {
        {"64:4:4,3,4,5:4,4,3,3.5", 196778, 10999370, 11800000, 70.0, true, 0, 10, 0},
        {"80:4:4,4,4,5:4,4,3.5,4", 299922, 16267618, 17100000, 75.0, true, 1, 20, 0},
        {"64:6:4,4,4,4,4,4:4,4,4,4,4,4", 280000, 18000000, 16000000, 77.0, false, -1, NAN, 0},
        {"80:6:5,4,5,5,5,5:4,4,3.5,4,4,4", 467986, 25718887, 27200000, 80.0, true, 3, 40, 0},
    };
    EvalTable t = table_of(rows, 4);
    Choice ch;
    Error err;
    /* params alone would take the 77 %; its FLOPs are over the second limit */
    Constraints c = limits_of("0.3M", "17M", NULL, NULL);
    CHECK(choose(&t, CHOOSE_BY_ACCURACY, &c, &ch, &err));
    CHECK_CHOICE(t, ch, "80:4:4,4,4,5:4,4,3.5,4", "64:4:4,3,4,5:4,4,3,3.5");
    /* and MACs exclude the 75 % one */
    c = limits_of("0.3M", "20M", "16.5M", NULL);
    CHECK(choose(&t, CHOOSE_BY_ACCURACY, &c, &ch, &err));
    CHECK_CHOICE(t, ch, "64:6:4,4,4,4,4,4:4,4,4,4,4,4", "64:4:4,3,4,5:4,4,3,3.5");
    c = limits_of(NULL, "17M", "12M", NULL);
    CHECK(choose(&t, CHOOSE_BY_ACCURACY, &c, &ch, &err));
    CHECK_CHOICE(t, ch, "64:4:4,3,4,5:4,4,3,3.5", "");
    CHECK_EQ_I64(ch.qualified, 1);

    /* nothing meets both: the smallest by the first limited kind (FLOPs), with its costs */
    c = limits_of(NULL, "10M", "20M", NULL);
    CHECK(!choose(&t, CHOOSE_BY_ACCURACY, &c, &ch, &err));
    CHECK(err.code == EXIT_INPUT);
    CHECK_STR_CONTAINS(err.message, "no architecture meets flops <= 10M, macs <= 20M: the smallest "
                                    "of the 4 architectures is 64:4:4,3,4,5:4,4,3,3.5 (params "
                                    "196778, flops 10.99937M, macs 11.8M), eval.h5");
    eval_table_free(&t);
}

static void test_unsatisfiable(void) {
    const Row rows[] = {
        {"80:4:4,4,4,5:4,4,3.5,4", 299922, 16267618, 17100000, 75.0, true, 1, 20, 0},
        {"64:4:4,3,4,5:4,4,3,3.5", 196778, 10999370, 11800000, 70.0, true, 0, 10, 0},
        {"48:4:3,3,3,3:3,3,3,3", 150000, 9000000, 9500000, 60.0, false, -1, NAN, 0},
    };
    EvalTable t = table_of(rows, 3);
    Choice ch;
    Error err;
    Constraints c = limits_of("100K", NULL, NULL, NULL);
    CHECK(!choose(&t, CHOOSE_BY_ACCURACY, &c, &ch, &err));
    CHECK_STR_CONTAINS(err.message, "no architecture meets params <= 100K: the smallest of the 3 "
                                    "architectures is 48:4:3,3,3,3:3,3,3,3 (params 150000), "
                                    "eval.h5");
    /* the ranking looks at the preferred rows only: its smallest is another */
    CHECK(!choose(&t, CHOOSE_BY_RANKING, &c, &ch, &err));
    CHECK_STR_CONTAINS(err.message, "the smallest of the 2 preferred architectures is "
                                    "64:4:4,3,4,5:4,4,3,3.5 (params 196778)");
    c = limits_of("160K", NULL, NULL, NULL);
    CHECK(!choose(&t, CHOOSE_BY_RANKING, &c, &ch, &err));
    CHECK(choose(&t, CHOOSE_BY_ACCURACY, &c, &ch, &err));
    CHECK_CHOICE(t, ch, "48:4:3,3,3,3:3,3,3,3", "");
    eval_table_free(&t);
}

/* Eq. 12 in practice (§10.2): the highest interval within the budget, then the score; the
 * accuracy plays no part and extra rows are not candidates. */
static void test_by_ranking(void) {
    const Row rows[] = {
        {"64:4:4,3,4,5:4,4,3,3.5", 196778, 1, 1, 0, true, 0, 2810, 0},
        {"64:4:4,4,4,4:4,4,4,4", 199000, 1, 1, 0, true, 0, 2900, 0},
        {"80:4:4,4,4,5:4,4,3.5,4", 299922, 1, 1, 0, true, 1, 1000, 0},
        {"80:4:4,4,5,4:4,4,4,4", 290000, 1, 1, 99.0, false, -1, 9999, 0},
        {"80:4:5,4,4,4:4,4,3.5,4", 295000, 1, 1, 0, true, 1, NAN, 0},
        {"80:6:5,4,5,5,5,5:4,4,3.5,4,4,4", 467986, 1, 1, 0, true, 3, 5418, 0},
    };
    EvalTable t = table_of(rows, 6);
    Choice ch;
    Error err;
    Constraints c = limits_of("0.3M", NULL, NULL, NULL);
    CHECK(choose(&t, CHOOSE_BY_RANKING, &c, &ch, &err));
    /* interval 1 beats interval 0 whatever the score; a NaN score comes last in its interval */
    CHECK_CHOICE(t, ch, "80:4:4,4,4,5:4,4,3.5,4", "80:4:5,4,4,4:4,4,3.5,4");
    CHECK_EQ_I64(ch.considered, 5);
    CHECK_EQ_I64(ch.qualified, 4);
    c = limits_of("0.2M", NULL, NULL, NULL);
    CHECK(choose(&t, CHOOSE_BY_RANKING, &c, &ch, &err));
    CHECK_CHOICE(t, ch, "64:4:4,4,4,4:4,4,4,4", "64:4:4,3,4,5:4,4,3,3.5");

    Standalone s = {0};
    const Candidates cand = {&t, CHOOSE_BY_RANKING, "supernet.h5", "cpu"};
    specialize_label(&s, &cand, &c, &ch);
    CHECK(strcmp(s.chosen_by, "preferred ranking (Eq. 12) within params <= 200K") == 0);
    CHECK(strcmp(s.split, "") == 0);
    CHECK(isnan(s.top1));
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&text, &size);
    specialize_explain(out, &cand, &c, &ch);
    fclose(out);
    CHECK_STR_CONTAINS(text, "params <= 200K: the preferred ranking (highest interval, then proxy "
                             "score) of the 2 within the limits, of 5 preferred architectures "
                             "(supernet.h5)");
    CHECK_STR_CONTAINS(text, "chosen     interval 0, score 2900, params 199000");
    CHECK_STR_CONTAINS(text, "runner-up  interval 0, score 2810, params 196778");
    free(text);

    /* a supernet trained on the whole space has nothing to rank */
    for (int i = 0; i < t.n; i++) t.rows[i].preferred = false;
    CHECK(!choose(&t, CHOOSE_BY_RANKING, &c, &ch, &err));
    CHECK_STR_CONTAINS(err.message, "no preferred architectures to rank");
    eval_table_free(&t);
}

static void test_latency(void) {
    const Row rows[] = {
        {"64:4:4,3,4,5:4,4,3,3.5", 196778, 1, 1, 70.0, true, 0, 1, 0.40},
        {"80:4:4,4,4,5:4,4,3.5,4", 299922, 1, 1, 75.0, true, 1, 2, 0.90},
        {"64:6:4,4,4,4,4,4:4,4,4,4,4,4", 280000, 1, 1, 74.0, false, -1, NAN, 0.60},
        {"80:6:5,4,5,5,5,5:4,4,3.5,4,4,4", 467986, 1, 1, 80.0, true, 3, 4, 1.50},
    };
    EvalTable t = table_of(rows, 4);
    Choice ch;
    Error err;
    Constraints c = limits_of(NULL, NULL, NULL, "0.9");
    CHECK(choose(&t, CHOOSE_BY_ACCURACY, &c, &ch, &err));
    CHECK_CHOICE(t, ch, "80:4:4,4,4,5:4,4,3.5,4", "64:6:4,4,4,4,4,4:4,4,4,4,4,4");
    c = limits_of(NULL, NULL, NULL, "0.8ms");
    CHECK(choose(&t, CHOOSE_BY_ACCURACY, &c, &ch, &err));
    CHECK_CHOICE(t, ch, "64:6:4,4,4,4,4,4:4,4,4,4,4,4", "64:4:4,3,4,5:4,4,3,3.5");
    /* with a params limit too */
    c = limits_of("250K", NULL, NULL, "0.8ms");
    CHECK(choose(&t, CHOOSE_BY_ACCURACY, &c, &ch, &err));
    CHECK_CHOICE(t, ch, "64:4:4,3,4,5:4,4,3,3.5", "");
    /* too fast for all: the fastest is named, with its latency */
    c = limits_of(NULL, NULL, NULL, "0.3");
    CHECK(!choose(&t, CHOOSE_BY_ACCURACY, &c, &ch, &err));
    CHECK_STR_CONTAINS(err.message, "no architecture meets latency <= 0.3 ms: the smallest of the "
                                    "4 architectures is 64:4:4,3,4,5:4,4,3,3.5 (params 196778, "
                                    "latency 0.4 ms), eval.h5");

    /* latencies of another device, none measured, or no table at all */
    c = limits_of(NULL, NULL, NULL, "1");
    snprintf(t.latency_device, sizeof t.latency_device, "cuda:0 (NVIDIA H200)");
    CHECK(!choose(&t, CHOOSE_BY_ACCURACY, &c, &ch, &err));
    CHECK_STR_CONTAINS(err.message, "the latencies were measured on cuda:0 (NVIDIA H200) and this "
                                    "run is on cpu, eval.h5");
    snprintf(t.latency_device, sizeof t.latency_device, "cpu");
    t.latency_repeats = 0;
    CHECK(!choose(&t, CHOOSE_BY_ACCURACY, &c, &ch, &err));
    CHECK_STR_CONTAINS(err.message, "no latency was measured, eval.h5");
    t.latency_repeats = 5;
    CHECK(!choose(&t, CHOOSE_BY_RANKING, &c, &ch, &err));
    CHECK_STR_CONTAINS(err.message, "a latency limit needs measured latencies");
    /* a row whose latency was not measured meets no latency limit */
    t.rows[0].latency[0].median_ms = 0;
    c = limits_of(NULL, NULL, NULL, "0.5");
    CHECK(!choose(&t, CHOOSE_BY_ACCURACY, &c, &ch, &err));
    eval_table_free(&t);
}

/* The test split never chooses anything. */
static void test_test_split(void) {
    const Row rows[] = {{"64:4:4,3,4,5:4,4,3,3.5", 196778, 1, 1, 70.0, true, 0, 1, 0}};
    EvalTable t = table_of(rows, 1);
    snprintf(t.split, sizeof t.split, "test");
    Choice ch;
    Error err;
    Constraints c = limits_of("1M", NULL, NULL, NULL);
    CHECK(!choose(&t, CHOOSE_BY_ACCURACY, &c, &ch, &err));
    CHECK(err.code == EXIT_INPUT);
    CHECK_STR_CONTAINS(err.message, "accuracies on the test split never choose a model");
    CHECK_STR_CONTAINS(err.message, ", eval.h5");
    /* the ranking reads no accuracy, so the table's split does not matter to it */
    CHECK(choose(&t, CHOOSE_BY_RANKING, &c, &ch, &err));
    eval_table_free(&t);
}

static void test_eval_provenance(void) {
    const ArtefactInput supernet = {
        "supernet", "run/supernet.h5",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"};
    Artefact eval = {.file = -1, .path = "eval.h5"};
    Error err = {0};
    CHECK(!specialize_check_eval(&eval, &supernet, &err));
    CHECK_STR_CONTAINS(err.message, "eval.h5 names no supernet among its inputs");
    eval.meta.n_inputs = 2;
    eval.meta.inputs[0] = (ArtefactInput){"dataset", "data.h5", "cc"};
    eval.meta.inputs[1] = supernet;
    snprintf(eval.meta.inputs[1].path, sizeof eval.meta.inputs[1].path, "elsewhere/supernet.h5");
    err = (Error){0};
    CHECK(specialize_check_eval(&eval, &supernet, &err)); /* the content counts, not the path */
    eval.meta.inputs[1].sha256[0] = 'b';
    CHECK(!specialize_check_eval(&eval, &supernet, &err));
    CHECK_STR_CONTAINS(err.message, "eval.h5 evaluated another supernet (elsewhere/supernet.h5, "
                                    "SHA-256 baaaaaaaaaaa...), not run/supernet.h5 (SHA-256 "
                                    "aaaaaaaaaaaa...)");
}

/* The table of the models written: the choosing table's val top-1 ("ranked" by the ranking),
 * the test evaluation's top-1 where it has the architecture, the choosing table's latency or
 * else the test evaluation's. */
static void test_summary(void) {
    const Row val_rows[] = {
        {"64:4:4,3,4,5:4,4,3,3.5", 196778, 1, 11800000, 90.2, true, 0, 2810, 0.53},
        {"80:6:5,4,5,5,5,5:4,4,3.5,4,4,4", 467986, 1, 27200000, 90.53, true, 3, 5418, 1.08},
    };
    const Row test_rows[] = {
        {"80:6:5,4,5,5,5,5:4,4,3.5,4,4,4", 467986, 1, 27200000, 90.13, true, 3, 5418, 1.2},
    };
    EvalTable val = table_of(val_rows, 2), test = table_of(test_rows, 1);
    snprintf(test.split, sizeof test.split, "test");
    const Target targets[2] = {{"0.2M", limits_of("0.2M", NULL, NULL, NULL)},
                               {"0.5M", limits_of("0.5M", NULL, NULL, NULL)}};
    const Choice choices[2] = {{.chosen = 0, .runner_up = -1}, {.chosen = 1, .runner_up = 0}};
    const char *const paths[2] = {"models/model-0.2M.h5", "models/model-0.5M.h5"};
    const Candidates by_accuracy = {&val, CHOOSE_BY_ACCURACY, "eval-val.h5", "cpu"};
    char *text = specialize_summary(&by_accuracy, &test, targets, choices, paths, 2);
    CHECK(strcmp(text, "limits             params      MACs  val top-1 test top-1    latency  "
                       "file                  architecture\n"
                       "params <= 200K     196778     11.8M     90.20%          -   0.530 ms  "
                       "models/model-0.2M.h5  64:4:4,3,4,5:4,4,3,3.5\n"
                       "params <= 500K     467986     27.2M     90.53%     90.13%   1.080 ms  "
                       "models/model-0.5M.h5  80:6:5,4,5,5,5,5:4,4,3.5,4,4,4\n") == 0);
    free(text);
    /* the ranking's table (the supernet's architectures) has no latency */
    for (int i = 0; i < val.n; i++) val.rows[i].latency[0].median_ms = 0;
    const Candidates by_ranking = {&val, CHOOSE_BY_RANKING, "supernet.h5", "cpu"};
    text = specialize_summary(&by_ranking, &test, targets, choices, paths, 2);
    CHECK_STR_CONTAINS(text, "params <= 200K     196778     11.8M     ranked          -          "
                             "-  models/model-0.2M.h5");
    CHECK_STR_CONTAINS(text, "params <= 500K     467986     27.2M     ranked     90.13%   1.200 ms"
                             "  models/model-0.5M.h5");
    free(text);
    text = specialize_summary(&by_ranking, NULL, targets, choices, paths, 2);
    CHECK_STR_CONTAINS(text, "params <= 500K     467986     27.2M     ranked          -          "
                             "-  models/model-0.5M.h5");
    free(text);

    /* the test evaluation must be of the test split, and of this supernet */
    const ArtefactInput supernet = {
        "supernet", "run/supernet.h5",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"};
    Artefact file = {.file = -1, .path = "eval-test.h5"};
    file.meta.n_inputs = 1;
    file.meta.inputs[0] = supernet;
    Error err = {0};
    CHECK(specialize_check_test(&file, &test, &supernet, &err));
    CHECK(!specialize_check_test(&file, &val, &supernet, &err));
    CHECK_STR_CONTAINS(err.message, "--test wants an evaluation of the test split (prenas-evaluate "
                                    "--split test), and this one is of the val split, "
                                    "eval-test.h5");
    err = (Error){0};
    file.meta.inputs[0].sha256[0] = 'b';
    CHECK(!specialize_check_test(&file, &test, &supernet, &err));
    CHECK_STR_CONTAINS(err.message, "eval-test.h5 evaluated another supernet");
    eval_table_free(&val);
    eval_table_free(&test);
}

int main(void) {
    test_sizes();
    test_constraints();
    test_budget_lists();
    test_by_accuracy();
    test_ties();
    test_several_limits();
    test_unsatisfiable();
    test_by_ranking();
    test_latency();
    test_test_split();
    test_eval_provenance();
    test_summary();
    return check_summary();
}
