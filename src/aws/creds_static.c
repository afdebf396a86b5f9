/* creds_static.c -- a provider that always hands out the same credentials.
 *
 * Used for credentials given in configuration and by the tests; the env
 * and profile providers do their own reading and do not use this one.
 */
#include "aws/creds.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

struct static_impl {
    struct creds_provider base;
    struct creds creds;
};

static enum bf_rc static_get(struct creds_provider *p, struct creds *out,
                             struct bf_err *err)
{
    struct static_impl *s = p->impl;

    (void)err;
    *out = s->creds;
    return BF_OK;
}

static void static_destroy(struct creds_provider *p)
{
    struct static_impl *s = p->impl;

    OPENSSL_cleanse(s, sizeof(*s));
    free(s);
}

static const struct creds_provider_vtable static_vtable = {
    static_get, static_destroy
};

struct creds_provider *creds_provider_new_static(const struct creds *c)
{
    struct static_impl *s = calloc(1, sizeof(*s));

    if (s == NULL)
        return NULL;
    s->creds = *c;
    creds_provider_init(&s->base, &static_vtable, "static", s);
    return &s->base;
}
