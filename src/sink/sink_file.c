/* sink_file.c -- the file:// sink backend: objects are files under a root.
 *
 * Every object appears atomically: it is written to a dot-named temporary
 * file in its target directory, fsynced, renamed into place and the
 * directory fsynced, so a reader (or a crash) never sees a partial object.
 * Temporary files are ordinary names that sink_list() shows, so the chunk
 * writer can delete the debris a crashed attempt left. File errors become
 * BF_E_SINK_* here (sink.h). Called through the sink_ops table from
 * sink.c, which has checked every key and holds the sink's mutex.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sink/private/sink_backend.h"
#include "util/fileio.h"
#include "util/timeutil.h"

struct sink_file {
    struct sink base;
    char root[PATH_MAX];      /* the directory, absolute, no trailing '/' */
    unsigned long tmp_counter;
};

struct sink_file_object {
    struct sink_object base;
    int fd;
    char tmp_path[PATH_MAX];  /* "" once renamed (or never ours) */
    char final_path[PATH_MAX];
};

struct sink_file_reader {
    struct sink_reader base;
    FILE *fp;
};

static struct sink_file *file_of(const struct sink *s)
{
    return (struct sink_file *)s;
}

/* A permission problem needs the operator (like S3's 403); anything else
 * (a full disk, an I/O error) may pass, so it is worth a retry. */
static enum bf_rc sink_file_errno(struct bf_err *err, const char *what,
                                  const char *path)
{
    int e = errno;
    int denied = e == EACCES || e == EPERM || e == EROFS;
    enum bf_rc rc = denied ? BF_E_SINK_ACCESS_DENIED : BF_E_SINK_UNAVAILABLE;

    bf_err_set(err, rc, "%s %s: %s", what, path, strerror(e));
    if (err != NULL)
        err->retryable = !denied;
    return rc;
}

static enum bf_rc sink_file_mkdir_p(const char *dir, struct bf_err *err)
{
    char tmp[PATH_MAX];
    char *p = NULL;

    if (snprintf(tmp, sizeof(tmp), "%s", dir) >= (int)sizeof(tmp))
        return bf_err_set(err, BF_E_CONFIG, "path too long: %s", dir);
    for (p = tmp + 1; *p != '\0'; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
            return sink_file_errno(err, "mkdir", tmp);
        *p = '/';
    }
    if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
        return sink_file_errno(err, "mkdir", tmp);
    return BF_OK;
}

static enum bf_rc sink_file_path(const struct sink *s, const char *key,
                                 char *out, size_t n, struct bf_err *err)
{
    if (snprintf(out, n, "%s/%s", file_of(s)->root, key) >= (int)n)
        return bf_err_set(err, BF_E_CONFIG, "path too long for key %s", key);
    return BF_OK;
}

/* fsync the directory holding `path`, so a rename survives a power cut. */
static enum bf_rc sink_file_fsync_parent(const char *path, struct bf_err *err)
{
    char dir[PATH_MAX];
    char *slash = NULL;
    int fd;
    enum bf_rc rc = BF_OK;

    snprintf(dir, sizeof(dir), "%s", path);
    slash = strrchr(dir, '/');
    if (slash == NULL)
        snprintf(dir, sizeof(dir), ".");
    else if (slash == dir)
        slash[1] = '\0';
    else
        *slash = '\0';
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return sink_file_errno(err, "open", dir);
    if (fsync(fd) != 0)
        rc = sink_file_errno(err, "fsync", dir);
    close(fd);
    return rc;
}

static void sink_file_uri(const struct sink *s, const char *key, char *out,
                          size_t n)
{
    snprintf(out, n, "file://%s%s%s", file_of(s)->root, key[0] ? "/" : "",
             key);
}

/* Create the object's temporary file beside its final path. */
static enum bf_rc sink_file_create_tmp(struct sink_file *fs,
                                       struct sink_file_object *o,
                                       const char *key, struct bf_err *err)
{
    char dir[PATH_MAX];
    char *slash = NULL;
    uint64_t nonce = 0;
    enum bf_rc rc;

    snprintf(dir, sizeof(dir), "%s", o->final_path);
    slash = strrchr(dir, '/');
    *slash = '\0';
    rc = sink_file_mkdir_p(dir, err);
    if (rc != BF_OK)
        return rc;
    /* A dot name in the same directory: same file system (rename is atomic)
     * and never matched by readers looking for part-* or _manifest.json. */
    /* pid, sink and counter make the name unique even when two tasks in
     * one process write the same chunk; O_EXCL makes sure of it. The random
     * part keeps a retry from colliding with debris that a crashed earlier
     * process left under the same pid (pid 1 in every container). */
    if (getrandom(&nonce, sizeof(nonce), 0) != (ssize_t)sizeof(nonce))
        nonce = (uint64_t)time_mono_ms();
    if (snprintf(o->tmp_path, sizeof(o->tmp_path), "%s/.%s.tmp-%ld-%lx-%lu-%016llx",
                 dir, slash + 1, (long)getpid(), (unsigned long)(uintptr_t)fs,
                 ++fs->tmp_counter, (unsigned long long)nonce) >= (int)sizeof(o->tmp_path))
        return bf_err_set(err, BF_E_CONFIG, "path too long for key %s", key);
    o->fd = open(o->tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (o->fd < 0)
        return sink_file_errno(err, "create", o->tmp_path);
    return BF_OK;
}

static enum bf_rc sink_file_begin(struct sink *s, const char *key,
                                  struct sink_object **out, struct bf_err *err)
{
    struct sink_file_object *o = calloc(1, sizeof(*o));
    enum bf_rc rc;

    if (o == NULL)
        return bf_err_set(err, BF_E_NOMEM, "out of memory");
    o->base.s = s;
    o->fd = -1;
    rc = sink_file_path(s, key, o->final_path, sizeof(o->final_path), err);
    if (rc == BF_OK)
        rc = sink_file_create_tmp(file_of(s), o, key, err);
    if (rc != BF_OK) {
        free(o); /* nothing was created: the file is opened last */
        return rc;
    }
    *out = &o->base;
    return BF_OK;
}

static enum bf_rc sink_file_write(struct sink_object *base, const void *p,
                                  size_t n, struct bf_err *err)
{
    struct sink_file_object *o = (struct sink_file_object *)base;
    const char *c = p;

    while (n > 0) {
        ssize_t w = write(o->fd, c, n);

        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return sink_file_errno(err, "write", o->tmp_path);
        c += w;
        n -= (size_t)w;
    }
    return BF_OK;
}

static void sink_file_abort(struct sink_object *base)
{
    struct sink_file_object *o = (struct sink_file_object *)base;

    if (o->fd >= 0)
        close(o->fd);
    if (o->tmp_path[0] != '\0')
        unlink(o->tmp_path);
    free(o);
}

static enum bf_rc sink_file_commit(struct sink_object *base, struct bf_err *err)
{
    struct sink_file_object *o = (struct sink_file_object *)base;
    enum bf_rc rc = BF_OK;

    if (fsync(o->fd) != 0)
        rc = sink_file_errno(err, "fsync", o->tmp_path);
    if (close(o->fd) != 0 && rc == BF_OK)
        rc = sink_file_errno(err, "close", o->tmp_path);
    o->fd = -1;
    if (rc == BF_OK && rename(o->tmp_path, o->final_path) != 0)
        rc = sink_file_errno(err, "rename", o->final_path);
    if (rc == BF_OK) {
        o->tmp_path[0] = '\0';
        rc = sink_file_fsync_parent(o->final_path, err);
    }
    sink_file_abort(base);
    return rc;
}

static enum bf_rc sink_file_get(struct sink *s, const char *key,
                                struct buf *out, int *found,
                                struct bf_err *err)
{
    char path[PATH_MAX];
    enum bf_rc rc = sink_file_path(s, key, path, sizeof(path), err);
    int missing = 0;

    if (rc != BF_OK)
        return rc;
    rc = file_read_all(path, out, &missing, err);
    /* errno is still the failing call's: it tells denied from unavailable. */
    if (rc == BF_E_IO)
        return sink_file_errno(err, "read", path);
    *found = rc == BF_OK && !missing;
    return rc;
}

static enum bf_rc sink_file_read_open(struct sink *s, const char *key,
                                      struct sink_reader **out, int *found,
                                      struct bf_err *err)
{
    struct sink_file_reader *r = NULL;
    char path[PATH_MAX];
    FILE *fp = NULL;
    enum bf_rc rc = sink_file_path(s, key, path, sizeof(path), err);

    if (rc != BF_OK)
        return rc;
    fp = fopen(path, "rb");
    if (fp == NULL)
        return errno == ENOENT ? BF_OK : sink_file_errno(err, "open", path);
    r = calloc(1, sizeof(*r));
    if (r == NULL) {
        fclose(fp);
        return bf_err_set(err, BF_E_NOMEM, "out of memory");
    }
    r->base.s = s;
    r->fp = fp;
    *found = 1;
    *out = &r->base;
    return BF_OK;
}

static enum bf_rc sink_file_read(struct sink_reader *base, void *p, size_t cap,
                                 size_t *got, struct bf_err *err)
{
    struct sink_file_reader *r = (struct sink_file_reader *)base;
    size_t n = fread(p, 1, cap, r->fp);

    if (n == 0 && ferror(r->fp))
        return sink_file_errno(err, "read", "object");
    *got = n;
    return BF_OK;
}

static void sink_file_read_close(struct sink_reader *base)
{
    struct sink_file_reader *r = (struct sink_file_reader *)base;

    fclose(r->fp);
    free(r);
}

static enum bf_rc sink_file_del(struct sink *s, const char *key,
                                struct bf_err *err)
{
    char path[PATH_MAX];
    enum bf_rc rc = sink_file_path(s, key, path, sizeof(path), err);

    if (rc != BF_OK)
        return rc;
    if (unlink(path) != 0 && errno != ENOENT)
        return sink_file_errno(err, "unlink", path);
    return BF_OK;
}

static enum bf_rc sink_file_list(struct sink *s, const char *dir,
                                 char ***names, size_t *n, struct bf_err *err)
{
    char path[PATH_MAX];
    DIR *d = NULL;
    struct dirent *e = NULL;
    enum bf_rc rc = sink_file_path(s, dir, path, sizeof(path), err);

    if (rc != BF_OK)
        return rc;
    d = opendir(path);
    if (d == NULL && errno == ENOENT)
        return BF_OK;
    if (d == NULL)
        return sink_file_errno(err, "opendir", path);
    for (e = readdir(d); e != NULL && rc == BF_OK; e = readdir(d)) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 ||
            e->d_type == DT_DIR)
            continue;
        rc = sink_names_push(names, n, e->d_name, err);
    }
    closedir(d);
    if (rc == BF_OK)
        sink_names_sort(*names, *n);
    return rc;
}

static void sink_file_destroy(struct sink *s)
{
    sink_base_cleanup(s);
    free(file_of(s));
}

static const struct sink_ops sink_file_ops = {
    .kind = "file",
    .uri = sink_file_uri,
    .begin = sink_file_begin,
    .write = sink_file_write,
    .commit = sink_file_commit,
    .abort = sink_file_abort,
    .get = sink_file_get,
    .read_open = sink_file_read_open,
    .read = sink_file_read,
    .read_close = sink_file_read_close,
    .del = sink_file_del,
    .list = sink_file_list,
    .abort_incomplete = NULL, /* temporary files are listed, not hidden */
    .destroy = sink_file_destroy,
};

/* The root as given, without trailing slashes, created, then absolute. */
static enum bf_rc sink_file_set_root(struct sink_file *fs, const char *path,
                                     struct bf_err *err)
{
    char abs[PATH_MAX];
    size_t n;
    enum bf_rc rc;

    if (path[0] == '\0')
        return bf_err_set(err, BF_E_CONFIG, "file:// output needs a directory");
    if (snprintf(fs->root, sizeof(fs->root), "%s", path) >= (int)sizeof(fs->root))
        return bf_err_set(err, BF_E_CONFIG, "output path too long");
    n = strlen(fs->root);
    while (n > 1 && fs->root[n - 1] == '/')
        fs->root[--n] = '\0';
    rc = sink_file_mkdir_p(fs->root, err);
    if (rc != BF_OK)
        return rc;
    /* Fix a relative root now: the URI in results must be absolute, and a
     * later chdir must not move the output. */
    if (realpath(path, abs) == NULL)
        return sink_file_errno(err, "realpath", path);
    snprintf(fs->root, sizeof(fs->root), "%s", abs);
    return BF_OK;
}

enum bf_rc sink_file_open(const char *path, struct sink **out,
                          struct bf_err *err)
{
    struct sink_file *fs = calloc(1, sizeof(*fs));
    enum bf_rc rc;

    if (fs == NULL)
        return bf_err_set(err, BF_E_NOMEM, "out of memory");
    rc = sink_base_init(&fs->base, &sink_file_ops, err);
    if (rc != BF_OK) {
        free(fs);
        return rc;
    }
    rc = sink_file_set_root(fs, path, err);
    if (rc != BF_OK) {
        sink_file_destroy(&fs->base);
        return rc;
    }
    *out = &fs->base;
    return BF_OK;
}
