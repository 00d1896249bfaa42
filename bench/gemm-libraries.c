/* Why prenas multiplies matrices with oneDNN: sgemm throughput of OpenBLAS (as Debian ships
 * it) and of oneDNN on the shapes the engine meets, on this machine, single process. Built
 * and run by bench/gemm-libraries.sh; OPENBLAS_CORETYPE in the environment is respected. */
#include <cblas.h>
#include <dnnl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int main(void) {
    /* M, N, K of y = x W^T: a big square, then micro (batch 128) and Tiny (batch 8) layers
     * and per-head attention products */
    static const int shapes[][3] = {{2048, 2048, 2048}, {6400, 240, 80},  {6400, 80, 320},
                                    {1576, 768, 256},   {1576, 192, 768}, {197, 197, 64},
                                    {50, 50, 16}};
    printf("OpenBLAS %s, kernel %s; oneDNN %d.%d.%d\n", openblas_get_config(),
           openblas_get_corename(), dnnl_version()->major, dnnl_version()->minor,
           dnnl_version()->patch);
    printf("%6s %6s %6s %16s %16s\n", "M", "N", "K", "OpenBLAS GFLOP/s", "oneDNN GFLOP/s");
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const int M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
        float *a = malloc(sizeof(float) * M * K), *b = malloc(sizeof(float) * N * K),
              *c = malloc(sizeof(float) * M * N);
        for (long i = 0; i < (long)M * K; i++) a[i] = (float)(i % 7) * 0.1f;
        for (long i = 0; i < (long)N * K; i++) b[i] = (float)(i % 5) * 0.1f;
        const double flop = 2.0 * M * N * K;
        const int reps = flop > 1e9 ? 3 : (int)(3e9 / flop) + 1;
        double best[2] = {1e30, 1e30};
        for (int round = 0; round < 4; round++) {
            for (int lib = 0; lib < 2; lib++) {
                double t0 = now();
                for (int r = 0; r < reps; r++) {
                    if (lib == 0)
                        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1, a, K, b, K,
                                    0, c, N);
                    else
                        dnnl_sgemm('N', 'T', M, N, K, 1, a, K, b, K, 0, c, N);
                }
                double dt = (now() - t0) / reps;
                if (round > 0 && dt < best[lib]) best[lib] = dt;
            }
        }
        printf("%6d %6d %6d %16.1f %16.1f\n", M, N, K, flop / best[0] / 1e9, flop / best[1] / 1e9);
        free(a), free(b), free(c);
    }
    return 0;
}
