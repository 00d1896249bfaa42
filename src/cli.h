#ifndef PRENAS_CLI_H
#define PRENAS_CLI_H

/* Pieces every executable's command line shares. Options are parsed with getopt_long in
 * each stage; these helpers keep the messages and exit codes uniform. */

#include <stdbool.h>
#include <stdio.h>

/* "<program> <version>" and the compute backends this build has (for bug reports). */
void cli_print_version(FILE *out);
/* Reports a command-line mistake as one line and exits 2. */
_Noreturn void cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* getopt_long's '?' and ':' results: the offending option named, exit 2. */
_Noreturn void cli_bad_option(char **argv, int optopt_value);

long cli_long(const char *option, const char *value, long min, long max);
double cli_double(const char *option, const char *value, double min, double max);

#endif
