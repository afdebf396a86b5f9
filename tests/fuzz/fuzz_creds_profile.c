/* fuzz_creds_profile.c -- libFuzzer target: the shared config and
 * credentials files (~/.aws/config, ~/.aws/credentials).
 *
 * The provider reads the files named by AWS_CONFIG_FILE and
 * AWS_SHARED_CREDENTIALS_FILE, so the input (split at the first NUL byte:
 * config text, then credentials text) is written to two memfd files whose
 * /proc/self/fd paths the variables name; nothing touches the disk. The
 * profile name is "fuzz" or "default" by the input's length. Drives
 * creds_provider_get() and creds_profile_region(); the config text also
 * goes to creds_parse_json(), the parser of the ECS / IMDS credential
 * documents (AccessKeyId, SecretAccessKey, Token, Expiration). Properties: the result
 * is BF_OK (then both keys are non-empty and NUL-terminated), BF_E_CONFIG,
 * or BF_E_CREDENTIALS_*; never a crash or a leak.
 */
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "aws/creds.h"
#include "aws/private/creds_http.h"
#include "fuzz.h"

static int cfg_fd = -1, cred_fd = -1;

static int make_file(const char *name, const char *var)
{
    char path[64];
    int fd = memfd_create(name, 0);

    if (fd < 0)
        abort();
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    setenv(var, path, 1);
    return fd;
}

static void put(int fd, const uint8_t *p, size_t n)
{
    if (ftruncate(fd, 0) != 0 || (n > 0 && pwrite(fd, p, n, 0) != (ssize_t)n))
        abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    cfg_fd = make_file("fuzz-config", "AWS_CONFIG_FILE");
    cred_fd = make_file("fuzz-credentials", "AWS_SHARED_CREDENTIALS_FILE");
    unsetenv("AWS_PROFILE");
    return 0;
}

/* The metadata services' credential document. */
static void json_doc(const uint8_t *data, size_t n)
{
    char *doc = fuzz_str(data, n);
    struct creds c;
    struct bf_err err;

    memset(&c, 0, sizeof(c));
    bf_err_init(&err);
    if (creds_parse_json(doc, "fuzz", &c, &err) == BF_OK &&
        (c.access_key_id[0] == '\0' || c.secret_access_key[0] == '\0'))
        abort();
    creds_wipe(&c);
    free(doc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nul = memchr(data, '\0', size);
    size_t n1 = nul != NULL ? (size_t)(nul - data) : size;
    const char *profile = size % 2 ? "fuzz" : "default";
    struct creds_provider *p = NULL;
    struct creds c;
    struct bf_err err;
    char region[64];
    enum bf_rc rc;

    put(cfg_fd, data, n1);
    put(cred_fd, nul != NULL ? nul + 1 : data, nul != NULL ? size - n1 - 1 : 0);
    p = creds_provider_new_profile(profile);
    if (p == NULL)
        abort();
    memset(&c, 0, sizeof(c));
    bf_err_init(&err);
    rc = creds_provider_get(p, &c, &err);
    if (rc == BF_OK &&
        (c.access_key_id[0] == '\0' || c.secret_access_key[0] == '\0' ||
         memchr(c.session_token, '\0', sizeof(c.session_token)) == NULL))
        abort();
    if (rc != BF_OK && err.message[0] == '\0')
        abort();
    creds_wipe(&c);
    creds_provider_release(p);
    bf_err_init(&err);
    memset(region, 'x', sizeof(region));
    rc = creds_profile_region(profile, region, &err);
    if (rc == BF_OK && memchr(region, '\0', sizeof(region)) == NULL)
        abort();
    json_doc(data, n1);
    return 0;
}
