#include "artefact.h"

#include "h5.h"
#include "version.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- /meta ---- */

static char *join_command_line(int argc, char **argv) {
    size_t size = 1;
    for (int i = 0; i < argc; i++) size += 2 * strlen(argv[i]) + 3;
    char *line = xmalloc(size), *p = line;
    for (int i = 0; i < argc; i++) {
        if (i) *p++ = ' ';
        bool quote = argv[i][0] == '\0' || strpbrk(argv[i], " \t\"'\\$`") != NULL;
        if (quote) *p++ = '\'';
        for (const char *c = argv[i]; *c; c++) {
            if (quote && *c == '\'') { /* ' -> '\'' */
                memcpy(p, "'\\''", 4);
                p += 4;
            } else {
                *p++ = *c;
            }
        }
        if (quote) *p++ = '\'';
    }
    *p = '\0';
    return line;
}

void artefact_meta_init(ArtefactMeta *meta, const char *schema, int64_t schema_version, int argc,
                        char **argv) {
    memset(meta, 0, sizeof *meta);
    snprintf(meta->schema, sizeof meta->schema, "%s", schema);
    meta->schema_version = schema_version;
    snprintf(meta->stage, sizeof meta->stage, "%s", program_invocation_short_name);
    snprintf(meta->prenas_version, sizeof meta->prenas_version, "%s", prenas_version());
    time_t now = time(NULL);
    struct tm utc;
    gmtime_r(&now, &utc);
    strftime(meta->created, sizeof meta->created, "%Y-%m-%dT%H:%M:%SZ", &utc);
    if (gethostname(meta->host, sizeof meta->host - 1) != 0)
        snprintf(meta->host, sizeof meta->host, "unknown");
    meta->command_line = join_command_line(argc, argv);
    meta->config = xstrdup("");
    meta->world_size = 1;
}

void artefact_meta_set_config(ArtefactMeta *meta, const char *config_text) {
    free(meta->config);
    meta->config = xstrdup(config_text);
}

bool artefact_meta_add_input(ArtefactMeta *meta, const char *role, const char *path, Error *err) {
    if (meta->n_inputs == ARTEFACT_MAX_INPUTS)
        fatal_at(__FILE__, __LINE__, "more than %d inputs to one artefact", ARTEFACT_MAX_INPUTS);
    ArtefactInput *in = &meta->inputs[meta->n_inputs];
    snprintf(in->role, sizeof in->role, "%s", role);
    snprintf(in->path, sizeof in->path, "%s", path);
    if (!sha256_file(path, in->sha256, err)) return false;
    meta->n_inputs++;
    return true;
}

const ArtefactInput *artefact_meta_input(const ArtefactMeta *meta, const char *role) {
    for (int i = 0; i < meta->n_inputs; i++)
        if (strcmp(meta->inputs[i].role, role) == 0) return &meta->inputs[i];
    return NULL;
}

void artefact_meta_free(ArtefactMeta *meta) {
    free(meta->command_line);
    free(meta->config);
    meta->command_line = meta->config = NULL;
}

static void write_meta(hid_t file, const ArtefactMeta *meta) {
    hid_t g = h5_create_group(file, "meta");
    h5_attr_string(g, "schema", meta->schema);
    h5_attr_int(g, "schema_version", meta->schema_version);
    h5_attr_string(g, "stage", meta->stage);
    h5_attr_string(g, "prenas_version", meta->prenas_version);
    h5_attr_string(g, "created", meta->created);
    h5_attr_string(g, "host", meta->host);
    h5_attr_string(g, "command_line", meta->command_line ? meta->command_line : "");
    h5_attr_uint(g, "seed", meta->seed);
    h5_attr_int(g, "world_size", meta->world_size);
    if (meta->mode[0]) h5_attr_string(g, "mode", meta->mode);
    h5_write_text(g, "config", meta->config ? meta->config : "");
    hid_t inputs = h5_create_group(g, "inputs");
    for (int i = 0; i < meta->n_inputs; i++) {
        char name[16];
        snprintf(name, sizeof name, "%d", i);
        hid_t in = h5_create_group(inputs, name);
        h5_attr_string(in, "role", meta->inputs[i].role);
        h5_attr_string(in, "path", meta->inputs[i].path);
        h5_attr_string(in, "sha256", meta->inputs[i].sha256);
        CHECK_H5(H5Gclose(in));
    }
    CHECK_H5(H5Gclose(inputs));
    if (meta->lineage.space[0] || meta->lineage.classes[0]) {
        hid_t lineage = h5_create_group(g, "lineage");
        h5_attr_string(lineage, "space", meta->lineage.space);
        h5_attr_string(lineage, "classes", meta->lineage.classes);
        CHECK_H5(H5Gclose(lineage));
    }
    CHECK_H5(H5Gclose(g));
}

static bool read_meta(hid_t file, const char *path, ArtefactMeta *meta, Error *err) {
    memset(meta, 0, sizeof *meta);
    if (!h5_exists(file, "meta"))
        return input_error(err, "not a prenas artefact (no /meta group), %s", path);
    H5Source src = {file, path, err};
    hid_t g = h5_open_group(&src, file, "meta");
    if (g < 0) return false;
    int64_t seed = 0;
    bool ok = h5_read_attr_string(&src, g, "schema", meta->schema, sizeof meta->schema) &&
              h5_read_attr_int(&src, g, "schema_version", &meta->schema_version) &&
              h5_read_attr_string(&src, g, "stage", meta->stage, sizeof meta->stage) &&
              h5_read_attr_string(&src, g, "prenas_version", meta->prenas_version,
                                  sizeof meta->prenas_version) &&
              h5_read_attr_string(&src, g, "created", meta->created, sizeof meta->created) &&
              h5_read_attr_string(&src, g, "host", meta->host, sizeof meta->host) &&
              h5_read_attr_int(&src, g, "seed", &seed) &&
              h5_read_attr_int(&src, g, "world_size", &meta->world_size);
    meta->seed = (uint64_t)seed;
    /* only stages with modes write it */
    if (ok && H5Aexists(g, "mode") > 0)
        ok = h5_read_attr_string(&src, g, "mode", meta->mode, sizeof meta->mode);
    if (ok) {
        char *line = xmalloc(1 << 16);
        ok = h5_read_attr_string(&src, g, "command_line", line, 1 << 16);
        meta->command_line = line;
    }
    if (ok) ok = (meta->config = h5_read_text(&src, "meta/config")) != NULL;
    hid_t inputs = ok ? h5_open_group(&src, g, "inputs") : -1;
    if (inputs < 0) ok = false;
    for (int i = 0; ok && i < ARTEFACT_MAX_INPUTS; i++) {
        char name[16];
        snprintf(name, sizeof name, "%d", i);
        if (!h5_exists(inputs, name)) break;
        hid_t in = h5_open_group(&src, inputs, name);
        if (in < 0) {
            ok = false;
            break;
        }
        ArtefactInput *a = &meta->inputs[i];
        ok = h5_read_attr_string(&src, in, "role", a->role, sizeof a->role) &&
             h5_read_attr_string(&src, in, "path", a->path, sizeof a->path) &&
             h5_read_attr_string(&src, in, "sha256", a->sha256, sizeof a->sha256);
        meta->n_inputs += ok;
        H5Gclose(in);
    }
    if (inputs >= 0) H5Gclose(inputs);
    /* absent in files written before it was recorded: their lineage is unknown */
    if (ok && h5_exists(g, "lineage")) {
        hid_t lineage = h5_open_group(&src, g, "lineage");
        Lineage *l = &meta->lineage;
        ok = lineage >= 0 &&
             h5_read_attr_string(&src, lineage, "space", l->space, sizeof l->space) &&
             h5_read_attr_string(&src, lineage, "classes", l->classes, sizeof l->classes);
        if (lineage >= 0) H5Gclose(lineage);
    }
    H5Gclose(g);
    if (!ok) artefact_meta_free(meta);
    return ok;
}

/* ---- atomic writing ---- */

static bool fsync_path(const char *path, int flags, Error *err) {
    int fd = open(path, flags);
    if (fd < 0) return input_error(err, "cannot open to flush it: %m, %s", path);
    /* EINVAL: a file system without fsync on dirs */
    bool ok = fsync(fd) == 0 || errno == EINVAL || input_error(err, "cannot flush: %m, %s", path);
    close(fd);
    return ok;
}

static void directory_of(const char *path, char *dir, size_t size) {
    char copy[ARTEFACT_PATH_MAX];
    snprintf(copy, sizeof copy, "%s", path);
    snprintf(dir, size, "%s", dirname(copy));
}

bool artefact_check_output(const char *path, Error *err) {
    if (!path[0]) return input_error(err, "the output path is empty");
    char dir[ARTEFACT_PATH_MAX];
    directory_of(path, dir, sizeof dir);
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return input_error(err, "the output directory does not exist, %s", dir);
    if (access(dir, W_OK) != 0)
        return input_error(err, "the output directory is not writable: %m, %s", dir);
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        return input_error(err, "the output path is a directory, %s", path);
    return true;
}

bool artefact_check_not_input(const char *path, int n, const char *const *inputs, Error *err) {
    struct stat out, in;
    if (!path || stat(path, &out) != 0) return true;
    for (int i = 0; i < n; i++)
        if (inputs[i] && stat(inputs[i], &in) == 0 && out.st_dev == in.st_dev &&
            out.st_ino == in.st_ino)
            return input_error(err, "the output would replace an input, %s", path);
    return true;
}

/* PATH.tmp opened without truncating it and locked (flock), or -1 after an input error that
 * names the cause: another process writing it (a second stage with the same output), or the
 * file system's refusal. */
static int lock_tmp_file(const char *tmp_path, Error *err) {
    int fd = open(tmp_path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0) return input_error(err, "cannot create the output file: %m, %s", tmp_path), -1;
    if (flock(fd, LOCK_EX | LOCK_NB) == 0) return fd;
    if (errno == EWOULDBLOCK)
        input_error(err,
                    "another process is writing the temporary file (a second run with the same "
                    "output?), %s",
                    tmp_path);
    else
        input_error(err, "cannot lock the output file: %m, %s", tmp_path);
    close(fd);
    return -1;
}

static bool begin_paths(ArtefactWriter *w, const char *path, Error *err) {
    memset(w, 0, sizeof *w);
    w->file = -1;
    if (strlen(path) + 1 > sizeof w->path)
        return input_error(err, "output path too long, %s", path);
    snprintf(w->path, sizeof w->path, "%s", path);
    snprintf(w->tmp_path, sizeof w->tmp_path, "%s.tmp", path);
    return true;
}

bool artefact_begin(ArtefactWriter *w, const char *path, Error *err) {
    if (!begin_paths(w, path, err) || !artefact_check_output(path, err)) return false;
    /* H5Fcreate truncates the file before it takes HDF5's lock (flock) on it: a second stage
     * with the same output would empty the first one's PATH.tmp under it and only then fail.
     * So the lock is tried first on a descriptor that truncates nothing. It is released again
     * before H5Fcreate, whose own lock conflicts with any other descriptor's. */
    const int fd = lock_tmp_file(w->tmp_path, err);
    if (fd < 0) return false;
    close(fd); /* releases the lock; nothing was written */
    errno = 0;
    w->file = H5Fcreate(w->tmp_path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (w->file < 0)
        return input_error(err, "cannot create the output file: %s, %s",
                           errno ? strerror(errno) : "HDF5 refused it", w->tmp_path);
    return true;
}

/* A commit or abort holds the guard's lock to its end, so that a signal never removes a file
 * being renamed and, once either is over, finds nothing of this writer's to remove. */
static void guard_lock(ArtefactWriter *w) {
    if (w->guard) pthread_mutex_lock(&w->guard->lock);
}

static void guard_unlock(ArtefactWriter *w) {
    ArtefactGuard *g = w->guard;
    if (!g) return;
    for (int i = 0; i < g->n; i++) {
        if (strcmp(g->tmp_paths[i], w->tmp_path) != 0) continue;
        free(g->tmp_paths[i]);
        g->tmp_paths[i] = g->tmp_paths[--g->n];
        break;
    }
    pthread_mutex_unlock(&g->lock);
    w->guard = NULL;
}

bool artefact_begin_in_memory(ArtefactWriter *w, const char *path, Error *err) {
    if (!begin_paths(w, path, err)) return false;
    hid_t access = H5Pcreate(H5P_FILE_ACCESS);
    CHECK_H5(access);
    CHECK_H5(H5Pset_fapl_core(access, 1 << 20, false)); /* grows by 1 MiB; no file behind it */
    w->file = H5Fcreate(w->tmp_path, H5F_ACC_TRUNC, H5P_DEFAULT, access);
    CHECK_H5(w->file);
    CHECK_H5(H5Pclose(access));
    w->in_memory = true;
    return true;
}

/* The in-memory file written to PATH.tmp, flushed to the disk, every call checked. */
static bool write_image(ArtefactWriter *w, Error *err) {
    CHECK_H5(H5Fflush(w->file, H5F_SCOPE_GLOBAL));
    const ssize_t size = H5Fget_file_image(w->file, NULL, 0);
    CHECK_H5(size);
    char *image = xmalloc((size_t)size);
    CHECK_H5(H5Fget_file_image(w->file, image, (size_t)size));
    CHECK_H5(H5Fclose(w->file));
    w->file = -1;
    const int fd = lock_tmp_file(w->tmp_path, err);
    bool ok = fd >= 0;
    if (ok && ftruncate(fd, 0) != 0) ok = input_error(err, "cannot write: %m, %s", w->tmp_path);
    for (ssize_t done = 0; ok && done < size;) {
        const ssize_t n = write(fd, image + done, (size_t)(size - done));
        if (n >= 0)
            done += n;
        else if (errno != EINTR)
            ok = input_error(err, "cannot write: %m, %s", w->tmp_path);
    }
    if (ok && fsync(fd) != 0) ok = input_error(err, "cannot write: %m, %s", w->tmp_path);
    if (fd >= 0 && close(fd) != 0 && ok) ok = input_error(err, "cannot write: %m, %s", w->tmp_path);
    free(image);
    return ok;
}

bool artefact_save(ArtefactWriter *w, const ArtefactMeta *meta, Error *err) {
    guard_lock(w);
    write_meta(w->file, meta);
    bool ok;
    if (w->in_memory) {
        ok = write_image(w, err);
    } else {
        CHECK_H5(H5Fflush(w->file, H5F_SCOPE_GLOBAL));
        CHECK_H5(H5Fclose(w->file));
        w->file = -1;
        ok = fsync_path(w->tmp_path, O_RDONLY, err);
    }
    if (ok && rename(w->tmp_path, w->path) != 0)
        ok = input_error(err, "cannot rename %s to %s: %m", w->tmp_path, w->path);
    if (!ok) unlink(w->tmp_path);
    guard_unlock(w);
    char dir[ARTEFACT_PATH_MAX];
    directory_of(w->path, dir, sizeof dir);
    return ok && fsync_path(dir, O_RDONLY | O_DIRECTORY, err);
}

void artefact_commit(ArtefactWriter *w, const ArtefactMeta *meta) {
    Error err = {0};
    if (!artefact_save(w, meta, &err)) fatal_at(__FILE__, __LINE__, "%s", err.message);
}

void artefact_abort(ArtefactWriter *w) {
    guard_lock(w);
    if (w->file >= 0) H5Fclose(w->file);
    w->file = -1;
    if (w->tmp_path[0]) unlink(w->tmp_path);
    guard_unlock(w);
}

static void *guard_wait(void *arg) {
    ArtefactGuard *guard = arg;
    int number;
    if (sigwait(&guard->signals, &number) != 0) return NULL; /* only for a bad set */
    /* Held until the process ends: a commit or abort waiting for it never runs. */
    pthread_mutex_lock(&guard->lock);
    for (int i = 0; i < guard->n; i++) unlink(guard->tmp_paths[i]);
    /* The signal again, with its default action and unblocked in this thread only, so that
     * the process ends as the signal would have ended it: the status a shell or Slurm sees. */
    sigset_t one;
    sigemptyset(&one);
    sigaddset(&one, number);
    signal(number, SIG_DFL);
    pthread_sigmask(SIG_UNBLOCK, &one, NULL); /* a valid set: it cannot fail */
    raise(number);
    return NULL;
}

void artefact_guard_start(ArtefactGuard *guard) {
    guard->n = 0;
    guard->tmp_paths = NULL;
    pthread_mutex_init(&guard->lock, NULL); /* default attributes: it cannot fail */
    sigemptyset(&guard->signals);
    /* A signal ignored at start stays ignored (a shell ignores SIGINT in background jobs):
     * blocked, it would be kept for sigwait instead of discarded. */
    static const int numbers[] = {SIGTERM, SIGINT};
    for (size_t i = 0; i < sizeof numbers / sizeof *numbers; i++) {
        struct sigaction action;
        CHECK_SYS(sigaction(numbers[i], NULL, &action));
        if (action.sa_handler != SIG_IGN) sigaddset(&guard->signals, numbers[i]);
    }
    pthread_sigmask(SIG_BLOCK, &guard->signals, NULL);
    pthread_t thread;
    if (pthread_create(&thread, NULL, guard_wait, guard) != 0)
        fatal_at(__FILE__, __LINE__, "cannot start the signal thread");
    pthread_detach(thread);
}

bool artefact_begin_guarded(ArtefactWriter *w, const char *path, ArtefactGuard *guard, Error *err) {
    /* The lock from before PATH.tmp exists until the guard knows it: a signal in between,
     * taken without it, would end the stage with the file left behind. */
    pthread_mutex_lock(&guard->lock);
    const bool ok = artefact_begin(w, path, err);
    if (ok) {
        guard->tmp_paths =
            xrealloc(guard->tmp_paths, sizeof *guard->tmp_paths * (size_t)(guard->n + 1));
        guard->tmp_paths[guard->n++] = xstrdup(w->tmp_path);
        w->guard = guard;
    }
    pthread_mutex_unlock(&guard->lock);
    return ok;
}

/* The signal thread takes the lock before it removes anything and never gives it back: while
 * it is held, a signal ends the process only once the outputs are whole or gone. */
void artefact_guard_hold(ArtefactGuard *guard) {
    pthread_mutex_lock(&guard->lock);
}

void artefact_guard_release(ArtefactGuard *guard) {
    pthread_mutex_unlock(&guard->lock);
}

bool atomic_write_text(const char *path, const char *text, Error *err) {
    char tmp[ARTEFACT_PATH_MAX + 8], dir[ARTEFACT_PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) return input_error(err, "cannot create the output file: %m, %s", tmp);
    const size_t length = strlen(text);
    bool ok = fwrite(text, 1, length, f) == length && fflush(f) == 0 && fsync(fileno(f)) == 0;
    if (fclose(f) != 0) ok = false;
    if (!ok) {
        unlink(tmp);
        return input_error(err, "cannot write: %m, %s", tmp);
    }
    if (rename(tmp, path) != 0) {
        unlink(tmp);
        return input_error(err, "cannot rename %s to %s: %m", tmp, path);
    }
    directory_of(path, dir, sizeof dir);
    return fsync_path(dir, O_RDONLY | O_DIRECTORY, err);
}

/* ---- reading ---- */

bool artefact_open(Artefact *a, const char *path, const char *schema, int64_t max_version,
                   Error *err) {
    memset(a, 0, sizeof *a);
    a->file = -1;
    snprintf(a->path, sizeof a->path, "%s", path);
    if (access(path, R_OK) != 0) return input_error(err, "cannot open: %m, %s", path);
    htri_t is_hdf5 = H5Fis_hdf5(path);
    if (is_hdf5 <= 0) return input_error(err, "not an HDF5 file, %s", path);
    a->file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (a->file < 0)
        return input_error(err, "cannot be opened as HDF5 (truncated or corrupt), %s", path);
    bool ok = read_meta(a->file, path, &a->meta, err);
    if (ok && schema && strcmp(a->meta.schema, schema) != 0)
        ok =
            input_error(err, "is a '%s' artefact, expected '%s', %s", a->meta.schema, schema, path);
    if (ok && (a->meta.schema_version < 1 || a->meta.schema_version > max_version))
        ok = input_error(err,
                         "schema '%s' version %lld is not supported by this prenas (versions 1 to "
                         "%lld; written by prenas %s), %s",
                         a->meta.schema, (long long)a->meta.schema_version, (long long)max_version,
                         a->meta.prenas_version, path);
    if (!ok) artefact_close(a);
    return ok;
}

void artefact_close(Artefact *a) {
    if (a->file >= 0) H5Fclose(a->file);
    a->file = -1;
    artefact_meta_free(&a->meta);
}
