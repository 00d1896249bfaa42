#ifndef PRENAS_WEIGHTS_H
#define PRENAS_WEIGHTS_H

/* Supernet tensors in HDF5, one float32 dataset per tensor under a group, named and shaped
 * as the reference's state_dict (`/params/blocks.3.attn.qkv.weight` [768, 256]), so that
 * checkpoints map one to one to the authors' weights (tools/torch2h5.py converts theirs). */

#include "h5.h"
#include "param_table.h"
#include "space.h"

#include <stdbool.h>

#define SUPERNET_SCHEMA "prenas.supernet"
enum { SUPERNET_SCHEMA_VERSION = 1 };

/* Writes every tensor of `arena`: backend memory laid out like table->params (the parameters,
 * gradients, AdamW moments), copied to the host on the way. */
void weights_write(hid_t file, const char *group, const ParamTable *table, const real *arena);
/* Reads every tensor into `arena` (backend memory, like weights_write's); a missing tensor or a
 * shape that differs from this supernet's is an input error naming the tensor and the file. */
bool weights_read(const H5Source *src, const char *group, const ParamTable *table, real *arena);
/* A prenas.supernet file holding table->params, with the space's configuration in /meta. */
bool weights_save_supernet(const char *path, const ParamTable *table, const Space *space, int argc,
                           char **argv, Error *err);
/* The space a prenas.supernet file was made for (caller frees): /space of a training
 * checkpoint, else /meta/config (weights_save_supernet, tools/torch2h5.py). */
char *weights_supernet_space(const char *path, Error *err);
/* The parameters of a prenas.supernet file (e.g. from tools/torch2h5.py) into table->params. */
bool weights_load_supernet(const char *path, ParamTable *table, Error *err);

#endif
