#ifndef PRENAS_TEXT_H
#define PRENAS_TEXT_H

/* Strict parsing of numbers typed by users: the whole string must be the number. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

bool parse_long(const char *s, long *out);
bool parse_double(const char *s, double *out);

/* A size (parameters, FLOPs, MACs) as people type it: digits with an optional fraction and an
 * optional decimal suffix K (10^3), M (10^6) or G (10^9); a number without a suffix counts
 * `bare_unit`s (1: a plain count; prenas-select's interval bounds count millions). The size
 * must be a whole count ("0.3M" is 300000; "1.5" with bare_unit 1 fails); no sign, no exponent,
 * at most 9 decimals, at most INT64_MAX. */
bool parse_size(const char *s, int64_t bare_unit, int64_t *out);
/* What parse_size takes, for messages: "a whole count, bare or with ...". */
const char *size_syntax(int64_t bare_unit);
/* The shortest exact form with the largest suffix that keeps the number at least 1:
 * 300000 -> "300K", 5994760 -> "5.99476M", 1379653176 -> "1.379653176G", 999 -> "999". */
void format_size(int64_t value, char *buf, size_t size);

/* MLP ratios are kept in thousandths ("3.5" -> 3500): exact to compare, sort and print, and
 * r / 1000.0 is the double the reference computes with (mlp_hidden_width, src/vit/arch.h). At
 * most three decimals; no sign, no exponent. */
bool parse_milli(const char *s, int *out);
/* From a configuration or JSON value; fails unless the value is exactly the double of a
 * number with at most three decimals (4.0000000001 is refused: the reference would compute
 * with it). */
bool milli_from_double(double value, int *out);
/* Shortest decimal form: 4000 -> "4", 3500 -> "3.5", 3250 -> "3.25". */
void format_milli(int milli, char *buf, size_t size);

/* printf at buf + *used, never past `size` bytes; *used then counts what the whole text needs,
 * as snprintf's result does, so that a caller can build a text piece by piece and tell if it
 * was cut (*used >= size). */
void text_append(char *buf, size_t size, size_t *used, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* The word for a count of n in messages: plural(1, "entry", "entries") is "entry", any other
 * count's "entries". */
const char *plural(int64_t n, const char *one, const char *more);

#endif
