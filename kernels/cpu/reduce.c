#include "kernels.h"

#include <math.h>

double sum_abs_product(const real *a, const real *b, int rows, int cols, int ld) {
    double total = 0;
#pragma omp parallel for reduction(+ : total) schedule(static)
    for (int r = 0; r < rows; r++) {
        double row = 0;
        for (int c = 0; c < cols; c++)
            row += fabs((double)a[(size_t)r * ld + c] * b[(size_t)r * ld + c]);
        total += row;
    }
    return total;
}

double sum_abs(const real *a, int rows, int cols, int ld) {
    double total = 0;
#pragma omp parallel for reduction(+ : total) schedule(static)
    for (int r = 0; r < rows; r++) {
        double row = 0;
        for (int c = 0; c < cols; c++) row += fabs((double)a[(size_t)r * ld + c]);
        total += row;
    }
    return total;
}
