/* sink.c -- the sink interface: open by URI scheme, check keys, dispatch.
 *
 * sink/sink.h is implemented here once for every backend; the backends
 * (sink_file.c for file://, sink_s3.c for s3://) fill in a `struct
 * sink_ops` table (sink/private/sink_backend.h) and never see a malformed
 * key: every key and directory is checked here first, so a backend may
 * join it to its root as it is.
 * A sink may be shared by threads (a chunk's raw and canonical compressor
 * threads write through one, while the transform reads the raw parts back):
 * every call that reaches the backend holds the sink's mutex, because the
 * S3 client is one connection and the file backend's counters are shared.
 * Calls on different objects serialise; none of them is long except an S3
 * upload or range fetch, which was serial on the one connection anyway.
 */
#include <stdlib.h>
#include <string.h>

#include "sink/private/sink_backend.h"
#include "sink/sink.h"

/* ---- for the backends ---- */

enum bf_rc sink_base_init(struct sink *s, const struct sink_ops *ops,
                          struct bf_err *err)
{
    s->ops = ops;
    if (pthread_mutex_init(&s->mu, NULL) != 0)
        return bf_err_set(err, BF_E_NOMEM, "sink: mutex init failed");
    return BF_OK;
}

void sink_base_cleanup(struct sink *s)
{
    pthread_mutex_destroy(&s->mu);
}

enum bf_rc sink_names_push(char ***names, size_t *n, const char *name,
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

static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void sink_names_sort(char **names, size_t n)
{
    if (n > 1)
        qsort(names, n, sizeof(*names), cmp_name);
}

/* ---- the interface ---- */

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

/* Check `key` and, when it is valid, take the sink's lock: every call that
 * names a key runs its backend operation under the lock, unlocked after by
 * the caller. The key's error otherwise, unlocked. */
static enum bf_rc lock_for_key(struct sink *s, const char *key,
                               struct bf_err *err)
{
    enum bf_rc rc = check_key(key, err);

    if (rc == BF_OK)
        pthread_mutex_lock(&s->mu);
    return rc;
}

enum bf_rc sink_open(const char *output_uri, struct awsenv *aws,
                     const struct sink_options *opts, struct sink **out,
                     struct bf_err *err)
{
    *out = NULL;
    if (strncmp(output_uri, "file://", 7) == 0)
        return sink_file_open(output_uri + 7, out, err);
    if (strncmp(output_uri, "s3://", 5) == 0)
        return sink_s3_open(output_uri + 5, aws, opts, out, err);
    return bf_err_set(err, BF_E_CONFIG,
                      "output must be file:///dir or s3://bucket/prefix");
}

void sink_free(struct sink *s)
{
    if (s != NULL)
        s->ops->destroy(s);
}

const char *sink_kind(const struct sink *s)
{
    return s->ops->kind;
}

void sink_uri(const struct sink *s, const char *key, char *out, size_t n)
{
    s->ops->uri(s, key, out, n);
}

enum bf_rc sink_object_begin(struct sink *s, const char *key,
                             struct sink_object **out, struct bf_err *err)
{
    enum bf_rc rc;

    *out = NULL;
    rc = lock_for_key(s, key, err);
    if (rc != BF_OK)
        return rc;
    rc = s->ops->begin(s, key, out, err);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

enum bf_rc sink_object_write(struct sink_object *o, const void *p, size_t n,
                             struct bf_err *err)
{
    struct sink *s = o->s;
    enum bf_rc rc;

    pthread_mutex_lock(&s->mu);
    rc = s->ops->write(o, p, n, err);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

enum bf_rc sink_object_commit(struct sink_object *o, struct bf_err *err)
{
    struct sink *s = o->s;
    enum bf_rc rc;

    pthread_mutex_lock(&s->mu);
    rc = s->ops->commit(o, err);
    pthread_mutex_unlock(&s->mu);
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

/* Open `key` for reading under the key check and the lock: the whole
 * object into `whole` (sink_get), or else a streaming reader into
 * `*reader` (sink_read_open). */
static enum bf_rc sink_open_key(struct sink *s, const char *key,
                                struct buf *whole, struct sink_reader **reader,
                                int *found, struct bf_err *err)
{
    enum bf_rc rc;

    /* A refused key still leaves the caller a reader it may close. */
    if (reader != NULL)
        *reader = NULL;
    *found = 0;
    rc = lock_for_key(s, key, err);
    if (rc != BF_OK)
        return rc;
    if (whole != NULL)
        rc = s->ops->get(s, key, whole, found, err);
    else
        rc = s->ops->read_open(s, key, reader, found, err);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

enum bf_rc sink_get(struct sink *s, const char *key, struct buf *out,
                    int *found, struct bf_err *err)
{
    return sink_open_key(s, key, out, NULL, found, err);
}

enum bf_rc sink_read_open(struct sink *s, const char *key,
                          struct sink_reader **out, int *found,
                          struct bf_err *err)
{
    *out = NULL;
    return sink_open_key(s, key, NULL, out, found, err);
}

enum bf_rc sink_read(struct sink_reader *r, void *p, size_t cap, size_t *got,
                     struct bf_err *err)
{
    struct sink *s = r->s;
    enum bf_rc rc;

    *got = 0;
    pthread_mutex_lock(&s->mu);
    rc = s->ops->read(r, p, cap, got, err);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

void sink_read_close(struct sink_reader *r)
{
    if (r != NULL)
        r->s->ops->read_close(r);
}

enum bf_rc sink_delete(struct sink *s, const char *key, struct bf_err *err)
{
    enum bf_rc rc = lock_for_key(s, key, err);

    if (rc != BF_OK)
        return rc;
    rc = s->ops->del(s, key, err);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

enum bf_rc sink_list(struct sink *s, const char *dir, char ***names,
                     size_t *n, struct bf_err *err)
{
    enum bf_rc rc;

    *names = NULL;
    *n = 0;
    rc = lock_for_key(s, dir, err);
    if (rc == BF_OK) {
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
    enum bf_rc rc = check_key(dir, err);

    if (rc != BF_OK || s->ops->abort_incomplete == NULL)
        return rc;
    pthread_mutex_lock(&s->mu);
    rc = s->ops->abort_incomplete(s, dir, err);
    pthread_mutex_unlock(&s->mu);
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
