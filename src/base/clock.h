#ifndef PRENAS_CLOCK_H
#define PRENAS_CLOCK_H

/* Seconds on the monotonic clock, for durations (progress, benchmarks); never the date. */
double monotonic_seconds(void);

#endif
