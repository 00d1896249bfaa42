#include "interval.h"

Intervals intervals_make(int64_t min, int64_t max, int64_t width) {
    Intervals in = {min, width, 0};
    /* The reference keeps interval k while lo + (k+1)*width < max + 1e-6 (in millions), i.e.
     * while its upper end is at most max. */
    while (width > 0 && min + (in.count + 1) * width <= max) in.count++;
    return in;
}

int interval_of(const Intervals *intervals, int64_t value) {
    if (value < intervals->lo) return -1;
    int64_t k = (value - intervals->lo) / intervals->width;
    return k < intervals->count ? (int)k : -1;
}

int64_t interval_lo(const Intervals *intervals, int k) {
    return intervals->lo + k * intervals->width;
}

int64_t interval_hi(const Intervals *intervals, int k) {
    return intervals->lo + (k + 1) * intervals->width;
}
