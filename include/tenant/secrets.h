/* secrets.h -- reading and checking source-credential secrets.
 *
 * The pieces of the tenant store that touch secret text: fetch it (local
 * file or Secrets Manager). What the text holds is the reading source's
 * business (source/cw.h). Callers own the returned text and free it with
 * secrets_text_free(),
 * which wipes it. tenant.c adds the cache and the lock.
 */
#ifndef BF_TENANT_SECRETS_H
#define BF_TENANT_SECRETS_H

#include <stddef.h>

#include "aws/awsenv.h"
#include "util/err.h"

/* Read a whole local store file (at most 8 MiB), sized up front so no
 * stray copy of a secret is left in freed memory. The caller frees `*data`
 * (wiping it first if it held secrets).
 * BF_E_IO names the path; BF_E_LIMIT when the file is too large. */
enum bf_rc secrets_read_file(const char *path, char **data, size_t *len,
                             struct bf_err *err);

/* The text of secret `name` from the secrets file at `path` (a JSON object
 * from secret name to value). Missing name or a broken file:
 * BF_E_CREDENTIALS_INVALID; a missing file: BF_E_CONFIG. */
enum bf_rc secrets_fetch_file(const char *path, const char *name,
                              char **value, size_t *vlen, struct bf_err *err);

/* The SecretString of `name` from Secrets Manager. Errors a retry cannot
 * fix (not found, access denied, ...) are BF_E_CREDENTIALS_INVALID;
 * throttling, 5xx and transport errors pass up unchanged. */
enum bf_rc secrets_fetch_sm(struct awsenv *aws, const char *name,
                            char **value, size_t *vlen, struct bf_err *err);

/* Wipe and free secret text of `len` bytes. NULL-safe. */
void secrets_text_free(char *value, size_t len);

#endif
