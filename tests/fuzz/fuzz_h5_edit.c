/* The HDF5 harnesses' inputs (docs/fuzzing.md): an edit program, applied through the HDF5 API
 * to a valid artefact that the real stages made (tests/fuzz/seeds.sh), so that every file a
 * reader sees is well-formed HDF5 and whatever fails is prenas's side, not HDF5's parser.
 *
 * Program: byte 0 picks the seed (among the files of $PRENAS_FUZZ_H5_SEEDS, sorted by name);
 * then up to MAX_EDITS instructions of six bytes, OP TARGET A B C LEN, each followed by LEN
 * payload bytes (a byte past the end reads as 0). Before each instruction the file's links
 * (H5Lvisit) and attributes (H5Aiterate) are listed by name, so TARGET picks among what is
 * there now. An instruction HDF5 refuses (a name taken, a group moved into itself) does
 * nothing. OP % 8:
 *   0 delete the link TARGET (never the root)
 *   1 delete the attribute TARGET
 *   2 recreate the object TARGET as a dataset: type A (`type_of`), rank B % 5, dims from
 *     `dims_table`: B / 5 % 16 the first, C % 16 the second, C / 16 the third and fourth;
 *     filled from the payload when small
 *   3 recreate the attribute TARGET the same way
 *   4 overwrite dataset TARGET in place: the payload's bytes at byte A + 256 * B of its values,
 *     or without a payload element A + 256 * B set to `specials`[C % 16]; strings are replaced
 *     by the payload's
 *   5 the same for the attribute TARGET
 *   6 move the link TARGET into group A, named `names`[B] (every name in the file, and a few)
 *   7 add to group A, named `names`[B]: C % 4 = 0 a group, 1 a copy of TARGET, 2 a hard link
 *     to TARGET, 3 a soft link to nothing */
#include "fuzz.h"

#include "error.h"
#include "h5.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_EDITS = 16, MAX_SEEDS = 16, MAX_LINKS = 1024, MAX_ATTRS = 1024, NAME_MAX_LEN = 256 };
/* data written only when this small: a dataset of 2^34 elements stays unwritten (HDF5
 * allocates its storage late), which a reader must refuse before allocating for it */
enum { WRITE_MAX_BYTES = 1 << 20 };

static const hsize_t dims_table[16] = {
    0, 1, 2, 3, 4, 5, 6, 8, 10, 16, 48, 100, 1000, 1u << 20, (hsize_t)1 << 34, 0 /* KEEP */};
enum { KEEP_DIM = 15, KEEP_TYPE = 15 };
static const double specials[16] = {
    0,      -1,    1,      0.5,          NAN,           INFINITY,     -INFINITY,
    -0.0,   1e300, -1e300, 2147483647.0, -2147483648.0, 4294967296.0, 1e18,
    9.3e18, 255};
static const char *const extra_names[] = {"0", "1", "2", "3", "-1", "x"};

/* The seed artefacts, read once per process: libFuzzer calls the harness with no context to
 * hold them in, and reading them again for every input would cost more than the reader. */
typedef struct {
    uint8_t *data;
    size_t size;
} Seed;
static Seed seeds[MAX_SEEDS];
static int n_seeds;

/* The open HDF5 identifiers after the edit: the reader must leave as many open as it found. */
static const H5I_type_t id_types[] = {H5I_FILE,    H5I_GROUP, H5I_DATATYPE,   H5I_DATASPACE,
                                      H5I_DATASET, H5I_ATTR,  H5I_GENPROP_LST};
enum { N_ID_TYPES = sizeof id_types / sizeof *id_types };
static hsize_t ids_before[N_ID_TYPES];

static int by_name(const struct dirent **a, const struct dirent **b) {
    return strcmp((*a)->d_name, (*b)->d_name);
}

static int is_file(const struct dirent *e) {
    return e->d_name[0] != '.';
}

static void load_seeds(void) {
    const char *dir = getenv("PRENAS_FUZZ_H5_SEEDS");
    if (!dir || !dir[0])
        fatal_at(__FILE__, __LINE__,
                 "PRENAS_FUZZ_H5_SEEDS names no folder of seed artefacts (tests/fuzz/seeds.sh)");
    struct dirent **entries;
    int n = scandir(dir, &entries, is_file, by_name);
    if (n < 0) fatal_at(__FILE__, __LINE__, "scandir %s: %m", dir);
    for (int i = 0; i < n; i++) {
        if (n_seeds < MAX_SEEDS) {
            char path[NAME_MAX_LEN * 2];
            snprintf(path, sizeof path, "%s/%s", dir, entries[i]->d_name);
            FILE *f = fopen(path, "rb");
            if (!f) fatal_at(__FILE__, __LINE__, "fopen %s: %m", path);
            CHECK_SYS(fseek(f, 0, SEEK_END));
            Seed *s = &seeds[n_seeds++];
            s->size = (size_t)ftell(f);
            rewind(f);
            s->data = xmalloc(s->size);
            if (fread(s->data, 1, s->size, f) != s->size)
                fatal_at(__FILE__, __LINE__, "reading %s: %m", path);
            fclose(f);
        }
        free(entries[i]);
    }
    free(entries);
    if (n_seeds == 0) fatal_at(__FILE__, __LINE__, "no seed artefacts in %s", dir);
}

/* ---- what the file holds now ---- */

typedef struct {
    char path[NAME_MAX_LEN];
    H5O_type_t type; /* H5O_TYPE_UNKNOWN: a soft link */
} Link;
typedef struct {
    int link;
    char name[NAME_MAX_LEN];
} Attr;
typedef struct {
    hid_t file;
    Link links[MAX_LINKS]; /* links[0] is the root group */
    Attr attrs[MAX_ATTRS];
    int n_links, n_attrs, current;
    int groups[MAX_LINKS], n_groups;
} Listing;

static herr_t add_link(hid_t group, const char *name, const H5L_info_t *info, void *data) {
    Listing *l = data;
    if (l->n_links == MAX_LINKS || strlen(name) + 2 > NAME_MAX_LEN) return 0;
    Link *k = &l->links[l->n_links];
    snprintf(k->path, sizeof k->path, "/%s", name);
    H5O_info_t o;
    k->type = info->type == H5L_TYPE_HARD &&
                      H5Oget_info_by_name2(group, name, &o, H5O_INFO_BASIC, H5P_DEFAULT) >= 0
                  ? o.type
                  : H5O_TYPE_UNKNOWN;
    if (k->type == H5O_TYPE_GROUP) l->groups[l->n_groups++] = l->n_links;
    l->n_links++;
    return 0;
}

static herr_t add_attr(hid_t obj, const char *name, const H5A_info_t *info, void *data) {
    (void)obj, (void)info;
    Listing *l = data;
    if (l->n_attrs == MAX_ATTRS || strlen(name) + 1 > NAME_MAX_LEN) return 0;
    l->attrs[l->n_attrs].link = l->current;
    snprintf(l->attrs[l->n_attrs++].name, NAME_MAX_LEN, "%s", name);
    return 0;
}

static void list(Listing *l) {
    l->n_links = 1, l->n_attrs = 0, l->n_groups = 1;
    snprintf(l->links[0].path, NAME_MAX_LEN, "/");
    l->links[0].type = H5O_TYPE_GROUP;
    l->groups[0] = 0;
    H5Lvisit(l->file, H5_INDEX_NAME, H5_ITER_INC, add_link, l);
    for (l->current = 0; l->current < l->n_links; l->current++)
        if (l->links[l->current].type != H5O_TYPE_UNKNOWN)
            H5Aiterate_by_name(l->file, l->links[l->current].path, H5_INDEX_NAME, H5_ITER_INC, NULL,
                               add_attr, l, H5P_DEFAULT);
}

/* The Nth name a new or moved link may take: every base name and attribute name in the file,
 * so that an object turns up where another is expected, then a few of the kind splits and
 * inputs have. */
static const char *name_at(const Listing *l, int n) {
    const int extras = sizeof extra_names / sizeof *extra_names;
    n %= l->n_links - 1 + l->n_attrs + extras;
    if (n < l->n_links - 1) return strrchr(l->links[n + 1].path, '/') + 1;
    n -= l->n_links - 1;
    return n < l->n_attrs ? l->attrs[n].name : extra_names[n - l->n_attrs];
}

/* ---- one instruction ---- */

typedef struct {
    uint8_t op, target, a, b, c;
    const uint8_t *payload;
    size_t length;
} Edit;

static hid_t type_of(uint8_t a, hid_t original) {
    static const hid_t *const fixed[] = {&H5T_STD_I8LE_g,   &H5T_STD_U8LE_g,   &H5T_STD_I16LE_g,
                                         &H5T_STD_U16LE_g,  &H5T_STD_I32LE_g,  &H5T_STD_U32LE_g,
                                         &H5T_STD_I64LE_g,  &H5T_STD_U64LE_g,  &H5T_STD_I32BE_g,
                                         &H5T_IEEE_F32LE_g, &H5T_IEEE_F64LE_g, &H5T_IEEE_F64BE_g};
    const int which = a % 16;
    if (which < 12) return H5Tcopy(*fixed[which]);
    if (which == 12 || which == 13) { /* a fixed-length string of 8 bytes; a variable one */
        hid_t t = H5Tcopy(H5T_C_S1);
        H5Tset_size(t, which == 12 ? 8 : H5T_VARIABLE);
        return t;
    }
    if (which == 14) { /* a compound where a number was */
        hid_t t = H5Tcreate(H5T_COMPOUND, 12);
        H5Tinsert(t, "a", 0, H5T_STD_I32LE);
        H5Tinsert(t, "b", 4, H5T_IEEE_F64LE);
        return t;
    }
    return original >= 0 ? H5Tcopy(original) : H5Tcopy(H5T_STD_I32LE);
}

/* Fills `n` values of `type` from the payload: its bytes over and over, or for variable-length
 * strings its NUL-separated parts in turn. The strings point into `text`. */
static void *values_of(const Edit *e, hid_t type, hsize_t n, char **text) {
    if (H5Tis_variable_str(type) > 0) {
        *text = fuzz_text(e->payload, e->length);
        char **strings = xcalloc(n, sizeof *strings);
        for (hsize_t i = 0, at = 0; i < n; i++) {
            strings[i] = *text + at;
            at += strlen(*text + at) + 1;
            if (at > e->length) at = 0;
        }
        return strings;
    }
    const size_t bytes = n * H5Tget_size(type);
    uint8_t *values = xcalloc(bytes, 1);
    for (size_t i = 0; e->length > 0 && i < bytes; i++) values[i] = e->payload[i % e->length];
    return values;
}

static bool small(hid_t type, hsize_t n) {
    return n > 0 && n <= WRITE_MAX_BYTES / H5Tget_size(type);
}

/* Creates attribute or dataset NAME of LOC with the instruction's type and shape, where one of
 * `original_type` and `original_space` (either <0) was. */
static void create(const Edit *e, hid_t loc, const char *name, bool attribute, hid_t original_type,
                   hid_t original_space) {
    hsize_t original[H5S_MAX_RANK] = {0}, dims[4];
    const int original_rank =
        original_space >= 0 ? H5Sget_simple_extent_dims(original_space, original, NULL) : 0;
    const int rank = e->b % 5;
    const int picks[4] = {e->b / 5 % 16, e->c % 16, e->c / 16, e->c / 16};
    hsize_t n = 1;
    for (int i = 0; i < rank; i++) {
        dims[i] = picks[i] != KEEP_DIM ? dims_table[picks[i]] : i < original_rank ? original[i] : 1;
        n = dims[i] && n > UINT64_MAX / dims[i] ? UINT64_MAX : n * dims[i];
    }
    hid_t type = type_of(e->a, original_type);
    hid_t space = rank ? H5Screate_simple(rank, dims, NULL) : H5Screate(H5S_SCALAR);
    hid_t obj = attribute
                    ? H5Acreate2(loc, name, type, space, H5P_DEFAULT, H5P_DEFAULT)
                    : H5Dcreate2(loc, name, type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (obj >= 0 && small(type, n)) {
        char *text = NULL;
        void *values = values_of(e, type, n, &text);
        if (attribute)
            H5Awrite(obj, type, values);
        else
            H5Dwrite(obj, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, values);
        free(values);
        free(text);
    }
    if (obj >= 0) attribute ? H5Aclose(obj) : H5Dclose(obj);
    H5Sclose(space);
    H5Tclose(type);
}

/* Overwrites the values of an open dataset or attribute (op 4 or 5). */
static void overwrite(const Edit *e, hid_t obj, bool attribute) {
    hid_t type = attribute ? H5Aget_type(obj) : H5Dget_type(obj);
    hid_t space = attribute ? H5Aget_space(obj) : H5Dget_space(obj);
    const hssize_t n = H5Sget_simple_extent_npoints(space);
    const size_t at = (size_t)e->a + 256u * e->b;
    if (n > 0 && small(type, (hsize_t)n)) {
        char *text = NULL;
        void *values = NULL;
        bool ok = true;
        if (H5Tis_variable_str(type) > 0) {
            values = values_of(e, type, (hsize_t)n, &text);
        } else {
            values = xcalloc((size_t)n, H5Tget_size(type));
            ok = (attribute ? H5Aread(obj, type, values)
                            : H5Dread(obj, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, values)) >= 0;
            const size_t bytes = (size_t)n * H5Tget_size(type);
            if (e->length > 0) {
                for (size_t i = 0; i < e->length && at % bytes + i < bytes; i++)
                    ((uint8_t *)values)[at % bytes + i] = e->payload[i];
            } else if ((H5Tget_class(type) == H5T_INTEGER || H5Tget_class(type) == H5T_FLOAT) &&
                       H5Tget_size(type) <= 16) {
                /* HDF5 converts the special value to the element's type (clamping it) */
                uint8_t value[16];
                memcpy(value, &specials[e->c % 16], sizeof(double));
                ok = ok && H5Tconvert(H5T_NATIVE_DOUBLE, type, 1, value, NULL, H5P_DEFAULT) >= 0;
                memcpy((uint8_t *)values + at % (size_t)n * H5Tget_size(type), value,
                       H5Tget_size(type));
            }
        }
        if (ok && attribute) H5Awrite(obj, type, values);
        if (ok && !attribute) H5Dwrite(obj, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, values);
        free(values);
        free(text);
    }
    H5Sclose(space);
    H5Tclose(type);
}

static void apply(Listing *l, const Edit *e) {
    const Link *target = &l->links[1 + e->target % (l->n_links > 1 ? l->n_links - 1 : 1)];
    const bool has_link = l->n_links > 1;
    const Attr *attr = l->n_attrs ? &l->attrs[e->target % l->n_attrs] : NULL;
    const char *parent = l->links[l->groups[e->a % l->n_groups]].path;
    char moved[2 * NAME_MAX_LEN];
    snprintf(moved, sizeof moved, "%s/%s", strcmp(parent, "/") ? parent : "", name_at(l, e->b));
    /* what each input did, to read a finding by (fuzz_expect prints why it was refused) */
    if (getenv("PRENAS_FUZZ_VERBOSE"))
        fprintf(stderr, "fuzz: edit %d: link %s, attribute %s, group %s, name %s\n", e->op % 8,
                has_link ? target->path : "-", attr ? attr->name : "-", parent, moved);
    switch (e->op % 8) {
    case 0:
        if (has_link) H5Ldelete(l->file, target->path, H5P_DEFAULT);
        break;
    case 2:
        if (has_link) {
            hid_t d = target->type == H5O_TYPE_DATASET
                          ? H5Dopen2(l->file, target->path, H5P_DEFAULT)
                          : -1;
            hid_t type = d >= 0 ? H5Dget_type(d) : -1, space = d >= 0 ? H5Dget_space(d) : -1;
            if (d >= 0) H5Dclose(d);
            if (H5Ldelete(l->file, target->path, H5P_DEFAULT) >= 0)
                create(e, l->file, target->path, false, type, space);
            if (type >= 0) H5Tclose(type);
            if (space >= 0) H5Sclose(space);
        }
        break;
    case 1:
    case 3:
    case 5:
        if (attr) {
            hid_t obj = H5Oopen(l->file, l->links[attr->link].path, H5P_DEFAULT);
            hid_t a = obj >= 0 ? H5Aopen(obj, attr->name, H5P_DEFAULT) : -1;
            if (a >= 0 && e->op % 8 == 5) {
                overwrite(e, a, true);
                H5Aclose(a);
            } else if (a >= 0) {
                hid_t type = H5Aget_type(a), space = H5Aget_space(a);
                H5Aclose(a);
                if (H5Adelete(obj, attr->name) >= 0 && e->op % 8 == 3)
                    create(e, obj, attr->name, true, type, space);
                H5Tclose(type);
                H5Sclose(space);
            }
            if (obj >= 0) H5Oclose(obj);
        }
        break;
    case 4:
        if (has_link && target->type == H5O_TYPE_DATASET) {
            hid_t d = H5Dopen2(l->file, target->path, H5P_DEFAULT);
            if (d >= 0) {
                overwrite(e, d, false);
                H5Dclose(d);
            }
        }
        break;
    case 6:
        if (has_link) H5Lmove(l->file, target->path, l->file, moved, H5P_DEFAULT, H5P_DEFAULT);
        break;
    case 7:
        if (e->c % 4 == 0) {
            hid_t g = H5Gcreate2(l->file, moved, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
            if (g >= 0) H5Gclose(g);
        } else if (e->c % 4 == 1 && has_link) {
            H5Ocopy(l->file, target->path, l->file, moved, H5P_DEFAULT, H5P_DEFAULT);
        } else if (e->c % 4 == 2 && has_link) {
            H5Lcreate_hard(l->file, target->path, l->file, moved, H5P_DEFAULT, H5P_DEFAULT);
        } else {
            H5Lcreate_soft("/nothing/here", l->file, moved, H5P_DEFAULT, H5P_DEFAULT);
        }
        break;
    }
}

/* ---- the input ---- */

static uint8_t byte_at(const uint8_t *data, size_t size, size_t at) {
    return at < size ? data[at] : 0;
}

static void edit(const char *path, const uint8_t *data, size_t size) {
    Listing *l = xmalloc(sizeof *l);
    l->file = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    CHECK_H5(l->file);
    size_t at = 1;
    for (int n = 0; n < MAX_EDITS && at < size; n++) {
        Edit e = {byte_at(data, size, at),     byte_at(data, size, at + 1),
                  byte_at(data, size, at + 2), byte_at(data, size, at + 3),
                  byte_at(data, size, at + 4), NULL,
                  byte_at(data, size, at + 5)};
        at += 6;
        e.payload = data + (at < size ? at : size);
        if (e.length > size - (at < size ? at : size)) e.length = size - (at < size ? at : size);
        at += e.length;
        list(l);
        apply(l, &e);
    }
    CHECK_H5(H5Fclose(l->file));
    free(l);
}

/* H5Inmembers fails for a kind of identifier that HDF5 has not made one of yet: none open */
static void count_ids(hsize_t *counts) {
    for (int i = 0; i < N_ID_TYPES; i++)
        if (H5Inmembers(id_types[i], &counts[i]) < 0) counts[i] = 0;
}

char *fuzz_h5_input(const uint8_t *data, size_t size) {
    /* the whole input as the file's bytes (docs/fuzzing.md: by hand, not in CI) */
    if (getenv("PRENAS_FUZZ_H5_RAW")) {
        char *path = fuzz_h5_file(data, size);
        count_ids(ids_before);
        return path;
    }
    if (!n_seeds) load_seeds();
    const Seed *seed = &seeds[byte_at(data, size, 0) % n_seeds];
    char *path = fuzz_h5_file(seed->data, seed->size);
    edit(path, data, size);
    count_ids(ids_before);
    return path;
}

void fuzz_h5_expect(bool ok, const Error *err, const char *path) {
    fuzz_expect(ok, err, path);
    hsize_t after[N_ID_TYPES];
    count_ids(after);
    for (int i = 0; i < N_ID_TYPES; i++)
        fuzz_assert(after[i] == ids_before[i], "an HDF5 identifier left open");
}
