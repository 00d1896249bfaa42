#include "cnn_subnet.h"

#include "error.h"

#include <stdlib.h>
#include <string.h>

static void narrow(CnnChoices *choices, int value) {
    *choices = (CnnChoices){.count = 1, .values = {value}};
}

CnnSpace *cnn_space_narrow(const CnnSpace *space, const CnnArch *arch) {
    CnnSpace *s = xmalloc(sizeof *s);
    *s = *space;
    s->text = NULL;
    s->groups = (CnnGroups){0};
    narrow(&s->resolution, arch->resolution);
    narrow(&s->stem.channels, arch->stem_channels);
    for (int i = 0; i < s->n_stages; i++) {
        const CnnStageArch *a = &arch->stages[i];
        CnnStageSpace *st = &s->stages[i];
        narrow(&st->expand_ratio, a->expand_ratio);
        narrow(&st->kernel, a->kernel);
        narrow(&st->channels, a->channels);
        narrow(&st->depth, a->depth);
    }
    narrow(&s->head_channels, arch->head_channels);
    return s;
}

void cnn_subnet_copy(const TensorInfo *from, const real *from_data, const TensorInfo *to,
                     real *to_data) {
    const int nd = to->ndim;
    bool fits = from->ndim == nd;
    for (int k = 0; fits && k < nd; k++) fits = to->shape[k] <= from->shape[k];
    /* only a conv weight is 4-D: its kernel is square, its crop centred */
    const int64_t crop = nd == 4 ? (from->shape[3] - to->shape[3]) / 2 : 0;
    if (!fits || (nd == 4 && (from->shape[3] - to->shape[3]) % 2 != 0))
        fatal_at(__FILE__, __LINE__, "subnet tensor %s does not fit the supernet's", to->name);
    int64_t shape[TENSOR_MAX_DIMS] = {1, 1, 1, 1}, super[TENSOR_MAX_DIMS] = {1, 1, 1, 1};
    for (int k = 0; k < nd; k++) /* right-aligned in four dimensions */
        shape[TENSOR_MAX_DIMS - nd + k] = to->shape[k],
                                     super[TENSOR_MAX_DIMS - nd + k] = from->shape[k];
    real *out = to_data;
    for (int64_t a = 0; a < shape[0]; a++)
        for (int64_t b = 0; b < shape[1]; b++)
            for (int64_t c = 0; c < shape[2]; c++) {
                const real *row =
                    from_data + ((a * super[1] + b) * super[2] + c + crop) * super[3] + crop;
                memcpy(out, row, sizeof(real) * (size_t)shape[3]);
                out += shape[3];
            }
}
