/* sink.c -- the output sinks: a local directory (file://) or S3 (s3://).
 *
 * One small vtable, two backends. The file backend makes every object
 * appear atomically: temp file in the same directory, fsync, rename, fsync
 * of the directory, so a reader (or a crash) never sees a partial object.
 * The S3 backend buffers at most one multipart part: a small object is one
 * PutObject at commit, a large one a multipart upload that is aborted on
 * any failure. Only this layer knows the calls were "the sink", so it is
 * where S3 and file errors become BF_E_SINK_* (sink.h).
 * A sink may be shared by threads (a chunk's raw and canonical compressor
 * threads write through one): every call that reaches the backend holds
 * the sink's mutex, because the S3 client is one connection and the file
 * backend's counters are shared. Calls on different objects serialise;
 * none of them is long except an S3 upload, which was serial anyway.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "aws/awsrest.h"
#include "aws/s3.h"
#include "sink/sink.h"
#include "util/fileio.h"
#include "util/timeutil.h"

#define SINK_DEFAULT_PART (8u * 1024 * 1024)
#define SINK_MIN_PART (5u * 1024 * 1024)
#define SINK_MAX_PARTS 10000

struct sink_ops {
    enum bf_rc (*begin)(struct sink *s, const char *key, struct sink_object *o,
                        struct bf_err *err);
    enum bf_rc (*write)(struct sink_object *o, const void *p, size_t n,
                        struct bf_err *err);
    enum bf_rc (*commit)(struct sink_object *o, struct bf_err *err);
    void (*abort)(struct sink_object *o);
    enum bf_rc (*get)(struct sink *s, const char *key, struct buf *out,
                      int *found, struct bf_err *err);
    enum bf_rc (*del)(struct sink *s, const char *key, struct bf_err *err);
    enum bf_rc (*list)(struct sink *s, const char *dir, char ***names,
                       size_t *n, struct bf_err *err);
};

struct sink {
    pthread_mutex_t mu;       /* serialises calls into the backend */
    const struct sink_ops *ops;
    const char *kind;
    char root[PATH_MAX];      /* file: the directory; s3: the prefix or "" */
    char bucket[64];          /* s3 only */
    char sse_kms_key_id[256];
    size_t part_size;
    struct s3_client *s3;
    struct awsenv *aws;
    unsigned long tmp_counter;
    int fail_write_after;     /* test seam (sink_test_fail_write_after) */
};

struct sink_object {
    struct sink *s;
    char key[PATH_MAX];
    /* file */
    int fd;
    char tmp_path[PATH_MAX];
    char final_path[PATH_MAX];
    int crashed;              /* a simulated crash: leave the debris */
    /* s3 */
    struct buf pending;
    char *upload_id;
    char (*etags)[128];
    int nparts;
};

/* ---- helpers shared by both backends ---- */

/* Keys are relative paths: no leading '/', no empty, "." or ".." segment. */
static enum bf_rc check_key(const char *key, struct bf_err *err)
{
    const char *p = key;

    if (key[0] == '\0' || key[0] == '/')
        goto bad;
    while (*p != '\0') {
        size_t n = strcspn(p, "/");

        if (n == 0 || (n == 1 && p[0] == '.') ||
            (n == 2 && p[0] == '.' && p[1] == '.'))
            goto bad;
        p += n;
        if (*p == '/')
            p++;
    }
    return BF_OK;
bad:
    return bf_err_set(err, BF_E_INTERNAL, "invalid sink key '%s'", key);
}

/* Whether a sink_object_write() should fail now (the crash test seam). */
static int simulated_crash(struct sink *s)
{
    if (s->fail_write_after <= 0)
        return 0;
    s->fail_write_after--;
    return s->fail_write_after == 0;
}

/* ---- file backend ---- */

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

static enum bf_rc mkdir_p(const char *dir, struct bf_err *err)
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
    if (snprintf(out, n, "%s/%s", s->root, key) >= (int)n)
        return bf_err_set(err, BF_E_CONFIG, "path too long for key %s", key);
    return BF_OK;
}

/* fsync the directory holding `path`, so a rename survives a power cut. */
static enum bf_rc fsync_parent(const char *path, struct bf_err *err)
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

static enum bf_rc sink_file_begin(struct sink *s, const char *key,
                                  struct sink_object *o, struct bf_err *err)
{
    char dir[PATH_MAX];
    char *slash = NULL;
    uint64_t nonce = 0;
    enum bf_rc rc = sink_file_path(s, key, o->final_path, sizeof(o->final_path), err);

    if (rc != BF_OK)
        return rc;
    snprintf(dir, sizeof(dir), "%s", o->final_path);
    slash = strrchr(dir, '/');
    *slash = '\0';
    rc = mkdir_p(dir, err);
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
                 dir, slash + 1, (long)getpid(), (unsigned long)(uintptr_t)s,
                 ++s->tmp_counter, (unsigned long long)nonce) >= (int)sizeof(o->tmp_path))
        return bf_err_set(err, BF_E_CONFIG, "path too long for key %s", key);
    o->fd = open(o->tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (o->fd < 0) {
        rc = sink_file_errno(err, "create", o->tmp_path);
        o->tmp_path[0] = '\0'; /* not ours: abort must not unlink it */
        return rc;
    }
    return BF_OK;
}

static enum bf_rc sink_file_write(struct sink_object *o, const void *p,
                                  size_t n, struct bf_err *err)
{
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

static void sink_file_abort(struct sink_object *o)
{
    if (o->fd >= 0)
        close(o->fd);
    o->fd = -1;
    if (!o->crashed && o->tmp_path[0] != '\0')
        unlink(o->tmp_path);
}

static enum bf_rc sink_file_commit(struct sink_object *o, struct bf_err *err)
{
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
        return fsync_parent(o->final_path, err);
    }
    sink_file_abort(o);
    return rc;
}

static enum bf_rc sink_file_get(struct sink *s, const char *key,
                                struct buf *out, int *found,
                                struct bf_err *err)
{
    char path[PATH_MAX];
    enum bf_rc rc = sink_file_path(s, key, path, sizeof(path), err);
    int missing = 0;

    *found = 0;
    if (rc != BF_OK)
        return rc;
    rc = file_read_all(path, out, &missing, err);
    /* errno is still the failing call's: it tells denied from unavailable. */
    if (rc == BF_E_IO)
        return sink_file_errno(err, "read", path);
    *found = rc == BF_OK && !missing;
    return rc;
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

static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static enum bf_rc names_push(char ***names, size_t *n, const char *name,
                             struct bf_err *err)
{
    char **nn = realloc(*names, (*n + 1) * sizeof(**names));

    if (nn == NULL)
        return bf_err_set(err, BF_E_NOMEM, "out of memory");
    *names = nn;
    nn[*n] = strdup(name);
    if (nn[*n] == NULL)
        return bf_err_set(err, BF_E_NOMEM, "out of memory");
    (*n)++;
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
        rc = names_push(names, n, e->d_name, err);
    }
    closedir(d);
    if (rc == BF_OK && *n > 1)
        qsort(*names, *n, sizeof(**names), cmp_name);
    return rc;
}

static const struct sink_ops sink_file_ops = {
    sink_file_begin, sink_file_write, sink_file_commit, sink_file_abort,
    sink_file_get, sink_file_del, sink_file_list,
};

static enum bf_rc sink_file_open(struct sink *s, const char *path,
                                 struct bf_err *err)
{
    char abs[PATH_MAX];
    size_t n;
    enum bf_rc rc;

    if (path[0] == '\0')
        return bf_err_set(err, BF_E_CONFIG, "file:// output needs a directory");
    if (snprintf(s->root, sizeof(s->root), "%s", path) >= (int)sizeof(s->root))
        return bf_err_set(err, BF_E_CONFIG, "output path too long");
    n = strlen(s->root);
    while (n > 1 && s->root[n - 1] == '/')
        s->root[--n] = '\0';
    s->ops = &sink_file_ops;
    s->kind = "file";
    rc = mkdir_p(s->root, err);
    if (rc != BF_OK)
        return rc;
    /* Fix a relative root now: the URI in results must be absolute, and a
     * later chdir must not move the output. */
    if (realpath(path, abs) == NULL)
        return sink_file_errno(err, "realpath", path);
    snprintf(s->root, sizeof(s->root), "%s", abs);
    return BF_OK;
}

/* ---- S3 backend ---- */

/* Reclassify an S3 failure for the task: 403 is the operator's to fix,
 * everything else (throttling, 5xx, network) is worth a retry. A local
 * configuration error (misconfigured AWS credentials: no request was
 * sent) is no S3 outage and keeps its code, never retryable. */
static enum bf_rc sink_s3_fail(enum bf_rc rc, struct bf_err *err,
                               const char *op, const char *key)
{
    enum bf_rc out = BF_E_SINK_UNAVAILABLE;

    if (rc == BF_E_NOMEM || rc == BF_E_INTERNAL)
        return rc;
    if (rc == BF_E_CONFIG) {
        if (err != NULL)
            err->retryable = 0;
        bf_err_prefix(err, "S3 %s %s", op, key);
        return rc;
    }
    if (err != NULL && rc == BF_E_AWS && err->http_status == 403)
        out = BF_E_SINK_ACCESS_DENIED;
    if (err == NULL)
        return out;
    err->rc = out;
    /* A 4xx other than throttling or a timeout will not pass on a retry;
     * http_status is only meaningful for an AWS answer. */
    err->retryable = out == BF_E_SINK_UNAVAILABLE &&
                     !(rc == BF_E_AWS && err->http_status >= 400 &&
                       err->http_status < 500 && err->http_status != 429 &&
                       err->http_status != 408);
    snprintf(err->endpoint, sizeof(err->endpoint), "s3:%s", op);
    bf_err_prefix(err, "S3 %s %s", op, key);
    return out;
}

static enum bf_rc sink_s3_full_key(const struct sink *s, const char *key,
                                   char *out, size_t n, struct bf_err *err)
{
    int w = s->root[0] ? snprintf(out, n, "%s/%s", s->root, key)
                       : snprintf(out, n, "%s", key);

    if (w < 0 || (size_t)w >= n)
        return bf_err_set(err, BF_E_CONFIG, "S3 key too long: %s", key);
    return BF_OK;
}

static void sink_s3_put_opts(const struct sink *s, struct s3_put_options *po)
{
    po->content_type = NULL;
    po->sse_kms_key_id = s->sse_kms_key_id[0] ? s->sse_kms_key_id : NULL;
}

static enum bf_rc sink_s3_begin(struct sink *s, const char *key,
                                struct sink_object *o, struct bf_err *err)
{
    buf_init(&o->pending, s->part_size);
    return sink_s3_full_key(s, key, o->key, sizeof(o->key), err);
}

static enum bf_rc sink_s3_flush_part(struct sink_object *o, struct bf_err *err)
{
    struct sink *s = o->s;
    struct s3_put_options po;
    char (*ne)[128] = NULL;
    enum bf_rc rc = BF_OK;

    sink_s3_put_opts(s, &po);
    if (o->upload_id == NULL) {
        rc = s3_mpu_create(s->s3, s->bucket, o->key, &po, &o->upload_id, err);
        if (rc != BF_OK)
            return sink_s3_fail(rc, err, "CreateMultipartUpload", o->key);
    }
    if (o->nparts == SINK_MAX_PARTS)
        return bf_err_set(err, BF_E_LIMIT, "S3 object %s: too many parts", o->key);
    ne = realloc(o->etags, (size_t)(o->nparts + 1) * sizeof(*ne));
    if (ne == NULL)
        return bf_err_set(err, BF_E_NOMEM, "out of memory");
    o->etags = ne;
    rc = s3_mpu_upload_part(s->s3, s->bucket, o->key, o->upload_id,
                            o->nparts + 1, o->pending.data, o->pending.len,
                            o->etags[o->nparts], err);
    if (rc != BF_OK)
        return sink_s3_fail(rc, err, "UploadPart", o->key);
    o->nparts++;
    buf_reset(&o->pending);
    return BF_OK;
}

static enum bf_rc sink_s3_write(struct sink_object *o, const void *p, size_t n,
                                struct bf_err *err)
{
    const char *c = p;
    enum bf_rc rc = BF_OK;

    while (n > 0 && rc == BF_OK) {
        size_t room = o->s->part_size - o->pending.len;
        size_t take = n < room ? n : room;

        rc = buf_append(&o->pending, c, take);
        if (rc != BF_OK)
            return bf_err_set(err, rc, "out of memory buffering %s", o->key);
        c += take;
        n -= take;
        /* Upload a full part only when more data follows, so that an object
         * of exactly one part size still goes out as a single PutObject. */
        if (o->pending.len == o->s->part_size && n > 0)
            rc = sink_s3_flush_part(o, err);
    }
    return rc;
}

static void sink_s3_abort(struct sink_object *o)
{
    struct bf_err ignored;

    if (o->upload_id != NULL)
        s3_mpu_abort(o->s->s3, o->s->bucket, o->key, o->upload_id, &ignored);
    free(o->upload_id);
    o->upload_id = NULL;
    free(o->etags);
    o->etags = NULL;
    buf_cleanup(&o->pending);
}

static enum bf_rc sink_s3_commit(struct sink_object *o, struct bf_err *err)
{
    struct sink *s = o->s;
    struct s3_put_options po;
    enum bf_rc rc = BF_OK;

    sink_s3_put_opts(s, &po);
    if (o->upload_id == NULL) {
        rc = s3_put_object(s->s3, s->bucket, o->key, o->pending.data,
                           o->pending.len, &po, err);
        if (rc != BF_OK)
            rc = sink_s3_fail(rc, err, "PutObject", o->key);
        sink_s3_abort(o);
        return rc;
    }
    if (o->pending.len > 0)
        rc = sink_s3_flush_part(o, err);
    if (rc == BF_OK) {
        rc = s3_mpu_complete(s->s3, s->bucket, o->key, o->upload_id, o->etags,
                             o->nparts, err);
        if (rc != BF_OK)
            rc = sink_s3_fail(rc, err, "CompleteMultipartUpload", o->key);
    }
    if (rc == BF_OK) {
        free(o->upload_id); /* completed: nothing to abort */
        o->upload_id = NULL;
    }
    sink_s3_abort(o);
    return rc;
}

static enum bf_rc sink_s3_get(struct sink *s, const char *key, struct buf *out,
                              int *found, struct bf_err *err)
{
    char full[PATH_MAX];
    enum bf_rc rc = sink_s3_full_key(s, key, full, sizeof(full), err);

    if (rc == BF_OK)
        rc = s3_get_object(s->s3, s->bucket, full, out, found, err);
    if (rc == BF_E_AWS || rc == BF_E_TRANSPORT)
        rc = sink_s3_fail(rc, err, "GetObject", full);
    return rc;
}

static enum bf_rc sink_s3_del(struct sink *s, const char *key,
                              struct bf_err *err)
{
    char full[PATH_MAX];
    enum bf_rc rc = sink_s3_full_key(s, key, full, sizeof(full), err);

    if (rc == BF_OK)
        rc = s3_delete_object(s->s3, s->bucket, full, err);
    if (rc == BF_E_AWS || rc == BF_E_TRANSPORT)
        rc = sink_s3_fail(rc, err, "DeleteObject", full);
    return rc;
}

static enum bf_rc sink_s3_list(struct sink *s, const char *dir, char ***names,
                               size_t *n, struct bf_err *err)
{
    char prefix[PATH_MAX];
    char **keys = NULL;
    size_t nkeys = 0, i, plen;
    enum bf_rc rc = sink_s3_full_key(s, dir, prefix, sizeof(prefix) - 1, err);

    if (rc != BF_OK)
        return rc;
    strcat(prefix, "/");
    plen = strlen(prefix);
    rc = s3_list_objects(s->s3, s->bucket, prefix, 1, 0, &keys, &nkeys, err);
    if (rc == BF_E_AWS || rc == BF_E_TRANSPORT)
        rc = sink_s3_fail(rc, err, "ListObjectsV2", prefix);
    for (i = 0; rc == BF_OK && i < nkeys; i++) {
        if (strncmp(keys[i], prefix, plen) != 0 || keys[i][plen] == '\0' ||
            strchr(keys[i] + plen, '/') != NULL)
            continue;
        rc = names_push(names, n, keys[i] + plen, err);
    }
    s3_keys_free(keys, nkeys);
    if (rc == BF_OK && *n > 1)
        qsort(*names, *n, sizeof(**names), cmp_name);
    return rc;
}

static const struct sink_ops sink_s3_ops = {
    sink_s3_begin, sink_s3_write, sink_s3_commit, sink_s3_abort,
    sink_s3_get, sink_s3_del, sink_s3_list,
};

static enum bf_rc sink_s3_open(struct sink *s, const char *rest,
                               struct awsenv *aws, struct bf_err *err)
{
    size_t blen = strcspn(rest, "/");
    size_t n;

    if (aws == NULL)
        return bf_err_set(err, BF_E_CONFIG, "s3:// output needs AWS settings");
    if (blen < 3 || blen >= sizeof(s->bucket))
        return bf_err_set(err, BF_E_CONFIG, "s3:// output: bad bucket name");
    memcpy(s->bucket, rest, blen);
    s->bucket[blen] = '\0';
    /* Refused here, once, as configuration: found at the first upload it
     * would look like an unavailable sink and be retried forever. */
    if (!awsrest_bucket_valid(s->bucket))
        return bf_err_set(err, BF_E_CONFIG, "s3:// output: bad bucket name "
                          "\"%s\"", s->bucket);
    rest += blen;
    while (*rest == '/')
        rest++;
    if (snprintf(s->root, sizeof(s->root), "%s", rest) >= (int)sizeof(s->root))
        return bf_err_set(err, BF_E_CONFIG, "s3:// output: prefix too long");
    n = strlen(s->root);
    while (n > 0 && s->root[n - 1] == '/')
        s->root[--n] = '\0';
    s->aws = awsenv_acquire(aws);
    s->ops = &sink_s3_ops;
    s->kind = "s3";
    return s3_client_new(aws, &s->s3, err);
}

/* ---- the interface ---- */

enum bf_rc sink_open(const char *output_uri, struct awsenv *aws,
                     const struct sink_options *opts, struct sink **out,
                     struct bf_err *err)
{
    struct sink *s = calloc(1, sizeof(*s));
    enum bf_rc rc;

    *out = NULL;
    if (s == NULL)
        return bf_err_set(err, BF_E_NOMEM, "out of memory");
    if (pthread_mutex_init(&s->mu, NULL) != 0) {
        free(s);
        return bf_err_set(err, BF_E_NOMEM, "sink: mutex init failed");
    }
    s->part_size = SINK_DEFAULT_PART;
    if (opts != NULL && opts->multipart_part_size > 0)
        s->part_size = opts->multipart_part_size;
    if (s->part_size < SINK_MIN_PART && !(opts && opts->allow_small_parts))
        s->part_size = SINK_MIN_PART;
    if (opts != NULL && opts->sse_kms_key_id != NULL)
        snprintf(s->sse_kms_key_id, sizeof(s->sse_kms_key_id), "%s",
                 opts->sse_kms_key_id);
    if (strncmp(output_uri, "file://", 7) == 0)
        rc = sink_file_open(s, output_uri + 7, err);
    else if (strncmp(output_uri, "s3://", 5) == 0)
        rc = sink_s3_open(s, output_uri + 5, aws, err);
    else
        rc = bf_err_set(err, BF_E_CONFIG,
                        "output must be file:///dir or s3://bucket/prefix");
    if (rc != BF_OK) {
        sink_free(s);
        return rc;
    }
    *out = s;
    return BF_OK;
}

void sink_free(struct sink *s)
{
    if (s == NULL)
        return;
    s3_client_free(s->s3);
    awsenv_release(s->aws);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

const char *sink_kind(const struct sink *s)
{
    return s->kind;
}

void sink_uri(const struct sink *s, const char *key, char *out, size_t n)
{
    const char *sep = key[0] ? "/" : "";

    if (s->ops == &sink_s3_ops)
        snprintf(out, n, "s3://%s%s%s%s%s", s->bucket, s->root[0] ? "/" : "",
                 s->root, sep, key);
    else
        snprintf(out, n, "file://%s%s%s", s->root, sep, key);
}

enum bf_rc sink_object_begin(struct sink *s, const char *key,
                             struct sink_object **out, struct bf_err *err)
{
    struct sink_object *o = NULL;
    enum bf_rc rc = check_key(key, err);

    *out = NULL;
    if (rc != BF_OK)
        return rc;
    o = calloc(1, sizeof(*o));
    if (o == NULL)
        return bf_err_set(err, BF_E_NOMEM, "out of memory");
    o->s = s;
    o->fd = -1;
    snprintf(o->key, sizeof(o->key), "%s", key);
    pthread_mutex_lock(&s->mu);
    rc = s->ops->begin(s, key, o, err);
    pthread_mutex_unlock(&s->mu);
    if (rc != BF_OK) {
        sink_object_abort(o);
        return rc;
    }
    *out = o;
    return BF_OK;
}

enum bf_rc sink_object_write(struct sink_object *o, const void *p, size_t n,
                             struct bf_err *err)
{
    enum bf_rc rc;

    pthread_mutex_lock(&o->s->mu);
    if (simulated_crash(o->s)) {
        o->crashed = 1;
        rc = bf_err_set(err, BF_E_SINK_UNAVAILABLE,
                        "simulated crash writing %s", o->key);
    } else {
        rc = o->s->ops->write(o, p, n, err);
    }
    pthread_mutex_unlock(&o->s->mu);
    return rc;
}

enum bf_rc sink_object_commit(struct sink_object *o, struct bf_err *err)
{
    struct sink *s = o->s;
    enum bf_rc rc;

    pthread_mutex_lock(&s->mu);
    rc = s->ops->commit(o, err);
    pthread_mutex_unlock(&s->mu);
    free(o);
    return rc;
}

void sink_object_abort(struct sink_object *o)
{
    struct sink *s = NULL;

    if (o == NULL)
        return;
    s = o->s;
    pthread_mutex_lock(&s->mu);
    s->ops->abort(o);
    pthread_mutex_unlock(&s->mu);
    free(o);
}

enum bf_rc sink_put(struct sink *s, const char *key, const void *data,
                    size_t len, struct bf_err *err)
{
    struct sink_object *o = NULL;
    enum bf_rc rc = sink_object_begin(s, key, &o, err);

    if (rc != BF_OK)
        return rc;
    rc = sink_object_write(o, data, len, err);
    if (rc != BF_OK) {
        sink_object_abort(o);
        return rc;
    }
    return sink_object_commit(o, err);
}

enum bf_rc sink_get(struct sink *s, const char *key, struct buf *out,
                    int *found, struct bf_err *err)
{
    enum bf_rc rc = check_key(key, err);

    *found = 0;
    if (rc != BF_OK)
        return rc;
    pthread_mutex_lock(&s->mu);
    rc = s->ops->get(s, key, out, found, err);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

struct sink_reader {
    struct sink *s;
    FILE *fp;                 /* file sink */
    char key[PATH_MAX];       /* s3: the full key */
    uint64_t off;             /* s3: next byte to fetch */
    uint64_t total;
    int at_end;
    struct buf chunk;         /* s3: the fetched range */
    size_t pos;
};

enum bf_rc sink_read_open(struct sink *s, const char *key,
                          struct sink_reader **out, int *found,
                          struct bf_err *err)
{
    struct sink_reader *r = NULL;
    char path[PATH_MAX];
    enum bf_rc rc = check_key(key, err);

    *out = NULL;
    *found = 0;
    if (rc != BF_OK)
        return rc;
    r = calloc(1, sizeof(*r));
    if (r == NULL)
        return bf_err_set(err, BF_E_NOMEM, "out of memory");
    r->s = s;
    buf_init(&r->chunk, s->part_size);
    if (s->ops == &sink_s3_ops) {
        rc = sink_s3_full_key(s, key, r->key, sizeof(r->key), err);
        /* The first range tells whether the object exists. */
        if (rc == BF_OK) {
            pthread_mutex_lock(&s->mu);
            rc = s3_get_object_range(s->s3, s->bucket, r->key, 0, s->part_size,
                                     &r->chunk, &r->total, found, err);
            pthread_mutex_unlock(&s->mu);
        }
        if (rc == BF_E_AWS || rc == BF_E_TRANSPORT)
            rc = sink_s3_fail(rc, err, "GetObject", r->key);
        r->off = r->chunk.len;
        r->at_end = r->off >= r->total;
    } else {
        rc = sink_file_path(s, key, path, sizeof(path), err);
        r->fp = rc == BF_OK ? fopen(path, "rb") : NULL;
        if (rc == BF_OK && r->fp == NULL && errno != ENOENT)
            rc = sink_file_errno(err, "open", path);
        *found = r->fp != NULL;
    }
    if (rc != BF_OK || !*found) {
        sink_read_close(r);
        return rc;
    }
    *out = r;
    return BF_OK;
}

static enum bf_rc sink_s3_read_more(struct sink_reader *r, struct bf_err *err)
{
    int found = 0;
    enum bf_rc rc;

    buf_reset(&r->chunk);
    r->pos = 0;
    pthread_mutex_lock(&r->s->mu);
    rc = s3_get_object_range(r->s->s3, r->s->bucket, r->key, r->off,
                             r->s->part_size, &r->chunk, &r->total, &found, err);
    pthread_mutex_unlock(&r->s->mu);
    if (rc == BF_E_AWS || rc == BF_E_TRANSPORT)
        return sink_s3_fail(rc, err, "GetObject", r->key);
    if (rc == BF_OK && !found)
        return bf_err_set(err, BF_E_SINK_UNAVAILABLE,
                          "S3 object %s vanished while being read", r->key);
    r->off += r->chunk.len;
    r->at_end = r->chunk.len == 0 || r->off >= r->total;
    return rc;
}

enum bf_rc sink_read(struct sink_reader *r, void *p, size_t cap, size_t *got,
                     struct bf_err *err)
{
    size_t n;
    enum bf_rc rc;

    *got = 0;
    if (r->fp != NULL) {
        n = fread(p, 1, cap, r->fp);
        if (n == 0 && ferror(r->fp))
            return sink_file_errno(err, "read", "object");
        *got = n;
        return BF_OK;
    }
    if (r->pos == r->chunk.len && !r->at_end) {
        rc = sink_s3_read_more(r, err);
        if (rc != BF_OK)
            return rc;
    }
    n = r->chunk.len - r->pos;
    if (n > cap)
        n = cap;
    if (n > 0)
        memcpy(p, r->chunk.data + r->pos, n);
    r->pos += n;
    *got = n;
    return BF_OK;
}

void sink_read_close(struct sink_reader *r)
{
    if (r == NULL)
        return;
    if (r->fp != NULL)
        fclose(r->fp);
    buf_cleanup(&r->chunk);
    free(r);
}

enum bf_rc sink_delete(struct sink *s, const char *key, struct bf_err *err)
{
    enum bf_rc rc = check_key(key, err);

    if (rc != BF_OK)
        return rc;
    pthread_mutex_lock(&s->mu);
    rc = s->ops->del(s, key, err);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

enum bf_rc sink_list(struct sink *s, const char *dir, char ***names,
                     size_t *n, struct bf_err *err)
{
    enum bf_rc rc = check_key(dir, err);

    *names = NULL;
    *n = 0;
    if (rc == BF_OK) {
        pthread_mutex_lock(&s->mu);
        rc = s->ops->list(s, dir, names, n, err);
        pthread_mutex_unlock(&s->mu);
    }
    if (rc != BF_OK) {
        sink_names_free(*names, *n);
        *names = NULL;
        *n = 0;
    }
    return rc;
}

enum bf_rc sink_abort_incomplete(struct sink *s, const char *dir,
                                 struct bf_err *err)
{
    char prefix[PATH_MAX];
    char **keys = NULL, **ids = NULL;
    size_t n = 0, i, plen;
    enum bf_rc rc = check_key(dir, err);

    if (rc != BF_OK || s->ops != &sink_s3_ops)
        return rc;
    rc = sink_s3_full_key(s, dir, prefix, sizeof(prefix) - 1, err);
    if (rc != BF_OK)
        return rc;
    strcat(prefix, "/");
    plen = strlen(prefix);
    pthread_mutex_lock(&s->mu);
    rc = s3_list_uploads(s->s3, s->bucket, prefix, &keys, &ids, &n, err);
    if (rc == BF_E_AWS || rc == BF_E_TRANSPORT)
        rc = sink_s3_fail(rc, err, "ListMultipartUploads", prefix);
    for (i = 0; rc == BF_OK && i < n; i++) {
        /* Only uploads directly in `dir`: the listing comes from the
         * network, so a key outside the prefix (or shorter than it) is
         * never ours to abort. */
        if (strncmp(keys[i], prefix, plen) != 0 ||
            strchr(keys[i] + plen, '/') != NULL)
            continue;
        rc = s3_mpu_abort(s->s3, s->bucket, keys[i], ids[i], err);
        /* Gone already (completed or aborted meanwhile) is fine. */
        if (rc == BF_E_AWS && err != NULL && err->http_status == 404)
            rc = BF_OK;
        if (rc == BF_E_AWS || rc == BF_E_TRANSPORT)
            rc = sink_s3_fail(rc, err, "AbortMultipartUpload", keys[i]);
    }
    pthread_mutex_unlock(&s->mu);
    s3_keys_free(keys, n);
    s3_keys_free(ids, n);
    return rc;
}

void sink_names_free(char **names, size_t n)
{
    size_t i;

    if (names == NULL)
        return;
    for (i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

void sink_test_fail_write_after(struct sink *s, int nth)
{
    s->fail_write_after = nth;
}
