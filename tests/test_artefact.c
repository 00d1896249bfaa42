/* HDF5 artefacts: /meta round trip, schema and version checks, damaged files, and atomic
 * writes that survive a killed writer. Also the dataset schema built on them. */
#include "check.h"

#include "artefact.h"
#include "dataset.h"
#include "h5.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char dir[] = "/tmp/prenas-test-artefact-XXXXXX";

static void path_in_dir(char *out, size_t size, const char *name) {
    snprintf(out, size, "%s/%s", dir, name);
}

static bool exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

enum { N_VALUES = 100000 };

/* A file with a marker attribute, a large checksummed dataset and the given schema. */
static void write_sample(const char *path, const char *schema, int64_t version, int64_t marker) {
    char *argv[] = {"test_artefact", "--out", (char *)path, "quoted arg's"};
    ArtefactMeta meta;
    artefact_meta_init(&meta, schema, version, 4, argv);
    meta.seed = 1234567890123ULL;
    meta.world_size = 3;
    artefact_meta_set_config(&meta, "a = 1;\nb = \"two\";\n");
    Error err = {0};
    char input[256];
    path_in_dir(input, sizeof input, "input.txt");
    CHECK(artefact_meta_add_input(&meta, "config", input, &err));
    ArtefactWriter w;
    CHECK(artefact_begin(&w, path, &err));
    h5_attr_int(w.file, "marker", marker);
    float *values = malloc(N_VALUES * sizeof *values);
    for (int i = 0; i < N_VALUES; i++) values[i] = (float)i * 0.5f;
    hsize_t dims[1] = {N_VALUES};
    h5_write(w.file, "values", H5T_NATIVE_FLOAT, 1, dims, values);
    free(values);
    artefact_commit(&w, &meta);
    artefact_meta_free(&meta);
}

static int64_t read_marker(const char *path) {
    Artefact a;
    Error err = {0};
    if (!artefact_open(&a, path, "prenas.test", 1, &err)) return -1;
    H5Source src = {a.file, path, &err};
    int64_t marker = -1;
    h5_read_attr_int(&src, a.file, "marker", &marker);
    artefact_close(&a);
    return marker;
}

static void round_trip(void) {
    char path[256];
    path_in_dir(path, sizeof path, "sample.h5");
    write_sample(path, "prenas.test", 1, 7);
    CHECK(!exists("sample.h5.tmp"));
    Artefact a;
    Error err = {0};
    CHECK(artefact_open(&a, path, "prenas.test", 1, &err));
    CHECK(strcmp(a.meta.schema, "prenas.test") == 0);
    CHECK_EQ_I64(a.meta.schema_version, 1);
    CHECK(strcmp(a.meta.stage, "test_artefact") == 0);
    CHECK(a.meta.seed == 1234567890123ULL);
    CHECK_EQ_I64(a.meta.world_size, 3);
    CHECK(strcmp(a.meta.config, "a = 1;\nb = \"two\";\n") == 0);
    CHECK_STR_CONTAINS(a.meta.command_line, "test_artefact --out ");
    CHECK_STR_CONTAINS(a.meta.command_line, "'quoted arg'\\''s'");
    CHECK_EQ_I64(a.meta.n_inputs, 1);
    CHECK(strcmp(a.meta.inputs[0].role, "config") == 0);
    /* sha256("hello\n") */
    CHECK(strcmp(a.meta.inputs[0].sha256,
                 "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03") == 0);
    CHECK(strlen(a.meta.created) == 20 && a.meta.created[19] == 'Z');
    H5Source src = {a.file, path, &err};
    hsize_t dims[1];
    hid_t d = h5_open_dataset(&src, "values", 1, dims);
    CHECK(d >= 0);
    CHECK_EQ_I64(dims[0], N_VALUES);
    float *values = malloc(N_VALUES * sizeof *values);
    CHECK(h5_read(&src, d, "values", H5T_NATIVE_FLOAT, 0, 0, values));
    CHECK(values[0] == 0.0f && values[N_VALUES - 1] == (N_VALUES - 1) * 0.5f);
    free(values);
    /* the large dataset carries the Fletcher32 filter */
    hid_t plist = H5Dget_create_plist(d);
    CHECK(H5Pget_nfilters(plist) == 1);
    unsigned flags;
    size_t n_values = 0;
    char name[32];
    unsigned filter_config;
    CHECK(H5Pget_filter2(plist, 0, &flags, &n_values, NULL, sizeof name, name, &filter_config) ==
          H5Z_FILTER_FLETCHER32);
    H5Pclose(plist);
    H5Dclose(d);
    artefact_close(&a);
}

static void schema_checks(void) {
    char path[256];
    path_in_dir(path, sizeof path, "sample.h5");
    Artefact a;
    Error err = {0};
    CHECK(!artefact_open(&a, path, "prenas.scores", 1, &err));
    CHECK_EQ_I64(err.code, EXIT_INPUT);
    CHECK_STR_CONTAINS(err.message, "is a 'prenas.test' artefact, expected 'prenas.scores'");
    CHECK_STR_CONTAINS(err.message, path);

    char newer[256];
    path_in_dir(newer, sizeof newer, "newer.h5");
    write_sample(newer, "prenas.test", 5, 1);
    memset(&err, 0, sizeof err);
    CHECK(!artefact_open(&a, newer, "prenas.test", 2, &err));
    CHECK_STR_CONTAINS(err.message, "version 5 is not supported by this prenas (versions 1 to 2");
    memset(&err, 0, sizeof err);
    CHECK(artefact_open(&a, newer, NULL, 5, &err)); /* any schema */
    artefact_close(&a);
}

static void damaged_files(void) {
    Artefact a;
    Error err = {0};
    char text[256], truncated[256], corrupt[256], missing[256], plain[256];
    path_in_dir(text, sizeof text, "input.txt");
    CHECK(!artefact_open(&a, text, "prenas.test", 1, &err));
    CHECK_STR_CONTAINS(err.message, "not an HDF5 file");

    path_in_dir(missing, sizeof missing, "missing.h5");
    memset(&err, 0, sizeof err);
    CHECK(!artefact_open(&a, missing, "prenas.test", 1, &err));
    CHECK_STR_CONTAINS(err.message, "No such file");

    path_in_dir(truncated, sizeof truncated, "truncated.h5");
    write_sample(truncated, "prenas.test", 1, 2);
    struct stat st;
    CHECK(stat(truncated, &st) == 0);
    CHECK(truncate(truncated, st.st_size / 2) == 0);
    memset(&err, 0, sizeof err);
    CHECK(!artefact_open(&a, truncated, "prenas.test", 1, &err));
    CHECK_STR_CONTAINS(err.message, "truncated or corrupt");
    CHECK_STR_CONTAINS(err.message, truncated);

    /* One flipped byte inside the checksummed data: the read fails, it never returns garbage. */
    path_in_dir(corrupt, sizeof corrupt, "corrupt.h5");
    write_sample(corrupt, "prenas.test", 1, 3);
    CHECK(stat(corrupt, &st) == 0);
    FILE *f = fopen(corrupt, "r+b");
    CHECK(fseek(f, st.st_size / 2, SEEK_SET) == 0);
    int c = fgetc(f);
    CHECK(fseek(f, st.st_size / 2, SEEK_SET) == 0);
    fputc(c ^ 0x5a, f);
    fclose(f);
    memset(&err, 0, sizeof err);
    CHECK(artefact_open(&a, corrupt, "prenas.test", 1, &err));
    H5Source src = {a.file, corrupt, &err};
    hsize_t dims[1];
    hid_t d = h5_open_dataset(&src, "values", 1, dims);
    float *values = malloc(N_VALUES * sizeof *values);
    CHECK(!h5_read(&src, d, "values", H5T_NATIVE_FLOAT, 0, 0, values));
    CHECK_STR_CONTAINS(err.message, "corrupt: checksum mismatch");
    free(values);
    H5Dclose(d);
    artefact_close(&a);

    /* An HDF5 file that is not an artefact. */
    path_in_dir(plain, sizeof plain, "plain.h5");
    hid_t file = H5Fcreate(plain, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    H5Fclose(file);
    memset(&err, 0, sizeof err);
    CHECK(!artefact_open(&a, plain, "prenas.test", 1, &err));
    CHECK_STR_CONTAINS(err.message, "not a prenas artefact (no /meta group)");
}

/* A writer killed before its commit leaves the previous file intact and readable. */
static void interrupted_write(void) {
    char path[256], tmp[300];
    path_in_dir(path, sizeof path, "survivor.h5");
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    write_sample(path, "prenas.test", 1, 1);
    pid_t child = fork();
    if (child == 0) {
        ArtefactWriter w;
        Error err = {0};
        if (!artefact_begin(&w, path, &err)) _exit(3);
        h5_attr_int(w.file, "marker", 2);
        float *values = calloc(N_VALUES, sizeof *values);
        hsize_t dims[1] = {N_VALUES};
        h5_write(w.file, "values", H5T_NATIVE_FLOAT, 1, dims, values);
        H5Fflush(w.file, H5F_SCOPE_GLOBAL);
        raise(SIGKILL);
        _exit(4);
    }
    int status;
    CHECK(waitpid(child, &status, 0) == child);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    CHECK(exists(tmp));
    CHECK_EQ_I64(read_marker(path), 1);
    /* the next complete write replaces both */
    write_sample(path, "prenas.test", 1, 3);
    CHECK_EQ_I64(read_marker(path), 3);
    CHECK(!exists(tmp));
}

static void aborted_write(void) {
    char path[256], tmp[300];
    path_in_dir(path, sizeof path, "survivor.h5");
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    ArtefactWriter w;
    Error err = {0};
    CHECK(artefact_begin(&w, path, &err));
    h5_attr_int(w.file, "marker", 9);
    artefact_abort(&w);
    CHECK(!exists(tmp));
    CHECK_EQ_I64(read_marker(path), 3);

    memset(&err, 0, sizeof err);
    CHECK(!artefact_begin(&w, "/nonexistent-prenas-dir/x.h5", &err));
    CHECK_EQ_I64(err.code, EXIT_INPUT);
    CHECK_STR_CONTAINS(err.message, "the output directory does not exist, /nonexistent-prenas-dir");
    memset(&err, 0, sizeof err);
    CHECK(!artefact_begin(&w, dir, &err));
    CHECK_STR_CONTAINS(err.message, "the output path is a directory");
}

/* An output that names an input, by another path or a hard link, is refused; others pass. */
static void output_not_input(void) {
    char input[256], other[256], link_path[256], dotted[300];
    path_in_dir(input, sizeof input, "input.txt");
    path_in_dir(other, sizeof other, "other.txt");
    path_in_dir(link_path, sizeof link_path, "linked.txt");
    snprintf(dotted, sizeof dotted, "%s/./input.txt", dir);
    FILE *f = fopen(other, "w");
    fclose(f);
    unlink(link_path);
    CHECK(link(input, link_path) == 0);
    Error err = {0};
    CHECK(!artefact_check_not_input(dotted, 2, (const char *[]){NULL, input}, &err));
    CHECK_EQ_I64(err.code, EXIT_INPUT);
    CHECK_STR_CONTAINS(err.message, "the output would replace an input, ");
    memset(&err, 0, sizeof err);
    CHECK(!artefact_check_not_input(link_path, 1, (const char *[]){input}, &err));
    memset(&err, 0, sizeof err);
    CHECK(artefact_check_not_input(other, 2, (const char *[]){input, NULL}, &err));
    CHECK(
        artefact_check_not_input("/nonexistent-prenas-dir/x.h5", 1, (const char *[]){input}, &err));
    CHECK(artefact_check_not_input(input, 1, (const char *[]){"/nonexistent-prenas-dir/x"}, &err));
    CHECK_EQ_I64(err.code, 0);
}

static void dataset_schema(void) {
    char path[256];
    path_in_dir(path, sizeof path, "dataset.h5");
    ImageShape shape = {2, 3, 2, 4};
    const char *names[] = {"a", "b", "c", "d"};
    uint8_t images[5 * 2 * 3 * 2];
    int32_t labels[5] = {0, 1, 2, 3, 1};
    int64_t index[5] = {10, 11, 12, 13, 14};
    for (int i = 0; i < 60; i++)
        images[i] = (uint8_t)(i % 2 == 0 ? 51 : 255); /* channel 0: 0.2, channel 1: 1.0 */
    char *argv[] = {"test"};
    ArtefactMeta meta;
    artefact_meta_init(&meta, DATASET_SCHEMA, DATASET_SCHEMA_VERSION, 1, argv);
    ArtefactWriter w;
    Error err = {0};
    CHECK(artefact_begin(&w, path, &err));
    dataset_write_header(w.file, shape, names);
    SplitWriter train = split_writer_open(w.file, "train", shape, 5, "unit test");
    split_writer_append(&train, images, labels, index, 2); /* in two slabs */
    split_writer_append(&train, images + 24, labels + 2, index + 2, 3);
    split_writer_close(&train);
    int32_t bad_label[1] = {4};
    SplitWriter val = split_writer_open(w.file, "val", shape, 1, "bad label");
    split_writer_append(&val, images, bad_label, index, 1);
    split_writer_close(&val);
    artefact_commit(&w, &meta);
    artefact_meta_free(&meta);

    DatasetFile ds;
    CHECK(dataset_open(&ds, path, &err));
    CHECK(ds.shape.height == 2 && ds.shape.width == 3 && ds.shape.channels == 2 &&
          ds.shape.num_classes == 4);
    CHECK(strcmp(ds.class_names[3], "d") == 0);
    CHECK_EQ_I64(ds.n_splits, 2);
    const SplitInfo *info = dataset_split(&ds, "train");
    CHECK(info && info->count == 5);
    CHECK_NEAR(info->mean[0], 0.2, 1e-12);
    CHECK_NEAR(info->mean[1], 1.0, 1e-12);
    CHECK_NEAR(info->std[0], 0.0, 1e-6);
    CHECK(dataset_split(&ds, "test") == NULL);
    uint8_t back[60];
    int32_t back_labels[5];
    CHECK(dataset_read(&ds, "train", 1, 4, back, back_labels, &err));
    CHECK(memcmp(back, images + 12, 48) == 0);
    CHECK(back_labels[0] == 1 && back_labels[3] == 1);
    CHECK(!dataset_read(&ds, "val", 0, 1, back, back_labels, &err));
    CHECK_STR_CONTAINS(err.message, "label 4 of val image 0 is outside [0, 4)");
    memset(&err, 0, sizeof err);
    CHECK(!dataset_read(&ds, "train", 3, 3, back, back_labels, &err));
    CHECK_STR_CONTAINS(err.message, "rows [3, 6) outside the 5 of split 'train'");

    /* a split held in memory and one read on demand give the same rows, in the asked order */
    memset(&err, 0, sizeof err);
    SplitImages held, streamed, bad, absent;
    const int64_t rows[5] = {4, 0, 1, 2, 4};
    uint8_t from_memory[60], from_file[60];
    CHECK(split_images_open(&ds, "train", true, &held, &err));
    CHECK(split_images_open(&ds, "train", false, &streamed, &err));
    CHECK(held.images != NULL && streamed.images == NULL && streamed.labels[4] == 1);
    CHECK(split_images_gather(&held, rows, 5, from_memory, &err));
    CHECK(split_images_gather(&streamed, rows, 5, from_file, &err));
    for (int i = 0; i < 5; i++) CHECK(memcmp(from_file + i * 12, images + rows[i] * 12, 12) == 0);
    CHECK(memcmp(from_memory, from_file, sizeof from_file) == 0);
    split_images_close(&held), split_images_close(&streamed);
    CHECK(!split_images_open(&ds, "val", false, &bad, &err));
    CHECK_STR_CONTAINS(err.message, "label 4 of val image 0 is outside [0, 4)");
    split_images_close(&bad);
    memset(&err, 0, sizeof err);
    CHECK(split_images_open(&ds, "test", true, &absent, &err) && absent.count == 0);
    split_images_close(&absent);
    dataset_close(&ds);

    char other[256];
    path_in_dir(other, sizeof other, "sample.h5");
    memset(&err, 0, sizeof err);
    CHECK(!dataset_open(&ds, other, &err));
    CHECK_STR_CONTAINS(err.message, "expected 'prenas.dataset'");
}

int main(void) {
    h5_silence();
    if (!mkdtemp(dir)) return 1;
    char input[256];
    path_in_dir(input, sizeof input, "input.txt");
    FILE *f = fopen(input, "w");
    fputs("hello\n", f);
    fclose(f);
    round_trip();
    schema_checks();
    damaged_files();
    interrupted_write();
    aborted_write();
    output_not_input();
    dataset_schema();
    int rc = check_summary();
    if (rc == 0) {
        char command[300];
        snprintf(command, sizeof command, "rm -rf '%s'", dir);
        if (system(command) != 0) return 1;
    }
    return rc;
}
