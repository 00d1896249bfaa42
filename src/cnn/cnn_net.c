#include "cnn_net.h"

#include "cnn_cost.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* PyTorch's BatchNorm2d default (torchvision's MobileNetV2, OFA's PyTorch code). */
static const double BN_EPS = 1e-5;

#define SHAPE(...) ((const int64_t[]){__VA_ARGS__})

static int largest(const CnnChoices *choices) {
    return choices->values[choices->count - 1];
}

/* ---- the supernet's shape: the space's largest architecture ---- */

static void supernet_dims(CnnNet *net, const CnnSpace *space) {
    net->in_channels = space->in_channels;
    net->classes = space->num_classes;
    net->stem_kernel = space->stem.kernel;
    net->stem_stride = space->stem.stride;
    net->stem_channels = largest(&space->stem.channels);
    net->head_channels = largest(&space->head_channels);
    net->max_resolution = largest(&space->resolution);
    net->activation = space->activation;
    net->n_stages = space->n_stages;
    int in = net->stem_channels;
    for (int s = 0; s < space->n_stages; s++) {
        const CnnStageSpace *st = &space->stages[s];
        const int e = largest(&st->expand_ratio), out = largest(&st->channels);
        net->depth[s] = largest(&st->depth);
        for (int l = 0; l < net->depth[s]; l++) {
            net->dims[s][l] = (CnnLayerDims){.in = in,
                                             .mid = in * e,
                                             .se = cnn_se_channels(in),
                                             .out = out,
                                             .kernel = largest(&st->kernel),
                                             .stride = l == 0 ? st->stride : 1,
                                             .expand = e > 1,
                                             .has_se = st->se,
                                             .residual = l > 0};
            in = out;
        }
    }
}

/* The last stage's largest width: the head conv's input in the supernet. */
static int last_width(const CnnNet *net) {
    return net->dims[net->n_stages - 1][0].out;
}

/* ---- the tensor table ---- */

/* A conv and its batch norm. Decay: the weight (2 or more dimensions) only (cnn_net_init's
 * comment); `gamma` is BN's weight's init (zero for BigNAS's last BN of a residual block). */
static void add_conv_bn(ParamTable *t, const char *prefix, int64_t out, int64_t in, int64_t kernel,
                        TensorInit gamma) {
    param_table_add(t, INIT_FAN_OUT_NORMAL, true, 4, SHAPE(out, in, kernel, kernel),
                    "%s.conv.weight", prefix);
    param_table_add(t, gamma, false, 1, SHAPE(out), "%s.bn.weight", prefix);
    param_table_add(t, INIT_ZEROS, false, 1, SHAPE(out), "%s.bn.bias", prefix);
}

static void build_table(CnnNet *net) {
    ParamTable *t = &net->table;
    char prefix[TENSOR_NAME_MAX];
    add_conv_bn(t, "stem", net->stem_channels, net->in_channels, net->stem_kernel, INIT_ONES);
    for (int s = 0; s < net->n_stages; s++)
        for (int l = 0; l < net->depth[s]; l++) {
            const CnnLayerDims *d = &net->dims[s][l];
            char part[TENSOR_NAME_MAX + 16];
            snprintf(prefix, sizeof prefix, "stages.%d.%d", s, l);
            if (d->expand) {
                snprintf(part, sizeof part, "%s.expand", prefix);
                add_conv_bn(t, part, d->mid, d->in, 1, INIT_ONES);
            }
            snprintf(part, sizeof part, "%s.depthwise", prefix);
            add_conv_bn(t, part, d->mid, 1, d->kernel, INIT_ONES);
            if (d->has_se) { /* 1x1 convs with bias (EfficientNet's SE) */
                param_table_add(t, INIT_FAN_OUT_NORMAL, true, 4, SHAPE(d->se, d->mid, 1, 1),
                                "%s.se.reduce.weight", prefix);
                param_table_add(t, INIT_ZEROS, false, 1, SHAPE(d->se), "%s.se.reduce.bias", prefix);
                param_table_add(t, INIT_FAN_OUT_NORMAL, true, 4, SHAPE(d->mid, d->se, 1, 1),
                                "%s.se.expand.weight", prefix);
                param_table_add(t, INIT_ZEROS, false, 1, SHAPE(d->mid), "%s.se.expand.bias",
                                prefix);
            }
            snprintf(part, sizeof part, "%s.project", prefix);
            add_conv_bn(t, part, d->out, d->mid, 1, d->residual ? INIT_ZEROS : INIT_ONES);
        }
    add_conv_bn(t, "head", net->head_channels, last_width(net), 1, INIT_ONES);
    param_table_add(t, INIT_SMALL_NORMAL, true, 2, SHAPE(net->classes, net->head_channels),
                    "classifier.weight");
    param_table_add(t, INIT_ZEROS, false, 1, SHAPE(net->classes), "classifier.bias");
}

/* Points the named views at an arena laid out as the table says (same order as above). */
static void bind_views(const CnnNet *net, real *arena, CnnTensors *view) {
    const TensorInfo *t = net->table.tensors;
    int i = 0;
#define NEXT       (arena + t[i++].offset)
#define CONV_BN(u) ((u).weight = NEXT, (u).bn_weight = NEXT, (u).bn_bias = NEXT)
    memset(view, 0, sizeof *view);
    CONV_BN(view->stem);
    for (int s = 0; s < net->n_stages; s++)
        for (int l = 0; l < net->depth[s]; l++) {
            CnnLayerTensors *v = &view->layers[s][l];
            if (net->dims[s][l].expand) CONV_BN(v->expand);
            CONV_BN(v->depthwise);
            if (net->dims[s][l].has_se) {
                v->se_reduce_weight = NEXT;
                v->se_reduce_bias = NEXT;
                v->se_expand_weight = NEXT;
                v->se_expand_bias = NEXT;
            }
            CONV_BN(v->project);
        }
    CONV_BN(view->head);
    view->classifier_weight = NEXT;
    view->classifier_bias = NEXT;
#undef CONV_BN
#undef NEXT
    if (i != net->table.n_tensors) fatal_at(__FILE__, __LINE__, "tensor table and views disagree");
}

/* ---- activations: what backward needs, per layer, for the largest subnet and batch ---- */

typedef struct {              /* a conv, its batch norm and (unless `act` is NULL) the activation */
    real *raw, *normed, *act; /* conv output, BN output, activation output */
    real *mean, *rstd;        /* the batch statistics [groups, C], for BN's backward */
} UnitActivations;

typedef struct {
    UnitActivations expand, depthwise, project;
    real *pooled, *se_hidden, *se_act, *gate, *gated; /* SE */
    real *sum;                                        /* the residual's output */
    const real *in, *dw_in, *project_in;              /* what the convs read (set by forward) */
} LayerActivations;

struct CnnActivations {
    UnitActivations stem, head;
    LayerActivations layers[CNN_MAX_STAGES][CNN_MAX_DEPTH];
    real *pooled;                 /* the head's pooled features [batch, HEAD] */
    const real *images, *head_in; /* the stem's and the head's inputs (the last forward's) */
    real *map[4];                 /* backward scratch, each the largest map */
    real *d_pooled, *d_gate;      /* [batch, max(MID, HEAD)] */
    real *d_se_hidden, *d_se_act; /* [batch, SE] */
    real *arena;                  /* everything above, one allocation */
    CnnArch arch;                 /* the last training forward's, for backward's check */
    int batch;
};

/* Hands out consecutive pieces of one arena; with base NULL it only counts. */
typedef struct {
    real *base;
    size_t used;
} Carver;

static real *carve(Carver *c, size_t n) {
    real *p = c->base ? c->base + c->used : NULL;
    c->used += n;
    return p;
}

/* The statistics have room for one group per image (bn_group 1 at max_batch). */
static void carve_unit(Carver *c, UnitActivations *u, size_t map, size_t batch, int channels,
                       bool act) {
    u->raw = carve(c, map);
    u->normed = carve(c, map);
    u->act = act ? carve(c, map) : NULL;
    u->mean = carve(c, batch * (size_t)channels);
    u->rstd = carve(c, batch * (size_t)channels);
}

static size_t max_size(size_t a, size_t b) {
    return a > b ? a : b;
}

/* Every buffer at the supernet's widths and the largest resolution's sides: a subnet's layer
 * has at most those widths, and a smaller resolution has smaller sides (ceil(R / s) grows with
 * R), so any subnet at any of the space's resolutions fits. */
static void layout(const CnnNet *net, CnnActivations *a, Carver *c) {
    const size_t B = (size_t)net->max_batch;
    int side = cnn_conv_side(net->max_resolution, net->stem_stride);
    size_t largest_map = B * net->stem_channels * side * side, widest = net->head_channels, se = 1;
    carve_unit(c, &a->stem, largest_map, B, net->stem_channels, true);
    for (int s = 0; s < net->n_stages; s++)
        for (int l = 0; l < net->depth[s]; l++) {
            const CnnLayerDims *d = &net->dims[s][l];
            LayerActivations *la = &a->layers[s][l];
            const int out_side = cnn_conv_side(side, d->stride);
            const size_t in_map = B * d->mid * side * side,
                         mid_map = B * d->mid * out_side * out_side;
            const size_t out_map = B * d->out * out_side * out_side;
            if (d->expand) carve_unit(c, &la->expand, in_map, B, d->mid, true);
            carve_unit(c, &la->depthwise, mid_map, B, d->mid, true);
            if (d->has_se) {
                la->pooled = carve(c, B * d->mid);
                la->se_hidden = carve(c, B * d->se);
                la->se_act = carve(c, B * d->se);
                la->gate = carve(c, B * d->mid);
                la->gated = carve(c, mid_map);
            }
            carve_unit(c, &la->project, out_map, B, d->out, false);
            if (d->residual) la->sum = carve(c, out_map);
            largest_map = max_size(largest_map, max_size(in_map, max_size(mid_map, out_map)));
            widest = max_size(widest, (size_t)d->mid);
            se = max_size(se, (size_t)d->se);
            side = out_side;
        }
    const size_t head_map = B * net->head_channels * side * side;
    carve_unit(c, &a->head, head_map, B, net->head_channels, true);
    a->pooled = carve(c, B * net->head_channels);
    largest_map = max_size(largest_map, head_map);
    for (int i = 0; i < 4; i++) a->map[i] = carve(c, largest_map);
    a->d_pooled = carve(c, B * widest);
    a->d_gate = carve(c, B * widest);
    a->d_se_hidden = carve(c, B * se);
    a->d_se_act = carve(c, B * se);
}

static CnnActivations *activations_create(const CnnNet *net) {
    const Backend *be = net->table.be;
    CnnActivations *a = xcalloc(1, sizeof *a);
    Carver count = {NULL, 0};
    layout(net, a, &count);
    a->arena = be->ops->alloc(be, count.used * sizeof *a->arena);
    Carver place = {a->arena, 0};
    layout(net, a, &place);
    return a;
}

/* ---- life cycle ---- */

/* The CNN family's ops a backend may lack (kernels/backend.h: NULL on CUDA for now). */
static bool has_cnn_ops(const BackendOps *ops) {
    return ops->conv2d_forward && ops->conv2d_backward && ops->batchnorm_forward_train &&
           ops->batchnorm_recalibrate && ops->batchnorm_forward_eval && ops->batchnorm_backward &&
           ops->silu_forward && ops->silu_backward && ops->relu6_forward && ops->relu6_backward &&
           ops->global_avg_pool_forward && ops->global_avg_pool_backward &&
           ops->channel_scale_forward && ops->channel_scale_backward;
}

CnnNet *cnn_net_create(const Backend *be, const CnnSpace *space, int max_batch, Error *err) {
    if (!has_cnn_ops(be->ops)) {
        input_error(err,
                    "the CNN family's ops (convolution, batch norm) are not implemented on the "
                    "%s backend yet; the CNN space %s runs on the CPU (--device cpu)",
                    be->name[0] ? be->name : backend_device_name(be), space->source);
        return NULL;
    }
    if (max_batch < 1) fatal_at(__FILE__, __LINE__, "cnn_net_create: max_batch %d", max_batch);
    CnnNet *net = xcalloc(1, sizeof *net);
    supernet_dims(net, space);
    build_table(net);
    param_table_allocate(&net->table, be);
    bind_views(net, net->table.params, &net->p);
    bind_views(net, net->table.grads, &net->g);
    net->max_batch = max_batch;
    net->act = activations_create(net);
    return net;
}

void cnn_net_free(CnnNet *net) {
    if (!net) return;
    const Backend *be = net->table.be;
    if (net->act) be->ops->free(be, net->act->arena);
    free(net->act);
    param_table_free(&net->table);
    free(net);
}

/* torchvision's rule for each kind (cnn_net.h). */
static double cnn_draw(const TensorInfo *t, Rng *rng, const void *ctx) {
    (void)ctx;
    switch (t->init) {
    case INIT_ONES:
        return 1;
    case INIT_ZEROS:
        return 0;
    case INIT_FAN_OUT_NORMAL: {
        /* kaiming_normal_(mode="fan_out"): PyTorch's fan out of a conv weight
         * [out, in / groups, k, k] is out x k x k, groups or not; gain sqrt(2), its default
         * (leaky_relu with slope 0) */
        const double fan_out = (double)t->shape[0] * t->shape[2] * t->shape[3];
        return sqrt(2 / fan_out) * rng_normal(rng);
    }
    case INIT_SMALL_NORMAL:
        return 0.01 * rng_normal(rng);
    case INIT_TRUNC_NORMAL:
    case INIT_FAN_IN_UNIFORM: /* the ViT's kinds: no CNN tensor has them */
        break;
    }
    fatal_at(__FILE__, __LINE__, "cnn_net_init: %s has a ViT init kind", t->name);
}

void cnn_net_init(CnnNet *net, uint64_t seed) {
    param_table_init(&net->table, seed, cnn_draw, net);
}

/* The layer's input width in the subnet: the previous stage's (or the stem's) for layer 0. */
static int layer_input(const CnnArch *arch, int s, int l) {
    return l > 0   ? arch->stages[s].channels
           : s > 0 ? arch->stages[s - 1].channels
                   : arch->stem_channels;
}

bool cnn_net_fits(const CnnNet *net, const CnnArch *arch) {
    if (arch->n_stages != net->n_stages || arch->resolution < 1 ||
        arch->resolution > net->max_resolution || arch->stem_channels > net->stem_channels ||
        arch->head_channels > net->head_channels)
        return false;
    for (int s = 0; s < arch->n_stages; s++) {
        const CnnStageArch *a = &arch->stages[s];
        const CnnLayerDims *d = &net->dims[s][0];
        if (a->depth < 1 || a->depth > net->depth[s] || a->channels > d->out ||
            a->kernel % 2 == 0 || a->kernel > d->kernel || a->expand_ratio > d->mid / d->in)
            return false;
    }
    return true;
}

/* ---- batch norm statistics ---- */

/* Points the running statistics' views at the table built from the net's (same order). */
static void bind_stats(const CnnNet *net, CnnBnStats *st) {
    real *arena = st->table.params;
    const TensorInfo *t = st->table.tensors;
    int i = 0;
#define RUNNING(r) ((r).mean = arena + t[i++].offset, (r).var = arena + t[i++].offset)
    RUNNING(st->stem);
    for (int s = 0; s < net->n_stages; s++)
        for (int l = 0; l < net->depth[s]; l++) {
            if (net->dims[s][l].expand) RUNNING(st->expand[s][l]);
            RUNNING(st->depthwise[s][l]);
            RUNNING(st->project[s][l]);
        }
    RUNNING(st->head);
#undef RUNNING
    if (i != st->table.n_tensors) fatal_at(__FILE__, __LINE__, "BN statistics and views disagree");
}

CnnBnStats *cnn_bn_stats_create(const CnnNet *net) {
    CnnBnStats *st = xcalloc(1, sizeof *st);
    /* one pair per "<prefix>.bn.weight" of the net's table, in its order */
    static const char suffix[] = ".bn.weight";
    for (int i = 0; i < net->table.n_tensors; i++) {
        const TensorInfo *w = &net->table.tensors[i];
        const size_t n = strlen(w->name), k = sizeof suffix - 1;
        if (n < k || strcmp(w->name + n - k, suffix) != 0) continue;
        const int prefix = (int)(n - k);
        param_table_add(&st->table, INIT_ZEROS, false, 1, w->shape, "%.*s.bn.running_mean", prefix,
                        w->name);
        param_table_add(&st->table, INIT_ONES, false, 1, w->shape, "%.*s.bn.running_var", prefix,
                        w->name);
    }
    const Backend *be = net->table.be;
    param_table_allocate(&st->table, be);
    for (int i = 0; i < st->table.n_tensors; i++) {
        const TensorInfo *t = &st->table.tensors[i];
        be->ops->fill(be, st->table.params + t->offset, t->count, t->init == INIT_ONES ? 1 : 0);
    }
    bind_stats(net, st);
    return st;
}

void cnn_bn_stats_free(CnnBnStats *stats) {
    if (!stats) return;
    param_table_free(&stats->table);
    free(stats);
}

/* ---- forward ---- */

typedef enum { PASS_TRAINING, PASS_EVALUATION, PASS_RECALIBRATION } Pass;

typedef struct {
    Pass pass;
    int batches_seen; /* recalibration */
} BnPass;

static ConvShape conv_shape(int batch, int side, int in, int out, int kernel, int stride,
                            bool depthwise, int weight_in, int weight_kernel) {
    return (ConvShape){.batch = batch,
                       .height = side,
                       .width = side,
                       .in_channels = in,
                       .out_channels = out,
                       .kernel = kernel,
                       .stride = stride,
                       .depthwise = depthwise,
                       .weight_in = weight_in,
                       .weight_kernel = weight_kernel};
}

/* Images per batch-norm group of a training batch: net->bn_group, or the whole batch. */
static int bn_group(const CnnNet *net, int batch) {
    const int group = net->bn_group ? net->bn_group : batch;
    if (batch % group != 0)
        fatal_at(__FILE__, __LINE__, "batch %d is not whole groups of %d images for batch norm",
                 batch, group);
    return group;
}

static BatchNormShape bn_shape(const ConvShape *c) {
    const int side = conv_output_size(c->height, c->kernel, c->stride);
    return (BatchNormShape){c->batch, c->out_channels, side, side, BN_EPS};
}

static void act_forward(const CnnNet *net, real *y, const real *x, size_t n) {
    const Backend *be = net->table.be;
    if (net->activation == CNN_SWISH)
        be->ops->silu_forward(be, y, x, n);
    else
        be->ops->relu6_forward(be, y, x, n);
}

static void act_backward(const CnnNet *net, real *dx, const real *dy, const real *x, size_t n) {
    const Backend *be = net->table.be;
    if (net->activation == CNN_SWISH)
        be->ops->silu_backward(be, dx, dy, x, n);
    else
        be->ops->relu6_backward(be, dx, dy, x, n);
}

/* conv -> batch norm (as the pass says) -> activation (when u->act); returns the output. */
static const real *unit_forward(const CnnNet *net, const BnPass *bn, UnitActivations *u,
                                const CnnConvBn *w, CnnBnRunning running, const ConvShape *c,
                                const real *x) {
    const Backend *be = net->table.be;
    const BackendOps *ops = be->ops;
    const BatchNormShape s = bn_shape(c);
    ops->conv2d_forward(be, u->raw, x, w->weight, c);
    switch (bn->pass) {
    case PASS_TRAINING: {
        /* each group of bn_group images by its own statistics (ghost batch norm) */
        const int group = bn_group(net, s.batch);
        const size_t map = (size_t)group * s.channels * s.height * s.width;
        BatchNormShape g = s;
        g.batch = group;
        for (int k = 0; k < s.batch / group; k++)
            ops->batchnorm_forward_train(be, u->normed + k * map, u->mean + (size_t)k * s.channels,
                                         u->rstd + (size_t)k * s.channels, NULL, NULL,
                                         u->raw + k * map, w->bn_weight, w->bn_bias, &g, 0);
        break;
    }
    case PASS_EVALUATION:
        ops->batchnorm_forward_eval(be, u->normed, u->raw, w->bn_weight, w->bn_bias, running.mean,
                                    running.var, &s);
        break;
    case PASS_RECALIBRATION:
        ops->batchnorm_recalibrate(be, u->normed, u->mean, u->rstd, running.mean, running.var,
                                   u->raw, w->bn_weight, w->bn_bias, &s, bn->batches_seen);
        break;
    }
    if (!u->act) return u->normed;
    act_forward(net, u->act, u->normed, (size_t)s.batch * s.channels * s.height * s.width);
    return u->act;
}

/* A layer of the subnet: its widths and sides. */
typedef struct {
    int in, mid, se, out, kernel, side_in, side_out;
    bool expand; /* e > 1: the expansion conv runs */
} LayerShape;

static LayerShape layer_shape(const CnnNet *net, const CnnArch *arch, int s, int l, int side) {
    const CnnStageArch *a = &arch->stages[s];
    const int in = layer_input(arch, s, l);
    return (LayerShape){.in = in,
                        .mid = in * a->expand_ratio,
                        .se = cnn_se_channels(in),
                        .out = a->channels,
                        .kernel = a->kernel,
                        .side_in = side,
                        .side_out = cnn_conv_side(side, net->dims[s][l].stride),
                        .expand = a->expand_ratio > 1};
}

static ConvShape expand_conv(const CnnNet *net, int s, int l, const LayerShape *x, int batch) {
    return conv_shape(batch, x->side_in, x->in, x->mid, 1, 1, false, net->dims[s][l].in, 1);
}

static ConvShape depthwise_conv(const CnnNet *net, int s, int l, const LayerShape *x, int batch) {
    const CnnLayerDims *d = &net->dims[s][l];
    return conv_shape(batch, x->side_in, x->mid, x->mid, x->kernel, d->stride, true, 1, d->kernel);
}

static ConvShape project_conv(const CnnNet *net, int s, int l, const LayerShape *x, int batch) {
    return conv_shape(batch, x->side_out, x->mid, x->out, 1, 1, false, net->dims[s][l].mid, 1);
}

static ConvShape stem_conv(const CnnNet *net, const CnnArch *arch, int batch) {
    return conv_shape(batch, arch->resolution, net->in_channels, arch->stem_channels,
                      net->stem_kernel, net->stem_stride, false, net->in_channels,
                      net->stem_kernel);
}

/* The last layer's output side. */
static int final_side(const CnnNet *net, const CnnArch *arch) {
    int side = cnn_conv_side(arch->resolution, net->stem_stride);
    for (int s = 0; s < arch->n_stages; s++) side = cnn_conv_side(side, net->dims[s][0].stride);
    return side;
}

static ConvShape head_conv(const CnnNet *net, const CnnArch *arch, int batch) {
    const int last = arch->stages[arch->n_stages - 1].channels;
    return conv_shape(batch, final_side(net, arch), last, arch->head_channels, 1, 1, false,
                      last_width(net), 1);
}

/* What a training pass reads as statistics: none (its batch norm uses the batch's). */
static const CnnBnStats NO_STATISTICS;

/* One MBConv layer; returns its output. */
static const real *layer_forward(CnnNet *net, const BnPass *bn, const CnnBnStats *stats,
                                 const LayerShape *x, int s, int l, int batch, const real *in) {
    const Backend *be = net->table.be;
    const BackendOps *ops = be->ops;
    const CnnLayerDims *d = &net->dims[s][l];
    const CnnLayerTensors *w = &net->p.layers[s][l];
    LayerActivations *a = &net->act->layers[s][l];
    const int spatial = x->side_out * x->side_out;
    a->in = in;
    a->dw_in = in;
    if (x->expand) {
        const ConvShape c = expand_conv(net, s, l, x, batch);
        a->dw_in = unit_forward(net, bn, &a->expand, &w->expand, stats->expand[s][l], &c, in);
    }
    const ConvShape dw = depthwise_conv(net, s, l, x, batch);
    a->project_in =
        unit_forward(net, bn, &a->depthwise, &w->depthwise, stats->depthwise[s][l], &dw, a->dw_in);
    if (d->has_se) { /* pool -> reduce (with bias) -> act -> expand (with bias) -> sigmoid gate */
        ops->global_avg_pool_forward(be, a->pooled, a->project_in, batch, x->mid, spatial);
        ops->linear_forward(be, a->se_hidden, a->pooled, w->se_reduce_weight, w->se_reduce_bias,
                            batch, x->mid, x->se, d->mid);
        act_forward(net, a->se_act, a->se_hidden, (size_t)batch * x->se);
        ops->linear_forward(be, a->gate, a->se_act, w->se_expand_weight, w->se_expand_bias, batch,
                            x->se, x->mid, d->se);
        ops->channel_scale_forward(be, a->gated, a->project_in, a->gate, batch, x->mid, spatial);
        a->project_in = a->gated;
    }
    const ConvShape pc = project_conv(net, s, l, x, batch);
    const real *out =
        unit_forward(net, bn, &a->project, &w->project, stats->project[s][l], &pc, a->project_in);
    if (!d->residual) return out;
    ops->residual_forward(be, a->sum, in, out, NULL, batch, 1, x->out * spatial);
    return a->sum;
}

static void check_call(const CnnNet *net, const CnnArch *arch, int batch) {
    if (batch < 1 || batch > net->max_batch || !cnn_net_fits(net, arch))
        fatal_at(__FILE__, __LINE__, "subnet or batch %d outside the supernet's allocation", batch);
}

/* The whole subnet up to the head's activation, then (unless recalibrating) pool and classifier. */
static void forward(CnnNet *net, const CnnArch *arch, const real *images, int batch,
                    const BnPass *bn, const CnnBnStats *stats, real *logits) {
    check_call(net, arch, batch);
    if (bn->pass != PASS_TRAINING && !stats)
        fatal_at(__FILE__, __LINE__, "cnn_net: evaluation or recalibration without statistics");
    if (!stats) stats = &NO_STATISTICS;
    const Backend *be = net->table.be;
    CnnActivations *a = net->act;
    a->images = images;
    const ConvShape stem = stem_conv(net, arch, batch);
    const real *x = unit_forward(net, bn, &a->stem, &net->p.stem, stats->stem, &stem, images);
    int side = cnn_conv_side(arch->resolution, net->stem_stride);
    for (int s = 0; s < arch->n_stages; s++)
        for (int l = 0; l < arch->stages[s].depth; l++) {
            const LayerShape shape = layer_shape(net, arch, s, l, side);
            x = layer_forward(net, bn, stats, &shape, s, l, batch, x);
            side = shape.side_out;
        }
    a->head_in = x;
    const ConvShape head = head_conv(net, arch, batch);
    const real *features = unit_forward(net, bn, &a->head, &net->p.head, stats->head, &head, x);
    if (bn->pass == PASS_RECALIBRATION) return;
    be->ops->global_avg_pool_forward(be, a->pooled, features, batch, arch->head_channels,
                                     side * side);
    be->ops->linear_forward(be, logits, a->pooled, net->p.classifier_weight, net->p.classifier_bias,
                            batch, arch->head_channels, net->classes, net->head_channels);
}

void cnn_net_forward(CnnNet *net, const CnnArch *arch, const real *images, int batch, CnnMode mode,
                     const CnnBnStats *stats, real *logits) {
    const BnPass bn = {mode == CNN_TRAINING ? PASS_TRAINING : PASS_EVALUATION, 0};
    forward(net, arch, images, batch, &bn, mode == CNN_TRAINING ? NULL : stats, logits);
    net->backward_ready = mode == CNN_TRAINING;
    net->act->arch = *arch;
    net->act->batch = batch;
}

void cnn_net_recalibrate_batch(CnnNet *net, const CnnArch *arch, const real *images, int batch,
                               int batches_seen, CnnBnStats *stats) {
    const BnPass bn = {PASS_RECALIBRATION, batches_seen};
    forward(net, arch, images, batch, &bn, stats, NULL);
    net->backward_ready = false;
}

/* ---- backward ---- */

/* The backward of unit_forward: dy is the gradient of its output (read only); dx (overwritten;
 * NULL: not wanted) the input's; t1 and t2 scratch of the output's size, t1 may be dx. */
static void unit_backward(const CnnNet *net, const UnitActivations *u, const CnnConvBn *w,
                          const CnnConvBn *g, const ConvShape *c, const real *x, const real *dy,
                          real *dx, real *t1, real *t2) {
    const Backend *be = net->table.be;
    const BatchNormShape s = bn_shape(c);
    const real *d_normed = dy;
    if (u->act) {
        act_backward(net, t1, dy, u->normed, (size_t)s.batch * s.channels * s.height * s.width);
        d_normed = t1;
    }
    const int group = bn_group(net, s.batch);
    const size_t map = (size_t)group * s.channels * s.height * s.width;
    BatchNormShape gs = s;
    gs.batch = group;
    for (int k = 0; k < s.batch / group; k++)
        be->ops->batchnorm_backward(be, t2 + k * map, g->bn_weight, g->bn_bias, d_normed + k * map,
                                    u->raw + k * map, u->mean + (size_t)k * s.channels,
                                    u->rstd + (size_t)k * s.channels, w->bn_weight, &gs);
    be->ops->conv2d_backward(be, dx, g->weight, t2, x, w->weight, c);
}

/* One MBConv layer's backward: *dout holds the gradient of its output and, on return, that of
 * its input; `spare` are three scratch maps (the four pointers may be permuted). */
static void layer_backward(CnnNet *net, const LayerShape *x, int s, int l, int batch, real **dout,
                           real **spare) {
    const Backend *be = net->table.be;
    const BackendOps *ops = be->ops;
    const CnnLayerDims *d = &net->dims[s][l];
    const CnnLayerTensors *w = &net->p.layers[s][l], *g = &net->g.layers[s][l];
    const LayerActivations *a = &net->act->layers[s][l];
    CnnActivations *act = net->act;
    const int spatial = x->side_out * x->side_out;
    real *m1 = spare[0], *m2 = spare[1], *m3 = spare[2];

    const ConvShape pc = project_conv(net, s, l, x, batch);
    unit_backward(net, &a->project, &w->project, &g->project, &pc, a->project_in, *dout, m1, m2,
                  m3);
    if (d->has_se) { /* the gated map's two paths into the depthwise output: direct and gate */
        ops->channel_scale_backward(be, m2, act->d_gate, m1, a->depthwise.act, a->gate, batch,
                                    x->mid, spatial);
        ops->linear_backward(be, act->d_se_act, g->se_expand_weight, g->se_expand_bias, act->d_gate,
                             a->se_act, w->se_expand_weight, batch, x->se, x->mid, d->se);
        act_backward(net, act->d_se_hidden, act->d_se_act, a->se_hidden, (size_t)batch * x->se);
        ops->linear_backward(be, act->d_pooled, g->se_reduce_weight, g->se_reduce_bias,
                             act->d_se_hidden, a->pooled, w->se_reduce_weight, batch, x->mid, x->se,
                             d->mid);
        ops->global_avg_pool_backward(be, m1, act->d_pooled, batch, x->mid, spatial);
        ops->residual_forward(be, m1, m1, m2, NULL, batch, 1, x->mid * spatial); /* the sum */
    }
    const ConvShape dw = depthwise_conv(net, s, l, x, batch);
    unit_backward(net, &a->depthwise, &w->depthwise, &g->depthwise, &dw, a->dw_in, m1, m2, m2, m3);
    real *din = m2;
    if (x->expand) {
        const ConvShape ec = expand_conv(net, s, l, x, batch);
        unit_backward(net, &a->expand, &w->expand, &g->expand, &ec, a->in, m2, m1, m1, m3);
        din = m1;
    }
    if (d->residual) { /* the shortcut's gradient joins the branch's */
        ops->residual_forward(be, *dout, *dout, din, NULL, batch, 1,
                              x->in * x->side_in * x->side_in);
        return;
    }
    real **slot = din == m1 ? &spare[0] : &spare[1];
    *slot = *dout;
    *dout = din;
}

/* Where a layer's gradients start in table.grads (its first tensor). */
static const real *layer_grads(const CnnNet *net, int s, int l) {
    const CnnLayerTensors *g = &net->g.layers[s][l];
    return net->dims[s][l].expand ? g->expand.weight : g->depthwise.weight;
}

void cnn_net_backward(CnnNet *net, const CnnArch *arch, const real *dlogits, int batch) {
    check_call(net, arch, batch);
    CnnActivations *a = net->act;
    if (!net->backward_ready || batch != a->batch || !cnn_arch_equal(arch, &a->arch))
        fatal_at(__FILE__, __LINE__,
                 "cnn_net_backward: the last forward was not a training forward of this subnet "
                 "and batch");
    const Backend *be = net->table.be;
    const BackendOps *ops = be->ops;
    const int last = arch->n_stages - 1, side = final_side(net, arch);
    real *dout = a->map[0], *spare[3] = {a->map[1], a->map[2], a->map[3]};

    ops->linear_backward(be, a->d_pooled, net->g.classifier_weight, net->g.classifier_bias, dlogits,
                         a->pooled, net->p.classifier_weight, batch, arch->head_channels,
                         net->classes, net->head_channels);
    ops->global_avg_pool_backward(be, spare[0], a->d_pooled, batch, arch->head_channels,
                                  side * side);
    const ConvShape head = head_conv(net, arch, batch);
    unit_backward(net, &a->head, &net->p.head, &net->g.head, &head, a->head_in, spare[0], dout,
                  spare[1], spare[2]);
    /* the layers the subnet does not reach keep the gradients they had: final already */
    param_table_grads_ready(&net->table, arch->stages[last].depth < net->depth[last]
                                             ? layer_grads(net, last, arch->stages[last].depth)
                                             : net->g.head.weight);

    /* the sides each stage's layers see, from the front */
    int sides[CNN_MAX_STAGES + 1];
    sides[0] = cnn_conv_side(arch->resolution, net->stem_stride);
    for (int s = 0; s < arch->n_stages; s++)
        sides[s + 1] = cnn_conv_side(sides[s], net->dims[s][0].stride);
    for (int s = last; s >= 0; s--)
        for (int l = arch->stages[s].depth - 1; l >= 0; l--) {
            const LayerShape shape = layer_shape(net, arch, s, l, l == 0 ? sides[s] : sides[s + 1]);
            layer_backward(net, &shape, s, l, batch, &dout, spare);
            param_table_grads_ready(&net->table, layer_grads(net, s, l));
        }
    const ConvShape stem = stem_conv(net, arch, batch);
    unit_backward(net, &a->stem, &net->p.stem, &net->g.stem, &stem, a->images, dout, NULL, spare[0],
                  spare[1]);
    param_table_grads_ready(&net->table, net->table.grads);
}
