/* secrets.c -- reading and checking a tenant's source-credentials secret.
 *
 * Fetches a secret's text (local secrets file or Secrets Manager) and turns
 * it into `struct tenant_source_creds`: per-service or flat layout, the five
 * required fields, errors that name the missing *field* and never a value.
 * Every buffer that held secret text is wiped before it is freed. Caching
 * is the tenant store's (tenant.c).
 */
#include "tenant/secrets.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <openssl/crypto.h>

#include "aws/sm.h"
#include "util/buf.h"
#include "util/fileio.h"
#include "util/jsonstrict.h"

#define STORE_FILE_MAX ((size_t)8 * 1024 * 1024)

static const char *json_str_field(const cJSON *item, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(item, name);

    return cJSON_IsString(v) ? v->valuestring : NULL;
}

void secrets_text_free(char *value, size_t len)
{
    sm_secret_free(value, len);
}

/* Read a whole local store file, at most STORE_FILE_MAX bytes, sized up
 * front (file_read_all) so no stray copies of a secret are left in freed
 * memory. The caller frees (and wipes, if it held secrets) `*data`. */
enum bf_rc secrets_read_file(const char *path, char **data, size_t *len,
                            struct bf_err *err)
{
    struct buf b;
    enum bf_rc rc;

    *data = NULL;
    *len = 0;
    buf_init_secret(&b, STORE_FILE_MAX);
    rc = file_read_all(path, &b, NULL, err);
    if (rc != BF_OK) {
        buf_cleanup_secure(&b);
        return rc;
    }
    *len = b.len;
    *data = buf_detach(&b);
    return BF_OK;
}

struct creds_field {
    const char *name;
    size_t offset;
    size_t cap;
};

#define CREDS_FIELD(f)                                                   \
    { #f, offsetof(struct tenant_source_creds, f),                       \
      sizeof(((struct tenant_source_creds *)0)->f) }

static const struct creds_field creds_fields[] = {
    CREDS_FIELD(company_id),
    CREDS_FIELD(public_key),
    CREDS_FIELD(private_key),
    CREDS_FIELD(client_id),
    CREDS_FIELD(api_base_url),
};

/* CR/LF in a value would split an HTTP header (libcurl sends custom
 * headers verbatim); no credential field needs any control character. */
static int has_ctl(const char *v)
{
    for (; *v != '\0'; v++)
        if ((unsigned char)*v < 0x20 || *v == 0x7f)
            return 1;
    return 0;
}

/* The object that holds the fields: the service's member (per-service
 * form, as the original AVESA secrets), else the top level (flat form). */
static const cJSON *creds_object(const cJSON *root, const char *service)
{
    const cJSON *per = cJSON_GetObjectItemCaseSensitive(root, service);

    return cJSON_IsObject(per) ? per : root;
}

enum bf_rc secrets_parse_creds(const char *text, size_t len,
                                  const struct tenant_info *t,
                                  struct tenant_source_creds *out,
                                  struct bf_err *err)
{
    cJSON *root = NULL;
    const cJSON *obj = NULL;
    enum bf_rc rc = BF_OK;
    size_t i;
    char what[280];

    snprintf(what, sizeof what, "secret %s", t->secret_name);
    rc = json_strict_parse(text, len, what, BF_E_CREDENTIALS_INVALID,
                           JSON_STRICT_NO_NAMES, &root, err);
    if (rc != BF_OK)
        goto out;
    if (!cJSON_IsObject(root)) {
        rc = bf_err_set(err, BF_E_CREDENTIALS_INVALID,
                        "secret %s: not a JSON object", t->secret_name);
        goto out;
    }
    obj = creds_object(root, t->service);
    for (i = 0; i < sizeof(creds_fields) / sizeof(creds_fields[0]); i++) {
        const struct creds_field *f = &creds_fields[i];
        const char *v = json_str_field(obj, f->name);

        if (v == NULL || v[0] == '\0') {
            rc = bf_err_set(err, BF_E_CREDENTIALS_INVALID,
                            "secret %s (%s): missing field %s",
                            t->secret_name, t->service, f->name);
            goto out;
        }
        if (has_ctl(v)) {
            rc = bf_err_set(err, BF_E_CREDENTIALS_INVALID,
                            "secret %s (%s): field %s holds a control "
                            "character", t->secret_name, t->service, f->name);
            goto out;
        }
        if (buf_copy_str((char *)out + f->offset, f->cap, v) != BF_OK) {
            rc = bf_err_set(err, BF_E_CREDENTIALS_INVALID,
                            "secret %s (%s): field %s is too long",
                            t->secret_name, t->service, f->name);
            goto out;
        }
    }
out:
    sm_json_wipe_free(root);
    if (rc != BF_OK)
        tenant_source_creds_wipe(out);
    return rc;
}

/* The text of one secret's value: the string itself, or the object
 * printed back into a buffer allocated once (cJSON's growing printer would
 * leave copies of the secret behind in reallocated memory). `limit` bounds
 * the printed size. */
static enum bf_rc secret_value_text(const cJSON *v, size_t limit, char **value,
                                    size_t *vlen, const char *name,
                                    struct bf_err *err)
{
    size_t cap = 2 * limit + 64;
    char *p = NULL;

    if (cJSON_IsString(v)) {
        p = strdup(v->valuestring);
    } else {
        p = calloc(1, cap);
        if (p != NULL && !cJSON_PrintPreallocated((cJSON *)v, p, (int)cap, 0)) {
            sm_secret_free(p, cap);
            return bf_err_set(err, BF_E_CREDENTIALS_INVALID,
                              "secret %s: too large", name);
        }
    }
    if (p == NULL)
        return bf_err_set(err, BF_E_NOMEM, "secrets: out of memory");
    *value = p;
    *vlen = strlen(p);
    return BF_OK;
}

/* The secret `name` from the local secrets file: its value printed back to
 * JSON text (or the string itself, when stored as a SecretString would be). */
enum bf_rc secrets_fetch_file(const char *path, const char *name,
                                    char **value, size_t *vlen,
                                    struct bf_err *err)
{
    char *text = NULL;
    size_t len = 0;
    cJSON *root = NULL;
    const cJSON *v = NULL;
    enum bf_rc rc;

    *value = NULL;
    *vlen = 0;
    rc = secrets_read_file(path, &text, &len, err);
    if (rc != BF_OK) {
        bf_err_prefix(err, "secrets file");
        return rc == BF_E_IO ? bf_err_reclassify(err, BF_E_CONFIG) : rc;
    }
    rc = json_strict_parse(text, len, "secrets file", BF_E_CREDENTIALS_INVALID,
                           JSON_STRICT_NO_NAMES, &root, err);
    if (rc != BF_OK)
        goto out;
    if (!cJSON_IsObject(root)) {
        rc = bf_err_set(err, BF_E_CREDENTIALS_INVALID,
                        "secrets file %s: not a JSON object", path);
        goto out;
    }
    v = cJSON_GetObjectItemCaseSensitive(root, name);
    if (v == NULL) {
        rc = bf_err_set(err, BF_E_CREDENTIALS_INVALID,
                        "secret %s: not found in %s", name, path);
        goto out;
    }
    rc = secret_value_text(v, len, value, vlen, name, err);
out:
    sm_json_wipe_free(root);
    OPENSSL_cleanse(text, len);
    free(text);
    return rc;
}

/* Secrets Manager errors that a retry cannot fix become CredentialsInvalid;
 * throttling, 5xx and transport failures pass up unchanged. */
static enum bf_rc classify_sm_error(enum bf_rc rc, const char *name,
                                    struct bf_err *err)
{
    static const char *const fatal[] = {
        "ResourceNotFoundException", "AccessDeniedException",
        "DecryptionFailure", "InvalidRequestException",
        "InvalidParameterException", "NoSecretString",
    };
    size_t i;

    if (rc != BF_E_AWS || err == NULL)
        return rc;
    for (i = 0; i < sizeof(fatal) / sizeof(fatal[0]); i++) {
        if (strcmp(err->aws_code, fatal[i]) == 0) {
            err->retryable = 0;
            return bf_err_set(err, BF_E_CREDENTIALS_INVALID,
                              "secret %s: %s", name, err->aws_code);
        }
    }
    return rc;
}

enum bf_rc secrets_fetch_sm(struct awsenv *aws, const char *name,
                                  char **value, size_t *vlen,
                                  struct bf_err *err)
{
    struct awsjson_client *c = NULL;
    enum bf_rc rc;

    rc = sm_client_new(aws, &c, err);
    if (rc != BF_OK)
        return rc;
    rc = sm_get_secret_string(c, name, value, vlen, err);
    if (rc != BF_OK && err != NULL && err->endpoint[0] == '\0')
        snprintf(err->endpoint, sizeof(err->endpoint),
                 "secretsmanager:GetSecretValue");
    rc = classify_sm_error(rc, name, err);
    awsjson_client_free(c);
    return rc;
}

