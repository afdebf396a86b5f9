/* test_sigv4.c -- SigV4 signing, stage by stage, against known answers.
 *
 * The AWS documentation's worked example (AWS SigV4 documentation), the canonicalization
 * pieces one rule at a time, the signing-key cache, and every case folder
 * under tests/sigv4/cases/ (request.txt + context.json in, the reference
 * signer's canonical request, string to sign and signature out; generated
 * once with @smithy/signature-v4 by tests/sigv4/gen-cases.js).
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>
#include <openssl/sha.h>

#include "aws/sigv4.h"
#include "fakesrv.h"
#include "util/buf.h"
#include "util/timeutil.h"

#include "testsuite.h"

#define DOC_TIME 1440938160 /* 2015-08-30T12:36:00Z */

static struct creds doc_creds(void)
{
    struct creds c;

    memset(&c, 0, sizeof(c));
    strcpy(c.access_key_id, "AKIDEXAMPLE");
    strcpy(c.secret_access_key, "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
    return c;
}

static void sha_hex(const char *s, size_t n, char out[65])
{
    unsigned char md[32];
    int i;

    SHA256((const unsigned char *)s, n, md);
    for (i = 0; i < 32; i++)
        sprintf(out + 2 * i, "%02x", md[i]);
}

START_TEST(aws_documentation_example)
{
    struct creds c = doc_creds();
    struct sigv4_config cfg = { &c, "us-east-1", "iam", DOC_TIME, 0, 0 };
    struct sigv4_header h[] = {
        { "Host", "iam.amazonaws.com" },
        { "Content-Type", "application/x-www-form-urlencoded; charset=utf-8" },
        { "X-Amz-Date", "20150830T123600Z" },
    };
    struct sigv4_request req = { "GET", "/", "Action=ListUsers&Version=2010-05-08",
                                 h, 3, NULL, 0, NULL };
    struct sigv4_result r;
    struct bf_err e;
    char hash[65];

    sigv4_result_init(&r);
    ck_assert_int_eq(sigv4_sign(&cfg, &req, NULL, &r, &e), BF_OK);
    ck_assert_str_eq(r.canonical_request.data,
        "GET\n/\nAction=ListUsers&Version=2010-05-08\n"
        "content-type:application/x-www-form-urlencoded; charset=utf-8\n"
        "host:iam.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
        "content-type;host;x-amz-date\n"
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    sha_hex(r.canonical_request.data, r.canonical_request.len, hash);
    ck_assert_str_eq(hash,
        "f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59");
    ck_assert_str_eq(r.string_to_sign.data,
        "AWS4-HMAC-SHA256\n20150830T123600Z\n"
        "20150830/us-east-1/iam/aws4_request\n"
        "f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59");
    ck_assert_str_eq(r.signature,
        "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7");
    ck_assert_str_eq(r.amz_date, "20150830T123600Z");
    ck_assert_str_eq(r.signed_headers.data, "content-type;host;x-amz-date");
    ck_assert_str_eq(r.authorization.data,
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/"
        "aws4_request, SignedHeaders=content-type;host;x-amz-date, "
        "Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7");
    sigv4_result_cleanup(&r);
}
END_TEST

static void uri_is(const char *path, int s3, const char *want)
{
    struct buf b;

    buf_init(&b, 0);
    ck_assert_int_eq(sigv4_canonical_uri(path, s3, &b), BF_OK);
    ck_assert_msg(strcmp(b.data, want) == 0, "uri(%s, s3=%d) = %s, want %s",
                  path, s3, b.data, want);
    buf_cleanup(&b);
}

START_TEST(canonical_uri_rules)
{
    uri_is("", 0, "/");
    uri_is("/", 0, "/");
    uri_is("/a/./b/../c//d/", 0, "/a/c/d/");
    uri_is("/../..", 0, "/");
    uri_is("/foo%20bar", 0, "/foo%2520bar");
    uri_is("/a b/é", 0, "/a%20b/%C3%A9");
    uri_is("/x:y@z!*", 0, "/x%3Ay%40z%21%2A");
    uri_is("/~user/a-b_c.d", 0, "/~user/a-b_c.d");
    /* S3: exactly as sent, never normalised. */
    uri_is("/foo%20bar", 1, "/foo%20bar");
    uri_is("/a/./b/../c//d", 1, "/a/./b/../c//d");
    uri_is("", 1, "/");
}
END_TEST

static void query_is(const char *q, const char *want)
{
    struct buf b;

    buf_init(&b, 0);
    ck_assert_int_eq(sigv4_canonical_query(q, &b), BF_OK);
    ck_assert_msg(strcmp(b.data != NULL ? b.data : "", want) == 0,
                  "query(%s) = %s, want %s", q, b.data, want);
    buf_cleanup(&b);
}

START_TEST(canonical_query_rules)
{
    query_is(NULL, "");
    query_is("", "");
    query_is("b=2&a=1&a=0&c", "a=0&a=1&b=2&c=");
    query_is("a-=1&a=2", "a=2&a-=1"); /* by key first, then by value */
    query_is("a+b=%7e&x=%2f%2F/", "a%2Bb=~&x=%2F%2F%2F");
    query_is("k=v%2x&&empty=", "empty=&k=v%252x");
    query_is("sp=a%20b&u=%C3%A9", "sp=a%20b&u=%C3%A9");
    query_is("X-Amz-Signature=abc&z=1", "z=1");
    query_is("=v", "=v");
}
END_TEST

START_TEST(uri_encode_unreserved_only)
{
    struct buf b;

    buf_init(&b, 0);
    ck_assert_int_eq(sigv4_uri_encode("aZ09-_.~ /+*%", 13, 0, &b), BF_OK);
    ck_assert_str_eq(b.data, "aZ09-_.~%20%2F%2B%2A%25");
    buf_reset(&b);
    ck_assert_int_eq(sigv4_uri_encode("a/b c", 5, 1, &b), BF_OK);
    ck_assert_str_eq(b.data, "a/b%20c");
    buf_cleanup(&b);
}
END_TEST

START_TEST(headers_trimmed_folded_sorted_joined)
{
    struct creds c = doc_creds();
    struct sigv4_config cfg = { &c, "us-east-1", "states", DOC_TIME, 0, 0 };
    struct sigv4_header h[] = {
        { "Host", "example.com" },
        { "X-Multi", "  b   one\t\ttwo " },
        { "x-multi", "a" },
        { "User-Agent", "not signed" },
        { "Authorization", "never signed" },
        { "X-Empty", "   " },
        { "X-Blank", "" },
    };
    struct sigv4_request req = { "POST", "/", NULL, h, 7, "{}", 2, NULL };
    struct sigv4_result r;
    int i;

    sigv4_result_init(&r);
    /* Dirty the heap first: an empty value must be written as empty, not
     * left as whatever the allocator hands back. */
    for (i = 0; i < 8; i++) {
        char *junk = malloc(256);

        ck_assert_ptr_nonnull(junk);
        memset(junk, 'Z', 256);
        free(junk);
        ck_assert_int_eq(sigv4_sign(&cfg, &req, NULL, &r, NULL), BF_OK);
        ck_assert_ptr_nonnull(strstr(r.canonical_request.data,
            "host:example.com\nx-amz-date:20150830T123600Z\nx-blank:\n"
            "x-empty:\nx-multi:b one two,a\n\n"));
    }
    ck_assert_str_eq(r.signed_headers.data,
                     "host;x-amz-date;x-blank;x-empty;x-multi");
    ck_assert_str_eq(r.payload_hash,
        "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a");
    sigv4_result_cleanup(&r);
}
END_TEST

START_TEST(session_token_and_s3_payload)
{
    struct creds c = doc_creds();
    struct sigv4_config cfg = { &c, "eu-west-1", "s3", DOC_TIME, 1, 1 };
    struct sigv4_header h[] = { { "host", "bucket.s3.amazonaws.com" },
                                { "X-Amz-Security-Token", "stale" } };
    struct sigv4_request req = { "PUT", "/k%20ey", NULL, h, 2, "abc", 3, NULL };
    struct sigv4_result r;

    strcpy(c.session_token, "TOKEN/+=");
    sigv4_result_init(&r);
    ck_assert_int_eq(sigv4_sign(&cfg, &req, NULL, &r, NULL), BF_OK);
    ck_assert_str_eq(r.payload_hash, "UNSIGNED-PAYLOAD");
    ck_assert_str_eq(r.signed_headers.data,
        "host;x-amz-content-sha256;x-amz-date;x-amz-security-token");
    ck_assert_ptr_nonnull(strstr(r.canonical_request.data,
        "x-amz-content-sha256:UNSIGNED-PAYLOAD\n"));
    ck_assert_ptr_nonnull(strstr(r.canonical_request.data,
        "x-amz-security-token:TOKEN/+=\n"));
    ck_assert_ptr_null(strstr(r.canonical_request.data, "stale"));
    ck_assert_ptr_nonnull(strstr(r.canonical_request.data, "PUT\n/k%20ey\n"));
    /* Signed payload: the body's hash. */
    cfg.unsigned_payload = 0;
    ck_assert_int_eq(sigv4_sign(&cfg, &req, NULL, &r, NULL), BF_OK);
    ck_assert_str_eq(r.payload_hash,
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    /* A caller-given hash (streamed body) wins. */
    req.payload_hash = "UNSIGNED-PAYLOAD";
    ck_assert_int_eq(sigv4_sign(&cfg, &req, NULL, &r, NULL), BF_OK);
    ck_assert_str_eq(r.payload_hash, "UNSIGNED-PAYLOAD");
    sigv4_result_cleanup(&r);
}
END_TEST

/* Sign `req` with the key cache and without it: both succeed with the
 * same signature and Authorization, and the cache has derived `derived`
 * keys so far. */
static void assert_cache_agrees(const struct sigv4_config *cfg,
                                const struct sigv4_request *req,
                                struct sigv4_key_cache *kc, unsigned long derived,
                                struct sigv4_result *r1, struct sigv4_result *r2)
{
    ck_assert_int_eq(sigv4_sign(cfg, req, kc, r2, NULL), BF_OK);
    ck_assert_int_eq(sigv4_sign(cfg, req, NULL, r1, NULL), BF_OK);
    ck_assert_str_eq(r1->signature, r2->signature);
    ck_assert_str_eq(r1->authorization.data, r2->authorization.data);
    ck_assert_uint_eq(kc->derivations, derived);
}

/* The cache derives a key once per (secret, date, region, service) and
 * again as soon as any of them changes; the fetched SHA-256 gives the same
 * signatures as the one-shot path (cache NULL). */
START_TEST(key_cache_derives_once_per_scope_and_secret)
{
    struct creds c = doc_creds(), c2 = doc_creds();
    struct sigv4_config cfg = { &c, "us-east-1", "iam", DOC_TIME, 0, 0 };
    struct sigv4_header h[] = { { "Host", "iam.amazonaws.com" } };
    struct sigv4_request req = { "POST", "/", NULL, h, 1, "{\"a\":1}", 7,
                                 NULL };
    struct sigv4_key_cache kc;
    struct sigv4_result r1, r2;
    int i;

    strcpy(c2.secret_access_key, "rotated-secret");
    sigv4_key_cache_init(&kc);
    ck_assert_ptr_nonnull(kc.sha256);
    sigv4_result_init(&r1);
    sigv4_result_init(&r2);
    /* Same day (even later that day), same secret: derived once. */
    for (i = 0; i < 5; i++) {
        cfg.time_s = DOC_TIME + i * 3600;
        assert_cache_agrees(&cfg, &req, &kc, 1, &r1, &r2);
    }
    /* New credentials (rotated secret): a new key at once. */
    cfg.creds = &c2;
    assert_cache_agrees(&cfg, &req, &kc, 2, &r1, &r2);
    /* Past midnight UTC: the date in the scope changes, so does the key. */
    cfg.time_s = DOC_TIME - DOC_TIME % 86400 + 86400;
    assert_cache_agrees(&cfg, &req, &kc, 3, &r1, &r2);
    /* Another region or service is another scope. */
    cfg.region = "eu-west-1";
    assert_cache_agrees(&cfg, &req, &kc, 4, &r1, &r2);
    cfg.service = "states";
    assert_cache_agrees(&cfg, &req, &kc, 5, &r1, &r2);
    /* Back to the first secret on the same scope: derived again (one
     * entry; never a stale key). */
    cfg.creds = &c;
    assert_cache_agrees(&cfg, &req, &kc, 6, &r1, &r2);
    sigv4_result_cleanup(&r1);
    sigv4_result_cleanup(&r2);
    sigv4_key_cache_cleanup(&kc);
    /* Cleanup wipes the key and lets go of the digest. */
    ck_assert_int_eq(kc.valid, 0);
    ck_assert_ptr_null(kc.sha256);
    for (i = 0; i < 32; i++)
        ck_assert_int_eq(kc.key[i], 0);
}
END_TEST

/* The amz date is computed by arithmetic, not gmtime: check it on dates
 * strftime agrees on, leap days and the end of a century included. */
START_TEST(amz_date_matches_gmtime)
{
    static const int64_t times[] = {
        0, 951782400 /* 2000-02-29 */, 951868799, 1440938160,
        4107542399 /* 2100-02-28T23:59:59 */, 4107542400, 1709251199,
        253402300799 /* 9999-12-31T23:59:59 */,
    };
    struct creds c = doc_creds();
    struct sigv4_config cfg = { &c, "us-east-1", "iam", 0, 0, 0 };
    struct sigv4_header h[] = { { "Host", "iam.amazonaws.com" } };
    struct sigv4_request req = { "GET", "/", NULL, h, 1, NULL, 0, NULL };
    struct sigv4_result r;
    size_t i;

    sigv4_result_init(&r);
    for (i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
        time_t t = (time_t)times[i];
        struct tm tm;
        char want[17];

        gmtime_r(&t, &tm);
        strftime(want, sizeof(want), "%Y%m%dT%H%M%SZ", &tm);
        cfg.time_s = times[i];
        ck_assert_int_eq(sigv4_sign(&cfg, &req, NULL, &r, NULL), BF_OK);
        ck_assert_str_eq(r.amz_date, want);
    }
    sigv4_result_cleanup(&r);
}
END_TEST

START_TEST(key_cache_gives_same_signatures)
{
    struct creds c = doc_creds(), c2 = doc_creds();
    struct sigv4_config cfg = { &c, "us-east-1", "iam", DOC_TIME, 0, 0 };
    struct sigv4_header h[] = { { "Host", "iam.amazonaws.com" } };
    struct sigv4_request req = { "GET", "/", "a=b", h, 1, NULL, 0, NULL };
    struct sigv4_key_cache kc;
    struct sigv4_result r1, r2;
    int i;

    strcpy(c2.secret_access_key, "another-secret");
    sigv4_key_cache_init(&kc);
    sigv4_result_init(&r1);
    sigv4_result_init(&r2);
    for (i = 0; i < 3; i++) {
        cfg.creds = &c;
        cfg.time_s = DOC_TIME + i * 86400; /* new date: new key */
        ck_assert_int_eq(sigv4_sign(&cfg, &req, NULL, &r1, NULL), BF_OK);
        ck_assert_int_eq(sigv4_sign(&cfg, &req, &kc, &r2, NULL), BF_OK);
        ck_assert_str_eq(r1.signature, r2.signature);
        ck_assert_int_eq(sigv4_sign(&cfg, &req, &kc, &r2, NULL), BF_OK);
        ck_assert_str_eq(r1.signature, r2.signature);
        /* Same scope, other secret: the cache must not hand out the key. */
        cfg.creds = &c2;
        ck_assert_int_eq(sigv4_sign(&cfg, &req, NULL, &r1, NULL), BF_OK);
        ck_assert_int_eq(sigv4_sign(&cfg, &req, &kc, &r2, NULL), BF_OK);
        ck_assert_str_eq(r1.signature, r2.signature);
    }
    sigv4_result_cleanup(&r1);
    sigv4_result_cleanup(&r2);
    sigv4_key_cache_cleanup(&kc);
}
END_TEST

START_TEST(incomplete_config_is_config_error)
{
    struct creds c = doc_creds();
    struct sigv4_config cfg = { &c, "", "iam", DOC_TIME, 0, 0 };
    struct sigv4_request req = { "GET", "/", NULL, NULL, 0, NULL, 0, NULL };
    struct sigv4_result r;
    struct bf_err e;

    sigv4_result_init(&r);
    bf_err_init(&e);
    ck_assert_int_eq(sigv4_sign(&cfg, &req, NULL, &r, &e), BF_E_CONFIG);
    ck_assert_str_eq(e.message, "sigv4: no region");
    cfg.region = "us-east-1";
    c.secret_access_key[0] = '\0';
    ck_assert_int_eq(sigv4_sign(&cfg, &req, NULL, &r, &e), BF_E_CONFIG);
    cfg.creds = NULL;
    ck_assert_int_eq(sigv4_sign(&cfg, &req, NULL, &r, &e), BF_E_CONFIG);
    sigv4_result_cleanup(&r);
}
END_TEST

/* ---- case folders ---- */

static char *slurp(const char *dir, const char *name, size_t *len)
{
    char path[4096];
    struct buf b;
    char chunk[4096];
    size_t n;
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    buf_init(&b, 0);
    for (n = fread(chunk, 1, sizeof(chunk), f); n > 0;
         n = fread(chunk, 1, sizeof(chunk), f))
        ck_assert_int_eq(buf_append(&b, chunk, n), BF_OK);
    fclose(f);
    if (len != NULL)
        *len = b.len;
    return buf_detach(&b);
}

/* A parsed request.txt: "METHOD target HTTP/1.1", header lines, a blank
 * line, the body. Pointers point into `text`. */
struct case_req {
    char *text;
    char *method, *path, *query;
    struct sigv4_header headers[32];
    size_t nheaders;
    char *body;
    size_t body_len;
};

static void parse_request(char *text, size_t len, struct case_req *cr)
{
    char *line = text, *next, *sp;

    memset(cr, 0, sizeof(*cr));
    cr->text = text;
    next = strstr(line, "\n");
    ck_assert_ptr_nonnull(next);
    *next++ = '\0';
    cr->method = line;
    sp = strchr(line, ' ');
    ck_assert_ptr_nonnull(sp);
    *sp++ = '\0';
    cr->path = sp;
    sp = strrchr(sp, ' '); /* " HTTP/1.1" */
    ck_assert_ptr_nonnull(sp);
    *sp = '\0';
    sp = strchr(cr->path, '?');
    if (sp != NULL) {
        *sp++ = '\0';
        cr->query = sp;
    }
    for (line = next; line != NULL && *line != '\n' && *line != '\0';
         line = next) {
        char *colon;

        next = strchr(line, '\n');
        if (next != NULL)
            *next++ = '\0';
        colon = strchr(line, ':');
        ck_assert_ptr_nonnull(colon);
        *colon = '\0';
        ck_assert_uint_lt(cr->nheaders, 32);
        cr->headers[cr->nheaders].name = line;
        cr->headers[cr->nheaders].value = colon + 1;
        cr->nheaders++;
    }
    if (line != NULL && *line == '\n') {
        cr->body = line + 1;
        cr->body_len = len - (size_t)(cr->body - text);
    }
}

static void check_stage(const char *dir, const char *file, const char *got)
{
    char *want = slurp(dir, file, NULL);

    ck_assert_msg(want != NULL, "%s/%s missing", dir, file);
    ck_assert_msg(strcmp(want, got) == 0, "%s/%s:\nwant:\n%s\ngot:\n%s", dir,
                  file, want, got);
    free(want);
}

static void json_str(const cJSON *o, const char *k, char *dst, size_t n)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

    dst[0] = '\0';
    if (cJSON_IsString(v))
        snprintf(dst, n, "%s", v->valuestring);
}

static void run_case(const char *dir)
{
    struct case_req cr;
    struct creds c;
    struct sigv4_config cfg;
    struct sigv4_request req;
    struct sigv4_result r;
    struct bf_err e;
    char *text, *ctxt;
    char region[64], service[64], when[64];
    size_t len = 0;
    cJSON *ctx, *cred;
    int64_t ms = 0;

    text = slurp(dir, "request.txt", &len);
    ctxt = slurp(dir, "context.json", NULL);
    ck_assert_msg(text != NULL && ctxt != NULL, "%s: inputs missing", dir);
    parse_request(text, len, &cr);
    ctx = cJSON_Parse(ctxt);
    ck_assert_ptr_nonnull(ctx);
    cred = cJSON_GetObjectItemCaseSensitive(ctx, "credentials");
    memset(&c, 0, sizeof(c));
    json_str(cred, "access_key_id", c.access_key_id, sizeof(c.access_key_id));
    json_str(cred, "secret_access_key", c.secret_access_key,
             sizeof(c.secret_access_key));
    json_str(cred, "token", c.session_token, sizeof(c.session_token));
    json_str(ctx, "region", region, sizeof(region));
    json_str(ctx, "service", service, sizeof(service));
    json_str(ctx, "timestamp", when, sizeof(when));
    ck_assert_int_eq(time_parse_iso8601(when, &ms, NULL), BF_OK);
    memset(&cfg, 0, sizeof(cfg));
    cfg.creds = &c;
    cfg.region = region;
    cfg.service = service;
    cfg.time_s = ms / 1000;
    cfg.s3_rules = cJSON_IsTrue(cJSON_GetObjectItem(ctx, "s3_rules"));
    cfg.unsigned_payload = cJSON_IsTrue(cJSON_GetObjectItem(ctx,
                                                            "unsigned_payload"));
    memset(&req, 0, sizeof(req));
    req.method = cr.method;
    req.path = cr.path;
    req.query = cr.query;
    req.headers = cr.headers;
    req.nheaders = cr.nheaders;
    req.body = cr.body;
    req.body_len = cr.body_len;
    sigv4_result_init(&r);
    ck_assert_int_eq(sigv4_sign(&cfg, &req, NULL, &r, &e), BF_OK);
    check_stage(dir, "header-canonical-request.txt", r.canonical_request.data);
    check_stage(dir, "header-string-to-sign.txt", r.string_to_sign.data);
    check_stage(dir, "header-signature.txt", r.signature);
    check_stage(dir, "header-authorization.txt", r.authorization.data);
    sigv4_result_cleanup(&r);
    cJSON_Delete(ctx);
    free(text);
    free(ctxt);
}

START_TEST(case_folders)
{
    const char *top = fakesrv_top_path("tests/sigv4/cases");
    char base[4096], dir[4096 + 256];
    struct dirent *de;
    DIR *d;
    int n = 0;

    snprintf(base, sizeof(base), "%s", top);
    d = opendir(base);
    ck_assert_msg(d != NULL, "cannot open %s", base);
    for (de = readdir(d); de != NULL; de = readdir(d)) {
        struct stat st;

        snprintf(dir, sizeof(dir), "%s/%s", base, de->d_name);
        if (de->d_name[0] == '.' || stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
            continue;
        run_case(dir);
        n++;
    }
    closedir(d);
    ck_assert_int_ge(n, 10);
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("sigv4");
    TCase *tc = tcase_create("sigv4");

    tcase_add_test(tc, aws_documentation_example);
    tcase_add_test(tc, canonical_uri_rules);
    tcase_add_test(tc, canonical_query_rules);
    tcase_add_test(tc, uri_encode_unreserved_only);
    tcase_add_test(tc, headers_trimmed_folded_sorted_joined);
    tcase_add_test(tc, session_token_and_s3_payload);
    tcase_add_test(tc, key_cache_gives_same_signatures);
    tcase_add_test(tc, key_cache_derives_once_per_scope_and_secret);
    tcase_add_test(tc, amz_date_matches_gmtime);
    tcase_add_test(tc, incomplete_config_is_config_error);
    tcase_add_test(tc, case_folders);
    suite_add_tcase(s, tc);
    return s;
}
