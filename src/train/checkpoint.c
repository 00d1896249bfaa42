#include "checkpoint.h"

#include "config.h"
#include "h5.h"
#include "model_space.h"
#include "weights.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void write_state(hid_t file, const AdamW *opt, const TrainState *s,
                        const ParamTable *table) {
    hid_t optim = h5_create_group(file, "optim");
    weights_write(optim, "m", table, opt->m);
    weights_write(optim, "v", table, opt->v);
    h5_attr_int(optim, "step", opt->step);
    const double hyper[4] = {opt->beta1, opt->beta2, opt->eps, opt->weight_decay};
    h5_attr_doubles(optim, "beta1_beta2_eps_weight_decay", hyper, 4);
    CHECK_H5(H5Gclose(optim));
    hid_t state = h5_create_group(file, "state");
    h5_attr_int(state, "step", s->step);
    h5_attr_int(state, "skipped", s->skipped);
    h5_attr_int(state, "nonfinite_run", s->nonfinite_run);
    h5_attr_int(state, "samples", s->samples);
    h5_attr_uint(state, "seed", s->seed);
    h5_attr_int(state, "world_size", s->world_size);
    h5_attr_int(state, "batch", s->batch);
    h5_attr_string(state, "sampling", s->sampling);
    h5_attr_string(state, "dataset", s->dataset);
    h5_attr_doubles(state, "seconds", &s->seconds, 1);
    CHECK_H5(H5Gclose(state));
}

static int is_checkpoint_name(const char *name, long long *step) {
    int end = 0;
    return sscanf(name, "checkpoint-%lld.h5%n", step, &end) == 1 && name[end] == '\0';
}

static int by_step(const void *a, const void *b) {
    const long long x = *(const long long *)a, y = *(const long long *)b;
    return (x > y) - (x < y);
}

void checkpoint_rotate(const char *rundir, int keep) {
    DIR *dir = opendir(rundir);
    if (!dir) return;
    long long steps[4096];
    int n = 0;
    for (struct dirent *e; (e = readdir(dir)) && n < 4096;)
        if (is_checkpoint_name(e->d_name, &steps[n])) n++;
    closedir(dir);
    qsort(steps, (size_t)n, sizeof steps[0], by_step);
    for (int i = 0; i + keep < n; i++) {
        char path[ARTEFACT_PATH_MAX + 64];
        snprintf(path, sizeof path, "%s/checkpoint-%08lld.h5", rundir, steps[i]);
        unlink(path);
    }
}

bool checkpoint_save(const char *rundir, int keep, const ParamTable *table, const AdamW *opt,
                     const TrainState *state, const CheckpointContext *c, Error *err) {
    char path[ARTEFACT_PATH_MAX], link_tmp[ARTEFACT_PATH_MAX + 16], latest[ARTEFACT_PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/checkpoint-%08lld.h5", rundir, (long long)state->step);
    snprintf(latest, sizeof latest, "%s/supernet.h5", rundir);
    snprintf(link_tmp, sizeof link_tmp, "%s/supernet.h5.tmp", rundir);
    ArtefactWriter w;
    if (!artefact_begin_in_memory(&w, path, err)) return false;
    ArtefactMeta meta;
    artefact_meta_init(&meta, SUPERNET_SCHEMA, SUPERNET_SCHEMA_VERSION, c->argc, c->argv);
    artefact_meta_set_config(&meta, c->recipe_text);
    meta.seed = state->seed;
    meta.world_size = state->world_size;
    snprintf(meta.mode, sizeof meta.mode, "%s", state->sampling);
    for (int i = 0; i < c->n_inputs; i++) meta.inputs[meta.n_inputs++] = c->inputs[i];
    meta.lineage = *c->lineage;
    h5_write_text(w.file, "space", c->space_text);
    training_set_write(w.file, c->set);
    weights_write(w.file, "params", table, table->params);
    write_state(w.file, opt, state, table);
    const bool saved = artefact_save(&w, &meta, err);
    artefact_meta_free(&meta);
    if (!saved) return false;
    /* supernet.h5 becomes the new checkpoint in one rename */
    unlink(link_tmp);
    if (link(path, link_tmp) != 0 || rename(link_tmp, latest) != 0)
        return input_error(err, "cannot make %s the latest checkpoint: %m", path);
    int dir = open(rundir, O_RDONLY | O_DIRECTORY);
    if (dir >= 0) {
        fsync(dir);
        close(dir);
    }
    checkpoint_rotate(rundir, keep);
    return true;
}

void checkpoint_latest(const char *rundir, char *path, size_t size) {
    snprintf(path, size, "%s/supernet.h5", rundir);
    if (access(path, F_OK) != 0) path[0] = '\0';
}

/* The space a checkpoint's supernet was built from (/space). */
static char *read_space_text(const H5Source *src) {
    if (!h5_exists(src->file, "space"))
        return input_error(src->err, "no /space: not a training checkpoint, %s", src->path), NULL;
    return h5_read_text(src, "space");
}

static bool read_space(const H5Source *src, ModelSpace *space) {
    char *text = read_space_text(src);
    *space = (ModelSpace){FAMILY_VIT, NULL, NULL};
    const bool ok = text && model_space_load_text(text, src->path, space, src->err);
    free(text);
    return ok;
}

/* Weights, AdamW moments and the run's state: all a run continues from. */
static bool read_state(const H5Source *src, ParamTable *table, AdamW *opt, TrainState *s) {
    memset(s, 0, sizeof *s);
    bool ok = h5_exists(src->file, "state") && h5_exists(src->file, "optim");
    if (!ok)
        input_error(src->err, "no training state (/state, /optim): weights only, %s", src->path);
    ok = ok && weights_read(src, "params", table, table->params) &&
         weights_read(src, "optim/m", table, opt->m) && weights_read(src, "optim/v", table, opt->v);
    if (ok) {
        hid_t optim = h5_open_group(src, src->file, "optim");
        hid_t state = optim < 0 ? -1 : h5_open_group(src, src->file, "state");
        int64_t seed = 0, world = 0, batch = 0;
        ok = state >= 0 && h5_read_attr_int(src, optim, "step", &opt->step) &&
             h5_read_attr_int(src, state, "step", &s->step) &&
             h5_read_attr_int(src, state, "skipped", &s->skipped) &&
             h5_read_attr_int(src, state, "nonfinite_run", &s->nonfinite_run) &&
             h5_read_attr_int(src, state, "samples", &s->samples) &&
             h5_read_attr_int(src, state, "seed", &seed) &&
             h5_read_attr_int(src, state, "world_size", &world) &&
             h5_read_attr_int(src, state, "batch", &batch) &&
             h5_read_attr_string(src, state, "sampling", s->sampling, sizeof s->sampling) &&
             h5_read_attr_doubles(src, state, "seconds", &s->seconds, 1) &&
             (H5Aexists(state, "dataset") <= 0 ||
              h5_read_attr_string(src, state, "dataset", s->dataset, sizeof s->dataset));
        s->seed = (uint64_t)seed, s->world_size = (int)world, s->batch = (int)batch;
        if (optim >= 0) H5Gclose(optim);
        if (state >= 0) H5Gclose(state);
    }
    return ok;
}

/* One setting of a checkpoint against this run's: an input error naming both when not `same`. */
static bool same_setting(bool same, const char *was, const char *now, const char *path,
                         Error *err) {
    return same || input_error(err,
                               "the checkpoint was trained with %s, this run has %s (a resumed "
                               "run keeps the settings it started with; for others, train "
                               "in another --out), %s",
                               was, now, path);
}

/* The checkpoint's /archs (none after whole-space training) against this run's set. */
static bool same_archs(const H5Source *src, const TrainingSet *set, const char *option) {
    int n = 0;
    char **stored =
        h5_exists(src->file, "archs") ? h5_read_strings(src, "archs/arch", H5_LIST_MAX, &n) : NULL;
    if (h5_exists(src->file, "archs") && !stored) return false;
    bool ok = true;
    for (int i = 0; ok && i < (n > set->n ? n : set->n); i++) {
        char now[512] = "none", was[600], here[600];
        if (i < set->n) model_arch_format(&set->archs[i], now, sizeof now);
        snprintf(was, sizeof was, "%s architecture %d of %d %s", option, i + 1, n,
                 i < n ? stored[i] : "none");
        snprintf(here, sizeof here, "%s architecture %d of %d %s", option, i + 1, set->n, now);
        ok = same_setting(i < n && i < set->n && strcmp(stored[i], now) == 0, was, here, src->path,
                          src->err);
    }
    for (int i = 0; i < n; i++) free(stored[i]);
    free(stored);
    return ok;
}

/* checkpoint_resume on the open checkpoint. */
static bool resume(const Artefact *a, const CheckpointContext *run, const Recipe *recipe,
                   TrainState *state, ParamTable *table, AdamW *opt, Error *err) {
    const char *path = a->path;
    const H5Source src = {a->file, path, err};
    ModelSpace stored;
    const bool same =
        read_space(&src, &stored) && model_space_same_search(&stored, &run->set->training);
    model_space_free(&stored);
    if (!same) {
        if (!err->code)
            input_error(err, "the checkpoint trains another supernet than this command, %s", path);
        return false;
    }
    const TrainState now = *state;
    if (!read_state(&src, table, opt, state)) return false;
    Recipe *trained = recipe_parse(a->meta.config, path, NULL, 0, err);
    char was[ARTEFACT_PATH_MAX + 128], here[ARTEFACT_PATH_MAX + 128], was_line[256], now_line[256];
    bool ok = trained != NULL;
    if (ok) {
        snprintf(was, sizeof was, "--sampling %s", state->sampling);
        snprintf(here, sizeof here, "--sampling %s", now.sampling);
        ok = same_setting(strcmp(state->sampling, now.sampling) == 0, was, here, path, err);
    }
    if (ok) {
        snprintf(was, sizeof was, "--seed %llu", (unsigned long long)state->seed);
        snprintf(here, sizeof here, "--seed %llu", (unsigned long long)now.seed);
        ok = same_setting(state->seed == now.seed, was, here, path, err);
    }
    if (ok && !recipe_trains_alike(trained, recipe, was_line, now_line, sizeof was_line)) {
        snprintf(was, sizeof was, "the recipe's %s", was_line);
        snprintf(here, sizeof here, "%s", now_line);
        ok = same_setting(false, was, here, path, err);
    }
    if (ok && state->dataset[0]) { /* older checkpoints do not know their data's identity */
        const ArtefactInput *data = artefact_meta_input(&a->meta, "dataset");
        const ArtefactInput *given = NULL;
        for (int i = 0; i < run->n_inputs; i++)
            if (strcmp(run->inputs[i].role, "dataset") == 0) given = &run->inputs[i];
        snprintf(was, sizeof was, "--data %s (dataset %.12s...)", data ? data->path : "?",
                 state->dataset);
        snprintf(here, sizeof here, "--data %s (dataset %.12s...)", given ? given->path : "?",
                 now.dataset);
        ok = same_setting(strcmp(state->dataset, now.dataset) == 0, was, here, path, err);
    }
    if (ok)
        ok = same_archs(&src, run->set,
                        strcmp(now.sampling, "fixed") == 0 ? "--arch" : "--preferred");
    recipe_free(trained);
    return ok;
}

char *checkpoint_space(const char *path, Error *err) {
    Artefact a;
    if (!artefact_open(&a, path, SUPERNET_SCHEMA, SUPERNET_SCHEMA_VERSION, err)) return NULL;
    char *text = read_space_text(&(H5Source){a.file, path, err});
    artefact_close(&a);
    return text;
}

bool checkpoint_load(const char *path, ParamTable *table, AdamW *opt, TrainState *state,
                     Error *err) {
    Artefact a;
    if (!artefact_open(&a, path, SUPERNET_SCHEMA, SUPERNET_SCHEMA_VERSION, err)) return false;
    const bool ok = read_state(&(H5Source){a.file, path, err}, table, opt, state);
    artefact_close(&a);
    return ok;
}

bool checkpoint_resume(const char *path, const CheckpointContext *run, const Recipe *recipe,
                       TrainState *state, ParamTable *table, AdamW *opt, Error *err) {
    Artefact a;
    if (!artefact_open(&a, path, SUPERNET_SCHEMA, SUPERNET_SCHEMA_VERSION, err)) return false;
    const bool ok = resume(&a, run, recipe, state, table, opt, err);
    artefact_close(&a);
    return ok;
}

/* /archs of a checkpoint; absent after whole-space training. */
static bool read_archs(const H5Source *src, TrainedSupernet *t) {
    if (!h5_exists(src->file, "archs")) return true;
    int n = 0;
    char **texts = h5_read_strings(src, "archs/arch", H5_LIST_MAX, &n);
    bool ok = texts != NULL;
    t->n = n;
    t->archs = xcalloc((size_t)n + 1, sizeof *t->archs);
    t->interval = xcalloc((size_t)n + 1, sizeof *t->interval);
    t->score = xcalloc((size_t)n + 1, sizeof *t->score);
    for (int i = 0; ok && i < n; i++)
        ok = model_arch_read_stored(texts[i], t->space.family, &t->space, src->path, &t->archs[i],
                                    src->err);
    for (int i = 0; texts && i < n; i++) free(texts[i]);
    free(texts);
    const char *names[2] = {"archs/interval", "archs/score"};
    const hid_t types[2] = {H5T_NATIVE_INT, H5T_NATIVE_DOUBLE};
    void *out[2] = {t->interval, t->score};
    for (int k = 0; ok && k < 2; k++) {
        hsize_t dims[1];
        hid_t d = h5_open_dataset(src, names[k], 1, dims);
        ok = d >= 0 &&
             (dims[0] == (hsize_t)n ||
              input_error(src->err, "%s has %llu entries for %d architectures, %s", names[k],
                          (unsigned long long)dims[0], n, src->path)) &&
             h5_read(src, d, names[k], types[k], 0, 0, out[k]);
        if (d >= 0) H5Dclose(d);
    }
    return ok;
}

bool trained_supernet_peek(const char *path, ModelFamily *family, uint64_t *seed, Error *err) {
    Artefact a;
    if (!artefact_open(&a, path, SUPERNET_SCHEMA, SUPERNET_SCHEMA_VERSION, err)) return false;
    H5Source src = {a.file, path, err};
    char *text = read_space_text(&src);
    bool ok = text && cfg_text_family(text, path, family, err);
    free(text);
    int64_t value = 0;
    if (ok && seed && h5_exists(a.file, "state")) {
        hid_t state = h5_open_group(&src, a.file, "state");
        ok = state >= 0 && h5_read_attr_int(&src, state, "seed", &value);
        if (state >= 0) H5Gclose(state);
    }
    if (seed) *seed = (uint64_t)value;
    artefact_close(&a);
    return ok;
}

bool trained_supernet_open(TrainedSupernet *t, const Backend *be, const char *path, int max_batch,
                           int image_side, Error *err) {
    memset(t, 0, sizeof *t);
    Artefact a;
    if (!artefact_open(&a, path, SUPERNET_SCHEMA, SUPERNET_SCHEMA_VERSION, err)) return false;
    H5Source src = {a.file, path, err};
    snprintf(t->sampling, sizeof t->sampling, "%s", a.meta.mode);
    bool ok = read_space(&src, &t->space);
    const int side = t->space.family == FAMILY_CNN ? image_side : 0;
    if (ok) ok = (t->model = model_create(be, &t->space, max_batch, side, err)) != NULL;
    ok = ok && read_archs(&src, t) &&
         weights_read(&src, "params", t->model->table, t->model->table->params);
    if (ok && h5_exists(a.file, "state")) {
        hid_t state = h5_open_group(&src, a.file, "state");
        int64_t seed = 0;
        ok = state >= 0 && h5_read_attr_int(&src, state, "step", &t->step) &&
             h5_read_attr_int(&src, state, "seed", &seed);
        t->seed = (uint64_t)seed;
        if (state >= 0) H5Gclose(state);
    }
    artefact_close(&a);
    return ok;
}

void trained_supernet_close(TrainedSupernet *t) {
    model_free(t->model);
    model_space_free(&t->space);
    free(t->archs), free(t->interval), free(t->score);
    memset(t, 0, sizeof *t);
}
