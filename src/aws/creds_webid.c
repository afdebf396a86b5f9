/* creds_webid.c -- web identity (EKS IRSA, OIDC federation) from the
 * environment: AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN.
 *
 * This worker does not exchange web identity tokens with STS
 * (AssumeRoleWithWebIdentity); on EKS it runs with Pod Identity, which is
 * the container source (creds_ecs.c). The provider exists so that a pod
 * set up for IRSA is told so at start-up instead of silently falling
 * through to IMDS and the node's role, which is what the SDKs would never
 * do: nothing set is BF_E_DECLINED; anything set is BF_E_CONFIG naming the
 * variable or the file (an unreadable token file is named as such), and
 * stops the chain. The token itself is never read into memory.
 */
#include "aws/creds.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *env_nonempty(const char *name)
{
    const char *v = getenv(name);

    return (v != NULL && v[0] != '\0') ? v : NULL;
}

static enum bf_rc webid_get(struct creds_provider *p, struct creds *out,
                            struct bf_err *err)
{
    const char *file = env_nonempty("AWS_WEB_IDENTITY_TOKEN_FILE");
    const char *role = env_nonempty("AWS_ROLE_ARN");

    (void)p;
    (void)out;
    if (file == NULL && role == NULL)
        return bf_err_set(err, BF_E_DECLINED,
                          "AWS_WEB_IDENTITY_TOKEN_FILE not set");
    if (file == NULL)
        return bf_err_set(err, BF_E_CONFIG,
                          "AWS_ROLE_ARN is set but "
                          "AWS_WEB_IDENTITY_TOKEN_FILE is not");
    if (access(file, R_OK) != 0)
        return bf_err_set(err, BF_E_CONFIG,
                          "AWS_WEB_IDENTITY_TOKEN_FILE: cannot read %s: %s",
                          file, strerror(errno));
    if (role == NULL)
        return bf_err_set(err, BF_E_CONFIG,
                          "AWS_WEB_IDENTITY_TOKEN_FILE is set but "
                          "AWS_ROLE_ARN is not");
    return bf_err_set(err, BF_E_CONFIG,
                      "AWS_WEB_IDENTITY_TOKEN_FILE is set: this worker does "
                      "not exchange web identity tokens (use EKS Pod "
                      "Identity or an ECS task role, or unset it)");
}

static const struct creds_provider_vtable webid_vtable = {
    webid_get, creds_provider_free_stateless
};

struct creds_provider *creds_provider_new_webid(void)
{
    return creds_provider_new_stateless(&webid_vtable, "web identity");
}
