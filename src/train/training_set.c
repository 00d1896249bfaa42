#include "training_set.h"

#include "h5.h"
#include "model_space.h"
#include "preferred.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The smallest and largest of the architectures by params (the first of equals). */
static void choose_monitored(TrainingSet *s) {
    if (s->n == 0) {
        model_arch_smallest(&s->search, &s->monitored[0]);
        model_arch_largest(&s->search, &s->monitored[1]);
        s->n_monitored = 2;
    } else {
        int small = 0, large = 0;
        for (int i = 1; i < s->n; i++) {
            const int64_t params = model_arch_params(&s->archs[i], &s->search);
            if (params < model_arch_params(&s->archs[small], &s->search)) small = i;
            if (params > model_arch_params(&s->archs[large], &s->search)) large = i;
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
    ModelSpace scored;
    bool ok = model_space_load_text(pref.artefact.meta.config, path, &scored, err);
    if (ok && scored.family != s->search.family)
        ok = input_error(err,
                         "the preferred architectures were selected in a %s space ('%s'), %s is "
                         "a %s space, %s",
                         model_family_name(scored.family), model_space_name(&scored), config,
                         model_family_name(s->search.family), path);
    else if (ok && !model_space_same_search(&scored, &s->search))
        ok = input_error(err,
                         "the preferred architectures were selected in another space than %s, %s",
                         config, path);
    model_space_free(&scored);
    /* a ViT's selection trains its refined space; a CNN's has none: the search space */
    char *refined = NULL;
    if (ok && s->search.family == FAMILY_VIT) {
        H5Source src = {pref.artefact.file, path, err};
        ok = (refined = h5_read_text(&src, "refined_space")) != NULL;
        if (ok) ok = model_space_load_text(refined, path, &s->training, err);
    }
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
    if (!model_space_load_file(config, &s->search, err)) return false;
    if (mode == SAMPLING_RESAMPLE && s->search.family == FAMILY_CNN)
        return input_error(err,
                           "--sampling resample draws from a ViT selection's refined space; a CNN "
                           "selection has none (balanced, uniform, space or fixed), %s",
                           config);
    if (mode == SAMPLING_FIXED) {
        s->n = 1;
        s->archs = xcalloc(1, sizeof *s->archs);
        s->interval = xmalloc(sizeof *s->interval);
        s->score = xmalloc(sizeof *s->score);
        s->interval[0] = -1, s->score[0] = NAN;
        if (!model_arch_parse(arch_text, &s->search, &s->archs[0], err)) return false;
    } else if (mode != SAMPLING_SPACE && !open_preferred(s, config, preferred_path, err)) {
        return false;
    }
    if (!s->training.vit && !s->training.cnn &&
        !model_space_load_text(model_space_text(&s->search), config, &s->training, err))
        return false;
    choose_monitored(s);
    return true;
}

void training_set_close(TrainingSet *s) {
    model_space_free(&s->search);
    model_space_free(&s->training);
    free(s->archs), free(s->interval), free(s->score);
    memset(s, 0, sizeof *s);
}

void training_set_write(hid_t file, const TrainingSet *s) {
    if (s->n == 0) return;
    char **texts = xmalloc(sizeof *texts * (size_t)s->n);
    for (int i = 0; i < s->n; i++) {
        texts[i] = xmalloc(MODEL_ARCH_TEXT_MAX);
        model_arch_format(&s->archs[i], texts[i], MODEL_ARCH_TEXT_MAX);
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
