#include "standalone.h"

#include "cnn_subnet.h"
#include "h5.h"
#include "model_space.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Where a dense tensor lives in the supernet: the leading [rows, cols] block of a tensor whose
 * rows are `ld` apart; `interleaved_q` > 0 for the q/k/v projection, whose dense row t q + f
 * is supernet row 3 f + t (method.md §3.4). */
typedef struct {
    const TensorInfo *info;
    int ndim;
    int64_t shape[4]; /* dense */
    int rows, cols, ld, interleaved_q;
} Slice;

static bool ends_with(const char *s, const char *suffix) {
    const size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* The slice of one supernet tensor that `arch` uses; false for blocks beyond its depth. */
static bool slice_of(const Vit *vit, const Arch *arch, const TensorInfo *t, Slice *s) {
    int l = -1;
    if (sscanf(t->name, "blocks.%d.", &l) == 1 && l >= arch->depth) return false;
    const int E = arch->embed_dim, Es = vit->embed;
    const int q = l >= 0 ? vit->head_dim * arch->num_heads[l] : 0;
    const int M = l >= 0 ? arch_hidden_dim(arch, l) : 0;
    *s = (Slice){.info = t, .ndim = t->ndim};
    memcpy(s->shape, t->shape, sizeof s->shape);
#define BLOCK(r, c, stride) (s->rows = (r), s->cols = (c), s->ld = (stride))
    if (strstr(t->name, "rel_pos_embed")) /* all rows and columns */
        BLOCK((int)t->shape[0], (int)t->shape[1], (int)t->shape[1]);
    else if (ends_with(t->name, "qkv.weight"))
        BLOCK(3 * q, E, Es), s->interleaved_q = q;
    else if (ends_with(t->name, "qkv.bias"))
        BLOCK(3 * q, 1, 1), s->interleaved_q = q;
    else if (ends_with(t->name, "proj.weight") && l >= 0)
        BLOCK(E, q, Es);
    else if (ends_with(t->name, "fc1.weight"))
        BLOCK(M, E, Es);
    else if (ends_with(t->name, "fc1.bias"))
        BLOCK(1, M, M);
    else if (ends_with(t->name, "fc2.weight"))
        BLOCK(E, M, vit->hidden);
    else if (strcmp(t->name, "head.weight") == 0)
        BLOCK(vit->classes, E, Es);
    else if (strcmp(t->name, "head.bias") == 0)
        BLOCK(1, vit->classes, vit->classes);
    else if (strcmp(t->name, "pos_embed") == 0)
        BLOCK(vit->tokens, E, Es);
    else if (strcmp(t->name, "patch_embed_super.proj.weight") == 0) /* [E, c, P, P] */
        BLOCK(E, (int)(t->count / (size_t)Es), (int)(t->count / (size_t)Es));
    else /* the rest is [E]-shaped: biases of E outputs, LayerNorms, the class token */
        BLOCK(1, E, E);
#undef BLOCK
    /* the dense shape: [rows, cols] folded back into the tensor's own rank */
    if (t->ndim == 1)
        s->shape[0] = (int64_t)s->rows * s->cols;
    else if (t->ndim == 2)
        s->shape[0] = s->rows, s->shape[1] = s->cols;
    else if (t->ndim == 3) /* cls_token [1, 1, E], pos_embed [1, N, E] */
        s->shape[2] = s->cols;
    else /* the patch convolution [E, c, P, P] */
        s->shape[0] = s->rows;
    return true;
}

/* Copies between a dense tensor and its slice of a supernet arena. */
static void copy_slice(const Slice *s, real *arena, real *dense, bool to_dense) {
    real *super = arena + s->info->offset;
    const int q = s->interleaved_q;
    for (int r = 0; r < s->rows; r++) {
        /* dense row t q + f of the q/k/v projection is supernet row 3 f + t */
        const int from = q ? 3 * (r % q) + r / q : r;
        real *a = super + (size_t)from * s->ld, *d = dense + (size_t)r * s->cols;
        if (to_dense)
            memcpy(d, a, sizeof(real) * (size_t)s->cols);
        else
            memcpy(a, d, sizeof(real) * (size_t)s->cols);
    }
}

/* A new dense tensor of that name and shape (data allocated, not filled). */
static DenseTensor *add_tensor(Standalone *s, const char *name, int ndim, const int64_t *shape) {
    DenseTensor *d = &s->tensors[s->n_tensors++];
    snprintf(d->name, sizeof d->name, "%s", name);
    d->ndim = ndim;
    d->count = 1;
    for (int k = 0; k < ndim; k++) d->count *= (size_t)(d->shape[k] = shape[k]);
    d->data = xmalloc(sizeof(real) * d->count);
    return d;
}

/* ---- the ViT: slices of a supernet of the refined space ---- */

/* The dense tensors of the architecture, with the slices they come from in `vit`. */
static Slice *vit_layout(Standalone *s, const Vit *vit) {
    Slice *slices = xcalloc((size_t)vit->table.n_tensors, sizeof *slices);
    s->tensors = xcalloc((size_t)vit->table.n_tensors, sizeof *s->tensors);
    for (int i = 0; i < vit->table.n_tensors; i++)
        if (slice_of(vit, &s->arch.vit, &vit->table.tensors[i], &slices[s->n_tensors]))
            add_tensor(s, vit->table.tensors[i].name, slices[s->n_tensors].ndim,
                       slices[s->n_tensors].shape);
    return slices;
}

static void vit_extract(Standalone *s, const Vit *vit, const Space *space) {
    char text[ARCH_TEXT_MAX];
    arch_format(&s->arch.vit, text, sizeof text);
    s->space = model_space_of_vit(space_refine(space, &s->arch.vit, 1, text));
    s->image_size = space->image_size, s->channels = space->in_channels;
    Slice *slices = vit_layout(s, vit);
    const size_t bytes = vit->table.n_params * sizeof *vit->table.params;
    real *params = backend_host_begin(vit->table.be, vit->table.params, bytes);
    for (int i = 0; i < s->n_tensors; i++) copy_slice(&slices[i], params, s->tensors[i].data, true);
    backend_host_end(vit->table.be, params, vit->table.params, bytes, false);
    free(slices);
}

/* ---- the CNN: a net of the space narrowed to the architecture ---- */

/* The net of the architecture alone and its BN statistics, at their dense shapes (CPU). */
static CnnNet *cnn_dense_net(const Standalone *s, CnnBnStats **stats) {
    CnnSpace *narrow = cnn_space_narrow(s->space.cnn, &s->arch.cnn);
    Error err = {0};
    CnnNet *net = cnn_net_create(backend_cpu(), narrow, 1, &err); /* the CPU has the CNN ops */
    cnn_space_free(narrow);
    *stats = cnn_bn_stats_create(net);
    return net;
}

/* The dense tensors: the net's, then its running statistics. */
static void cnn_layout(Standalone *s) {
    CnnBnStats *stats;
    CnnNet *net = cnn_dense_net(s, &stats);
    const ParamTable *tables[2] = {&net->table, &stats->table};
    s->tensors =
        xcalloc((size_t)(net->table.n_tensors + stats->table.n_tensors), sizeof *s->tensors);
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < tables[k]->n_tensors; i++)
            add_tensor(s, tables[k]->tensors[i].name, tables[k]->tensors[i].ndim,
                       tables[k]->tensors[i].shape);
    cnn_bn_stats_free(stats);
    cnn_net_free(net);
}

/* Each dense tensor from the table of that name among `tables` (host copies of the arenas). */
static void cnn_copy_out(Standalone *s, const ParamTable *const *tables, real *const *arenas) {
    for (int i = 0; i < s->n_tensors; i++) {
        DenseTensor *d = &s->tensors[i];
        TensorInfo to = {.ndim = d->ndim, .count = d->count};
        memcpy(to.shape, d->shape, sizeof d->shape);
        snprintf(to.name, sizeof to.name, "%s", d->name);
        const TensorInfo *from = param_table_find(tables[0], d->name);
        const int k = from ? 0 : 1;
        if (!from && !(from = param_table_find(tables[1], d->name)))
            fatal_at(__FILE__, __LINE__, "subnet tensor %s is not the supernet's", d->name);
        cnn_subnet_copy(from, arenas[k] + from->offset, &to, d->data);
    }
}

static void cnn_extract(Standalone *s, const Model *model, const CnnSpace *space) {
    if (model->bn_batches == 0 || !model_arch_equal(&model->bn_arch, &s->arch))
        fatal_at(__FILE__, __LINE__, "a CNN subnet exported before its BN recalibration");
    CnnSpace *copy = xmalloc(sizeof *copy);
    *copy = *space;
    copy->text = xstrdup(space->text);
    s->space = (ModelSpace){.family = FAMILY_CNN, .cnn = copy};
    s->image_size = model->image_side, s->channels = space->in_channels;
    cnn_layout(s);
    const ParamTable *tables[2] = {model->table, &model->bn->table};
    real *arenas[2];
    for (int k = 0; k < 2; k++)
        arenas[k] =
            backend_host_begin(model->be, tables[k]->params, tables[k]->n_params * sizeof(real));
    cnn_copy_out(s, tables, arenas);
    for (int k = 0; k < 2; k++)
        backend_host_end(model->be, arenas[k], tables[k]->params,
                         tables[k]->n_params * sizeof(real), false);
}

void standalone_extract(Standalone *s, const Model *model, const ModelArch *arch,
                        const ModelSpace *space) {
    memset(s, 0, sizeof *s);
    s->arch = *arch;
    s->cost = model_arch_cost(arch, space);
    s->top1 = NAN;
    if (arch->family == FAMILY_CNN)
        cnn_extract(s, model, space->cnn);
    else
        vit_extract(s, model->vit, space->vit);
}

/* The dense tensors into a supernet of the refined space, at their slices. */
static void vit_place(const Standalone *s, Vit *vit) {
    const size_t bytes = vit->table.n_params * sizeof *vit->table.params;
    real *params = backend_host_begin(vit->table.be, vit->table.params, bytes);
    for (int i = 0; i < s->n_tensors; i++) {
        const DenseTensor *d = &s->tensors[i];
        const TensorInfo *t = param_table_find(&vit->table, d->name);
        Slice slice;
        if (!t || !slice_of(vit, &s->arch.vit, t, &slice) ||
            (size_t)slice.rows * (size_t)slice.cols != d->count)
            fatal_at(__FILE__, __LINE__, "standalone tensor %s does not fit its supernet", d->name);
        copy_slice(&slice, params, d->data, false);
    }
    backend_host_end(vit->table.be, params, vit->table.params, bytes, true);
}

/* The dense tensors into the narrowed net (weights) and the model's statistics, whole. */
static void cnn_place(const Standalone *s, Model *model) {
    ParamTable *tables[2] = {model->table, &model->bn->table};
    for (int i = 0; i < s->n_tensors; i++) {
        const DenseTensor *d = &s->tensors[i];
        const TensorInfo *t = param_table_find(tables[0], d->name);
        const int k = t ? 0 : 1;
        if ((!t && !(t = param_table_find(tables[1], d->name))) || t->count != d->count)
            fatal_at(__FILE__, __LINE__, "standalone tensor %s does not fit its net", d->name);
        model->be->ops->upload(model->be, tables[k]->params + t->offset, d->data,
                               sizeof(real) * d->count);
    }
    model_adopt_bn_statistics(model, &s->arch);
}

Model *standalone_model(const Backend *be, const Standalone *s, int max_batch, Error *err) {
    if (s->arch.family == FAMILY_VIT) {
        Model *model = model_create(be, &s->space, max_batch, 0, err); /* a ViT's cannot fail */
        vit_place(s, model->vit);
        return model;
    }
    const ModelSpace narrow = {.family = FAMILY_CNN,
                               .cnn = cnn_space_narrow(s->space.cnn, &s->arch.cnn)};
    Model *model = model_create(be, &narrow, max_batch, s->image_size, err);
    cnn_space_free(narrow.cnn);
    if (model) cnn_place(s, model);
    return model;
}

void standalone_free(Standalone *s) {
    for (int i = 0; i < s->n_tensors; i++) free(s->tensors[i].data);
    free(s->tensors);
    for (int i = 0; i < s->n_classes; i++) free(s->class_names[i]);
    free(s->class_names);
    model_space_free(&s->space);
    memset(s, 0, sizeof *s);
}

void standalone_write(hid_t file, const Standalone *s) {
    char text[MODEL_ARCH_TEXT_MAX];
    model_arch_format(&s->arch, text, sizeof text);
    h5_attr_string(file, "arch", text);
    h5_attr_int(file, "params", s->cost.params);
    h5_attr_int(file, "flops_ref", s->cost.flops);
    h5_attr_int(file, "macs", s->cost.macs);
    h5_attr_int(file, "image_size", s->image_size);
    h5_attr_int(file, "channels", s->channels);
    h5_attr_doubles(file, "mean", s->mean, s->channels);
    h5_attr_doubles(file, "std", s->std, s->channels);
    h5_attr_string(file, "chosen_by", s->chosen_by);
    h5_attr_string(file, "split", s->split);
    h5_attr_doubles(file, "top1", &s->top1, 1);
    h5_write_strings(file, "classes", (const char *const *)s->class_names, s->n_classes);
    hid_t g = h5_create_group(file, "params");
    for (int i = 0; i < s->n_tensors; i++) {
        const DenseTensor *d = &s->tensors[i];
        hsize_t dims[4];
        for (int k = 0; k < d->ndim; k++) dims[k] = (hsize_t)d->shape[k];
        h5_write(g, d->name, sizeof(real) == sizeof(float) ? H5T_NATIVE_FLOAT : H5T_NATIVE_DOUBLE,
                 d->ndim, dims, d->data);
    }
    CHECK_H5(H5Gclose(g));
}

/* Every tensor the architecture needs, at its dense shape. */
static bool read_tensors(const H5Source *src, Standalone *s) {
    if (s->arch.family == FAMILY_CNN) {
        cnn_layout(s);
    } else {
        Vit *shape_only = vit_create(backend_cpu(), s->space.vit, 1); /* the slices' shapes */
        free(vit_layout(s, shape_only));
        vit_free(shape_only);
    }
    bool ok = true;
    for (int i = 0; ok && i < s->n_tensors; i++) {
        DenseTensor *d = &s->tensors[i];
        char path[128];
        snprintf(path, sizeof path, "params/%s", d->name);
        hsize_t dims[4];
        hid_t ds = h5_open_dataset(src, path, d->ndim, dims);
        ok = ds >= 0;
        for (int k = 0; ok && k < d->ndim; k++)
            if (dims[k] != (hsize_t)d->shape[k])
                ok = input_error(src->err, "/%s has another shape than the architecture's, %s",
                                 path, src->path);
        ok = ok && h5_read(src, ds, path,
                           sizeof(real) == sizeof(float) ? H5T_NATIVE_FLOAT : H5T_NATIVE_DOUBLE, 0,
                           0, d->data);
        if (ds >= 0) H5Dclose(ds);
    }
    return ok;
}

/* The space's channels and classes, and the side a ViT takes (a CNN resizes any). */
static void space_facts(const ModelSpace *space, int *channels, int *classes, int *vit_side) {
    if (space->family == FAMILY_CNN)
        *channels = space->cnn->in_channels, *classes = space->cnn->num_classes, *vit_side = 0;
    else
        *channels = space->vit->in_channels, *classes = space->vit->num_classes,
        *vit_side = space->vit->image_size;
}

bool standalone_read(const char *path, Standalone *s, Artefact *a, Error *err) {
    memset(s, 0, sizeof *s);
    s->top1 = NAN;
    if (!artefact_open(a, path, MODEL_SCHEMA, MODEL_SCHEMA_VERSION, err)) return false;
    H5Source src = {a->file, path, err};
    char text[MODEL_ARCH_TEXT_MAX];
    int classes = 0, vit_side = 0;
    int64_t side = 0;
    bool ok = h5_read_attr_string(&src, a->file, "arch", text, sizeof text) &&
              model_space_load_text(a->meta.config, path, &s->space, err) &&
              model_arch_read_stored(text, s->space.family, &s->space, path, &s->arch, err) &&
              h5_read_attr_int(&src, a->file, "image_size", &side);
    if (ok) space_facts(&s->space, &s->channels, &classes, &vit_side);
    if (ok && (side < 1 || side > CNN_MAX_RESOLUTION || (vit_side && side != vit_side)))
        ok = input_error(err, "image_size %lld does not suit the model's space, %s",
                         (long long)side, path);
    s->image_size = (int)side;
    ok = ok && h5_read_attr_doubles(&src, a->file, "mean", s->mean, s->channels) &&
         h5_read_attr_doubles(&src, a->file, "std", s->std, s->channels) &&
         h5_read_attr_string(&src, a->file, "chosen_by", s->chosen_by, sizeof s->chosen_by) &&
         h5_read_attr_string(&src, a->file, "split", s->split, sizeof s->split) &&
         h5_read_attr_doubles(&src, a->file, "top1", &s->top1, 1) &&
         (s->class_names = h5_read_strings(&src, "classes", classes, &s->n_classes)) != NULL;
    if (ok && s->n_classes != classes)
        ok = input_error(err, "%d class names for %d classes, %s", s->n_classes, classes, path);
    if (ok) s->cost = model_arch_cost(&s->arch, &s->space);
    ok = ok && read_tensors(&src, s);
    if (!ok) {
        standalone_free(s);
        artefact_close(a);
    }
    return ok;
}
