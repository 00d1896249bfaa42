#include "standalone.h"

#include "h5.h"

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

/* A new dense tensor of the slice's name and shape (data allocated, not filled). */
static DenseTensor *add_tensor(Standalone *s, const Slice *slice) {
    DenseTensor *d = &s->tensors[s->n_tensors++];
    snprintf(d->name, sizeof d->name, "%s", slice->info->name);
    d->ndim = slice->ndim;
    memcpy(d->shape, slice->shape, sizeof d->shape);
    d->count = (size_t)slice->rows * (size_t)slice->cols;
    d->data = xmalloc(sizeof(real) * d->count);
    return d;
}

void standalone_extract(Standalone *s, const Vit *vit, const Arch *arch, const Space *space) {
    memset(s, 0, sizeof *s);
    s->arch = *arch;
    s->cost = arch_cost(arch, space);
    s->top1 = NAN;
    char text[ARCH_TEXT_MAX];
    arch_format(arch, text, sizeof text);
    s->space = space_refine(space, arch, 1, text);
    s->tensors = xcalloc((size_t)vit->table.n_tensors, sizeof *s->tensors);
    const size_t bytes = vit->table.n_params * sizeof *vit->table.params;
    real *params = backend_host_begin(vit->table.be, vit->table.params, bytes);
    for (int i = 0; i < vit->table.n_tensors; i++) {
        Slice slice;
        if (!slice_of(vit, arch, &vit->table.tensors[i], &slice)) continue;
        DenseTensor *d = add_tensor(s, &slice);
        copy_slice(&slice, params, d->data, true);
    }
    backend_host_end(vit->table.be, params, vit->table.params, bytes, false);
}

Model *standalone_model(const Backend *be, const Standalone *s, int max_batch) {
    Error err = {0};
    const ModelSpace space = model_space_of_vit(s->space);
    Model *model = model_create(be, &space, max_batch, 0, &err); /* a ViT's cannot fail */
    Vit *vit = model->vit;
    const size_t bytes = vit->table.n_params * sizeof *vit->table.params;
    real *params = backend_host_begin(be, vit->table.params, bytes);
    for (int i = 0; i < s->n_tensors; i++) {
        const DenseTensor *d = &s->tensors[i];
        const TensorInfo *t = param_table_find(&vit->table, d->name);
        Slice slice;
        if (!t || !slice_of(vit, &s->arch, t, &slice) ||
            (size_t)slice.rows * (size_t)slice.cols != d->count)
            fatal_at(__FILE__, __LINE__, "standalone tensor %s does not fit its supernet", d->name);
        copy_slice(&slice, params, d->data, false);
    }
    backend_host_end(be, params, vit->table.params, bytes, true);
    return model;
}

void standalone_free(Standalone *s) {
    for (int i = 0; i < s->n_tensors; i++) free(s->tensors[i].data);
    free(s->tensors);
    for (int i = 0; i < s->n_classes; i++) free(s->class_names[i]);
    free(s->class_names);
    space_free(s->space);
    memset(s, 0, sizeof *s);
}

void standalone_write(hid_t file, const Standalone *s) {
    char text[ARCH_TEXT_MAX];
    arch_format(&s->arch, text, sizeof text);
    h5_attr_string(file, "arch", text);
    h5_attr_int(file, "params", s->cost.params);
    h5_attr_int(file, "flops_ref", s->cost.flops_ref);
    h5_attr_int(file, "macs", s->cost.macs);
    h5_attr_int(file, "image_size", s->space->image_size);
    h5_attr_int(file, "channels", s->space->in_channels);
    h5_attr_doubles(file, "mean", s->mean, s->space->in_channels);
    h5_attr_doubles(file, "std", s->std, s->space->in_channels);
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

/* Every tensor the architecture needs, at the shape its slice has. */
static bool read_tensors(const H5Source *src, Standalone *s) {
    Vit *shape_only = vit_create(backend_cpu(), s->space, 1); /* the slices' shapes */
    const Vit *vit = shape_only;
    s->tensors = xcalloc((size_t)vit->table.n_tensors, sizeof *s->tensors);
    bool ok = true;
    for (int i = 0; ok && i < vit->table.n_tensors; i++) {
        Slice slice;
        if (!slice_of(vit, &s->arch, &vit->table.tensors[i], &slice)) continue;
        DenseTensor *d = add_tensor(s, &slice);
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
    vit_free(shape_only);
    return ok;
}

bool standalone_read(const char *path, Standalone *s, Artefact *a, Error *err) {
    memset(s, 0, sizeof *s);
    s->top1 = NAN;
    if (!artefact_open(a, path, MODEL_SCHEMA, MODEL_SCHEMA_VERSION, err)) return false;
    H5Source src = {a->file, path, err};
    char text[ARCH_TEXT_MAX];
    bool ok = h5_read_attr_string(&src, a->file, "arch", text, sizeof text) &&
              (s->space = space_load_text(a->meta.config, path, err)) != NULL &&
              arch_read_stored(text, s->space, path, &s->arch, err);
    const int channels = ok ? s->space->in_channels : 0;
    ok = ok && h5_read_attr_doubles(&src, a->file, "mean", s->mean, channels) &&
         h5_read_attr_doubles(&src, a->file, "std", s->std, channels) &&
         h5_read_attr_string(&src, a->file, "chosen_by", s->chosen_by, sizeof s->chosen_by) &&
         h5_read_attr_string(&src, a->file, "split", s->split, sizeof s->split) &&
         h5_read_attr_doubles(&src, a->file, "top1", &s->top1, 1) &&
         (s->class_names =
              h5_read_strings(&src, "classes", s->space->num_classes, &s->n_classes)) != NULL;
    if (ok && s->n_classes != s->space->num_classes)
        ok = input_error(err, "%d class names for %d classes, %s", s->n_classes,
                         s->space->num_classes, path);
    if (ok) s->cost = arch_cost(&s->arch, s->space);
    ok = ok && read_tensors(&src, s);
    if (!ok) {
        standalone_free(s);
        artefact_close(a);
    }
    return ok;
}
