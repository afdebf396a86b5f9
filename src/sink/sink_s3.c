/* sink_s3.c -- the s3:// sink backend: objects are keys under a prefix.
 *
 * An object buffers at most one multipart part in memory: a small object
 * is one PutObject at commit, a large one a multipart upload that is
 * aborted on any failure, so nothing partial is ever visible. Reads fetch
 * one part size at a time (GetObject with Range). Only this layer knows
 * the calls were "the sink", so it is where S3 errors become BF_E_SINK_*
 * (sink.h). Called through the sink_ops table from sink.c, which has
 * checked every key and holds the sink's mutex (the S3 client is one
 * connection).
 */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws/awsrest.h"
#include "aws/s3.h"
#include "sink/private/sink_backend.h"

#define SINK_S3_DEFAULT_PART (8u * 1024 * 1024)
#define SINK_S3_MIN_PART (5u * 1024 * 1024)
#define SINK_S3_MAX_PARTS 10000

struct sink_s3 {
    struct sink base;
    char bucket[64];
    char prefix[PATH_MAX];    /* without trailing '/'; "" = the bucket's root */
    char sse_kms_key_id[256];
    size_t part_size;         /* bytes per part, the PutObject threshold and
                                 the read range */
    struct s3_client *s3;
    struct awsenv *aws;
};

struct sink_s3_object {
    struct sink_object base;
    char key[PATH_MAX];       /* the full key */
    struct buf pending;       /* at most one part */
    char *upload_id;          /* NULL until the first part goes up */
    char (*etags)[128];
    int nparts;
};

struct sink_s3_reader {
    struct sink_reader base;
    char key[PATH_MAX];       /* the full key */
    uint64_t off;             /* next byte to fetch */
    uint64_t total;
    int at_end;
    struct buf chunk;         /* the fetched range */
    size_t pos;
};

static struct sink_s3 *s3_of(const struct sink *s)
{
    return (struct sink_s3 *)s;
}

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

/* sink_s3_fail() for the failures that came from the network. */
static enum bf_rc sink_s3_check(enum bf_rc rc, struct bf_err *err,
                                const char *op, const char *key)
{
    if (rc == BF_E_AWS || rc == BF_E_TRANSPORT)
        return sink_s3_fail(rc, err, op, key);
    return rc;
}

static enum bf_rc sink_s3_full_key(const struct sink_s3 *ss, const char *key,
                                   char *out, size_t n, struct bf_err *err)
{
    int w = ss->prefix[0] ? snprintf(out, n, "%s/%s", ss->prefix, key)
                          : snprintf(out, n, "%s", key);

    if (w < 0 || (size_t)w >= n)
        return bf_err_set(err, BF_E_CONFIG, "S3 key too long: %s", key);
    return BF_OK;
}

/* The full key of directory `dir` with a trailing '/': a listing prefix. */
static enum bf_rc sink_s3_dir_prefix(const struct sink_s3 *ss, const char *dir,
                                     char *out, size_t n, struct bf_err *err)
{
    enum bf_rc rc = sink_s3_full_key(ss, dir, out, n - 1, err);

    if (rc == BF_OK)
        strcat(out, "/");
    return rc;
}

static void sink_s3_put_opts(const struct sink_s3 *ss, struct s3_put_options *po)
{
    po->content_type = NULL;
    po->sse_kms_key_id = ss->sse_kms_key_id[0] ? ss->sse_kms_key_id : NULL;
}

static void sink_s3_uri(const struct sink *s, const char *key, char *out,
                        size_t n)
{
    const struct sink_s3 *ss = s3_of(s);

    snprintf(out, n, "s3://%s%s%s%s%s", ss->bucket, ss->prefix[0] ? "/" : "",
             ss->prefix, key[0] ? "/" : "", key);
}

/* ---- writing ---- */

static enum bf_rc sink_s3_begin(struct sink *s, const char *key,
                                struct sink_object **out, struct bf_err *err)
{
    struct sink_s3_object *o = calloc(1, sizeof(*o));
    enum bf_rc rc;

    if (o == NULL)
        return bf_err_set(err, BF_E_NOMEM, "out of memory");
    o->base.s = s;
    buf_init(&o->pending, s3_of(s)->part_size);
    rc = sink_s3_full_key(s3_of(s), key, o->key, sizeof(o->key), err);
    if (rc != BF_OK) {
        buf_cleanup(&o->pending);
        free(o);
        return rc;
    }
    *out = &o->base;
    return BF_OK;
}

static enum bf_rc sink_s3_flush_part(struct sink_s3_object *o,
                                     struct bf_err *err)
{
    struct sink_s3 *ss = s3_of(o->base.s);
    struct s3_put_options po;
    char (*ne)[128] = NULL;
    enum bf_rc rc = BF_OK;

    sink_s3_put_opts(ss, &po);
    if (o->upload_id == NULL) {
        rc = s3_mpu_create(ss->s3, ss->bucket, o->key, &po, &o->upload_id, err);
        if (rc != BF_OK)
            return sink_s3_fail(rc, err, "CreateMultipartUpload", o->key);
    }
    if (o->nparts == SINK_S3_MAX_PARTS)
        return bf_err_set(err, BF_E_LIMIT, "S3 object %s: too many parts", o->key);
    ne = realloc(o->etags, (size_t)(o->nparts + 1) * sizeof(*ne));
    if (ne == NULL)
        return bf_err_set(err, BF_E_NOMEM, "out of memory");
    o->etags = ne;
    rc = s3_mpu_upload_part(ss->s3, ss->bucket, o->key, o->upload_id,
                            o->nparts + 1, o->pending.data, o->pending.len,
                            o->etags[o->nparts], err);
    if (rc != BF_OK)
        return sink_s3_fail(rc, err, "UploadPart", o->key);
    o->nparts++;
    buf_reset(&o->pending);
    return BF_OK;
}

static enum bf_rc sink_s3_write(struct sink_object *base, const void *p,
                                size_t n, struct bf_err *err)
{
    struct sink_s3_object *o = (struct sink_s3_object *)base;
    size_t part = s3_of(base->s)->part_size;
    const char *c = p;
    enum bf_rc rc = BF_OK;

    while (n > 0 && rc == BF_OK) {
        size_t room = part - o->pending.len;
        size_t take = n < room ? n : room;

        rc = buf_append(&o->pending, c, take);
        if (rc != BF_OK)
            return bf_err_set(err, rc, "out of memory buffering %s", o->key);
        c += take;
        n -= take;
        /* Upload a full part only when more data follows, so that an object
         * of exactly one part size still goes out as a single PutObject. */
        if (o->pending.len == part && n > 0)
            rc = sink_s3_flush_part(o, err);
    }
    return rc;
}

static void sink_s3_abort(struct sink_object *base)
{
    struct sink_s3_object *o = (struct sink_s3_object *)base;
    struct sink_s3 *ss = s3_of(base->s);
    struct bf_err ignored;

    if (o->upload_id != NULL)
        s3_mpu_abort(ss->s3, ss->bucket, o->key, o->upload_id, &ignored);
    free(o->upload_id);
    free(o->etags);
    buf_cleanup(&o->pending);
    free(o);
}

/* Finish a multipart upload: the last part, then CompleteMultipartUpload. */
static enum bf_rc sink_s3_complete(struct sink_s3_object *o,
                                   struct bf_err *err)
{
    struct sink_s3 *ss = s3_of(o->base.s);
    enum bf_rc rc = BF_OK;

    if (o->pending.len > 0)
        rc = sink_s3_flush_part(o, err);
    if (rc != BF_OK)
        return rc;
    rc = s3_mpu_complete(ss->s3, ss->bucket, o->key, o->upload_id, o->etags,
                         o->nparts, err);
    if (rc != BF_OK)
        return sink_s3_fail(rc, err, "CompleteMultipartUpload", o->key);
    free(o->upload_id); /* completed: nothing to abort */
    o->upload_id = NULL;
    return BF_OK;
}

static enum bf_rc sink_s3_commit(struct sink_object *base, struct bf_err *err)
{
    struct sink_s3_object *o = (struct sink_s3_object *)base;
    struct sink_s3 *ss = s3_of(base->s);
    struct s3_put_options po;
    enum bf_rc rc;

    sink_s3_put_opts(ss, &po);
    if (o->upload_id == NULL) {
        rc = s3_put_object(ss->s3, ss->bucket, o->key, o->pending.data,
                           o->pending.len, &po, err);
        if (rc != BF_OK)
            rc = sink_s3_fail(rc, err, "PutObject", o->key);
    } else {
        rc = sink_s3_complete(o, err);
    }
    sink_s3_abort(base); /* frees; aborts the upload unless completed */
    return rc;
}

/* ---- reading ---- */

static enum bf_rc sink_s3_get(struct sink *s, const char *key, struct buf *out,
                              int *found, struct bf_err *err)
{
    struct sink_s3 *ss = s3_of(s);
    char full[PATH_MAX];
    enum bf_rc rc = sink_s3_full_key(ss, key, full, sizeof(full), err);

    if (rc == BF_OK)
        rc = s3_get_object(ss->s3, ss->bucket, full, out, found, err);
    return sink_s3_check(rc, err, "GetObject", full);
}

static void sink_s3_read_close(struct sink_reader *base)
{
    struct sink_s3_reader *r = (struct sink_s3_reader *)base;

    buf_cleanup(&r->chunk);
    free(r);
}

/* Fetch the next range into r->chunk (r->at_end: nothing more to fetch). */
static enum bf_rc sink_s3_fetch(struct sink_s3_reader *r, int *found,
                                struct bf_err *err)
{
    struct sink_s3 *ss = s3_of(r->base.s);
    enum bf_rc rc;

    buf_reset(&r->chunk);
    r->pos = 0;
    rc = s3_get_object_range(ss->s3, ss->bucket, r->key, r->off, ss->part_size,
                             &r->chunk, &r->total, found, err);
    if (rc != BF_OK)
        return sink_s3_check(rc, err, "GetObject", r->key);
    r->off += r->chunk.len;
    r->at_end = r->chunk.len == 0 || r->off >= r->total;
    return BF_OK;
}

static enum bf_rc sink_s3_read_open(struct sink *s, const char *key,
                                    struct sink_reader **out, int *found,
                                    struct bf_err *err)
{
    struct sink_s3 *ss = s3_of(s);
    struct sink_s3_reader *r = calloc(1, sizeof(*r));
    enum bf_rc rc;

    if (r == NULL)
        return bf_err_set(err, BF_E_NOMEM, "out of memory");
    r->base.s = s;
    buf_init(&r->chunk, ss->part_size);
    rc = sink_s3_full_key(ss, key, r->key, sizeof(r->key), err);
    /* The first range tells whether the object exists. */
    if (rc == BF_OK)
        rc = sink_s3_fetch(r, found, err);
    r->at_end = r->off >= r->total;
    if (rc != BF_OK || !*found) {
        *found = 0;
        sink_s3_read_close(&r->base);
        return rc;
    }
    *out = &r->base;
    return BF_OK;
}

static enum bf_rc sink_s3_read(struct sink_reader *base, void *p, size_t cap,
                               size_t *got, struct bf_err *err)
{
    struct sink_s3_reader *r = (struct sink_s3_reader *)base;
    int found = 0;
    size_t n;
    enum bf_rc rc;

    if (r->pos == r->chunk.len && !r->at_end) {
        rc = sink_s3_fetch(r, &found, err);
        if (rc != BF_OK)
            return rc;
        if (!found)
            return bf_err_set(err, BF_E_SINK_UNAVAILABLE,
                              "S3 object %s vanished while being read", r->key);
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

/* ---- keys ---- */

static enum bf_rc sink_s3_del(struct sink *s, const char *key,
                              struct bf_err *err)
{
    struct sink_s3 *ss = s3_of(s);
    char full[PATH_MAX];
    enum bf_rc rc = sink_s3_full_key(ss, key, full, sizeof(full), err);

    if (rc == BF_OK)
        rc = s3_delete_object(ss->s3, ss->bucket, full, err);
    return sink_s3_check(rc, err, "DeleteObject", full);
}

static enum bf_rc sink_s3_list(struct sink *s, const char *dir, char ***names,
                               size_t *n, struct bf_err *err)
{
    struct sink_s3 *ss = s3_of(s);
    char prefix[PATH_MAX];
    char **keys = NULL;
    size_t nkeys = 0, i, plen;
    enum bf_rc rc = sink_s3_dir_prefix(ss, dir, prefix, sizeof(prefix), err);

    if (rc != BF_OK)
        return rc;
    plen = strlen(prefix);
    rc = s3_list_objects(ss->s3, ss->bucket, prefix, 1, 0, &keys, &nkeys, err);
    rc = sink_s3_check(rc, err, "ListObjectsV2", prefix);
    for (i = 0; rc == BF_OK && i < nkeys; i++) {
        if (strncmp(keys[i], prefix, plen) != 0 || keys[i][plen] == '\0' ||
            strchr(keys[i] + plen, '/') != NULL)
            continue;
        rc = sink_names_push(names, n, keys[i] + plen, err);
    }
    s3_keys_free(keys, nkeys);
    if (rc == BF_OK)
        sink_names_sort(*names, *n);
    return rc;
}

static enum bf_rc sink_s3_abort_incomplete(struct sink *s, const char *dir,
                                           struct bf_err *err)
{
    struct sink_s3 *ss = s3_of(s);
    char prefix[PATH_MAX];
    char **keys = NULL, **ids = NULL;
    size_t n = 0, i, plen;
    enum bf_rc rc = sink_s3_dir_prefix(ss, dir, prefix, sizeof(prefix), err);

    if (rc != BF_OK)
        return rc;
    plen = strlen(prefix);
    rc = s3_list_uploads(ss->s3, ss->bucket, prefix, &keys, &ids, &n, err);
    rc = sink_s3_check(rc, err, "ListMultipartUploads", prefix);
    for (i = 0; rc == BF_OK && i < n; i++) {
        /* Only uploads directly in `dir`: the listing comes from the
         * network, so a key outside the prefix (or shorter than it) is
         * never ours to abort. */
        if (strncmp(keys[i], prefix, plen) != 0 ||
            strchr(keys[i] + plen, '/') != NULL)
            continue;
        rc = s3_mpu_abort(ss->s3, ss->bucket, keys[i], ids[i], err);
        /* Gone already (completed or aborted meanwhile) is fine. */
        if (rc == BF_E_AWS && err != NULL && err->http_status == 404)
            rc = BF_OK;
        rc = sink_s3_check(rc, err, "AbortMultipartUpload", keys[i]);
    }
    s3_keys_free(keys, n);
    s3_keys_free(ids, n);
    return rc;
}

/* ---- the sink ---- */

static void sink_s3_destroy(struct sink *s)
{
    struct sink_s3 *ss = s3_of(s);

    s3_client_free(ss->s3);
    awsenv_release(ss->aws);
    sink_base_cleanup(s);
    free(ss);
}

static const struct sink_ops sink_s3_ops = {
    .kind = "s3",
    .uri = sink_s3_uri,
    .begin = sink_s3_begin,
    .write = sink_s3_write,
    .commit = sink_s3_commit,
    .abort = sink_s3_abort,
    .get = sink_s3_get,
    .read_open = sink_s3_read_open,
    .read = sink_s3_read,
    .read_close = sink_s3_read_close,
    .del = sink_s3_del,
    .list = sink_s3_list,
    .abort_incomplete = sink_s3_abort_incomplete,
    .destroy = sink_s3_destroy,
};

static void sink_s3_set_options(struct sink_s3 *ss,
                                const struct sink_options *opts)
{
    ss->part_size = SINK_S3_DEFAULT_PART;
    if (opts != NULL && opts->multipart_part_size > 0)
        ss->part_size = opts->multipart_part_size;
    if (ss->part_size < SINK_S3_MIN_PART && !(opts && opts->allow_small_parts))
        ss->part_size = SINK_S3_MIN_PART;
    if (opts != NULL && opts->sse_kms_key_id != NULL)
        snprintf(ss->sse_kms_key_id, sizeof(ss->sse_kms_key_id), "%s",
                 opts->sse_kms_key_id);
}

/* "bucket[/prefix]" into ss->bucket and ss->prefix. */
static enum bf_rc sink_s3_parse(struct sink_s3 *ss, const char *rest,
                                struct bf_err *err)
{
    size_t blen = strcspn(rest, "/");
    size_t n;

    if (blen < 3 || blen >= sizeof(ss->bucket))
        return bf_err_set(err, BF_E_CONFIG, "s3:// output: bad bucket name");
    memcpy(ss->bucket, rest, blen);
    ss->bucket[blen] = '\0';
    /* Refused here, once, as configuration: found at the first upload it
     * would look like an unavailable sink and be retried forever. */
    if (!awsrest_bucket_valid(ss->bucket))
        return bf_err_set(err, BF_E_CONFIG, "s3:// output: bad bucket name "
                          "\"%s\"", ss->bucket);
    rest += blen;
    while (*rest == '/')
        rest++;
    if (snprintf(ss->prefix, sizeof(ss->prefix), "%s", rest) >= (int)sizeof(ss->prefix))
        return bf_err_set(err, BF_E_CONFIG, "s3:// output: prefix too long");
    n = strlen(ss->prefix);
    while (n > 0 && ss->prefix[n - 1] == '/')
        ss->prefix[--n] = '\0';
    return BF_OK;
}

enum bf_rc sink_s3_open(const char *rest, struct awsenv *aws,
                        const struct sink_options *opts, struct sink **out,
                        struct bf_err *err)
{
    struct sink_s3 *ss = NULL;
    enum bf_rc rc;

    if (aws == NULL)
        return bf_err_set(err, BF_E_CONFIG, "s3:// output needs AWS settings");
    ss = calloc(1, sizeof(*ss));
    if (ss == NULL)
        return bf_err_set(err, BF_E_NOMEM, "out of memory");
    rc = sink_base_init(&ss->base, &sink_s3_ops, err);
    if (rc != BF_OK) {
        free(ss);
        return rc;
    }
    sink_s3_set_options(ss, opts);
    rc = sink_s3_parse(ss, rest, err);
    if (rc == BF_OK) {
        ss->aws = awsenv_acquire(aws);
        rc = s3_client_new(aws, &ss->s3, err);
    }
    if (rc != BF_OK) {
        sink_s3_destroy(&ss->base);
        return rc;
    }
    *out = &ss->base;
    return BF_OK;
}
