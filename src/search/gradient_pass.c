#include "gradient_pass.h"

#include "rng.h"

#include <mpi.h>
#include <stdlib.h>
#include <string.h>

bool gradient_pass_open_data(GradientPass *pass, const char *path, Error *err) {
    const Space *space = pass->space;
    if (!dataset_open(&pass->dataset, path, err)) return false;
    pass->data_mode = true;
    if (!split_images_open(&pass->dataset, "train", false, &pass->train, err)) return false;
    if (!dataset_fits_space(&pass->dataset, space, err)) return false;
    const SplitInfo *train = dataset_split(&pass->dataset, "train");
    const int64_t needed = (int64_t)pass->options.batch * pass->options.batches;
    if (train->count < needed)
        return input_error(err, "%lld training images needed, the dataset has %lld, %s",
                           (long long)needed, (long long)train->count, path);
    /* a seeded sample of the training split, the same on every rank */
    pass->picked = xmalloc(sizeof *pass->picked * (size_t)train->count);
    for (int64_t i = 0; i < train->count; i++) pass->picked[i] = i;
    Rng rng = rng_stream(pass->options.seed, RNG_STREAM_SCORE_SAMPLE);
    rng_shuffle_i64(&rng, pass->picked, train->count);
    return true;
}

void gradient_pass_close(GradientPass *pass) {
    if (pass->data_mode) {
        split_images_close(&pass->train);
        dataset_close(&pass->dataset);
    }
    free(pass->picked);
    pass->picked = NULL;
    pass->data_mode = false;
}

/* Images [first, first + n) of the pass as model input [n, C, H, W]; labels in data mode. */
static bool load_images(GradientPass *pass, int64_t first, int n, real *images, int *labels,
                        uint8_t *pixels, Error *err) {
    const Space *space = pass->space;
    const size_t plane = (size_t)space->image_size * space->image_size;
    if (!pass->data_mode) { /* the raw statistics, not N(0, 1): as the reference */
        for (int i = 0; i < n; i++) {
            Rng rng =
                rng_stream_at(pass->options.seed, RNG_STREAM_DATA_FREE, (uint64_t)(first + i));
            for (int c = 0; c < space->in_channels; c++)
                for (size_t p = 0; p < plane; p++)
                    images[((size_t)i * space->in_channels + c) * plane + p] =
                        (real)(space->data_free_mean[c] +
                               space->data_free_std[c] * rng_normal(&rng));
        }
        return true;
    }
    const int64_t *rows = pass->picked + first;
    if (!split_images_gather(&pass->train, rows, n, pixels, err)) return false;
    for (int i = 0; i < n; i++) labels[i] = pass->train.labels[rows[i]];
    const SplitInfo *train = dataset_split(&pass->dataset, "train");
    images_to_tensor(images, pixels, n, pass->dataset.shape, train->mean, train->std);
    return true;
}

GradientPassResult gradient_pass_run(GradientPass *pass, const Comm *comm, Model *model,
                                     const Arch *arch, Error *err) {
    const GradientPassOptions *o = &pass->options;
    const int64_t total = (int64_t)o->batch * o->batches;
    size_t first, count;
    comm_share(comm, (size_t)total, &first, &count);
    Vit *vit = model->vit;
    const ModelArch subnet = model_arch_of_vit(arch);
    const int m = o->micro_batch;
    const size_t image_size = (size_t)vit->channels * vit->image_size * vit->image_size;
    real *images = xmalloc(sizeof(real) * image_size * (size_t)m);
    int *labels = xmalloc(sizeof *labels * (size_t)m);
    uint8_t *pixels = pass->data_mode ? xmalloc(image_size * (size_t)m) : NULL;
    GradientPassResult result = {0, 0, total};
    const double start = MPI_Wtime();
    param_table_zero_grads(&vit->table);
    for (size_t done = 0; done < count; done += (size_t)m) {
        const int n = (int)(count - done < (size_t)m ? count - done : (size_t)m);
        const int64_t at = (int64_t)(first + done);
        if (!load_images(pass, at, n, images, labels, pixels, err)) break;
        const DropPath drop = {o->drop_path, o->seed, (uint64_t)at};
        /* data mode: the mean loss over all images = the mean over mini-batches; data-free:
         * L = the sum of all logits */
        const Loss loss =
            pass->data_mode ? (Loss){.kind = LOSS_CROSS_ENTROPY, .labels = labels, .smoothing = 0.1}
                            : (Loss){.kind = LOSS_LOGIT_SUM};
        const double scale = pass->data_mode ? 1.0 / (double)total : 1.0;
        result.objective += model_forward(model, &subnet, images, n, &loss, &drop) * scale;
        model_backward(model, &subnet, n, scale);
    }
    result.seconds = MPI_Wtime() - start;
    free(images), free(labels), free(pixels);
    return result;
}
