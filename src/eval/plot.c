#include "plot.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Whether row i is dominated: another row is at least as accurate and at most as costly,
 * and better in one of the two. */
static bool dominated(const EvalTable *t, int i, const double *cost) {
    for (int j = 0; j < t->n; j++) {
        const double a = t->rows[j].result.top1, b = t->rows[i].result.top1;
        if (j != i && a >= b && cost[j] <= cost[i] && (a > b || cost[j] < cost[i])) return true;
    }
    return false;
}

/* gnuplot data blocks (separated by two blank lines, selected with `index`): 0 preferred,
 * 1 extra, then per cost the front in ascending cost. Columns: cost, top-1, label. */
static void write_blocks(FILE *out, const EvalTable *t, const double *cost, const int *order) {
    for (int block = 0; block < 2; block++) {
        fprintf(out, "# %s\n", block ? "extra" : "preferred");
        int written = 0;
        for (int k = 0; k < t->n; k++) {
            const EvalRow *r = &t->rows[order[k]];
            if (r->preferred != (block == 0)) continue;
            fprintf(out, "%.6f %.4f \"%.3gM\"\n", cost[order[k]], r->result.top1,
                    (double)r->cost.params / 1e6);
            written++;
        }
        if (!written) fprintf(out, "NaN NaN \"\"\n"); /* gnuplot refuses an empty block */
        fprintf(out, "\n\n");
    }
    fprintf(out, "# front\n");
    for (int k = 0; k < t->n; k++)
        if (!dominated(t, order[k], cost))
            fprintf(out, "%.6f %.4f \"\"\n", cost[order[k]], t->rows[order[k]].result.top1);
    fprintf(out, "\n\n");
}

static int by_cost(const void *a, const void *b, void *cost) {
    const double x = ((const double *)cost)[*(const int *)a],
                 y = ((const double *)cost)[*(const int *)b];
    return (x > y) - (x < y);
}

/* One picture: blocks `first` (preferred), first + 1 (extra), first + 2 (front). */
static void panel(FILE *gp, const char *data, int first, const char *xlabel, const char *split) {
    fprintf(gp,
            "set xlabel '%s'\nset ylabel 'top-1 (%%, %s split)'\n"
            "plot '%s' index %d using 1:2 with lines lw 2 lc rgb '#9ecae1' title 'Pareto front', "
            "'%s' index %d using 1:2 with points pt 6 ps 1.2 lc rgb '#999999' title 'other "
            "architectures', "
            "'%s' index %d using 1:2 with points pt 7 ps 1.6 lc rgb '#d62728' title 'preferred', "
            "'%s' index %d using 1:2:3 with labels offset 0,1.2 font ',10' notitle\n",
            xlabel, split, data, first + 2, data, first + 1, data, first, data, first);
}

bool plot_pareto(const char *png, const EvalTable *t, const char *title, Error *err) {
    const bool timed = t->latency_repeats > 0;
    char data[4200], tmp[4200];
    snprintf(data, sizeof data, "%s.data.tmp", png);
    snprintf(tmp, sizeof tmp, "%s.tmp", png);
    FILE *out = fopen(data, "w");
    if (!out) return input_error(err, "cannot write the plot's data: %m, %s", data);
    double *params = xmalloc(sizeof(double) * ((size_t)t->n + 1)),
           *latency = xmalloc(sizeof(double) * ((size_t)t->n + 1));
    int *order = xmalloc(sizeof(int) * ((size_t)t->n + 1));
    for (int i = 0; i < t->n; i++) {
        params[i] = (double)t->rows[i].cost.params / 1e6;
        latency[i] = t->rows[i].latency[0].median_ms;
        order[i] = i;
    }
    qsort_r(order, (size_t)t->n, sizeof *order, by_cost, params);
    write_blocks(out, t, params, order);
    if (timed) {
        qsort_r(order, (size_t)t->n, sizeof *order, by_cost, latency);
        write_blocks(out, t, latency, order); /* blocks 3, 4, 5 */
    }
    const bool written = fclose(out) == 0;
    free(params), free(latency), free(order);
    if (!written) return input_error(err, "cannot write the plot's data: %m, %s", data);

    /* gnuplot's messages go to a file, so that a failure can be told in one line */
    char log[4200], command[8600];
    snprintf(log, sizeof log, "%s.log.tmp", png);
    snprintf(command, sizeof command, "gnuplot 2>'%s'", log);
    FILE *gp = popen(command, "w");
    if (!gp) return input_error(err, "cannot start gnuplot: %m");
    fprintf(gp,
            "set terminal pngcairo size %d,600 font 'sans,11'\nset output '%s'\n"
            "set grid\nset key top left\nset offsets graph 0.06, graph 0.06, graph 0.15, graph "
            "0.08\nset multiplot layout 1,%d title '%s'\n",
            timed ? 1400 : 760, tmp, timed ? 2 : 1, title);
    panel(gp, data, 0, "params (M)", t->split);
    if (timed) {
        char xlabel[160];
        snprintf(xlabel, sizeof xlabel, "latency, batch 1 (ms, median; %s, %d thread%s)",
                 t->latency_device, t->latency_threads, t->latency_threads == 1 ? "" : "s");
        panel(gp, data, 3, xlabel, t->split);
    }
    fprintf(gp, "unset multiplot\n");
    const int status = pclose(gp);
    char message[512] = "";
    FILE *l = fopen(log, "r");
    if (l) {
        if (!fgets(message, sizeof message, l)) message[0] = '\0';
        message[strcspn(message, "\n")] = '\0';
        fclose(l);
    }
    unlink(log);
    unlink(data);
    if (status != 0) {
        unlink(tmp);
        return input_error(err, "gnuplot failed (%s; is gnuplot-nox installed?), %s",
                           message[0] ? message : "no message", png);
    }
    if (rename(tmp, png) != 0) return input_error(err, "cannot write the plot: %m, %s", png);
    return true;
}
