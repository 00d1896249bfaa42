#include "model_space.h"

#include "config.h"
#include "lineage.h"

static bool loaded(ModelSpace *s, ModelFamily family, Space *vit, CnnSpace *cnn) {
    *s = (ModelSpace){family, vit, cnn};
    return vit || cnn;
}

bool model_space_load_file(const char *path, ModelSpace *s, Error *err) {
    ModelFamily family;
    *s = (ModelSpace){FAMILY_VIT, NULL, NULL};
    if (!cfg_file_family(path, &family, err)) return false;
    return family == FAMILY_CNN ? loaded(s, family, NULL, cnn_space_load_file(path, err))
                                : loaded(s, family, space_load_file(path, err), NULL);
}

bool model_space_load_text(const char *text, const char *origin, ModelSpace *s, Error *err) {
    ModelFamily family;
    *s = (ModelSpace){FAMILY_VIT, NULL, NULL};
    if (!cfg_text_family(text, origin, &family, err)) return false;
    return family == FAMILY_CNN ? loaded(s, family, NULL, cnn_space_load_text(text, origin, err))
                                : loaded(s, family, space_load_text(text, origin, err), NULL);
}

void model_space_free(ModelSpace *s) {
    space_free(s->vit);
    cnn_space_free(s->cnn);
    s->vit = NULL, s->cnn = NULL;
}

void model_space_digest(const ModelSpace *s, char hex[SHA256_HEX_SIZE]) {
    if (s->family == FAMILY_CNN)
        cnn_space_digest(s->cnn, hex);
    else
        lineage_space_digest(s->vit, hex);
}

bool model_space_fits_dataset(const ModelSpace *s, const DatasetFile *d, Error *err) {
    if (s->family == FAMILY_VIT) return dataset_fits_space(d, s->vit, err);
    const ImageShape shape = d->shape;
    if (shape.channels == s->cnn->in_channels && shape.num_classes == s->cnn->num_classes)
        return true;
    return input_error(err,
                       "the dataset has %d-channel images in %d classes, the space expects %d "
                       "channels and %d classes, %s and %s",
                       shape.channels, shape.num_classes, s->cnn->in_channels, s->cnn->num_classes,
                       d->artefact.path, s->cnn->source);
}
