#include "text.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool parse_long(const char *s, long *out) {
    char *end;
    errno = 0;
    long value = strtol(s, &end, 10);
    if (end == s || *end != '\0' || errno != 0) return false;
    *out = value;
    return true;
}

bool parse_double(const char *s, double *out) {
    char *end;
    errno = 0;
    double value = strtod(s, &end);
    if (end == s || *end != '\0' || errno != 0 || !isfinite(value)) return false;
    *out = value;
    return true;
}

bool parse_count(const char *s, int64_t *out) {
    const char *end = s + strlen(s);
    int exponent = 0;
    if (end > s && strchr("kKMG", end[-1])) exponent = end[-1] == 'M' ? 6 : end[-1] == 'G' ? 9 : 3;
    if (exponent) end--;
    int64_t whole = 0, fraction = 0;
    int digits = 0, decimals = 0;
    const char *p = s;
    for (; p < end && *p >= '0' && *p <= '9'; p++, digits++) {
        if (whole > (INT64_MAX - (*p - '0')) / 10) return false;
        whole = whole * 10 + (*p - '0');
    }
    if (p < end && *p == '.') {
        for (p++; p < end && *p >= '0' && *p <= '9'; p++, decimals++) {
            if (decimals >= exponent) {
                if (*p != '0') return false;
                continue;
            }
            fraction = fraction * 10 + (*p - '0');
        }
        if (decimals == 0) return false;
    }
    if (p != end || digits == 0) return false;
    int64_t scale = 1;
    for (int i = 0; i < exponent; i++) scale *= 10;
    for (int i = decimals < exponent ? decimals : exponent; i < exponent; i++) fraction *= 10;
    if (whole > (INT64_MAX - fraction) / scale) return false;
    *out = whole * scale + fraction;
    return true;
}

bool parse_milli(const char *s, int *out) {
    long whole = 0, fraction = 0;
    int whole_digits = 0, fraction_digits = 0;
    const char *p = s;
    for (; *p >= '0' && *p <= '9'; p++, whole_digits++) {
        whole = whole * 10 + (*p - '0');
        if (whole > 1000000) return false;
    }
    if (*p == '.') {
        for (p++; *p >= '0' && *p <= '9'; p++, fraction_digits++) {
            if (fraction_digits == 3) return false;
            fraction = fraction * 10 + (*p - '0');
        }
        if (fraction_digits == 0) return false;
    }
    if (*p != '\0' || whole_digits == 0) return false;
    for (int d = fraction_digits; d < 3; d++) fraction *= 10;
    *out = (int)(whole * 1000 + fraction);
    return true;
}

bool milli_from_double(double value, int *out) {
    double scaled = value * 1000.0;
    if (!isfinite(scaled) || scaled < 0 || scaled > 1e9) return false;
    double rounded = nearbyint(scaled);
    if (rounded / 1000.0 != value) return false;
    *out = (int)rounded;
    return true;
}

void format_milli(int milli, char *buf, size_t size) {
    int whole = milli / 1000, fraction = milli % 1000;
    if (fraction == 0)
        snprintf(buf, size, "%d", whole);
    else if (fraction % 100 == 0)
        snprintf(buf, size, "%d.%d", whole, fraction / 100);
    else if (fraction % 10 == 0)
        snprintf(buf, size, "%d.%02d", whole, fraction / 10);
    else
        snprintf(buf, size, "%d.%03d", whole, fraction);
}
