#include "sorted.h"

#include <string.h>

bool sorted_insert(int *values, int *count, int capacity, int value) {
    int i = 0;
    while (i < *count && values[i] < value) i++;
    if (i < *count && values[i] == value) return true;
    if (*count == capacity) return false;
    memmove(&values[i + 1], &values[i], (size_t)(*count - i) * sizeof *values);
    values[i] = value;
    (*count)++;
    return true;
}
