/* prenas-inspect: a short human summary of any prenas artefact. */
#include "artefact.h"
#include "checksum.h"
#include "cli.h"
#include "dataset.h"
#include "eval_table.h"
#include "evolution.h"
#include "h5.h"
#include "standalone.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

static const char USAGE[] =
    "usage: prenas-inspect [--config | --tree | --verify] FILE.h5...\n"
    "\n"
    "Summarises prenas artefacts: what produced them (stage, version, host, time, command line,\n"
    "seed, world size), from which inputs (path and SHA-256), and what they hold.\n"
    "\n"
    "  --config   print the configuration text recorded in the file instead\n"
    "  --tree     also list every HDF5 object with its shape and type\n"
    "  --verify   check instead that every input recorded in /meta still has the recorded\n"
    "             SHA-256 (a file made from these very inputs: a workflow may skip its stage)\n"
    "  --help, --version\n"
    "\n"
    "Standard tools read the same files: h5ls -r FILE.h5, h5dump -g /meta FILE.h5, h5py.\n"
    "Exit status: 0 success, 2 a file is missing, damaged or not a prenas artefact, or (with\n"
    "--verify) an input is missing or has changed.\n";

static herr_t print_object(hid_t loc, const char *name, const H5O_info_t *info, void *data) {
    (void)data;
    if (info->type == H5O_TYPE_GROUP) {
        printf("    /%s/\n", strcmp(name, ".") == 0 ? "" : name);
        return 0;
    }
    if (info->type != H5O_TYPE_DATASET) return 0;
    hid_t d = H5Dopen2(loc, name, H5P_DEFAULT);
    hid_t space = H5Dget_space(d), type = H5Dget_type(d);
    hsize_t dims[H5S_MAX_RANK];
    int rank = H5Sget_simple_extent_dims(space, dims, NULL);
    printf("    /%s  [", name);
    for (int i = 0; i < rank; i++) printf("%s%llu", i ? ", " : "", (unsigned long long)dims[i]);
    H5T_class_t cls = H5Tget_class(type);
    printf("] %s%zu\n",
           cls == H5T_FLOAT     ? "float"
           : cls == H5T_INTEGER ? (H5Tget_sign(type) == H5T_SGN_NONE ? "uint" : "int")
           : cls == H5T_STRING  ? "string/"
                                : "other/",
           8 * H5Tget_size(type));
    H5Tclose(type);
    H5Sclose(space);
    H5Dclose(d);
    return 0;
}

static void print_meta(const Artefact *a) {
    const ArtefactMeta *m = &a->meta;
    printf("%s: %s version %lld\n", a->path, m->schema, (long long)m->schema_version);
    printf("  written by %s %s on %s at %s\n", m->stage, m->prenas_version, m->host, m->created);
    printf("  command: %s\n", m->command_line);
    printf("  seed %llu, world size %lld", (unsigned long long)m->seed, (long long)m->world_size);
    int config_lines = 0;
    for (const char *c = m->config; *c; c++) config_lines += *c == '\n';
    printf(config_lines ? ", configuration of %d lines (--config prints it)\n" : "\n",
           config_lines);
    for (int i = 0; i < m->n_inputs; i++)
        printf("  input %-8s %s  sha256 %.16s...\n", m->inputs[i].role, m->inputs[i].path,
               m->inputs[i].sha256);
}

/* The provenance check of a workflow's resume: the artefact opens (it is complete: stages write
 * through a temporary name) and each recorded input, at its recorded path, is unchanged. */
static void verify(const char *path) {
    Error err = {0};
    Artefact a;
    if (!artefact_open(&a, path, NULL, INT64_MAX, &err)) die(&err);
    for (int i = 0; i < a.meta.n_inputs; i++) {
        const ArtefactInput *in = &a.meta.inputs[i];
        char now[SHA256_HEX_SIZE];
        if (!sha256_file(in->path, now, &err)) die(&err);
        if (strcmp(now, in->sha256) != 0)
            die_input("input %s %s has changed since %s was written (sha256 %.16s... now, "
                      "%.16s... then)",
                      in->role, in->path, path, now, in->sha256);
    }
    printf("%s: %d inputs unchanged\n", path, a.meta.n_inputs);
    artefact_close(&a);
}

static void inspect(const char *path, bool config_only, bool tree) {
    Error err = {0};
    Artefact a;
    if (!artefact_open(&a, path, NULL, INT64_MAX, &err)) die(&err);
    if (config_only) {
        fputs(a.meta.config, stdout);
        artefact_close(&a);
        return;
    }
    print_meta(&a);
    bool is_dataset = strcmp(a.meta.schema, DATASET_SCHEMA) == 0;
    if (tree) {
        printf("  objects:\n");
        CHECK_H5(H5Ovisit(a.file, H5_INDEX_NAME, H5_ITER_NATIVE, print_object, NULL));
    }
    if (strcmp(a.meta.schema, SEARCH_SCHEMA) == 0 &&
        !evolution_print_file(&(H5Source){a.file, path, &err}, stdout))
        die(&err);
    const bool is_eval = strcmp(a.meta.schema, EVAL_SCHEMA) == 0,
               is_model = strcmp(a.meta.schema, MODEL_SCHEMA) == 0;
    artefact_close(&a);
    if (is_eval) {
        EvalTable table;
        if (!eval_table_read(path, &table, &a, &err)) die(&err);
        eval_table_print(stdout, &table);
        eval_table_free(&table);
        artefact_close(&a);
    }
    if (is_model) {
        Standalone s;
        if (!standalone_read(path, &s, &a, &err)) die(&err);
        char text[MODEL_ARCH_TEXT_MAX];
        model_arch_format(&s.arch, text, sizeof text);
        printf("  %s %s: %lld params, %lld MACs, %dx%dx%d input, %d classes, %d tensors; chosen "
               "by %s",
               model_family_name(s.arch.family), text, (long long)s.cost.params,
               (long long)s.cost.macs, s.image_size, s.image_size, s.channels, s.n_classes,
               s.n_tensors, s.chosen_by);
        if (s.split[0]) printf(" (%s top-1 %.2f%%)", s.split, s.top1);
        printf("\n");
        standalone_free(&s);
        artefact_close(&a);
    }
    if (is_dataset) {
        DatasetFile ds;
        if (!dataset_open(&ds, path, &err)) die(&err);
        printf("  ");
        dataset_print_summary(&ds, stdout);
        dataset_close(&ds);
    }
}

int main(int argc, char **argv) {
    static const struct option options[] = {{"config", no_argument, NULL, 'c'},
                                            {"tree", no_argument, NULL, 't'},
                                            {"verify", no_argument, NULL, 'v'},
                                            {"help", no_argument, NULL, 'h'},
                                            {"version", no_argument, NULL, CLI_OPT_VERSION},
                                            {NULL, 0, NULL, 0}};
    bool config_only = false, tree = false, check = false;
    opterr = 0;
    for (int c; (c = getopt_long(argc, argv, "", options, NULL)) != -1;) {
        switch (c) {
        case 'c':
            config_only = true;
            break;
        case 't':
            tree = true;
            break;
        case 'v':
            check = true;
            break;
        default:
            cli_common_option(c, USAGE, argv);
        }
    }
    if (optind == argc) cli_usage_error("no FILE.h5 given");
    if (config_only + tree + check > 1)
        cli_usage_error("--config, --tree and --verify exclude each other");
    h5_silence();
    for (int i = optind; i < argc; i++)
        check ? verify(argv[i]) : inspect(argv[i], config_only, tree);
    return 0;
}
