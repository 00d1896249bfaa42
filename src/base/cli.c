#include "cli.h"

#include "backend.h"
#include "error.h"
#include "text.h"
#include "version.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>

void cli_print_version(FILE *out) {
    fprintf(out, "%s %s\n", program_invocation_short_name, prenas_version());
    backend_describe(out);
}

_Noreturn void cli_usage_error(const char *fmt, ...) {
    char message[900];
    va_list args;
    va_start(args, fmt);
    vsnprintf(message, sizeof message, fmt, args);
    va_end(args);
    die_input("%s (see %s --help)", message, program_invocation_short_name);
}

void cli_first(const char **first, const char *option) {
    if (!*first) *first = option;
}

_Noreturn void cli_common_option(int option, const char *usage, char **argv) {
    if (option == 'h' && usage) {
        fputs(usage, stdout);
        exit(0);
    }
    if (option == CLI_OPT_VERSION) {
        cli_print_version(stdout);
        exit(0);
    }
    if (optopt && optopt < 128) cli_usage_error("option -%c: unknown or missing its value", optopt);
    cli_usage_error("option '%s': unknown or missing its value", argv[optind - 1]);
}

long cli_long(const char *option, const char *value, long min, long max) {
    long v;
    if (!parse_long(value, &v) || v < min || v > max)
        cli_usage_error("%s '%s': expected an integer in [%ld, %ld]", option, value, min, max);
    return v;
}

double cli_double(const char *option, const char *value, double min, double max) {
    double v;
    if (!parse_double(value, &v) || v < min || v > max)
        cli_usage_error("%s '%s': expected a number in [%g, %g]", option, value, min, max);
    return v;
}

int64_t cli_size(const char *option, const char *value, int64_t bare_unit) {
    int64_t v;
    if (!parse_size(value, bare_unit, &v))
        cli_usage_error("%s '%s': expected %s", option, value, size_syntax(bare_unit));
    return v;
}
