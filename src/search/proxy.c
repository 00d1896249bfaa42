#include "proxy.h"

#include <stdio.h>
#include <string.h>

static const Proxy *const ALL[] = {&PROXY_SNIP_LAYERNORM, &PROXY_SNIP, &PROXY_PARAMS, NULL};

const Proxy *const *proxy_all(void) {
    return ALL;
}

const Proxy *proxy_find(const char *name) {
    for (const Proxy *const *p = ALL; *p; p++)
        if (strcmp((*p)->name, name) == 0) return *p;
    return NULL;
}

void proxy_names(char *buf, size_t size) {
    size_t used = 0;
    buf[0] = '\0';
    for (const Proxy *const *p = ALL; *p && used < size; p++)
        used += (size_t)snprintf(buf + used, size - used, "%s%s", p == ALL ? "" : ", ", (*p)->name);
}
