#ifndef PRENAS_INTERVAL_H
#define PRENAS_INTERVAL_H

/* Resource intervals (method.md §8.1): [lo + k*width, lo + (k+1)*width) for k = 0..count-1,
 * as many as end at or below `max`. Values are whole parameters, so binning is exact. */

#include <stdint.h>

typedef struct {
    int64_t lo, width;
    int count;
} Intervals;

Intervals intervals_make(int64_t min, int64_t max, int64_t width);
/* The interval holding `value`, or -1 when it falls in none. */
int interval_of(const Intervals *intervals, int64_t value);
int64_t interval_lo(const Intervals *intervals, int k);
int64_t interval_hi(const Intervals *intervals, int k);

#endif
