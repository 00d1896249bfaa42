#ifndef PRENAS_SORTED_H
#define PRENAS_SORTED_H

/* Small ascending sets of ints in plain arrays (choices, ratios). */

#include <stdbool.h>

/* Inserts `value` in order unless present; false when the array is full. */
bool sorted_insert(int *values, int *count, int capacity, int value);

#endif
