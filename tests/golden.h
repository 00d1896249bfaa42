#ifndef PRENAS_TESTS_GOLDEN_H
#define PRENAS_TESTS_GOLDEN_H

/* The golden data of method.md §15: the 13 candidates of the reference's
 * interval_cands/{tiny,small,base}.json (file order) with their exact parameter counts and the
 * FLOPs of §4.3 / MACs of §4.4 in G to four decimals, and the AutoFormer reference
 * architectures. */

#include <stdint.h>

typedef struct {
    const char *space; /* configs/spaces/<space>.cfg */
    const char *key;   /* the JSON interval key */
    const char *arch;
    int64_t params;
    double flops_ref_g, macs_g;
} GoldenCandidate;

static const GoldenCandidate GOLDEN_CANDIDATES[] = {
    {"vit-tiny", "6.0", "192:12:4,4,4,4,3,3,3,3,3,4,3,4:4,4,4,4,4,3.5,3.5,4,4,3.5,4,4", 5994760,
     1.3797, 1.5284},
    {"vit-tiny", "7.0",
     "216:12:4,4,4,4,4,3,3,3,4,4,3,4:4,3.5,4,3.5,3.5,3.5,3.5,3.5,3.5,3.5,3.5,3.5", 6997192, 1.5868,
     1.7396},
    {"vit-tiny", "8.0", "240:12:3,3,3,3,3,3,3,3,3,3,3,3:4,3.5,4,4,3.5,3.5,3.5,4,4,3.5,4,3.5",
     7996552, 1.7432, 1.8510},
    {"vit-tiny", "9.0", "240:12:4,4,4,4,4,4,4,4,4,4,4,4:4,4,4,4,4,3.5,4,4,4,3.5,4,4", 8967016,
     1.9951, 2.1609},
    {"vit-tiny", "10.0", "240:14:4,4,4,4,4,3,3,3,4,4,3,4,3,4:4,4,4,4,4,3.5,3.5,4,4,3.5,4,3.5,4,4",
     9978232, 2.2088, 2.3858},
    {"vit-tiny", "11.0", "240:14:4,4,4,4,4,4,4,4,4,4,4,4,4,4:4,4,4,4,4,4,4,4,4,4,4,4,4,4", 10517272,
     2.3404, 2.5414},
    {"vit-small", "18.0", "320:13:7,7,7,7,7,7,7,7,6,7,5,6,5:4,4,3.5,4,3.5,4,4,3.5,4,4,3.5,4,4",
     17991400, 3.9607, 4.2820},
    {"vit-small", "23.0", "384:13:7,7,7,7,5,7,7,5,6,5,5,6,5:4,4,3.5,4,3.5,4,3.5,3.5,4,4,3,4,3.5",
     22989928, 4.9166, 5.1907},
    {"vit-small", "28.0", "448:13:7,7,7,7,5,7,7,5,6,5,5,6,5:4,4,3,4,3,3.5,3,3,4,3,3,4,3", 27976008,
     5.9003, 6.1566},
    {"vit-small", "33.0",
     "448:14:7,7,7,7,7,7,7,7,5,7,5,6,5,7:4,4,3.5,4,3.5,4,4,3.5,4,4,3.5,4,4,3.5", 32981640, 6.9497,
     7.2586},
    {"vit-base", "42.0", "528:14:9,9,9,9,9,9,9,9,9,9,9,9,9,9:3,3,3,3,3,3,3,3,3,3,3,3,3.5,3",
     41966944, 8.8993, 9.3552},
    {"vit-base", "54.0",
     "576:14:9,9,10,9,9,10,9,9,9,9,9,9,10,9:3.5,4,3.5,3.5,3.5,4,3.5,3.5,3.5,3.5,4,3,3.5,4",
     53876104, 11.2684, 11.7176},
    {"vit-base", "66.0", "624:14:9,10,10,9,9,10,10,9,10,9,9,9,10,10:4,4,3.5,4,4,4,4,4,4,4,4,4,4,4",
     65916448, 13.6687, 14.1159},
};
enum { GOLDEN_CANDIDATE_COUNT = sizeof GOLDEN_CANDIDATES / sizeof GOLDEN_CANDIDATES[0] };

/* AutoFormer-T/S/B as released (method.md §15): outside the PreNAS spaces in places (ratio 3.0
 * in T), so they are costed without a space check. */
static const GoldenCandidate AUTOFORMER_ARCHS[] = {
    {"vit-tiny", "AutoFormer-T",
     "192:13:3,3,3,3,3,3,3,3,3,3,4,3,3:3.5,3.5,3,3.5,3,3,4,4,3.5,4,3.5,4,3.5", 5867944, 1.344, 0},
    {"vit-small", "AutoFormer-S",
     "384:13:6,6,5,7,5,5,5,6,6,7,7,6,7:3,3.5,3,3.5,4,4,4,4,4,4,4,3.5,4", 22891432, 4.892, 0},
    {"vit-base", "AutoFormer-B",
     "576:14:9,9,9,9,9,10,9,9,10,9,10,9,9,10:3.5,3.5,4,3.5,4,3.5,3.5,3,4,4,3,4,3,3.5", 53691688,
     11.237, 0},
};
enum { AUTOFORMER_ARCH_COUNT = sizeof AUTOFORMER_ARCHS / sizeof AUTOFORMER_ARCHS[0] };

#endif
