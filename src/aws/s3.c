/* s3.c -- the S3 calls the sink needs: objects, listings, multipart upload.
 *
 * Each call builds method, key and query, hands them to awsrest_call()
 * (which addresses, signs, retries and parses error bodies) and reads the
 * little it needs from the answer: the ETag header or a few XML elements.
 * The XML reading is awsrest_xml_next(), a bounded scan for known names.
 * Errors pass up unchanged; the S3 sink (src/sink/sink.c) reclassifies.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws/awsrest.h"
#include "aws/endpoint.h"
#include "aws/s3.h"
#include "aws/sigv4.h"

#define S3_LIST_MAX_RESPONSE (8u * 1024 * 1024)
#define S3_SMALL_RESPONSE (1u * 1024 * 1024)
#define S3_OBJECT_TIMEOUT_MS 300000

struct s3_client {
    struct awsrest_client *rest;
};

enum bf_rc s3_client_new(struct awsenv *env, struct s3_client **out,
                         struct bf_err *err)
{
    struct s3_client *c = calloc(1, sizeof(*c));
    enum bf_rc rc;

    *out = NULL;
    if (c == NULL)
        return bf_err_set(err, BF_E_NOMEM, "out of memory");
    rc = awsrest_client_new(env, &endpoint_svc_s3, &c->rest, err);
    if (rc != BF_OK) {
        free(c);
        return rc;
    }
    *out = c;
    return BF_OK;
}

void s3_client_free(struct s3_client *c)
{
    if (c == NULL)
        return;
    awsrest_client_free(c->rest);
    free(c);
}

/* ---- XML ---- */

/* Escape text for an XML element (the ETag's quotes). */
static enum bf_rc xml_escape(struct buf *b, const char *s)
{
    enum bf_rc rc = BF_OK;

    for (; *s != '\0' && rc == BF_OK; s++) {
        if (*s == '&')
            rc = buf_append_str(b, "&amp;");
        else if (*s == '<')
            rc = buf_append_str(b, "&lt;");
        else if (*s == '>')
            rc = buf_append_str(b, "&gt;");
        else if (*s == '"')
            rc = buf_append_str(b, "&quot;");
        else
            rc = buf_append(b, s, 1);
    }
    return rc;
}

/* ---- calls ---- */

static enum bf_rc call(struct s3_client *c, const char *method,
                       const char *bucket, const char *key, const char *query,
                       const struct http_header *h, size_t nh,
                       const void *body, size_t len, size_t max_response,
                       struct http_response *resp, const char *op,
                       struct bf_err *err)
{
    struct awsrest_request req;
    enum bf_rc rc;

    memset(&req, 0, sizeof(req));
    req.method = method;
    req.bucket = bucket;
    req.path = key;
    req.query = query;
    req.headers = h;
    req.nheaders = nh;
    req.body = body;
    req.body_len = len;
    req.timeout_ms = S3_OBJECT_TIMEOUT_MS;
    req.max_response = max_response;
    rc = awsrest_call(c->rest, &req, resp, err);
    if (rc != BF_OK && err != NULL)
        snprintf(err->endpoint, sizeof(err->endpoint), "s3:%s", op);
    return rc;
}

static size_t put_headers(const struct s3_put_options *o, struct http_header *h)
{
    size_t n = 0;

    h[n++] = (struct http_header){ "Content-Type",
        o != NULL && o->content_type != NULL ? o->content_type
                                             : "application/octet-stream" };
    if (o != NULL && o->sse_kms_key_id != NULL && o->sse_kms_key_id[0] != '\0') {
        h[n++] = (struct http_header){ "x-amz-server-side-encryption", "aws:kms" };
        h[n++] = (struct http_header){
            "x-amz-server-side-encryption-aws-kms-key-id", o->sse_kms_key_id };
    }
    return n;
}

enum bf_rc s3_put_object(struct s3_client *c, const char *bucket,
                         const char *key, const void *data, size_t len,
                         const struct s3_put_options *opts, struct bf_err *err)
{
    struct http_header h[3];
    struct http_response resp;
    size_t nh = put_headers(opts, h);
    enum bf_rc rc;

    http_response_init(&resp);
    rc = call(c, "PUT", bucket, key, NULL, h, nh, data, len, S3_SMALL_RESPONSE,
              &resp, "PutObject", err);
    http_response_cleanup(&resp);
    return rc;
}

enum bf_rc s3_get_object(struct s3_client *c, const char *bucket,
                         const char *key, struct buf *out, int *found,
                         struct bf_err *err)
{
    struct http_response resp;
    size_t max = out->limit > 0 ? out->limit : (size_t)1 << 30;
    enum bf_rc rc;

    *found = 0;
    http_response_init(&resp);
    rc = call(c, "GET", bucket, key, NULL, NULL, 0, NULL, 0, max, &resp,
              "GetObject", err);
    if (rc == BF_E_AWS && resp.status == 404) {
        bf_err_init(err);
        rc = BF_OK;
    } else if (rc == BF_OK) {
        *found = 1;
        rc = buf_append(out, resp.body.data ? resp.body.data : "", resp.body.len);
        if (rc != BF_OK)
            bf_err_set(err, rc, "GetObject %s: too large", key);
    }
    http_response_cleanup(&resp);
    return rc;
}

enum bf_rc s3_get_object_range(struct s3_client *c, const char *bucket,
                               const char *key, uint64_t offset, size_t len,
                               struct buf *out, uint64_t *total, int *found,
                               struct bf_err *err)
{
    struct http_response resp;
    struct http_header h[1];
    char range[64];
    const char *cr = NULL, *slash = NULL;
    enum bf_rc rc;

    *found = 0;
    *total = 0;
    if (len == 0)
        return bf_err_set(err, BF_E_INTERNAL, "empty range");
    snprintf(range, sizeof(range), "bytes=%llu-%llu", (unsigned long long)offset,
             (unsigned long long)(offset + len - 1));
    h[0] = (struct http_header){ "Range", range };
    http_response_init(&resp);
    rc = call(c, "GET", bucket, key, NULL, h, 1, NULL, 0, len + 1, &resp,
              "GetObject", err);
    if (rc == BF_E_AWS && (resp.status == 404 || resp.status == 416)) {
        /* 416: the range starts at or past the end (or the object is
         * empty); the object exists, there is just nothing more. */
        *found = resp.status == 416;
        *total = offset;
        bf_err_init(err);
        rc = BF_OK;
        goto out;
    }
    if (rc != BF_OK)
        goto out;
    *found = 1;
    cr = http_response_header(&resp, "content-range");
    slash = cr != NULL ? strrchr(cr, '/') : NULL;
    if (resp.status == 206 && slash != NULL)
        *total = strtoull(slash + 1, NULL, 10);
    else if (resp.status == 200 && offset == 0)
        *total = resp.body.len; /* the server ignored Range: whole object */
    else {
        rc = bf_err_set(err, BF_E_AWS, "GetObject %s: bad range answer", key);
        goto out;
    }
    if (resp.body.len > len) {
        rc = bf_err_set(err, BF_E_AWS, "GetObject %s: more than the range", key);
        goto out;
    }
    rc = buf_append(out, resp.body.data ? resp.body.data : "", resp.body.len);
    if (rc != BF_OK)
        bf_err_set(err, rc, "GetObject %s: out of memory", key);
out:
    http_response_cleanup(&resp);
    return rc;
}

enum bf_rc s3_delete_object(struct s3_client *c, const char *bucket,
                            const char *key, struct bf_err *err)
{
    struct http_response resp;
    enum bf_rc rc;

    http_response_init(&resp);
    rc = call(c, "DELETE", bucket, key, NULL, NULL, 0, NULL, 0,
              S3_SMALL_RESPONSE, &resp, "DeleteObject", err);
    if (rc == BF_E_AWS && resp.status == 404) {
        bf_err_init(err);
        rc = BF_OK;
    }
    http_response_cleanup(&resp);
    return rc;
}

void s3_keys_free(char **keys, size_t n)
{
    size_t i;

    if (keys == NULL)
        return;
    for (i = 0; i < n; i++)
        free(keys[i]);
    free(keys);
}

static enum bf_rc list_query(struct buf *q, const char *token,
                             const char *prefix, int delimited)
{
    enum bf_rc rc = BF_OK;

    /* Parameters in sorted order, values percent-encoded. */
    if (token != NULL) {
        rc = buf_append_str(q, "continuation-token=");
        if (rc == BF_OK)
            rc = sigv4_uri_encode(token, strlen(token), 0, q);
        if (rc == BF_OK)
            rc = buf_append_str(q, "&");
    }
    if (rc == BF_OK && delimited)
        rc = buf_append_str(q, "delimiter=%2F&");
    if (rc == BF_OK)
        rc = buf_append_str(q, "list-type=2&prefix=");
    if (rc == BF_OK)
        rc = sigv4_uri_encode(prefix, strlen(prefix), 0, q);
    return rc;
}

/* Append the <Key>s of one ListObjectsV2 page; sets *token (malloc'd) to
 * the continuation token when the listing is truncated. */
static enum bf_rc list_page_keys(const char *xml, char ***keys, size_t *n,
                                 size_t max_keys, char **token,
                                 struct bf_err *err)
{
    char key[1100], trunc[16], next[1100];
    size_t pos = 0;
    char **nk = NULL;

    *token = NULL;
    while (awsrest_xml_next(xml, &pos, "Key", key, sizeof(key))) {
        if (*n >= max_keys)
            return bf_err_set(err, BF_E_LIMIT, "more than %zu keys listed",
                              max_keys);
        nk = realloc(*keys, (*n + 1) * sizeof(*nk));
        if (nk == NULL)
            return bf_err_set(err, BF_E_NOMEM, "out of memory");
        *keys = nk;
        nk[*n] = strdup(key);
        if (nk[*n] == NULL)
            return bf_err_set(err, BF_E_NOMEM, "out of memory");
        (*n)++;
    }
    pos = 0;
    if (!awsrest_xml_next(xml, &pos, "IsTruncated", trunc, sizeof(trunc)) ||
        strcmp(trunc, "true") != 0)
        return BF_OK;
    pos = 0;
    if (!awsrest_xml_next(xml, &pos, "NextContinuationToken", next, sizeof(next)) ||
        next[0] == '\0')
        return bf_err_set(err, BF_E_AWS, "ListObjectsV2: truncated listing "
                          "without a continuation token");
    *token = strdup(next);
    return *token ? BF_OK : bf_err_set(err, BF_E_NOMEM, "out of memory");
}

enum bf_rc s3_list_objects(struct s3_client *c, const char *bucket,
                           const char *prefix, int delimited,
                           size_t max_keys, char ***keys, size_t *n,
                           struct bf_err *err)
{
    struct http_response resp;
    struct buf q;
    char *token = NULL, *next = NULL;
    enum bf_rc rc = BF_OK;

    *keys = NULL;
    *n = 0;
    if (max_keys == 0)
        max_keys = 100000;
    buf_init(&q, 4096);
    http_response_init(&resp);
    do {
        buf_reset(&q);
        rc = list_query(&q, token, prefix, delimited);
        if (rc == BF_OK)
            rc = call(c, "GET", bucket, "", q.data, NULL, 0, NULL, 0,
                      S3_LIST_MAX_RESPONSE, &resp, "ListObjectsV2", err);
        if (rc == BF_OK)
            rc = list_page_keys(resp.body.data ? resp.body.data : "", keys, n,
                                max_keys, &next, err);
        free(token);
        token = next;
        next = NULL;
    } while (rc == BF_OK && token != NULL);
    free(token);
    buf_cleanup(&q);
    http_response_cleanup(&resp);
    if (rc != BF_OK) {
        s3_keys_free(*keys, *n);
        *keys = NULL;
        *n = 0;
    }
    return rc;
}

/* Append a copy of `v`; *n counts every slot made (a failed copy leaves a
 * NULL slot), so s3_keys_free(*arr, *n) is always right. */
static enum bf_rc push_str(char ***arr, size_t *n, const char *v,
                           struct bf_err *err)
{
    char **na = realloc(*arr, (*n + 1) * sizeof(*na));

    if (na == NULL)
        return bf_err_set(err, BF_E_NOMEM, "out of memory");
    *arr = na;
    na[*n] = strdup(v);
    return na[(*n)++] ? BF_OK : bf_err_set(err, BF_E_NOMEM, "out of memory");
}

/* The Key and UploadId of the next <Upload> element at or after *pos, both
 * from inside that one element: an element missing either is skipped, so a
 * malformed listing can never pair one upload's key with another's id.
 * Returns 1, or 0 when there is no further complete element. */
static int next_upload(const char *xml, size_t *pos, char *key, size_t kn,
                       char *id, size_t idn)
{
    for (;;) {
        const char *a = strstr(xml + *pos, "<Upload>");
        const char *b = a != NULL ? strstr(a, "</Upload>") : NULL;
        size_t end, kp, ip;
        int ok;

        if (b == NULL)
            return 0;
        end = (size_t)(b - xml);
        kp = ip = (size_t)(a - xml);
        ok = awsrest_xml_next(xml, &kp, "Key", key, kn) && kp <= end &&
             awsrest_xml_next(xml, &ip, "UploadId", id, idn) && ip <= end;
        *pos = end + strlen("</Upload>");
        if (ok)
            return 1;
    }
}

enum bf_rc s3_list_uploads(struct s3_client *c, const char *bucket,
                           const char *prefix, char ***keys,
                           char ***upload_ids, size_t *n, struct bf_err *err)
{
    struct http_response resp;
    struct buf q;
    char key[1100], id[1100];
    size_t pos = 0, ni = 0;
    enum bf_rc rc;

    *keys = NULL;
    *upload_ids = NULL;
    *n = 0;
    buf_init(&q, 4096);
    http_response_init(&resp);
    rc = buf_append_str(&q, "prefix=");
    if (rc == BF_OK)
        rc = sigv4_uri_encode(prefix, strlen(prefix), 0, &q);
    if (rc == BF_OK)
        rc = buf_append_str(&q, "&uploads=");
    if (rc == BF_OK)
        rc = call(c, "GET", bucket, "", q.data, NULL, 0, NULL, 0,
                  S3_LIST_MAX_RESPONSE, &resp, "ListMultipartUploads", err);
    while (rc == BF_OK && resp.body.data != NULL &&
           next_upload(resp.body.data, &pos, key, sizeof(key), id,
                       sizeof(id))) {
        rc = push_str(keys, n, key, err);
        if (rc == BF_OK)
            rc = push_str(upload_ids, &ni, id, err);
    }
    buf_cleanup(&q);
    http_response_cleanup(&resp);
    if (rc != BF_OK) {
        s3_keys_free(*keys, *n);
        s3_keys_free(*upload_ids, ni);
        *keys = *upload_ids = NULL;
        *n = 0;
    }
    return rc;
}

static enum bf_rc upload_query(struct buf *q, const char *prefix_param,
                               const char *upload_id)
{
    enum bf_rc rc = buf_append_str(q, prefix_param);

    if (rc == BF_OK)
        rc = buf_append_str(q, "uploadId=");
    if (rc == BF_OK)
        rc = sigv4_uri_encode(upload_id, strlen(upload_id), 0, q);
    return rc;
}

enum bf_rc s3_mpu_create(struct s3_client *c, const char *bucket,
                         const char *key, const struct s3_put_options *opts,
                         char **upload_id, struct bf_err *err)
{
    struct http_header h[3];
    struct http_response resp;
    char id[1100];
    size_t nh = put_headers(opts, h), pos = 0;
    enum bf_rc rc;

    *upload_id = NULL;
    http_response_init(&resp);
    rc = call(c, "POST", bucket, key, "uploads=", h, nh, NULL, 0,
              S3_SMALL_RESPONSE, &resp, "CreateMultipartUpload", err);
    if (rc == BF_OK && (resp.body.data == NULL ||
                        !awsrest_xml_next(resp.body.data, &pos, "UploadId", id,
                                     sizeof(id)) || id[0] == '\0'))
        rc = bf_err_set(err, BF_E_AWS, "CreateMultipartUpload: no UploadId");
    if (rc == BF_OK) {
        *upload_id = strdup(id);
        if (*upload_id == NULL)
            rc = bf_err_set(err, BF_E_NOMEM, "out of memory");
    }
    http_response_cleanup(&resp);
    return rc;
}

enum bf_rc s3_mpu_upload_part(struct s3_client *c, const char *bucket,
                              const char *key, const char *upload_id,
                              int part_number, const void *data, size_t len,
                              char etag[128], struct bf_err *err)
{
    struct http_response resp;
    struct buf q;
    const char *e = NULL;
    enum bf_rc rc;

    etag[0] = '\0';
    buf_init(&q, 2048);
    http_response_init(&resp);
    rc = buf_printf(&q, "partNumber=%d&", part_number);
    if (rc == BF_OK)
        rc = upload_query(&q, "", upload_id);
    if (rc == BF_OK)
        rc = call(c, "PUT", bucket, key, q.data, NULL, 0, data, len,
                  S3_SMALL_RESPONSE, &resp, "UploadPart", err);
    if (rc == BF_OK) {
        e = http_response_header(&resp, "etag");
        if (e == NULL || e[0] == '\0' || strlen(e) >= 128)
            rc = bf_err_set(err, BF_E_AWS, "UploadPart: no usable ETag");
        else
            snprintf(etag, 128, "%s", e);
    }
    buf_cleanup(&q);
    http_response_cleanup(&resp);
    return rc;
}

enum bf_rc s3_mpu_complete(struct s3_client *c, const char *bucket,
                           const char *key, const char *upload_id,
                           char (*etags)[128], int nparts, struct bf_err *err)
{
    struct http_response resp;
    struct buf q, body;
    char code[64];
    size_t pos = 0;
    int i;
    enum bf_rc rc;

    buf_init(&q, 2048);
    buf_init(&body, 0);
    http_response_init(&resp);
    rc = upload_query(&q, "", upload_id);
    if (rc == BF_OK)
        rc = buf_append_str(&body, "<CompleteMultipartUpload>");
    for (i = 0; i < nparts && rc == BF_OK; i++) {
        rc = buf_printf(&body, "<Part><PartNumber>%d</PartNumber><ETag>", i + 1);
        if (rc == BF_OK)
            rc = xml_escape(&body, etags[i]);
        if (rc == BF_OK)
            rc = buf_append_str(&body, "</ETag></Part>");
    }
    if (rc == BF_OK)
        rc = buf_append_str(&body, "</CompleteMultipartUpload>");
    if (rc == BF_OK)
        rc = call(c, "POST", bucket, key, q.data, NULL, 0, body.data, body.len,
                  S3_SMALL_RESPONSE, &resp, "CompleteMultipartUpload", err);
    /* S3 may answer 200 and put the error in the body (a failure that
     * happened after the response started). */
    if (rc == BF_OK && resp.body.data != NULL &&
        strstr(resp.body.data, "<Error>") != NULL) {
        if (!awsrest_xml_next(resp.body.data, &pos, "Code", code, sizeof(code)))
            snprintf(code, sizeof(code), "InternalError");
        rc = bf_err_set(err, BF_E_AWS, "CompleteMultipartUpload: %s", code);
        if (err != NULL) {
            snprintf(err->aws_code, sizeof(err->aws_code), "%s", code);
            err->http_status = 500;
        }
    }
    buf_cleanup(&q);
    buf_cleanup(&body);
    http_response_cleanup(&resp);
    return rc;
}

enum bf_rc s3_mpu_abort(struct s3_client *c, const char *bucket,
                        const char *key, const char *upload_id,
                        struct bf_err *err)
{
    struct http_response resp;
    struct buf q;
    enum bf_rc rc;

    buf_init(&q, 2048);
    http_response_init(&resp);
    rc = upload_query(&q, "", upload_id);
    if (rc == BF_OK)
        rc = call(c, "DELETE", bucket, key, q.data, NULL, 0, NULL, 0,
                  S3_SMALL_RESPONSE, &resp, "AbortMultipartUpload", err);
    buf_cleanup(&q);
    http_response_cleanup(&resp);
    return rc;
}
