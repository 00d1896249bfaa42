/* prenas-bench-allreduce: the gradient allreduce's speed over message sizes, in the manner of
 * nccl-tests' all_reduce_perf: per size the time of one in-place float sum, the algorithm
 * bandwidth (bytes / time) and the bus bandwidth (algbw · 2(n−1)/n, what each rank's link
 * carries in a ring, comparable across rank counts), and a check of the result. MPI_Allreduce
 * on host memory (the CPU backend's path), NCCL on GPU memory (the CUDA backend's), or the
 * host-staged MPI fallback when NCCL is not usable. The same calls the trainer's gradient
 * sync makes (mpi/grad_sync.c), one message per size. */
#include "backend.h"
#include "cli.h"
#include "clock.h"
#include "comm.h"
#include "device.h"
#include "error.h"
#include "nccl_boot.h"

#include <getopt.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char USAGE[] =
    "usage: mpirun -np R prenas-bench-allreduce [--backend mpi|nccl|auto] [--min-bytes B]\n"
    "                                           [--max-bytes B] [--iters N] [--warmup N]\n"
    "\n"
    "Times the in-place sum of a float array over all ranks for sizes doubling from\n"
    "--min-bytes to --max-bytes, and checks each result.\n"
    "\n"
    "  --backend B      mpi: MPI_Allreduce on host memory (the CPU backend's gradient sum);\n"
    "                   nccl: ncclAllReduce on GPU memory (an error where NCCL is not usable);\n"
    "                   auto (default): nccl when a GPU is usable, with host-staged\n"
    "                   MPI_Allreduce where NCCL is not (two ranks on one GPU), else mpi\n"
    "  --min-bytes B    the smallest message (default 1K = 1024 bytes; K, M, G are powers\n"
    "                   of 1000 as everywhere in prenas, so give bytes for powers of two)\n"
    "  --max-bytes B    the largest (default 320641440: the Base supernet's gradient, 80 160 360\n"
    "                   floats, configs/spaces/vit-base.cfg); sizes double from the smallest\n"
    "                   and end with this one\n"
    "  --iters N        timed iterations per size (default 20), after\n"
    "  --warmup N       untimed ones (default 5)\n"
    "  --help, --version\n"
    "Each row: size, entries, time (median over iterations of the slowest rank, microseconds),\n"
    "algbw = size / time and busbw = algbw * 2(R-1)/R in GB/s (10^9 bytes), and ok or WRONG:\n"
    "rank r fills its array with r + 1 before every iteration, so the sum is R(R+1)/2\n"
    "everywhere. Exit 1 when any result is wrong.\n";

/* The Base supernet's gradient arena (configs/spaces/vit-base.cfg: 80 160 360 parameters). */
static const int64_t BASE_GRADIENT_BYTES = 80160360LL * 4;

typedef enum { PATH_MPI, PATH_NCCL, PATH_STAGED } Path;

typedef struct {
    Comm comm;
    const Backend *be;
    Path path;
    NcclComm *nccl;
} Bench;

/* One in-place sum of `count` floats at `data` (backend memory), finished when it returns. */
static void sum_once(const Bench *b, float *data, size_t count) {
#ifdef PRENAS_HAVE_CUDA
    if (b->path == PATH_NCCL) {
        nccl_comm_wait_for_compute(b->nccl);
        nccl_comm_sum(b->nccl, data, count, sizeof *data);
        nccl_comm_join_compute(b->nccl);
        b->be->ops->sync(b->be);
        return;
    }
#endif
    /* host memory itself on the CPU; a downloaded copy, summed and uploaded, on a GPU: as
     * the gradient sync's MPI paths */
    const size_t bytes = count * sizeof *data;
    real *host = backend_host_begin(b->be, data, bytes);
    comm_sum_reals(&b->comm, host, count);
    backend_host_end(b->be, host, data, bytes, true);
}

/* Entries of data[0, count) that are not `expected`, over all ranks. */
static long long count_wrong(const Bench *b, const float *data, size_t count, float expected) {
    const size_t bytes = count * sizeof *data;
    float *host = backend_host_begin(b->be, data, bytes);
    long long wrong = 0;
    for (size_t i = 0; i < count; i++) wrong += host[i] != expected;
    backend_host_end(b->be, host, (void *)data, bytes, false);
    CHECK_MPI(MPI_Allreduce(MPI_IN_PLACE, &wrong, 1, MPI_LONG_LONG, MPI_SUM, MPI_COMM_WORLD));
    return wrong;
}

static int compare_doubles(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The row of one size; false when its result is wrong. */
static bool bench_size(const Bench *b, float *data, size_t count, int iters, int warmup,
                       double *busbw) {
    const BackendOps *ops = b->be->ops;
    const int R = b->comm.size;
    double *times = xmalloc(sizeof *times * (size_t)iters);
    for (int it = 0; it < warmup + iters; it++) {
        ops->fill(b->be, (real *)data, count, b->comm.rank + 1);
        ops->sync(b->be);
        /* every rank starts together: the time is the collective's, not the wait for the
         * slowest rank's fill */
        CHECK_MPI(MPI_Barrier(MPI_COMM_WORLD));
        const double start = monotonic_seconds();
        sum_once(b, data, count);
        if (it >= warmup) times[it - warmup] = monotonic_seconds() - start;
    }
    qsort(times, (size_t)iters, sizeof *times, compare_doubles);
    double median = iters % 2 ? times[iters / 2] : 0.5 * (times[iters / 2 - 1] + times[iters / 2]);
    free(times);
    CHECK_MPI(MPI_Allreduce(MPI_IN_PLACE, &median, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD));
    const long long wrong = count_wrong(b, data, count, (float)(R * (R + 1) / 2));
    const double bytes = (double)count * sizeof *data;
    const double algbw = bytes / median / 1e9;
    *busbw = algbw * 2.0 * (R - 1) / R;
    if (b->comm.rank == 0) {
        printf("%14.0f %12zu  float    sum %11.1f %8.2f %8.2f  %s", bytes, count, median * 1e6,
               algbw, *busbw, wrong ? "WRONG" : "ok");
        if (wrong) printf(" (%lld entries)", wrong);
        printf("\n");
        fflush(stdout);
    }
    return wrong == 0;
}

static const char *path_name(Path path) {
    return path == PATH_NCCL  ? "ncclAllReduce on GPU memory"
           : path == PATH_MPI ? "MPI_Allreduce on host memory"
                              : "MPI_Allreduce on GPU memory staged through the host";
}

int main(int argc, char **argv) {
    static const struct option options[] = {{"backend", required_argument, NULL, 'b'},
                                            {"min-bytes", required_argument, NULL, 'm'},
                                            {"max-bytes", required_argument, NULL, 'M'},
                                            {"iters", required_argument, NULL, 'i'},
                                            {"warmup", required_argument, NULL, 'w'},
                                            {"help", no_argument, NULL, 'h'},
                                            {"version", no_argument, NULL, CLI_OPT_VERSION},
                                            {NULL, 0, NULL, 0}};
    const char *backend_name = "auto";
    int64_t min_bytes = 1024, max_bytes = BASE_GRADIENT_BYTES;
    int iters = 20, warmup = 5;
    opterr = 0;
    for (int c; (c = getopt_long(argc, argv, "", options, NULL)) != -1;) {
        switch (c) {
        case 'b':
            backend_name = optarg;
            break;
        case 'm':
            min_bytes = cli_size("--min-bytes", optarg, 1);
            break;
        case 'M':
            max_bytes = cli_size("--max-bytes", optarg, 1);
            break;
        case 'i':
            iters = (int)cli_long("--iters", optarg, 1, 100000);
            break;
        case 'w':
            warmup = (int)cli_long("--warmup", optarg, 0, 100000);
            break;
        default:
            cli_common_option(c, USAGE, argv);
        }
    }
    if (optind < argc) cli_usage_error("unexpected argument '%s'", argv[optind]);
    if (strcmp(backend_name, "mpi") != 0 && strcmp(backend_name, "nccl") != 0 &&
        strcmp(backend_name, "auto") != 0)
        cli_usage_error("--backend '%s': expected mpi, nccl or auto", backend_name);
    if (min_bytes < (int64_t)sizeof(float) || max_bytes < min_bytes)
        cli_usage_error("--min-bytes %lld, --max-bytes %lld: expected 4 <= min <= max",
                        (long long)min_bytes, (long long)max_bytes);
    if (sizeof(real) != sizeof(float))
        fatal_at(__FILE__, __LINE__, "built with real = double: the bench sums floats");

    Bench b = {.comm = comm_start(&argc, &argv), .path = PATH_MPI};
    Backend opened = {0};
    const bool gpu = strcmp(backend_name, "mpi") != 0;
    if (gpu) {
        /* nccl insists on a GPU (exit 2 with the reason), auto takes one if usable */
        device_open(&opened, strcmp(backend_name, "nccl") == 0 ? "cuda" : "auto", NULL, &b.comm,
                    NULL);
        b.be = &opened;
    } else {
        b.be = backend_cpu();
    }
    char why[600] = "";
    if (b.be->kind == DEVICE_CUDA) {
        b.nccl = nccl_boot(&b.comm, b.be, why, sizeof why);
        b.path = b.nccl ? PATH_NCCL : PATH_STAGED;
        if (!b.nccl && strcmp(backend_name, "nccl") == 0)
            die_input("--backend nccl: NCCL is not usable (%s)", why);
    }

    const size_t max_count = (size_t)max_bytes / sizeof(float);
    float *data = b.be->ops->alloc(b.be, max_count * sizeof(float));
    if (b.comm.rank == 0) {
        printf("# prenas-bench-allreduce: %d rank(s), %s, device %s\n", b.comm.size,
               path_name(b.path), b.be->name);
        if (b.path == PATH_STAGED) printf("# NCCL not used: %s\n", why);
        printf("# in-place float sum; median of %d iterations after %d warm-up, slowest rank\n",
               iters, warmup);
        printf("#\n# %12s %12s %6s %6s %11s %8s %8s  %s\n", "size", "count", "type", "redop",
               "time", "algbw", "busbw", "check");
        printf("# %12s %12s %6s %6s %11s %8s %8s\n", "(B)", "(elements)", "", "", "(us)", "(GB/s)",
               "(GB/s)");
        fflush(stdout);
    }
    bool all_right = true;
    double busbw_sum = 0;
    int sizes = 0;
    for (size_t count = (size_t)min_bytes / sizeof(float);; count *= 2) {
        if (count > max_count) count = max_count;
        double busbw;
        all_right &= bench_size(&b, data, count, iters, warmup, &busbw);
        busbw_sum += busbw, sizes++;
        if (count == max_count) break;
    }
    if (b.comm.rank == 0)
        printf("# wrong results: %s\n# average bus bandwidth: %.3f GB/s over %d sizes\n",
               all_right ? "none" : "SOME", busbw_sum / sizes, sizes);
    b.be->ops->free(b.be, data);
#ifdef PRENAS_HAVE_CUDA
    nccl_comm_close(b.nccl, false);
#endif
    if (gpu) backend_close(&opened);
    comm_finish();
    return all_right ? 0 : 1;
}
