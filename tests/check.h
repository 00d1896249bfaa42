#ifndef PRENAS_TESTS_CHECK_H
#define PRENAS_TESTS_CHECK_H

/* A minimal assertion harness: every check counts, a failing one prints its file:line and
 * the values, and the test ends with "N passed, M failed" and a matching exit status. */

#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

typedef struct {
    int passed, failed;
} CheckTally;

static CheckTally check_tally;

static inline bool check_record(bool ok, const char *file, int line, const char *what) {
    if (ok) {
        check_tally.passed++;
    } else {
        check_tally.failed++;
        fprintf(stderr, "FAIL %s:%d: %s\n", file, line, what);
    }
    return ok;
}

#define CHECK(cond) check_record((cond), __FILE__, __LINE__, #cond)

#define CHECK_EQ_I64(actual, expected)                                                             \
    do {                                                                                           \
        int64_t a_ = (int64_t)(actual), e_ = (int64_t)(expected);                                  \
        if (!check_record(a_ == e_, __FILE__, __LINE__, #actual " == " #expected))                 \
            fprintf(stderr, "     got %" PRId64 ", expected %" PRId64 "\n", a_, e_);               \
    } while (0)

#define CHECK_NEAR(actual, expected, tolerance)                                                    \
    do {                                                                                           \
        double a_ = (actual), e_ = (expected);                                                     \
        if (!check_record(fabs(a_ - e_) <= (tolerance), __FILE__, __LINE__,                        \
                          #actual " ~ " #expected))                                                \
            fprintf(stderr, "     got %.9g, expected %.9g (tolerance %g)\n", a_, e_,               \
                    (double)(tolerance));                                                          \
    } while (0)

#define CHECK_STR_CONTAINS(haystack, needle)                                                       \
    do {                                                                                           \
        const char *h_ = (haystack), *n_ = (needle);                                               \
        if (!check_record(h_ && strstr(h_, n_) != NULL, __FILE__, __LINE__,                        \
                          #haystack " contains " #needle))                                         \
            fprintf(stderr, "     '%s' does not contain '%s'\n", h_ ? h_ : "(null)", n_);          \
    } while (0)

static inline int check_summary(void) {
    printf("%d passed, %d failed\n", check_tally.passed, check_tally.failed);
    return check_tally.failed == 0 && check_tally.passed > 0 ? 0 : 1;
}

#endif
