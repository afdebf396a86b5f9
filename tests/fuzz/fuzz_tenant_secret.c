/* fuzz_tenant_secret.c -- libFuzzer target: a tenant's source-credentials
 * secret, as the local secrets file (or Secrets Manager) holds it.
 *
 * The input is the whole secrets store file: a memfd named by its
 * /proc/self/fd path goes through secrets_fetch_file("acme/dev") and, when
 * that finds the entry, its text through cw_creds_parse() (the
 * ConnectWise source reads its own secret); the raw input also goes
 * straight to cw_creds_parse (the Secrets Manager form). Properties: an accepted secret has all five fields non-empty and
 * terminated; an error is CREDENTIALS_INVALID (or a local-store code) and
 * its message names the secret and never echoes a value: the marker
 * SECRETVAL (in the dictionary and the seeds) never appears in it.
 */
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz.h"
#include "source/cw.h"
#include "tenant/secrets.h"

static int store_fd = -1;
static char store_path[64];

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    store_fd = memfd_create("fuzz-secrets", 0);
    if (store_fd < 0)
        abort();
    snprintf(store_path, sizeof(store_path), "/proc/self/fd/%d", store_fd);
    return 0;
}

static void no_echo(const struct bf_err *err)
{
    if (strstr(err->message, "SECRETVAL") != NULL)
        abort(); /* a secret value reached an error message */
}

static void parse(const char *text, size_t len)
{
    struct cw_creds c;
    struct bf_err err;

    memset(&c, 0x5a, sizeof(c));
    bf_err_init(&err);
    if (cw_creds_parse(text, len, "acme/dev", "connectwise", &c, &err) == BF_OK) {
        const char *f[] = {c.api_base_url, c.company_id, c.public_key,
                           c.private_key, c.client_id};
        const size_t cap[] = {sizeof(c.api_base_url), sizeof(c.company_id),
                              sizeof(c.public_key), sizeof(c.private_key),
                              sizeof(c.client_id)};

        for (size_t i = 0; i < 5; i++)
            if (f[i][0] == '\0' || memchr(f[i], '\0', cap[i]) == NULL)
                abort();
    } else {
        if (err.rc != BF_E_CREDENTIALS_INVALID ||
            strncmp(err.message, "secret acme/dev", 15) != 0)
            abort();
        no_echo(&err);
    }
    cw_creds_wipe(&c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *value = NULL;
    size_t vlen = 0;
    struct bf_err err;
    /* Exact size, no NUL: the parser must honour `len`. */
    char *exact = malloc(size ? size : 1);

    memcpy(exact, data, size);
    parse(exact, size);
    free(exact);

    if (ftruncate(store_fd, 0) != 0 ||
        (size > 0 && pwrite(store_fd, data, size, 0) != (ssize_t)size))
        abort();
    bf_err_init(&err);
    if (secrets_fetch_file(store_path, "acme/dev", &value, &vlen, &err) ==
        BF_OK) {
        parse(value, vlen);
        secrets_text_free(value, vlen);
    } else {
        if (err.message[0] == '\0')
            abort();
        no_echo(&err);
    }
    return 0;
}
