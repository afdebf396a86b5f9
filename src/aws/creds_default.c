/* creds_default.c -- the SDKs' default chain behind the refresh cache.
 *
 * Order: environment, shared profile files, web identity (which only
 * refuses; creds_webid.c), container credentials, EC2 instance metadata.
 * The first that has credentials wins; a source that is set up but wrong
 * stops the chain; the cache keeps what was found and refreshes
 * temporary credentials before they expire.
 */
#include "aws/creds.h"

#include <stddef.h>

struct creds_provider *creds_provider_new_default(void)
{
    struct creds_provider *members[5] = { NULL, NULL, NULL, NULL, NULL };
    struct creds_provider *chain = NULL, *cached = NULL;
    int i;

    members[0] = creds_provider_new_env();
    members[1] = creds_provider_new_profile(NULL);
    members[2] = creds_provider_new_webid();
    members[3] = creds_provider_new_ecs(NULL);
    members[4] = creds_provider_new_imds(NULL);
    for (i = 0; i < 5; i++)
        if (members[i] == NULL)
            goto out;
    chain = creds_provider_new_chain(members, 5);
    if (chain != NULL)
        cached = creds_provider_new_cached(chain, 0, NULL);
out:
    for (i = 0; i < 5; i++)
        creds_provider_release(members[i]);
    creds_provider_release(chain);
    return cached;
}
