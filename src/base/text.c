#include "text.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
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

bool parse_size(const char *s, int64_t bare_unit, int64_t *out) {
    int64_t whole = 0, fraction = 0, scale = 1; /* the fraction is fraction / scale */
    int whole_digits = 0;
    const char *p = s;
    for (; *p >= '0' && *p <= '9'; p++, whole_digits++) {
        if (whole > (INT64_MAX - (*p - '0')) / 10) return false;
        whole = whole * 10 + (*p - '0');
    }
    if (*p == '.') {
        for (p++; *p >= '0' && *p <= '9'; p++) {
            if (scale == 1000000000) return false;
            fraction = fraction * 10 + (*p - '0');
            scale *= 10;
        }
        if (scale == 1) return false;
    }
    int64_t unit = bare_unit;
    if (*p == 'K' || *p == 'k')
        unit = 1000, p++;
    else if (*p == 'M')
        unit = 1000000, p++;
    else if (*p == 'G')
        unit = 1000000000, p++;
    if (*p != '\0' || whole_digits == 0 || whole > INT64_MAX / unit) return false;
    /* fraction < scale <= 10^9 and unit <= 10^9: the product fits */
    if (fraction * unit % scale != 0) return false;
    const int64_t part = fraction * unit / scale;
    if (whole * unit > INT64_MAX - part) return false;
    *out = whole * unit + part;
    return true;
}

const char *size_syntax(int64_t bare_unit) {
    if (bare_unit == 1)
        return "a whole count, bare or with a decimal suffix K, M or G (300000, 300K, 0.3M)";
    if (bare_unit == 1000000)
        return "a number of millions, or a count with a decimal suffix K, M or G (0.3, 300K, "
               "0.3M)";
    return "a number of billions, or a count with a decimal suffix K, M or G (1.4, 1400M, 1.4G)";
}

void format_size(int64_t value, char *buf, size_t size) {
    static const struct {
        int64_t unit;
        char suffix;
    } units[] = {{1000000000, 'G'}, {1000000, 'M'}, {1000, 'K'}};
    for (int u = 0; u < 3; u++) {
        const int64_t unit = units[u].unit;
        if (value < unit) continue;
        char fraction[16] = "";
        int digits = 0;
        for (int64_t rest = value % unit, d = unit / 10; rest > 0; d /= 10) {
            fraction[digits++] = (char)('0' + rest / d);
            rest %= d;
        }
        snprintf(buf, size, "%lld%s%s%c", (long long)(value / unit), digits ? "." : "", fraction,
                 units[u].suffix);
        return;
    }
    snprintf(buf, size, "%lld", (long long)value);
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

const char *plural(int64_t n, const char *one, const char *more) {
    return n == 1 ? one : more;
}

void text_append(char *buf, size_t size, size_t *used, const char *fmt, ...) {
    va_list args;
    va_start(args, fmt);
    int n = *used < size ? vsnprintf(buf + *used, size - *used, fmt, args)
                         : vsnprintf(NULL, 0, fmt, args);
    va_end(args);
    *used += n > 0 ? (size_t)n : 0;
}
