/* Numbers typed by users: whole counts with SI suffixes are exact or refused. */
#include "check.h"

#include "text.h"

static void counts(void) {
    static const struct {
        const char *text;
        int64_t value;
    } good[] = {{"0", 0},
                {"300000", 300000},
                {"300K", 300000},
                {"300k", 300000},
                {"0.3M", 300000},
                {"0.25M", 250000},
                {"5.99476M", 5994760},
                {"1.38G", 1380000000},
                {"1.4G", 1400000000},
                {"2.000", 2},
                {"0.1000000M", 100000},
                {"9223372036854775807", INT64_MAX}};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        int64_t value = -1;
        if (!CHECK(parse_size(good[i].text, 1, &value))) fprintf(stderr, "  %s\n", good[i].text);
        CHECK_EQ_I64(value, good[i].value);
    }
    static const char *const bad[] = {"",
                                      "M",
                                      ".5M",
                                      "1.",
                                      "-1",
                                      "1e6",
                                      "0.1234567M",
                                      "1.5",
                                      "3m",
                                      "2 M",
                                      "1.2.3",
                                      "9223372036854775808",
                                      "10000000000G",
                                      "0x10"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t value = 7;
        if (!CHECK(!parse_size(bad[i], 1, &value))) fprintf(stderr, "  '%s' accepted\n", bad[i]);
        CHECK_EQ_I64(value, 7); /* untouched */
    }
}

int main(void) {
    counts();
    return check_summary();
}
