#ifndef PRENAS_CLI_H
#define PRENAS_CLI_H

/* Pieces every executable's command line shares. Options are parsed with getopt_long in
 * each stage; these helpers keep the messages and exit codes uniform. */

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* getopt_long values: --version's, and the first a stage may give its own long options. */
enum { CLI_OPT_VERSION = 256, CLI_OPT_FIRST };

/* "<program> <version>" and the compute backends this build has (for bug reports). */
void cli_print_version(FILE *out);
/* Reports a command-line mistake as one line and exits 2. */
_Noreturn void cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Every getopt_long result a stage does not handle itself: 'h' prints usage (when not NULL)
 * and CLI_OPT_VERSION the version, exit 0; anything else is a bad option, exit 2. */
_Noreturn void cli_common_option(int option, const char *usage, char **argv);

long cli_long(const char *option, const char *value, long min, long max);
/* Keeps in *first the first option given of a set (those only one model family takes), so that
 * a refusal names the one the user typed: *first = *first ? *first : option. */
void cli_first(const char **first, const char *option);
double cli_double(const char *option, const char *value, double min, double max);
/* A size (parse_size, src/base/text.h): a bare number counts `bare_unit`s (1, 10^6 or 10^9). */
int64_t cli_size(const char *option, const char *value, int64_t bare_unit);

#endif
