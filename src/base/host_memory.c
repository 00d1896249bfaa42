#include "host_memory.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* The first number after `key` in the file at `path`; false if absent ("max" included). */
static bool read_number(const char *path, const char *key, uint64_t *value) {
    FILE *f = fopen(path, "r");
    if (!f) return false;
    char line[512];
    bool found = false;
    while (!found && fgets(line, sizeof line, f))
        if (strncmp(line, key, strlen(key)) == 0)
            found = sscanf(line + strlen(key), " %" SCNu64, value) == 1;
    fclose(f);
    return found;
}

/* What is left under the limit of the cgroup in `line` of /proc/self/cgroup, if it has one. */
static bool cgroup_left(const char *line, uint64_t *left) {
    static const struct {
        const char *prefix, *root, *limit, *usage;
    } kinds[] = {
        {"0::", "/sys/fs/cgroup", "memory.max", "memory.current"},
        {":memory:", "/sys/fs/cgroup/memory", "memory.limit_in_bytes", "memory.usage_in_bytes"}};
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        const char *at = strstr(line, kinds[k].prefix);
        if (!at || (k == 0 && at != line)) continue;
        const char *group = at + strlen(kinds[k].prefix);
        char path[1200];
        uint64_t limit, used;
        snprintf(path, sizeof path, "%s%s/%s", kinds[k].root, group, kinds[k].limit);
        if (!read_number(path, "", &limit)) continue;
        snprintf(path, sizeof path, "%s%s/%s", kinds[k].root, group, kinds[k].usage);
        if (!read_number(path, "", &used)) continue;
        *left = limit > used ? limit - used : 0;
        return true;
    }
    return false;
}

uint64_t host_memory_available(void) {
    uint64_t available = 0, kib, left;
    if (read_number("/proc/meminfo", "MemAvailable:", &kib)) available = kib * 1024;
    FILE *f = fopen("/proc/self/cgroup", "r");
    if (!f) return available;
    char line[1024];
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        if (cgroup_left(line, &left) && (available == 0 || left < available)) available = left;
    }
    fclose(f);
    return available;
}
