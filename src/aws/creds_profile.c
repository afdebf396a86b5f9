/* creds_profile.c -- credentials and region from the shared AWS files.
 *
 * ~/.aws/credentials (AWS_SHARED_CREDENTIALS_FILE) has plain "[name]"
 * sections; ~/.aws/config (AWS_CONFIG_FILE) has "[profile name]" and
 * "[default]". The profile is the one given, else AWS_PROFILE, else
 * "default". As in the SDKs, a key in the credentials file wins over the
 * same key in the config file. The INI reader is strict about structure
 * and lenient about spacing and comments: a malformed file is a one-line
 * BF_E_CONFIG error naming the file and the line, never a guess.
 *
 * For the chain: with no profile named (neither given nor AWS_PROFILE),
 * missing files, a missing [default] or a [default] without keys (a config
 * file holding only a region is common) decline, so the chain moves on. A
 * profile that was named must exist and hold a key pair; otherwise, as in
 * the SDKs, it is an error (BF_E_CONFIG) that stops the chain.
 */
#include "aws/creds.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/fileio.h"

#define INI_MAX_BYTES (1024 * 1024)

struct profile_impl {
    struct creds_provider base;
    char *profile; /* NULL: AWS_PROFILE or "default" at each get() */
};

/* What one profile section holds, gathered from both files. */
struct profile_vals {
    const char *want;     /* the profile name */
    int config_file;      /* parsing the config file ("[profile x]") */
    int found;            /* a section of that name was seen */
    struct creds creds;
    int have_id, have_secret;
    char region[64];
    char other[32];       /* a key we cannot use ("role_arn"), for messages */
    const char *path;
    int line;
    struct bf_err *err;
};

static char *trim(char *s)
{
    char *e;

    while (*s == ' ' || *s == '\t')
        s++;
    e = s + strlen(s);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' ||
                     e[-1] == '\n'))
        *--e = '\0';
    return s;
}

/* Cut a " # comment" or " ; comment" off a value. */
static void cut_comment(char *v)
{
    char *p;

    for (p = v; *p != '\0'; p++) {
        if ((*p == '#' || *p == ';') && p > v &&
            (p[-1] == ' ' || p[-1] == '\t')) {
            *p = '\0';
            return;
        }
    }
}

/* Whether section `sec` is the wanted profile in this file. */
static int section_matches(const struct profile_vals *pv, const char *sec)
{
    const char *name = sec;

    if (pv->config_file && strncmp(sec, "profile", 7) == 0 &&
        (sec[7] == ' ' || sec[7] == '\t')) {
        name = sec + 7;
        while (*name == ' ' || *name == '\t')
            name++;
    } else if (pv->config_file && strcmp(sec, "default") != 0) {
        return 0; /* config sections other than default need "profile " */
    }
    return strcmp(name, pv->want) == 0;
}

static enum bf_rc store(struct profile_vals *pv, char *dst, size_t n,
                        const char *key, const char *value, int *flag)
{
    if (strlen(value) >= n)
        return bf_err_set(pv->err, BF_E_CONFIG, "%s:%d: value of %s too long",
                          pv->path, pv->line, key);
    strcpy(dst, value);
    if (flag != NULL)
        *flag = value[0] != '\0'; /* an empty key is no key */
    return BF_OK;
}

static enum bf_rc on_key(struct profile_vals *pv, const char *key,
                         const char *value)
{
    struct creds *c = &pv->creds;

    if (strcmp(key, "aws_access_key_id") == 0)
        return store(pv, c->access_key_id, sizeof(c->access_key_id), key,
                     value, &pv->have_id);
    if (strcmp(key, "aws_secret_access_key") == 0)
        return store(pv, c->secret_access_key, sizeof(c->secret_access_key),
                     key, value, &pv->have_secret);
    if (strcmp(key, "aws_session_token") == 0)
        return store(pv, c->session_token, sizeof(c->session_token), key,
                     value, NULL);
    if (strcmp(key, "region") == 0)
        return store(pv, pv->region, sizeof(pv->region), key, value, NULL);
    if (strcmp(key, "role_arn") == 0 ||
        strcmp(key, "credential_process") == 0 ||
        strcmp(key, "sso_session") == 0 ||
        strcmp(key, "sso_start_url") == 0 ||
        strcmp(key, "web_identity_token_file") == 0)
        snprintf(pv->other, sizeof(pv->other), "%s", key);
    return BF_OK;
}

/* One line of an INI file. `*in_wanted` says whether the current section
 * is the profile we want; `*in_section` whether any section has begun. */
static enum bf_rc ini_line(struct profile_vals *pv, char *raw, int *in_section,
                           int *in_wanted, int *nested)
{
    int indented = raw[0] == ' ' || raw[0] == '\t';
    char *s = trim(raw), *eq, *close, *value;

    if (s[0] == '\0' || s[0] == '#' || s[0] == ';')
        return BF_OK;
    if (s[0] == '[') {
        close = strchr(s, ']');
        if (close == NULL)
            return bf_err_set(pv->err, BF_E_CONFIG,
                              "%s:%d: section header without ']'", pv->path,
                              pv->line);
        *close = '\0';
        cut_comment(close + 1);
        if (trim(close + 1)[0] != '\0' || trim(s + 1)[0] == '\0')
            return bf_err_set(pv->err, BF_E_CONFIG,
                              "%s:%d: malformed section header", pv->path,
                              pv->line);
        *in_section = 1;
        *nested = 0;
        *in_wanted = section_matches(pv, trim(s + 1));
        pv->found |= *in_wanted;
        return BF_OK;
    }
    eq = strchr(s, '=');
    if (eq == NULL)
        return bf_err_set(pv->err, BF_E_CONFIG,
                          "%s:%d: expected 'key = value' or '[section]'",
                          pv->path, pv->line);
    if (!*in_section)
        return bf_err_set(pv->err, BF_E_CONFIG,
                          "%s:%d: setting before any [section]", pv->path,
                          pv->line);
    *eq = '\0';
    if (trim(s)[0] == '\0')
        return bf_err_set(pv->err, BF_E_CONFIG, "%s:%d: empty key name",
                          pv->path, pv->line);
    /* Indented lines after "key =" with no value are nested settings
     * ("s3 =\n  addressing_style = path"): valid, but none is ours. */
    if (indented && *nested)
        return BF_OK;
    cut_comment(eq + 1);
    value = trim(eq + 1);
    *nested = value[0] == '\0';
    if (!*in_wanted)
        return BF_OK;
    return on_key(pv, trim(s), value);
}

/* Read a whole file (at most INI_MAX_BYTES). *missing = 1 and BF_OK when
 * it does not exist. A file that is there but unreadable or too large is
 * the operator's mistake: BF_E_CONFIG. */
static enum bf_rc read_file(const char *path, struct buf *out, int *missing,
                            struct bf_err *err)
{
    enum bf_rc rc = file_read_all(path, out, missing, err);

    if (rc == BF_E_IO || rc == BF_E_LIMIT)
        return bf_err_reclassify(err, BF_E_CONFIG);
    return rc;
}

/* Parse `path` into `pv`. *missing as read_file(). */
static enum bf_rc ini_parse(const char *path, int config_file,
                            struct profile_vals *pv, int *missing)
{
    struct buf text;
    char *line, *next;
    int in_section = 0, in_wanted = 0, nested = 0;
    enum bf_rc rc;

    buf_init_secret(&text, INI_MAX_BYTES);
    rc = read_file(path, &text, missing, pv->err);
    if (rc != BF_OK || *missing)
        goto out;
    if (memchr(text.data, '\0', text.len) != NULL) {
        rc = bf_err_set(pv->err, BF_E_CONFIG, "%s: not a text file", path);
        goto out;
    }
    pv->path = path;
    pv->config_file = config_file;
    pv->line = 0;
    for (line = text.data; line != NULL && rc == BF_OK; line = next) {
        next = strchr(line, '\n');
        if (next != NULL)
            *next++ = '\0';
        pv->line++;
        rc = ini_line(pv, line, &in_section, &in_wanted, &nested);
    }
out:
    buf_cleanup_secure(&text);
    return rc;
}

/* The two file paths: the variable, else ~/.aws/<name>. Empty when
 * neither is known. */
static void file_path(const char *var, const char *name, char *out, size_t n)
{
    const char *v = getenv(var);
    const char *home = getenv("HOME");

    out[0] = '\0';
    if (v != NULL && v[0] != '\0')
        snprintf(out, n, "%s", v);
    else if (home != NULL && home[0] != '\0')
        snprintf(out, n, "%s/.aws/%s", home, name);
}

/* Whether a profile was asked for by name, not defaulted. */
static int profile_named(const char *given)
{
    const char *env = getenv("AWS_PROFILE");

    return (given != NULL && given[0] != '\0') || (env != NULL && env[0] != '\0');
}

static const char *profile_name(const char *given)
{
    const char *env = getenv("AWS_PROFILE");

    if (given != NULL && given[0] != '\0')
        return given;
    if (env != NULL && env[0] != '\0')
        return env;
    return "default";
}

/* Parse the config file, then the credentials file (which wins) unless
 * `config_only`. *any = 1 when at least one file exists. */
static enum bf_rc load_profile(struct profile_vals *pv, int config_only,
                               int *any, char *cfg_path, char *cred_path,
                               size_t n)
{
    int missing = 1;
    enum bf_rc rc = BF_OK;

    *any = 0;
    file_path("AWS_CONFIG_FILE", "config", cfg_path, n);
    file_path("AWS_SHARED_CREDENTIALS_FILE", "credentials", cred_path, n);
    if (cfg_path[0] != '\0')
        rc = ini_parse(cfg_path, 1, pv, &missing);
    *any |= !missing;
    if (rc != BF_OK || config_only || cred_path[0] == '\0')
        return rc;
    rc = ini_parse(cred_path, 0, pv, &missing);
    *any |= !missing;
    return rc;
}

static enum bf_rc profile_get(struct creds_provider *p, struct creds *out,
                              struct bf_err *err)
{
    struct profile_impl *impl = p->impl;
    struct profile_vals pv;
    char cfg[1024], cred[1024];
    int any = 0;
    enum bf_rc rc;
    enum bf_rc absent = profile_named(impl->profile) ? BF_E_CONFIG : BF_E_DECLINED;

    memset(&pv, 0, sizeof(pv));
    pv.want = profile_name(impl->profile);
    pv.err = err;
    rc = load_profile(&pv, 0, &any, cfg, cred, sizeof(cfg));
    if (rc != BF_OK)
        goto out;
    if (!any) {
        rc = bf_err_set(err, absent, "profile %s: no file %s or %s",
                        pv.want, cred, cfg);
        goto out;
    }
    if (!pv.found) {
        rc = bf_err_set(err, absent, "profile %s not found in %s or %s",
                        pv.want, cred, cfg);
        goto out;
    }
    if (!pv.have_id || !pv.have_secret) {
        if (pv.have_id || pv.have_secret)
            rc = bf_err_set(err, BF_E_CONFIG, "profile %s: %s without %s",
                            pv.want, pv.have_id ? "aws_access_key_id" :
                            "aws_secret_access_key", pv.have_id ?
                            "aws_secret_access_key" : "aws_access_key_id");
        else if (pv.other[0] != '\0')
            rc = bf_err_set(err, BF_E_CONFIG, "profile %s uses %s, which "
                            "this worker does not support", pv.want,
                            pv.other);
        else
            rc = bf_err_set(err, absent, "profile %s has no keys",
                            pv.want);
        goto out;
    }
    *out = pv.creds;
    out->expiration_ms = 0;
out:
    creds_wipe(&pv.creds);
    return rc;
}

enum bf_rc creds_profile_region(const char *profile, char out[64],
                                struct bf_err *err)
{
    struct profile_vals pv;
    char cfg[1024], cred[1024];
    int any = 0;
    enum bf_rc rc;

    out[0] = '\0';
    memset(&pv, 0, sizeof(pv));
    pv.want = profile_name(profile);
    pv.err = err;
    rc = load_profile(&pv, 1, &any, cfg, cred, sizeof(cfg));
    if (rc == BF_OK)
        memcpy(out, pv.region, 64);
    creds_wipe(&pv.creds);
    return rc;
}

static void profile_destroy(struct creds_provider *p)
{
    struct profile_impl *impl = p->impl;

    free(impl->profile);
    free(impl);
}

static const struct creds_provider_vtable profile_vtable = {
    profile_get, profile_destroy
};

struct creds_provider *creds_provider_new_profile(const char *profile)
{
    struct profile_impl *impl = calloc(1, sizeof(*impl));

    if (impl == NULL)
        return NULL;
    if (profile != NULL) {
        impl->profile = strdup(profile);
        if (impl->profile == NULL) {
            free(impl);
            return NULL;
        }
    }
    creds_provider_init(&impl->base, &profile_vtable, "profile", impl);
    return &impl->base;
}
