#include "training_set.h"

#include "cost.h"
#include "h5.h"
#include "preferred.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The smallest and largest of the architectures by params (the first of equals). */
static void choose_monitored(TrainingSet *s) {
    if (s->n == 0) {
        arch_smallest(s->search, &s->monitored[0]);
        arch_largest(s->search, &s->monitored[1]);
        s->n_monitored = 2;
    } else {
        int small = 0, large = 0;
        for (int i = 1; i < s->n; i++) {
            const int64_t params = arch_cost(&s->archs[i], s->search).params;
            if (params < arch_cost(&s->archs[small], s->search).params) small = i;
            if (params > arch_cost(&s->archs[large], s->search).params) large = i;
        }
        s->monitored[0] = s->archs[small];
        s->monitored[1] = s->archs[large];
        s->n_monitored = small == large ? 1 : 2;
    }
    s->monitored_names[0] = s->n_monitored == 2 ? "smallest" : "trained";
    s->monitored_names[1] = "largest";
}

static bool open_preferred(TrainingSet *s, const char *config, const char *path, Error *err) {
    PreferredFile pref;
    if (!preferred_open(&pref, path, err)) return false;
    Space *scored = space_load_text(pref.artefact.meta.config, path, err);
    bool ok = scored != NULL;
    if (ok && !space_same_search(scored, s->search))
        ok = input_error(err,
                         "the preferred architectures were selected in another space than %s, %s",
                         config, path);
    space_free(scored);
    char *refined = NULL;
    if (ok) {
        H5Source src = {pref.artefact.file, path, err};
        ok = (refined = h5_read_text(&src, "refined_space")) != NULL;
    }
    if (ok) ok = (s->training = space_load_text(refined, path, err)) != NULL;
    free(refined);
    if (ok) {
        s->n = pref.n;
        s->archs = pref.archs, s->interval = pref.interval, s->score = pref.score;
        pref.archs = NULL, pref.interval = NULL, pref.score = NULL; /* now the set's */
    }
    preferred_close(&pref);
    return ok;
}

bool training_set_open(TrainingSet *s, const char *config, SamplingMode mode,
                       const char *preferred_path, const char *arch_text, Error *err) {
    memset(s, 0, sizeof *s);
    if (!(s->search = space_load_file(config, err))) return false;
    if (mode == SAMPLING_FIXED) {
        s->n = 1;
        s->archs = xcalloc(1, sizeof *s->archs);
        s->interval = xmalloc(sizeof *s->interval);
        s->score = xmalloc(sizeof *s->score);
        s->interval[0] = -1, s->score[0] = NAN;
        if (!arch_parse(arch_text, &s->archs[0], err) || !arch_check(&s->archs[0], s->search, err))
            return false;
    } else if (mode != SAMPLING_SPACE && !open_preferred(s, config, preferred_path, err)) {
        return false;
    }
    if (!s->training) s->training = space_load_text(s->search->text, config, err);
    if (!s->training) return false;
    choose_monitored(s);
    return true;
}

void training_set_close(TrainingSet *s) {
    space_free(s->search);
    space_free(s->training);
    free(s->archs), free(s->interval), free(s->score);
    memset(s, 0, sizeof *s);
}

void training_set_write(hid_t file, const TrainingSet *s) {
    if (s->n == 0) return;
    char **texts = xmalloc(sizeof *texts * (size_t)s->n);
    for (int i = 0; i < s->n; i++) {
        texts[i] = xmalloc(ARCH_TEXT_MAX);
        arch_format(&s->archs[i], texts[i], ARCH_TEXT_MAX);
    }
    hid_t g = h5_create_group(file, "archs");
    h5_write_strings(g, "arch", (const char *const *)texts, s->n);
    const hsize_t dims[1] = {(hsize_t)s->n};
    h5_write(g, "interval", H5T_NATIVE_INT, 1, dims, s->interval);
    h5_write(g, "score", H5T_NATIVE_DOUBLE, 1, dims, s->score);
    CHECK_H5(H5Gclose(g));
    for (int i = 0; i < s->n; i++) free(texts[i]);
    free(texts);
}
