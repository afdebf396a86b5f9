/* sm.h -- Secrets Manager GetSecretValue (AWS JSON 1.1).
 *
 * Thin on awsjson. The secret string is handed to the caller in a buffer
 * the caller must wipe (OPENSSL_cleanse) and free with sm_secret_free();
 * the parsed response that carried it is wiped here before it is freed.
 */
#ifndef BF_AWS_SM_H
#define BF_AWS_SM_H

#include <stddef.h>

#include "aws/awsenv.h"
#include "aws/awsjson.h"
#include "util/err.h"

/* A Secrets Manager client (per thread). */
enum bf_rc sm_client_new(struct awsenv *env, struct awsjson_client **out,
                         struct bf_err *err);

/* GetSecretValue(SecretId = `secret_id`). On BF_OK `*value` is a malloc'd
 * copy of SecretString and `*len` its length; free it with
 * sm_secret_free(). A secret without SecretString (binary only) is
 * BF_E_AWS with aws_code "NoSecretString". AWS errors pass up unchanged
 * (ResourceNotFoundException, AccessDeniedException, ...). */
enum bf_rc sm_get_secret_string(struct awsjson_client *c, const char *secret_id,
                                char **value, size_t *len, struct bf_err *err);

/* Wipe and free a secret string of `len` bytes. NULL-safe. */
void sm_secret_free(char *value, size_t len);

/* Wipe every string in a cJSON tree (keys and values), then free it.
 * For parsed documents that held a secret. NULL-safe. */
void sm_json_wipe_free(cJSON *json);

#endif
