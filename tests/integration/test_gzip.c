/* test_gzip.c -- the chunk writer's gzip parts read by other programs.
 *
 * A part is a concatenation of gzip members (src/sink/chunkout.c), so the
 * claim that matters to a user is that the tools they will read it with
 * give back exactly the lines written: zcat, Python's gzip module, and
 * zlib through the worker's own reader. Also that the manifest's SHA-256
 * and size are those of the file on disk. Leaves the test process (runs
 * zcat and python3), hence an integration suite.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <openssl/evp.h>

#include "sink/chunkout.h"
#include "sink/sink.h"
#include "util/buf.h"

#include "testsuite.h"

static char root[256];

static void setup(void)
{
    snprintf(root, sizeof(root), "/tmp/bf-gzip-%d-XXXXXX", (int)getpid());
    ck_assert_ptr_nonnull(mkdtemp(root));
}

static void teardown(void)
{
    char cmd[300];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
    ck_assert_int_eq(system(cmd), 0);
}

/* Record i: varied lengths, and every 997th one longer than a block. */
static void line_of(int i, struct buf *b)
{
    int k, n = 20 + (i * 7919) % 700;

    buf_reset(b);
    buf_printf(b, "{\"id\":%d,\"text\":\"", i);
    if (i % 997 == 5)
        n = 1200 * 1024;
    for (k = 0; k < n; k++)
        buf_printf(b, "%c", 'a' + (char)((k * 31 + i) % 26));
    buf_append_str(b, "\"}");
}

/* All bytes a command prints. */
static void run_capture(const char *cmd, struct buf *out)
{
    FILE *p = popen(cmd, "r");
    char chunk[65536];
    size_t n;

    ck_assert_msg(p != NULL, "popen %s", cmd);
    buf_reset(out);
    while ((n = fread(chunk, 1, sizeof chunk, p)) > 0)
        ck_assert_int_eq(buf_append(out, chunk, n), BF_OK);
    ck_assert_int_eq(pclose(p), 0);
}

static void sha256_file(const char *path, char hex[65], long *size)
{
    unsigned char md[32], b[65536];
    unsigned int len = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    FILE *fp = fopen(path, "rb");
    size_t n;
    int i;

    ck_assert_ptr_nonnull(fp);
    *size = 0;
    EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
    while ((n = fread(b, 1, sizeof b, fp)) > 0) {
        EVP_DigestUpdate(ctx, b, n);
        *size += (long)n;
    }
    fclose(fp);
    EVP_DigestFinal_ex(ctx, md, &len);
    EVP_MD_CTX_free(ctx);
    for (i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
}

START_TEST(parts_read_back_by_zcat_python_and_zlib)
{
    static const char *const dir = "t/raw/connectwise/service/tickets/backfill/A_B";
    struct chunkout_options o = { .dir = dir, .part_max_bytes = 256u * 1024 };
    struct chunkout *c = NULL;
    struct chunkout_summary sum;
    struct sink *s = NULL;
    struct bf_err e;
    struct buf line, want, got;
    cJSON *m = NULL, *p = NULL;
    char uri[300], path[700], cmd[1600], hex[65];
    int i, found = 0, n = 30000;
    size_t k;
    long size;

    snprintf(uri, sizeof uri, "file://%s/out", root);
    ck_assert_int_eq(sink_open(uri, NULL, NULL, &s, &e), BF_OK);
    ck_assert_int_eq(chunkout_open(s, &o, &c, &e), BF_OK);
    buf_init(&line, 0);
    buf_init(&want, 0);
    buf_init(&got, 0);
    for (i = 0; i < n; i++) {
        line_of(i, &line);
        ck_assert_int_eq(chunkout_write(c, CHUNKOUT_DATA, line.data, line.len, &e), BF_OK);
        buf_append(&want, line.data, line.len);
        buf_append_str(&want, "\n");
    }
    ck_assert_int_eq(chunkout_finish(c, NULL, &sum, &e), BF_OK);
    ck_assert_uint_ge(sum.parts, 2); /* and each part holds many members */

    /* The parts in order, read by each tool, are the lines written. */
    cmd[0] = '\0';
    for (k = 0; k < sum.parts; k++) {
        snprintf(path, sizeof path, " '%s/out/%s'", root, sum.part_keys[k]);
        strncat(cmd, path, sizeof cmd - strlen(cmd) - 1);
    }
    {
        char full[1800];

        snprintf(full, sizeof full, "zcat%s", cmd);
        run_capture(full, &got);
        ck_assert_uint_eq(got.len, want.len);
        ck_assert(memcmp(got.data, want.data, want.len) == 0);
        snprintf(full, sizeof full,
                 "python3 -c 'import gzip,sys\nfor f in sys.argv[1:]: "
                 "sys.stdout.buffer.write(gzip.open(f).read())'%s", cmd);
        run_capture(full, &got);
        ck_assert_uint_eq(got.len, want.len);
        ck_assert(memcmp(got.data, want.data, want.len) == 0);
    }
    buf_reset(&got);
    for (k = 0; k < sum.parts; k++) {
        struct jsonl_reader *r = NULL;
        const char *l = NULL;
        size_t len = 0;

        ck_assert_int_eq(jsonl_reader_open(s, sum.part_keys[k], 0, &r, &e), BF_OK);
        while (jsonl_reader_next(r, &l, &len, &e) == BF_OK && l != NULL) {
            buf_append(&got, l, len);
            buf_append_str(&got, "\n");
        }
        jsonl_reader_free(r);
    }
    ck_assert_uint_eq(got.len, want.len);
    ck_assert(memcmp(got.data, want.data, want.len) == 0);

    /* The manifest's checksums and sizes are the files'. */
    ck_assert_int_eq(chunkout_read_manifest(s, dir, &m, &found, &e), BF_OK);
    ck_assert_int_eq(found, 1);
    cJSON_ArrayForEach(p, cJSON_GetObjectItem(m, "parts")) {
        snprintf(path, sizeof path, "%s/out/%s/%s", root, dir,
                 cJSON_GetObjectItem(p, "name")->valuestring);
        sha256_file(path, hex, &size);
        ck_assert_str_eq(cJSON_GetObjectItem(p, "sha256")->valuestring, hex);
        ck_assert_int_eq((long)cJSON_GetObjectItem(p, "bytes")->valuedouble, size);
    }
    cJSON_Delete(m);
    chunkout_summary_cleanup(&sum);
    buf_cleanup(&line);
    buf_cleanup(&want);
    buf_cleanup(&got);
    sink_free(s);
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("gzip");
    TCase *tc = tcase_create("parts");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, parts_read_back_by_zcat_python_and_zlib);
    suite_add_tcase(s, tc);
    return s;
}
