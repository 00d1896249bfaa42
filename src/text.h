#ifndef PRENAS_TEXT_H
#define PRENAS_TEXT_H

/* Strict parsing of numbers typed by users: the whole string must be the number. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

bool parse_long(const char *s, long *out);
bool parse_double(const char *s, double *out);

/* A whole count with an optional SI suffix, exactly: "300000", "300K" (or "300k"), "0.3M",
 * "1.38G". No sign, no exponent; a fraction that leaves part of a unit ("0.1234567M") fails. */
bool parse_count(const char *s, int64_t *out);

/* MLP ratios are kept in thousandths ("3.5" -> 3500): exact to compare, sort and print, and
 * r / 1000.0 is the double the reference computes with (mlp_hidden_width, src/arch.h). At
 * most three decimals; no sign, no exponent. */
bool parse_milli(const char *s, int *out);
/* From a configuration or JSON value; fails unless the value is exactly the double of a
 * number with at most three decimals (4.0000000001 is refused: the reference would compute
 * with it). */
bool milli_from_double(double value, int *out);
/* Shortest decimal form: 4000 -> "4", 3500 -> "3.5", 3250 -> "3.25". */
void format_milli(int milli, char *buf, size_t size);

#endif
