/* creds.c -- the parts every credentials provider shares (see creds.h).
 *
 * Owns the reference count, the thread-safe get() entry point and
 * creds_wipe(). Each provider lives in its own creds_<kind>.c and only
 * fills in the vtable; this file never knows which kinds exist.
 */
#include "aws/creds.h"

#include <stddef.h>
#include <stdlib.h>

#include <openssl/crypto.h>

void creds_wipe(struct creds *c)
{
    if (c != NULL)
        OPENSSL_cleanse(c, sizeof(*c));
}

void creds_provider_init(struct creds_provider *p,
                         const struct creds_provider_vtable *vtable,
                         const char *name, void *impl)
{
    p->vtable = vtable;
    p->name = name;
    p->impl = impl;
    p->refcount = 1;
}

struct creds_provider *creds_provider_new_stateless(
    const struct creds_provider_vtable *vtable, const char *name)
{
    struct creds_provider *p = calloc(1, sizeof(*p));

    if (p != NULL)
        creds_provider_init(p, vtable, name, NULL);
    return p;
}

void creds_provider_free_stateless(struct creds_provider *p)
{
    free(p);
}

enum bf_rc creds_provider_get(struct creds_provider *p, struct creds *out,
                              struct bf_err *err)
{
    enum bf_rc rc;

    if (p == NULL || p->vtable == NULL || p->vtable->get == NULL)
        return bf_err_set(err, BF_E_CONFIG, "no credentials provider");
    creds_wipe(out);
    rc = p->vtable->get(p, out, err);
    /* A provider that fails must not leave half a secret behind. */
    if (rc != BF_OK)
        creds_wipe(out);
    return rc;
}

struct creds_provider *creds_provider_acquire(struct creds_provider *p)
{
    if (p != NULL)
        __atomic_add_fetch(&p->refcount, 1, __ATOMIC_RELAXED);
    return p;
}

void creds_provider_release(struct creds_provider *p)
{
    if (p == NULL)
        return;
    if (__atomic_sub_fetch(&p->refcount, 1, __ATOMIC_ACQ_REL) == 0)
        p->vtable->destroy(p);
}
