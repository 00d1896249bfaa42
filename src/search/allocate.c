#include "allocate.h"

#include "error.h"

#include <stdbool.h>
#include <string.h>

void allocate_choices(int depth, int n_choices, const int *counts, const double *increments,
                      int *choice) {
    bool assigned[64] = {false};
    if (depth > 64) fatal_at(__FILE__, __LINE__, "depth %d beyond the allocator's 64", depth);
    for (int l = 0; l < depth; l++) choice[l] = 0;
    for (int k = n_choices - 1; k >= 1; k--) {
        for (int taken = 0; taken < counts[k]; taken++) {
            int best = -1;
            for (int l = depth - 1; l >= 0; l--) /* from the top: ties go to the larger index */
                if (!assigned[l] &&
                    (best < 0 || increments[l * n_choices + k] > increments[best * n_choices + k]))
                    best = l;
            if (best < 0) fatal_at(__FILE__, __LINE__, "counts exceed the depth");
            assigned[best] = true;
            choice[best] = k;
        }
    }
}
