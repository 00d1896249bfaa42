#ifndef PRENAS_ARCH_H
#define PRENAS_ARCH_H

/* A subnet of the supernet (method.md §3.3): one embedding width, a depth, and per active
 * layer its head count and MLP ratio. Canonical text form, used on every command line and
 * in every log:   E:D:h0,h1,...,h(D-1):r0,r1,...,r(D-1)
 * e.g. 192:12:4,4,4,4,3,3,3,3,3,4,3,4:4,4,4,4,4,3.5,3.5,4,4,3.5,4,4 */

#include "error.h"
#include "rng.h"
#include "space.h"

/* arch_json.c holds the JSON form; the tier-1 device check (tests/device/) builds the rest of
 * the architecture code without cJSON, where this type is left incomplete. */
#ifdef PRENAS_NO_CJSON
typedef struct cJSON cJSON;
#else
#include <cjson/cJSON.h>
#endif
#include <stdbool.h>

enum { ARCH_TEXT_MAX = 16 + SPACE_MAX_DEPTH * 16 };

typedef struct Arch {
    int embed_dim;
    int depth;
    int num_heads[SPACE_MAX_DEPTH];
    int mlp_ratio[SPACE_MAX_DEPTH]; /* thousandths: 3500 is 3.5 */
} Arch;

/* Syntax only; arch_check tells whether the space allows it. */
bool arch_parse(const char *text, Arch *arch, Error *err);
void arch_format(const Arch *arch, char *buf, size_t size);
bool arch_check(const Arch *arch, const Space *space, Error *err);
/* An architecture an artefact stores: parsed and, when `space` is given, checked against it;
 * the error names the file `path`, as every error about a file's contents does. */
bool arch_read_stored(const char *text, const Space *space, const char *path, Arch *arch,
                      Error *err);
bool arch_equal(const Arch *a, const Arch *b);

/* The MLP width of a layer E wide at ratio r (thousandths), as the reference computes it:
 * Python's int(E * r) on doubles, r being the double nearest to the ratio's decimal (method.md
 * §4.1 writes floor(E r), the same for its ratios 3, 3.5, 4). It is one below the exact floor
 * where E * r rounds down in binary (240 x 4.1 = 983.999... gives 983), so every width
 * (subnets, the supernet, the resource model, the score tables, the space checks) comes from
 * here; docs/spaces.md. */
int mlp_hidden_width(int embed_dim, int mlp_ratio);

int arch_qkv_dim(const Arch *arch, const Space *space, int layer); /* head_dim * heads */
int arch_hidden_dim(const Arch *arch, int layer); /* mlp_hidden_width of the layer */

/* The space's extremes: every choice at its smallest / largest (the largest is the
 * architecture the zero-cost gradient pass activates, method.md §6.1). */
void arch_smallest(const Space *space, Arch *arch);
void arch_largest(const Space *space, Arch *arch);
/* One width's smallest or largest architecture: its extremes of depth and of every layer's
 * lists. In the `widths` form another width's may cost less (a shallower depth). */
void arch_width_extreme(const SpaceWidth *width, bool largest, Arch *arch);
/* Whether the space allows the architecture (arch_check without the message; cheap). */
bool arch_in_space(const Arch *arch, const Space *space);

/* A uniformly random architecture of the space, drawn in the reference's order: width, depth,
 * every layer's MLP ratio, every layer's heads (method.md §9.9, §12.1). */
void arch_sample(const Space *space, Rng *rng, Arch *arch);

/* The reference's JSON form: {"layer_num", "mlp_ratio": [..], "num_heads": [..],
 * "embed_dim": [E repeated D times]}. */
cJSON *arch_to_json(const Arch *arch);
bool arch_from_json(const cJSON *object, Arch *arch, Error *err);

#endif
