#include "lineage.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void lineage_space_digest(const Space *space, char hex[SHA256_HEX_SIZE]) {
    /* the configuration text of the space with what space_same_search ignores cleared */
    Space *bare = xmalloc(sizeof *bare);
    memcpy(bare, space, sizeof *bare);
    bare->name[0] = bare->source[0] = '\0';
    bare->text = NULL;
    memset(bare->data_free_mean, 0, sizeof bare->data_free_mean);
    memset(bare->data_free_std, 0, sizeof bare->data_free_std);
    bare->param_intervals.present = bare->flops_intervals.present = bare->macs_intervals.present =
        false;
    char *text = space_format(bare);
    sha256_text(text, hex);
    free(text);
    free(bare);
}

LineageOf lineage_of_dataset(const DatasetFile *data) {
    LineageOf of = {0};
    snprintf(of.path, sizeof of.path, "%s", data->artefact.path);
    snprintf(of.schema, sizeof of.schema, "%s", data->artefact.meta.schema);
    char *text = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&text, &size);
    if (!f) fatal_at(__FILE__, __LINE__, "open_memstream: %m");
    fprintf(f, "%d classes\n", data->shape.num_classes);
    /* length-prefixed: no name can run into the next */
    for (int c = 0; c < data->shape.num_classes; c++)
        fprintf(f, "%zu:%s\n", strlen(data->class_names[c]), data->class_names[c]);
    if (fclose(f) != 0) fatal_at(__FILE__, __LINE__, "open_memstream: %m");
    sha256_text(text, of.lineage.classes);
    free(text);
    return of;
}

bool lineage_load(const char *path, LineageOf *out, Error *err) {
    DatasetFile data;
    Artefact a;
    if (!artefact_open(&a, path, NULL, INT64_MAX, err)) return false;
    const bool is_dataset = strcmp(a.meta.schema, DATASET_SCHEMA) == 0;
    memset(out, 0, sizeof *out);
    snprintf(out->path, sizeof out->path, "%s", path);
    snprintf(out->schema, sizeof out->schema, "%s", a.meta.schema);
    out->lineage = a.meta.lineage;
    artefact_close(&a);
    if (!is_dataset) return true;
    if (!dataset_open(&data, path, err)) return false;
    *out = lineage_of_dataset(&data);
    dataset_close(&data);
    return true;
}

/* How an artefact of each schema came by its space and its classes, for the messages. */
static const char *verb(const char *schema, bool space) {
    static const struct {
        const char *schema, *space, *classes;
    } verbs[] = {
        {DATASET_SCHEMA, "holds", "holds"},
        {"prenas.scores", "was scored in", "was scored on"},
        {"prenas.preferred", "was selected in", "was selected on scores of"},
        {"prenas.supernet", "was trained in", "was trained on"},
        {"prenas.eval", "evaluated a supernet trained in", "was evaluated on"},
        {"prenas.model", "was specialised from a supernet trained in", "predicts"},
        {"prenas.search", "searched a supernet trained in", "was searched on"},
    };
    for (size_t i = 0; i < sizeof verbs / sizeof *verbs; i++)
        if (strcmp(verbs[i].schema, schema) == 0) return space ? verbs[i].space : verbs[i].classes;
    return "comes from";
}

static bool same(const char *x, const char *y, const LineageOf *a, const LineageOf *b, bool space,
                 Error *err) {
    if (!x[0] || !y[0] || strcmp(x, y) == 0) return true;
    return input_error(err, "%s %s %s than %s %s (%s %.12s... vs %.12s...)", a->path,
                       verb(a->schema, space), space ? "another search space" : "other classes",
                       b->path, verb(b->schema, space), space ? "space" : "classes", x, y);
}

bool lineage_same_space(const LineageOf *a, const LineageOf *b, Error *err) {
    return same(a->lineage.space, b->lineage.space, a, b, true, err);
}

bool lineage_same_classes(const LineageOf *a, const LineageOf *b, Error *err) {
    return same(a->lineage.classes, b->lineage.classes, a, b, false, err);
}

bool lineage_same_run(const char *a, const char *b, Error *err) {
    LineageOf x, y;
    return lineage_load(a, &x, err) && lineage_load(b, &y, err) &&
           lineage_same_space(&x, &y, err) && lineage_same_classes(&x, &y, err);
}

void lineage_of_scores(const Space *space, const DatasetFile *data, Lineage *out) {
    memset(out, 0, sizeof *out);
    lineage_space_digest(space, out->space);
    if (data) memcpy(out->classes, lineage_of_dataset(data).lineage.classes, sizeof out->classes);
}

bool lineage_of_training(const char space_digest[SHA256_HEX_SIZE], const char *preferred,
                         const DatasetFile *data, Lineage *out, Error *err) {
    const LineageOf given = lineage_of_dataset(data);
    LineageOf selected;
    if (preferred &&
        (!lineage_load(preferred, &selected, err) || !lineage_same_classes(&selected, &given, err)))
        return false;
    memset(out, 0, sizeof *out);
    memcpy(out->space, space_digest, sizeof out->space);
    memcpy(out->classes, given.lineage.classes, sizeof out->classes);
    return true;
}

bool lineage_of_supernet_on(const char *supernet, const DatasetFile *data, Lineage *out,
                            Error *err) {
    const LineageOf given = lineage_of_dataset(data);
    LineageOf trained;
    if (!lineage_load(supernet, &trained, err) || !lineage_same_classes(&given, &trained, err))
        return false;
    memcpy(out->space, trained.lineage.space, sizeof out->space);
    memcpy(out->classes, given.lineage.classes, sizeof out->classes);
    return true;
}
