/* creds_chain.c -- a provider that asks a list of providers in order.
 *
 * The first member that answers wins. BF_E_DECLINED from a member means
 * "nothing here" and the chain moves on; any other code stops the chain
 * there: BF_E_CONFIG is a source that is present but misconfigured (half a
 * key pair, a named profile that is missing or half written, an unreadable
 * token file), as the AWS SDKs treat it, so a later source (ECS, IMDS) never
 * answers with other credentials instead. When every member declines, the
 * one-line error (BF_E_CONFIG) lists what each said.
 */
#include "aws/creds.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct chain_impl {
    struct creds_provider base;
    struct creds_provider **list;
    int n;
};

static enum bf_rc chain_get(struct creds_provider *p, struct creds *out,
                            struct bf_err *err)
{
    struct chain_impl *c = p->impl;
    char why[BF_ERR_MSG_MAX] = "";
    size_t used = 0;
    int i;

    for (i = 0; i < c->n; i++) {
        struct bf_err e;
        enum bf_rc rc;
        const char *name;
        int w;

        bf_err_init(&e);
        rc = creds_provider_get(c->list[i], out, &e);
        name = c->list[i] != NULL ? c->list[i]->name : "(none)";
        if (rc == BF_OK)
            return BF_OK;
        if (rc != BF_E_DECLINED) {
            if (err != NULL)
                *err = e;
            bf_err_prefix(err, "credentials from %s", name);
            return rc;
        }
        w = snprintf(why + used, sizeof(why) - used, "%s%s: %s",
                     i > 0 ? "; " : "", name, e.message);
        if (w > 0)
            used += (size_t)w < sizeof(why) - used ? (size_t)w
                                                   : sizeof(why) - used - 1;
    }
    return bf_err_set(err, BF_E_CONFIG, "no AWS credentials found (%s)", why);
}

static void chain_destroy(struct creds_provider *p)
{
    struct chain_impl *c = p->impl;
    int i;

    for (i = 0; i < c->n; i++)
        creds_provider_release(c->list[i]);
    free(c->list);
    free(c);
}

static const struct creds_provider_vtable chain_vtable = {
    chain_get, chain_destroy
};

struct creds_provider *creds_provider_new_chain(struct creds_provider **list,
                                                int n)
{
    struct chain_impl *c = calloc(1, sizeof(*c));
    int i;

    if (c == NULL)
        return NULL;
    c->list = calloc(n > 0 ? (size_t)n : 1, sizeof(*c->list));
    if (c->list == NULL) {
        free(c);
        return NULL;
    }
    for (i = 0; i < n; i++)
        c->list[i] = creds_provider_acquire(list[i]);
    c->n = n;
    creds_provider_init(&c->base, &chain_vtable, "chain", c);
    return &c->base;
}
