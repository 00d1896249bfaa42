#include "grad_buckets.h"

#include "error.h"

#include <stdlib.h>

size_t grad_bucket_entries(size_t bucket_bytes, size_t entry_bytes) {
    size_t entries = entry_bytes ? bucket_bytes / entry_bytes : 0;
    entries = (entries + GRAD_BUCKET_ALIGN - 1) / GRAD_BUCKET_ALIGN * GRAD_BUCKET_ALIGN;
    return entries ? entries : GRAD_BUCKET_ALIGN;
}

GradBucketPlan grad_bucket_plan(size_t n_entries, size_t bucket_entries) {
    if (bucket_entries == 0) fatal_at(__FILE__, __LINE__, "buckets of no entries");
    GradBucketPlan plan = {n_entries, bucket_entries, 0, NULL};
    plan.n_buckets = (n_entries + bucket_entries - 1) / bucket_entries;
    plan.buckets = xcalloc(plan.n_buckets ? plan.n_buckets : 1, sizeof *plan.buckets);
    for (size_t i = 0; i < plan.n_buckets; i++) {
        /* launch order is the reverse of arena order */
        const size_t first = (plan.n_buckets - 1 - i) * bucket_entries;
        const size_t end = first + bucket_entries < n_entries ? first + bucket_entries : n_entries;
        plan.buckets[i] = (GradBucket){first, end - first};
    }
    return plan;
}

void grad_bucket_plan_free(GradBucketPlan *plan) {
    free(plan->buckets);
    *plan = (GradBucketPlan){0};
}

size_t grad_buckets_ready(const GradBucketPlan *plan, size_t first_final) {
    if (first_final >= plan->n_entries) return 0;
    /* bucket k of the arena (from its start) begins at k * bucket_entries; those beginning at
     * or after first_final are the ready ones, and they are the last in arena order */
    const size_t not_ready = (first_final + plan->bucket_entries - 1) / plan->bucket_entries;
    return plan->n_buckets - not_ready;
}
