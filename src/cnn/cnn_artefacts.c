/* The CNN family's scores.h5 and preferred.h5 (cnn_artefacts.h). */
#include "cnn_artefacts.h"

#include <math.h>
#include <stdlib.h>

void cnn_scores_write(hid_t file, const CnnNet *net, const double *saliency) {
    h5_attr_string(file, "family", "cnn");
    h5_attr_int(file, "n_params", (int64_t)net->table.n_params);
    const hsize_t n[1] = {net->table.n_params};
    h5_write(file, "saliency", H5T_NATIVE_DOUBLE, 1, n, saliency);
    /* the map from /saliency's entries to tensors, for a reader with h5py alone */
    const ParamTable *t = &net->table;
    const char **names = xmalloc(sizeof *names * (size_t)(t->n_tensors + 1));
    int64_t *offset = xmalloc(sizeof *offset * (size_t)(t->n_tensors + 1)),
            *count = xmalloc(sizeof *count * (size_t)(t->n_tensors + 1));
    for (int i = 0; i < t->n_tensors; i++) {
        names[i] = t->tensors[i].name;
        offset[i] = (int64_t)t->tensors[i].offset, count[i] = (int64_t)t->tensors[i].count;
    }
    hid_t g = h5_create_group(file, "tensors");
    const hsize_t k[1] = {(hsize_t)t->n_tensors};
    h5_write_strings(g, "name", names, t->n_tensors);
    h5_write(g, "offset", H5T_NATIVE_INT64, 1, k, offset);
    h5_write(g, "count", H5T_NATIVE_INT64, 1, k, count);
    CHECK_H5(H5Gclose(g));
    free(names), free(offset), free(count);
}

double *cnn_scores_read(const H5Source *src, size_t n) {
    hsize_t dims[1];
    hid_t d = h5_open_dataset(src, "saliency", 1, dims);
    if (d < 0) return NULL;
    double *saliency = NULL;
    if (dims[0] != n)
        input_error(src->err,
                    "/saliency holds %llu values, the space's supernet has %zu parameters, %s",
                    (unsigned long long)dims[0], n, src->path);
    /* a dataset declared and never written reads as its fill value: not a saliency */
    else if (n > 0 && H5Dget_storage_size(d) == 0)
        input_error(src->err, "/saliency was never written, %s", src->path);
    else {
        saliency = xmalloc(sizeof *saliency * (n ? n : 1));
        bool ok = h5_read(src, d, "saliency", H5T_NATIVE_DOUBLE, 0, 0, saliency);
        for (size_t i = 0; ok && i < n; i++)
            if (!(saliency[i] >= 0 && isfinite(saliency[i])))
                ok = input_error(src->err,
                                 "/saliency[%zu] is %g: a saliency |w * dL/dw| is finite and "
                                 "not negative, %s",
                                 i, saliency[i], src->path);
        if (!ok) {
            free(saliency);
            saliency = NULL;
        }
    }
    CHECK_H5(H5Dclose(d));
    return saliency;
}

CnnScoreTables *cnn_scores_tables_read(const H5Source *src, const CnnSpace *space) {
    /* the file first: no supernet is built for a saliency of another size */
    CnnArch largest;
    cnn_arch_largest(space, &largest);
    double *saliency = cnn_scores_read(src, (size_t)cnn_arch_cost(&largest, space).params);
    if (!saliency) return NULL;
    Backend be;
    char why[256];
    if (!backend_open(&be, "cpu", NULL, why, sizeof why))
        fatal_at(__FILE__, __LINE__, "the CPU backend: %s", why);
    /* the smallest net: its table's layout is the space's whatever the activations' size */
    CnnNet *net = cnn_score_net_create(&be, space, space->resolution.values[0], 1, src->err);
    if (!net) fatal_at(__FILE__, __LINE__, "%s", src->err->message);
    CnnScoreTables *tables = cnn_score_tables_build(net, space, saliency);
    free(saliency);
    cnn_net_free(net);
    backend_close(&be);
    return tables;
}

static void write_intervals(hid_t file, const CnnSelection *sel, const CnnSpace *space) {
    const int k = sel->n_groups;
    int64_t lo[CNN_MAX_GROUPS], hi[CNN_MAX_GROUPS], members[CNN_MAX_GROUPS];
    int kept[CNN_MAX_GROUPS];
    for (int g = 0; g < k; g++) {
        const CnnGroupSelection *gs = &sel->groups[g];
        lo[g] = gs->lo, hi[g] = gs->hi, kept[g] = gs->kept;
        members[g] = gs->uniform + gs->fill_members;
    }
    hid_t iv = h5_create_group(file, "intervals");
    const hsize_t n[1] = {(hsize_t)k};
    h5_write(iv, "lo", H5T_NATIVE_INT64, 1, n, lo);
    h5_write(iv, "hi", H5T_NATIVE_INT64, 1, n, hi);
    h5_write(iv, "target", H5T_NATIVE_DOUBLE, 1, n, space->groups.target);
    h5_write(iv, "groups", H5T_NATIVE_INT64, 1, n, members);
    h5_write(iv, "kept", H5T_NATIVE_INT, 1, n, kept);
    CHECK_H5(H5Gclose(iv));
}

static void write_candidates(hid_t file, const CnnSelection *sel) {
    int n = 0;
    for (int g = 0; g < sel->n_groups; g++) n += sel->groups[g].kept;
    char **texts = xmalloc(sizeof *texts * (size_t)(n + 1));
    int *interval = xmalloc(sizeof *interval * (size_t)(n + 1));
    int64_t *params = xmalloc(sizeof *params * (size_t)(n + 1)),
            *flops = xmalloc(sizeof *flops * (size_t)(n + 1)),
            *macs = xmalloc(sizeof *macs * (size_t)(n + 1)),
            *draw = xmalloc(sizeof *draw * (size_t)(n + 1));
    double *score = xmalloc(sizeof *score * (size_t)(n + 1));
    int i = 0;
    for (int g = 0; g < sel->n_groups; g++)
        for (int j = 0; j < sel->groups[g].kept; j++, i++) {
            const CnnCandidate *c = &sel->groups[g].best[j];
            texts[i] = xmalloc(CNN_ARCH_TEXT_MAX);
            cnn_arch_format(&c->arch, texts[i], CNN_ARCH_TEXT_MAX);
            interval[i] = g, params[i] = c->cost.params, flops[i] = c->cost.flops;
            macs[i] = c->cost.macs, score[i] = c->score, draw[i] = c->draw;
        }
    hid_t cg = h5_create_group(file, "candidates");
    const hsize_t count[1] = {(hsize_t)n};
    h5_write_strings(cg, "arch", (const char *const *)texts, n);
    h5_write(cg, "interval", H5T_NATIVE_INT, 1, count, interval);
    h5_write(cg, "params", H5T_NATIVE_INT64, 1, count, params);
    h5_write(cg, "flops", H5T_NATIVE_INT64, 1, count, flops);
    h5_write(cg, "macs", H5T_NATIVE_INT64, 1, count, macs);
    h5_write(cg, "score", H5T_NATIVE_DOUBLE, 1, count, score);
    h5_write(cg, "draw", H5T_NATIVE_INT64, 1, count, draw);
    CHECK_H5(H5Gclose(cg));
    for (i = 0; i < n; i++) free(texts[i]);
    free(texts), free(interval), free(params), free(flops), free(macs), free(draw), free(score);
}

void cnn_preferred_write(hid_t file, const CnnSelection *selection, const CnnSpace *space,
                         const CnnSelectOptions *options) {
    h5_attr_string(file, "family", "cnn");
    h5_attr_string(file, "budget", "flops");
    h5_attr_string(file, "rank_proxy", "snip");
    h5_attr_int(file, "per_interval", options->top);
    h5_attr_int(file, "samples", selection->samples);
    h5_attr_int(file, "outside_intervals", selection->outside);
    h5_attr_uint(file, "seed", options->seed);
    h5_attr_int(file, "group_min", options->group_min);
    h5_attr_int(file, "group_cap", options->group_cap);
    write_intervals(file, selection, space);
    write_candidates(file, selection);
}
