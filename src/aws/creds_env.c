/* creds_env.c -- credentials from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY
 * and AWS_SESSION_TOKEN.
 *
 * The variables are read at each get(), so a test (or an operator) that
 * changes them is seen. Nothing set means BF_E_DECLINED: the chain moves
 * on. Only one of the pair set is a configuration mistake (BF_E_CONFIG,
 * naming the variable that is missing), and it stops the chain.
 */
#include "aws/creds.h"

#include <stdlib.h>
#include <string.h>

static enum bf_rc copy_var(const char *name, const char *v, char *dst,
                           size_t n, struct bf_err *err)
{
    if (strlen(v) >= n)
        return bf_err_set(err, BF_E_CONFIG, "%s is too long", name);
    strcpy(dst, v);
    return BF_OK;
}

static enum bf_rc env_get(struct creds_provider *p, struct creds *out,
                          struct bf_err *err)
{
    const char *id = getenv("AWS_ACCESS_KEY_ID");
    const char *secret = getenv("AWS_SECRET_ACCESS_KEY");
    const char *token = getenv("AWS_SESSION_TOKEN");
    enum bf_rc rc;

    (void)p;
    if (id != NULL && id[0] == '\0')
        id = NULL;
    if (secret != NULL && secret[0] == '\0')
        secret = NULL;
    if (id == NULL && secret == NULL)
        return bf_err_set(err, BF_E_DECLINED,
                          "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY not "
                          "set");
    if (id == NULL)
        return bf_err_set(err, BF_E_CONFIG,
                          "AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID "
                          "is not");
    if (secret == NULL)
        return bf_err_set(err, BF_E_CONFIG,
                          "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY "
                          "is not");
    rc = copy_var("AWS_ACCESS_KEY_ID", id, out->access_key_id,
                  sizeof(out->access_key_id), err);
    if (rc == BF_OK)
        rc = copy_var("AWS_SECRET_ACCESS_KEY", secret, out->secret_access_key,
                      sizeof(out->secret_access_key), err);
    if (rc == BF_OK && token != NULL)
        rc = copy_var("AWS_SESSION_TOKEN", token, out->session_token,
                      sizeof(out->session_token), err);
    out->expiration_ms = 0;
    return rc;
}

static const struct creds_provider_vtable env_vtable = {
    env_get, creds_provider_free_stateless
};

struct creds_provider *creds_provider_new_env(void)
{
    return creds_provider_new_stateless(&env_vtable, "environment");
}
