#include "model_family.h"

#include "cnn_cost.h"
#include "cost.h"

#include <string.h>

const char *model_family_name(ModelFamily family) {
    return family == FAMILY_CNN ? "CNN" : "ViT";
}

ModelSpace model_space_of_vit(const Space *space) {
    return (ModelSpace){FAMILY_VIT, (Space *)space, NULL}; /* read through the view only */
}

const char *model_space_name(const ModelSpace *s) {
    return s->family == FAMILY_CNN ? s->cnn->name : s->vit->name;
}

const char *model_space_text(const ModelSpace *s) {
    return s->family == FAMILY_CNN ? s->cnn->text : s->vit->text;
}

bool model_space_same_search(const ModelSpace *a, const ModelSpace *b) {
    if (a->family != b->family) return false;
    return a->family == FAMILY_CNN ? cnn_space_same_search(a->cnn, b->cnn)
                                   : space_same_search(a->vit, b->vit);
}

ModelArch model_arch_of_vit(const Arch *arch) {
    ModelArch a = {.family = FAMILY_VIT};
    a.vit = *arch;
    return a;
}

bool model_arch_parse(const char *text, const ModelSpace *s, ModelArch *a, Error *err) {
    memset(a, 0, sizeof *a);
    a->family = s->family;
    if (s->family == FAMILY_CNN)
        return cnn_arch_parse(text, &a->cnn, err) && cnn_arch_check(&a->cnn, s->cnn, err);
    return arch_parse(text, &a->vit, err) && arch_check(&a->vit, s->vit, err);
}

bool model_arch_check(const ModelArch *a, const ModelSpace *s, Error *err) {
    if (a->family != s->family)
        return input_error(err, "a %s architecture for a %s space", model_family_name(a->family),
                           model_family_name(s->family));
    return s->family == FAMILY_CNN ? cnn_arch_check(&a->cnn, s->cnn, err)
                                   : arch_check(&a->vit, s->vit, err);
}

bool model_arch_read_stored(const char *text, ModelFamily family, const ModelSpace *s,
                            const char *path, ModelArch *a, Error *err) {
    memset(a, 0, sizeof *a);
    a->family = family;
    if (s && s->family != family)
        return input_error(err, "architecture %s of another model family than the space, in %s",
                           text, path);
    if (family == FAMILY_VIT) return arch_read_stored(text, s ? s->vit : NULL, path, &a->vit, err);
    Error cause = {0};
    if (cnn_arch_parse(text, &a->cnn, &cause) && (!s || cnn_arch_check(&a->cnn, s->cnn, &cause)))
        return true;
    return input_error(err, "%s, in %s", cause.message, path);
}

void model_arch_format(const ModelArch *a, char *buf, size_t size) {
    if (a->family == FAMILY_CNN)
        cnn_arch_format(&a->cnn, buf, size);
    else
        arch_format(&a->vit, buf, size);
}

bool model_arch_equal(const ModelArch *a, const ModelArch *b) {
    if (a->family != b->family) return false;
    return a->family == FAMILY_CNN ? cnn_arch_equal(&a->cnn, &b->cnn)
                                   : arch_equal(&a->vit, &b->vit);
}

ModelCost model_arch_cost(const ModelArch *a, const ModelSpace *s) {
    if (a->family == FAMILY_CNN) {
        const CnnCost c = cnn_arch_cost(&a->cnn, s->cnn);
        return (ModelCost){c.params, c.flops, c.macs};
    }
    const ArchCost c = arch_cost(&a->vit, s->vit);
    return (ModelCost){c.params, c.flops_ref, c.macs};
}

int64_t model_arch_params(const ModelArch *a, const ModelSpace *s) {
    return model_arch_cost(a, s).params;
}

void model_arch_smallest(const ModelSpace *s, ModelArch *a) {
    memset(a, 0, sizeof *a);
    a->family = s->family;
    if (s->family == FAMILY_CNN)
        cnn_arch_smallest(s->cnn, &a->cnn);
    else
        arch_smallest(s->vit, &a->vit);
}

void model_arch_largest(const ModelSpace *s, ModelArch *a) {
    memset(a, 0, sizeof *a);
    a->family = s->family;
    if (s->family == FAMILY_CNN)
        cnn_arch_largest(s->cnn, &a->cnn);
    else
        arch_largest(s->vit, &a->vit);
}

void model_arch_sample(const ModelSpace *s, Rng *rng, ModelArch *a) {
    memset(a, 0, sizeof *a);
    a->family = s->family;
    if (s->family == FAMILY_CNN)
        cnn_arch_sample(s->cnn, rng, &a->cnn);
    else
        arch_sample(s->vit, rng, &a->vit);
}

static bool same_cnn_shape(const CnnArch *a, const CnnArch *b) {
    if (a->resolution != b->resolution || a->stem_channels != b->stem_channels ||
        a->head_channels != b->head_channels || a->n_stages != b->n_stages)
        return false;
    for (int s = 0; s < a->n_stages; s++)
        if (a->stages[s].channels != b->stages[s].channels) return false;
    return true;
}

bool model_arch_same_group(const ModelArch *a, const ModelArch *b) {
    if (a->family != b->family) return false;
    if (a->family == FAMILY_CNN) return same_cnn_shape(&a->cnn, &b->cnn);
    return a->vit.embed_dim == b->vit.embed_dim && a->vit.depth == b->vit.depth;
}
