/* s3.h -- the S3 calls the sink needs, on awsrest (signing, retries).
 *
 * Thin service calls: each builds the request, calls awsrest_call() and
 * reads what it needs from the answer (ETag header, a few XML elements).
 * Errors are passed up as awsrest gives them (BF_E_AWS with http_status and
 * aws_code, BF_E_TRANSPORT); the S3 sink reclassifies them. A client is used
 * by one thread at a time.
 */
#ifndef BF_AWS_S3_H
#define BF_AWS_S3_H

#include <stddef.h>
#include <stdint.h>

#include "aws/awsenv.h"
#include "util/buf.h"
#include "util/err.h"

struct s3_client;

enum bf_rc s3_client_new(struct awsenv *env, struct s3_client **out,
                         struct bf_err *err);
void s3_client_free(struct s3_client *c); /* NULL-safe */

struct s3_put_options {
    const char *content_type;    /* NULL = application/octet-stream */
    const char *sse_kms_key_id;  /* NULL/"" = no SSE-KMS headers */
};

enum bf_rc s3_put_object(struct s3_client *c, const char *bucket,
                         const char *key, const void *data, size_t len,
                         const struct s3_put_options *opts,
                         struct bf_err *err);

/* Body into `out` (its limit bounds the read). *found = 0 on 404. */
enum bf_rc s3_get_object(struct s3_client *c, const char *bucket,
                         const char *key, struct buf *out, int *found,
                         struct bf_err *err);

/* Bytes [offset, offset + len) of an object into `out` (a shorter answer
 * at the end of the object; none past it). *total receives the object's
 * size from Content-Range. *found = 0 on 404. */
enum bf_rc s3_get_object_range(struct s3_client *c, const char *bucket,
                               const char *key, uint64_t offset, size_t len,
                               struct buf *out, uint64_t *total, int *found,
                               struct bf_err *err);

/* A missing key is success, as in S3. */
enum bf_rc s3_delete_object(struct s3_client *c, const char *bucket,
                            const char *key, struct bf_err *err);

/* ListObjectsV2 with `prefix` (and delimiter "/" when `delimited`), all
 * pages; `*keys` holds the full keys (malloc'd array of malloc'd strings,
 * free with s3_keys_free). At most `max_keys` keys (0 = 100000): BF_E_LIMIT
 * beyond. */
enum bf_rc s3_list_objects(struct s3_client *c, const char *bucket,
                           const char *prefix, int delimited,
                           size_t max_keys, char ***keys, size_t *n,
                           struct bf_err *err);
void s3_keys_free(char **keys, size_t n); /* NULL-safe */

/* Multipart upload. `upload_id` out is malloc'd (caller frees). */
enum bf_rc s3_mpu_create(struct s3_client *c, const char *bucket,
                         const char *key, const struct s3_put_options *opts,
                         char **upload_id, struct bf_err *err);
/* `etag` receives the part's ETag (quotes kept), at most 127 chars. */
enum bf_rc s3_mpu_upload_part(struct s3_client *c, const char *bucket,
                              const char *key, const char *upload_id,
                              int part_number, const void *data, size_t len,
                              char etag[128], struct bf_err *err);
/* `etags[i]` is part i+1's ETag. */
enum bf_rc s3_mpu_complete(struct s3_client *c, const char *bucket,
                           const char *key, const char *upload_id,
                           char (*etags)[128], int nparts,
                           struct bf_err *err);
enum bf_rc s3_mpu_abort(struct s3_client *c, const char *bucket,
                        const char *key, const char *upload_id,
                        struct bf_err *err);

/* ListMultipartUploads under `prefix` (one page of up to 1000: enough to
 * clean up one chunk directory). `*keys` and `*upload_ids` are parallel
 * arrays, both freed with s3_keys_free(.., n). */
enum bf_rc s3_list_uploads(struct s3_client *c, const char *bucket,
                           const char *prefix, char ***keys,
                           char ***upload_ids, size_t *n, struct bf_err *err);

#endif
