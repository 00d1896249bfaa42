#ifndef PRENAS_PLOT_H
#define PRENAS_PLOT_H

/* Pictures of an evaluation table, drawn by gnuplot (Debian's gnuplot-nox, pngcairo
 * terminal): a Pareto plot of top-1 against params and, when latency was measured, against
 * the batch-1 latency. Preferred architectures are marked and labelled with their params,
 * extra ones drawn apart in grey; the front of non-dominated architectures is a line. */

#include "error.h"
#include "eval_table.h"

#include <stdbool.h>

/* Writes `png` atomically (PNG.tmp, then rename); `title` heads the picture. An input error
 * when gnuplot is missing or fails (its message is kept in the error). */
bool plot_pareto(const char *png, const EvalTable *table, const char *title, Error *err);

#endif
