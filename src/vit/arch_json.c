/* The reference's JSON form of an architecture (arch.h), through cJSON. Kept apart from
 * arch.c so that arch.c builds without cJSON (the tier-1 device check, tests/device/). */
#include "arch.h"

#include "text.h"

#include <string.h>

cJSON *arch_to_json(const Arch *arch) {
    cJSON *object = cJSON_CreateObject();
    cJSON *ratios = cJSON_CreateArray(), *heads = cJSON_CreateArray(), *dims = cJSON_CreateArray();
    if (!object || !ratios || !heads || !dims) fatal_at(__FILE__, __LINE__, "out of memory (JSON)");
    for (int l = 0; l < arch->depth; l++) {
        cJSON_AddItemToArray(ratios, cJSON_CreateNumber(arch->mlp_ratio[l] / 1000.0));
        cJSON_AddItemToArray(heads, cJSON_CreateNumber(arch->num_heads[l]));
        cJSON_AddItemToArray(dims, cJSON_CreateNumber(arch->embed_dim));
    }
    cJSON_AddNumberToObject(object, "layer_num", arch->depth);
    cJSON_AddItemToObject(object, "mlp_ratio", ratios);
    cJSON_AddItemToObject(object, "num_heads", heads);
    cJSON_AddItemToObject(object, "embed_dim", dims);
    return object;
}

static bool json_int(const cJSON *item, int *out) {
    if (!cJSON_IsNumber(item)) return false;
    double v = item->valuedouble;
    if (v < 1 || v > 1 << 20 || v != (double)(int)v) return false;
    *out = (int)v;
    return true;
}

bool arch_from_json(const cJSON *object, Arch *arch, Error *err) {
    if (!cJSON_IsObject(object)) return input_error(err, "an architecture must be a JSON object");
    const cJSON *layers = cJSON_GetObjectItemCaseSensitive(object, "layer_num");
    const cJSON *ratios = cJSON_GetObjectItemCaseSensitive(object, "mlp_ratio");
    const cJSON *heads = cJSON_GetObjectItemCaseSensitive(object, "num_heads");
    const cJSON *dims = cJSON_GetObjectItemCaseSensitive(object, "embed_dim");
    memset(arch, 0, sizeof *arch);
    if (!json_int(layers, &arch->depth) || arch->depth > SPACE_MAX_DEPTH)
        return input_error(err, "\"layer_num\" missing or not an integer in [1, %d]",
                           SPACE_MAX_DEPTH);
    if (!cJSON_IsArray(ratios) || cJSON_GetArraySize(ratios) != arch->depth ||
        !cJSON_IsArray(heads) || cJSON_GetArraySize(heads) != arch->depth)
        return input_error(err,
                           "\"mlp_ratio\" and \"num_heads\" must be lists of layer_num = %d "
                           "values",
                           arch->depth);
    /* The reference repeats the width per layer; a single number is accepted too. */
    const cJSON *first_dim = cJSON_IsArray(dims) ? cJSON_GetArrayItem(dims, 0) : dims;
    if (!json_int(first_dim, &arch->embed_dim))
        return input_error(err, "\"embed_dim\" missing or not a positive integer");
    if (cJSON_IsArray(dims)) {
        const cJSON *d;
        cJSON_ArrayForEach(d, dims) {
            int value;
            if (!json_int(d, &value) || value != arch->embed_dim)
                return input_error(err, "\"embed_dim\" differs between layers; prenas subnets "
                                        "have one width");
        }
    }
    for (int l = 0; l < arch->depth; l++) {
        const cJSON *ratio = cJSON_GetArrayItem(ratios, l);
        if (!json_int(cJSON_GetArrayItem(heads, l), &arch->num_heads[l]))
            return input_error(err, "\"num_heads\"[%d] is not a positive integer", l);
        if (!cJSON_IsNumber(ratio) || !milli_from_double(ratio->valuedouble, &arch->mlp_ratio[l]) ||
            arch->mlp_ratio[l] <= 0)
            return input_error(err, "\"mlp_ratio\"[%d] is not a positive ratio", l);
    }
    return true;
}
