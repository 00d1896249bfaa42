#ifndef PRENAS_ALLOCATE_H
#define PRENAS_ALLOCATE_H

/* The greedy isomer allocation (method.md §7; paper App. B, reference `reallocate`): given
 * how many layers take each choice of one dimension (heads or MLP ratio), decide which.
 * From the largest choice down, the counts[k] still unassigned layers with the largest
 * increment of choice k take it (equal increments: the larger layer index first); the rest
 * take the smallest choice. For two choices this maximises the sum of increments over the
 * group exactly; for three it is greedy. */

void allocate_choices(int depth, int n_choices, const int *counts, const double *increments,
                      int *choice);
/* increments: [depth][n_choices], column 0 unused; choice: [depth], indices into the choices */

#endif
