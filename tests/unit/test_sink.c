/* test_sink.c -- the file sink and the chunk writer on it: atomic objects,
 * part rolling, manifests (counts, sizes, SHA-256), reading parts back, and
 * idempotency (twice, and after a simulated crash half-way), and the
 * compressor thread (same bytes as compressing inline; its errors reach
 * the caller).
 */
#include <dirent.h>
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

#include "failsink.h"
#include "testsuite.h"

static char root[256];
static char uri[300];

static void setup(void)
{
    snprintf(root, sizeof(root), "/tmp/bf-sink-%d-XXXXXX", (int)getpid());
    ck_assert_ptr_nonnull(mkdtemp(root));
    snprintf(uri, sizeof(uri), "file://%s/out", root);
}

static void teardown(void)
{
    char cmd[300];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
    ck_assert_int_eq(system(cmd), 0);
}

static struct sink *open_sink(void)
{
    struct sink *s = NULL;
    struct bf_err e;

    ck_assert_int_eq(sink_open(uri, NULL, NULL, &s, &e), BF_OK);
    return s;
}

static int exists(const char *rel)
{
    char p[600];
    struct stat st;

    snprintf(p, sizeof(p), "%s/out/%s", root, rel);
    return stat(p, &st) == 0;
}

/* Names in out/<dir>, sorted, joined by spaces (dot files included). */
static void dir_names(const char *dir, char *out, size_t n)
{
    struct sink *s = open_sink();
    char **names = NULL;
    size_t k = 0, i;
    struct bf_err e;

    out[0] = '\0';
    ck_assert_int_eq(sink_list(s, dir, &names, &k, &e), BF_OK);
    for (i = 0; i < k; i++) {
        strncat(out, names[i], n - strlen(out) - 1);
        if (i + 1 < k)
            strncat(out, " ", n - strlen(out) - 1);
    }
    sink_names_free(names, k);
    sink_free(s);
}

START_TEST(uri_forms)
{
    struct sink *s = NULL;
    struct bf_err e;
    char u[1024], cwd[512];

    s = open_sink();
    ck_assert_str_eq(sink_kind(s), "file");
    sink_uri(s, "a/b.json", u, sizeof(u));
    ck_assert_int_eq(strncmp(u, "file:///tmp/bf-sink-", 20), 0);
    ck_assert_ptr_nonnull(strstr(u, "/out/a/b.json"));
    sink_free(s);
    ck_assert_ptr_nonnull(getcwd(cwd, sizeof(cwd)));
    {
        char back[512];

        snprintf(back, sizeof(back), "%s", cwd);
        ck_assert_int_eq(chdir(root), 0);
        ck_assert_int_eq(sink_open("file://./rel/dir/", NULL, NULL, &s, &e), BF_OK);
        ck_assert_int_eq(chdir(back), 0); /* the suite may run unforked */
    }
    /* A relative root is fixed at open: a later chdir does not move it. */
    sink_uri(s, "k", u, sizeof(u));
    snprintf(cwd, sizeof(cwd), "file://%s/rel/dir/k", root);
    ck_assert_str_eq(u, cwd);
    ck_assert_int_eq(sink_put(s, "k", "v", 1, &e), BF_OK);
    snprintf(cwd, sizeof(cwd), "%s/rel/dir/k", root);
    ck_assert_int_eq(access(cwd, F_OK), 0);
    sink_free(s);
    ck_assert_int_eq(sink_open("ftp://x", NULL, NULL, &s, &e), BF_E_CONFIG);
    ck_assert_int_eq(sink_open("s3://bucket/p", NULL, NULL, &s, &e), BF_E_CONFIG);
    ck_assert_int_eq(sink_open("file://", NULL, NULL, &s, &e), BF_E_CONFIG);
}
END_TEST

START_TEST(put_get_list_delete)
{
    struct sink *s = open_sink();
    struct buf b;
    struct bf_err e;
    char names[256];
    int found = -1;

    buf_init(&b, 1024);
    ck_assert_int_eq(sink_put(s, "d/x.txt", "hello", 5, &e), BF_OK);
    ck_assert_int_eq(sink_put(s, "d/y.txt", "", 0, &e), BF_OK);
    ck_assert_int_eq(sink_put(s, "d/sub/z.txt", "z", 1, &e), BF_OK);
    ck_assert_int_eq(sink_get(s, "d/x.txt", &b, &found, &e), BF_OK);
    ck_assert_int_eq(found, 1);
    ck_assert_str_eq(b.data, "hello");
    buf_reset(&b);
    ck_assert_int_eq(sink_get(s, "d/none", &b, &found, &e), BF_OK);
    ck_assert_int_eq(found, 0);
    dir_names("d", names, sizeof(names));
    ck_assert_str_eq(names, "x.txt y.txt"); /* not recursive */
    dir_names("nothing/here", names, sizeof(names));
    ck_assert_str_eq(names, "");
    ck_assert_int_eq(sink_delete(s, "d/x.txt", &e), BF_OK);
    ck_assert_int_eq(sink_delete(s, "d/x.txt", &e), BF_OK);
    ck_assert_int_eq(exists("d/x.txt"), 0);
    /* Keys that would escape the root are refused. */
    ck_assert_int_ne(sink_put(s, "../evil", "x", 1, &e), BF_OK);
    ck_assert_int_ne(sink_put(s, "/abs", "x", 1, &e), BF_OK);
    ck_assert_int_ne(sink_put(s, "a//b", "x", 1, &e), BF_OK);
    buf_cleanup(&b);
    sink_free(s);
}
END_TEST

START_TEST(object_is_invisible_until_commit)
{
    struct sink *s = open_sink();
    struct sink *fs = NULL;
    struct sink_object *o = NULL;
    struct bf_err e;
    char names[256];

    ck_assert_int_eq(sink_object_begin(s, "c/obj.bin", &o, &e), BF_OK);
    ck_assert_int_eq(sink_object_write(o, "abc", 3, &e), BF_OK);
    ck_assert_int_eq(exists("c/obj.bin"), 0);
    dir_names("c", names, sizeof(names));
    ck_assert_msg(names[0] == '.', "temp file should be a dot name: %s", names);
    ck_assert_int_eq(sink_object_commit(o, &e), BF_OK);
    ck_assert_int_eq(exists("c/obj.bin"), 1);
    dir_names("c", names, sizeof(names));
    ck_assert_str_eq(names, "obj.bin");
    /* Abort leaves nothing behind, and an existing object is untouched. */
    ck_assert_int_eq(sink_object_begin(s, "c/obj.bin", &o, &e), BF_OK);
    ck_assert_int_eq(sink_object_write(o, "XYZXYZ", 6, &e), BF_OK);
    sink_object_abort(o);
    dir_names("c", names, sizeof(names));
    ck_assert_str_eq(names, "obj.bin");
    {
        struct buf b;
        int found = 0;

        buf_init(&b, 0);
        ck_assert_int_eq(sink_get(s, "c/obj.bin", &b, &found, &e), BF_OK);
        ck_assert_str_eq(b.data, "abc");
        buf_cleanup(&b);
    }
    /* A crash mid-write: the failed object never becomes visible, not even
     * on a commit after the failure. */
    ck_assert_int_eq(failsink_new(s, 2, &fs, &e), BF_OK);
    ck_assert_int_eq(sink_object_begin(fs, "c/crash.bin", &o, &e), BF_OK);
    ck_assert_int_eq(sink_object_write(o, "1", 1, &e), BF_OK);
    ck_assert_int_eq(sink_object_write(o, "2", 1, &e), BF_E_SINK_UNAVAILABLE);
    ck_assert_int_eq(sink_object_commit(o, &e), BF_E_SINK_UNAVAILABLE);
    ck_assert_int_eq(exists("c/crash.bin"), 0);
    sink_free(fs);
    ck_assert_int_eq(exists("c/crash.bin"), 0);
    sink_free(s);
}
END_TEST

/* ---- chunk output ---- */

static void record_text(int i, char *out, size_t n)
{
    /* Varied text so that gzip cannot squeeze it to nothing. */
    snprintf(out, n, "{\"id\":%d,\"summary\":\"ticket %d %08x\",\"v\":%u}",
             i, i * 7919, (unsigned)(i * 2654435761u), (unsigned)(i * 40503u));
}

static void write_chunk(struct sink *s, const char *dir, int n, size_t part_max,
                        int rejects, struct chunkout_summary *sum,
                        enum bf_rc want)
{
    struct chunkout *c = NULL;
    struct chunkout_options o = { .dir = dir, .part_max_bytes = part_max };
    cJSON *extra = cJSON_Parse("{\"backfill_id\":\"bf-1\",\"worker\":\"w1\","
                               "\"attempt\":1,\"records\":-5}");
    struct bf_err e;
    char line[200];
    enum bf_rc rc = BF_OK;
    int i;

    ck_assert_int_eq(chunkout_open(s, &o, &c, &e), BF_OK);
    for (i = 0; i < n && rc == BF_OK; i++) {
        record_text(i, line, sizeof(line));
        rc = chunkout_write(c, CHUNKOUT_DATA, line, strlen(line), &e);
        if (rc == BF_OK && rejects > 0 && i % rejects == 0)
            rc = chunkout_write(c, CHUNKOUT_REJECTS, "{\"reason\":\"r\"}", 14, &e);
    }
    if (rc != BF_OK) {
        ck_assert_int_eq(rc, want);
        chunkout_abort(c);
        cJSON_Delete(extra);
        return;
    }
    ck_assert_int_eq(chunkout_finish(c, extra, sum, &e), want);
    cJSON_Delete(extra);
}

static void file_sha256(const char *rel, char out[65])
{
    char p[600];
    unsigned char md[32], buf[4096];
    unsigned int len = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    FILE *fp = NULL;
    size_t n;
    int i;

    snprintf(p, sizeof(p), "%s/out/%s", root, rel);
    fp = fopen(p, "rb");
    ck_assert_ptr_nonnull(fp);
    EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
    for (n = fread(buf, 1, sizeof(buf), fp); n > 0; n = fread(buf, 1, sizeof(buf), fp))
        EVP_DigestUpdate(ctx, buf, n);
    fclose(fp);
    EVP_DigestFinal_ex(ctx, md, &len);
    EVP_MD_CTX_free(ctx);
    for (i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

START_TEST(parts_roll_and_manifest_is_true)
{
    struct sink *s = open_sink();
    struct chunkout_summary sum;
    cJSON *m = NULL, *p = NULL;
    struct bf_err e;
    char sha[65], rel[300];
    int found = 0, nparts = 0;
    double total = 0, bytes = 0;
    struct stat st;

    write_chunk(s, "t/raw/x/backfill/A_B", 20000, 64 * 1024, 0, &sum, BF_OK);
    ck_assert_int_ge(sum.parts, 3);
    ck_assert_int_eq(sum.records, 20000);
    ck_assert_int_eq(sum.reject_parts, 0);
    ck_assert_ptr_nonnull(strstr(sum.uri, "/out/t/raw/x/backfill/A_B"));
    ck_assert_str_eq(sum.part_keys[0], "t/raw/x/backfill/A_B/part-00000.jsonl.gz");
    ck_assert_int_eq(chunkout_read_manifest(s, "t/raw/x/backfill/A_B", &m, &found, &e), BF_OK);
    ck_assert_int_eq(found, 1);
    ck_assert_int_eq(cJSON_GetObjectItem(m, "records")->valuedouble, 20000);
    ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(m, "complete")));
    ck_assert_str_eq(cJSON_GetObjectItem(m, "backfill_id")->valuestring, "bf-1");
    ck_assert_str_eq(cJSON_GetObjectItem(m, "worker")->valuestring, "w1");
    cJSON_ArrayForEach(p, cJSON_GetObjectItem(m, "parts")) {
        const char *name = cJSON_GetObjectItem(p, "name")->valuestring;

        snprintf(rel, sizeof(rel), "t/raw/x/backfill/A_B/%s", name);
        file_sha256(rel, sha);
        ck_assert_str_eq(sha, cJSON_GetObjectItem(p, "sha256")->valuestring);
        snprintf(rel, sizeof(rel), "%s/out/t/raw/x/backfill/A_B/%s", root, name);
        ck_assert_int_eq(stat(rel, &st), 0);
        ck_assert_int_eq((double)st.st_size, cJSON_GetObjectItem(p, "bytes")->valuedouble);
        /* Rolling: every part but the last reached the limit, none is huge. */
        ck_assert_int_lt(st.st_size, 64 * 1024 + 16 * 1024);
        total += cJSON_GetObjectItem(p, "records")->valuedouble;
        bytes += st.st_size;
        nparts++;
    }
    ck_assert_int_eq(nparts, (int)sum.parts);
    ck_assert_int_eq(total, 20000);
    ck_assert_int_eq(bytes, (double)sum.bytes);
    cJSON_Delete(m);
    chunkout_summary_cleanup(&sum);
    sink_free(s);
}
END_TEST

START_TEST(parts_read_back_in_order)
{
    struct sink *s = open_sink();
    struct chunkout_summary sum;
    struct jsonl_reader *r = NULL;
    struct bf_err e;
    const char *line = NULL;
    char want[200];
    size_t len = 0, k;
    int i = 0;

    write_chunk(s, "rb", 5000, 16 * 1024, 0, &sum, BF_OK);
    ck_assert_int_ge(sum.parts, 2);
    for (k = 0; k < sum.parts; k++) {
        ck_assert_int_eq(jsonl_reader_open(s, sum.part_keys[k], 0, &r, &e), BF_OK);
        for (;;) {
            ck_assert_int_eq(jsonl_reader_next(r, &line, &len, &e), BF_OK);
            if (line == NULL)
                break;
            record_text(i++, want, sizeof(want));
            ck_assert_int_eq(len, strlen(want));
            ck_assert_str_eq(line, want);
        }
        jsonl_reader_free(r);
    }
    ck_assert_int_eq(i, 5000);
    /* A corrupt part is an error, not a short read. */
    ck_assert_int_eq(sink_put(s, "rb/bad.jsonl.gz", "\x1f\x8b\x08\x00garbage", 11, &e), BF_OK);
    ck_assert_int_eq(jsonl_reader_open(s, "rb/bad.jsonl.gz", 0, &r, &e), BF_OK);
    ck_assert_int_eq(jsonl_reader_next(r, &line, &len, &e), BF_E_IO);
    jsonl_reader_free(r);
    ck_assert_int_eq(jsonl_reader_open(s, "rb/none.gz", 0, &r, &e), BF_E_IO);
    chunkout_summary_cleanup(&sum);
    sink_free(s);
}
END_TEST

START_TEST(rejects_and_empty_chunks)
{
    struct sink *s = open_sink();
    struct chunkout_summary sum;
    char names[512];
    struct bf_err e;
    cJSON *m = NULL;
    int found = 0;

    write_chunk(s, "canon", 100, 0, 10, &sum, BF_OK);
    ck_assert_int_eq(sum.parts, 1);
    ck_assert_int_eq(sum.reject_parts, 1);
    ck_assert_int_eq(sum.records, 100);
    ck_assert_int_eq(sum.rejects, 10);
    chunkout_summary_cleanup(&sum);
    dir_names("canon", names, sizeof(names));
    ck_assert_str_eq(names, "_manifest.json part-00000.jsonl.gz rejects-00000.jsonl.gz");
    write_chunk(s, "empty", 0, 0, 0, &sum, BF_OK);
    ck_assert_int_eq(sum.parts, 0);
    ck_assert_int_eq(sum.records, 0);
    chunkout_summary_cleanup(&sum);
    dir_names("empty", names, sizeof(names));
    ck_assert_str_eq(names, "_manifest.json");
    ck_assert_int_eq(chunkout_read_manifest(s, "empty", &m, &found, &e), BF_OK);
    ck_assert_int_eq(found, 1);
    ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(m, "parts")), 0);
    cJSON_Delete(m);
    ck_assert_int_eq(chunkout_read_manifest(s, "nope", &m, &found, &e), BF_OK);
    ck_assert_int_eq(found, 0);
    sink_free(s);
}
END_TEST

/* Every file in out/<dir> with its SHA-256, one per line. */
static void snapshot(const char *dir, struct buf *out)
{
    char names[4096], rel[600], sha[65];
    char *save = NULL, *n = NULL;

    buf_reset(out);
    dir_names(dir, names, sizeof(names));
    for (n = strtok_r(names, " ", &save); n != NULL; n = strtok_r(NULL, " ", &save)) {
        snprintf(rel, sizeof(rel), "%s/%s", dir, n);
        file_sha256(rel, sha);
        buf_printf(out, "%s %s\n", n, sha);
    }
}

START_TEST(idempotent_twice_and_after_crash)
{
    struct sink *s = open_sink();
    struct sink *fs = NULL;
    struct chunkout_summary sum;
    struct buf first, again;
    struct bf_err e;
    cJSON *m = NULL;
    int found = 0;

    buf_init(&first, 0);
    buf_init(&again, 0);
    write_chunk(s, "idem", 8000, 32 * 1024, 0, &sum, BF_OK);
    chunkout_summary_cleanup(&sum);
    snapshot("idem", &first);
    ck_assert_ptr_nonnull(strstr(first.data, "part-00001.jsonl.gz"));
    /* The same chunk again: byte-identical parts and manifest. */
    write_chunk(s, "idem", 8000, 32 * 1024, 0, &sum, BF_OK);
    chunkout_summary_cleanup(&sum);
    snapshot("idem", &again);
    ck_assert_str_eq(again.data, first.data);
    /* A crash half-way: the old manifest is gone first, so the half-written
     * directory is not trusted; debris (a temp file) is left as by a crash.
     * The failing sink stays open over the re-run, so the debris is still
     * there when the re-run starts. */
    ck_assert_int_eq(failsink_new(s, 3, &fs, &e), BF_OK);
    write_chunk(fs, "idem", 8000, 32 * 1024, 0, &sum, BF_E_SINK_UNAVAILABLE);
    ck_assert_int_eq(chunkout_read_manifest(s, "idem", &m, &found, &e), BF_OK);
    ck_assert_int_eq(found, 0);
    snapshot("idem", &again);
    ck_assert_ptr_nonnull(strstr(again.data, ".tmp-"));
    /* The re-run leaves exactly the clean set. */
    write_chunk(s, "idem", 8000, 32 * 1024, 0, &sum, BF_OK);
    chunkout_summary_cleanup(&sum);
    snapshot("idem", &again);
    ck_assert_str_eq(again.data, first.data);
    /* A re-run that needs fewer parts removes the earlier attempt's extras. */
    write_chunk(s, "idem", 8000, 0, 0, &sum, BF_OK);
    ck_assert_int_eq(sum.parts, 1);
    chunkout_summary_cleanup(&sum);
    snapshot("idem", &again);
    ck_assert_ptr_null(strstr(again.data, "part-00001"));
    ck_assert_ptr_nonnull(strstr(again.data, "part-00000.jsonl.gz"));
    ck_assert_ptr_nonnull(strstr(again.data, "_manifest.json"));
    buf_cleanup(&first);
    buf_cleanup(&again);
    sink_free(fs);
    sink_free(s);
}
END_TEST

/* The compressor thread must not change a byte: the same records written
 * with it and on the caller's thread give the same parts (names, counts,
 * sizes, SHA-256), through part rolls, stream switches and a record
 * longer than a batch. */
static char *parts_of(struct sink *s, const char *dir, int inline_gzip)
{
    struct chunkout *c = NULL;
    struct chunkout_options o = { .dir = dir, .part_max_bytes = 64 * 1024,
                                  .inline_gzip = inline_gzip };
    struct bf_err e;
    cJSON *m = NULL;
    char line[200], *big = NULL, *out = NULL;
    int found = 0, i;
    const size_t bign = 300 * 1024;

    big = malloc(bign + 1);
    ck_assert_ptr_nonnull(big);
    for (i = 0; i < (int)bign; i++)
        big[i] = (char)('a' + (i * 7 + i / 13) % 26);
    memcpy(big, "{\"x\":\"", 6);
    memcpy(big + bign - 2, "\"}", 2);
    big[bign] = '\0';
    ck_assert_int_eq(chunkout_open(s, &o, &c, &e), BF_OK);
    for (i = 0; i < 30000; i++) {
        record_text(i, line, sizeof(line));
        ck_assert_int_eq(chunkout_write(c, CHUNKOUT_DATA, line, strlen(line), &e), BF_OK);
        if (i % 97 == 0)
            ck_assert_int_eq(chunkout_write(c, CHUNKOUT_REJECTS, line, strlen(line), &e), BF_OK);
        if (i == 12345)
            ck_assert_int_eq(chunkout_write(c, CHUNKOUT_DATA, big, bign, &e), BF_OK);
    }
    ck_assert_int_eq(chunkout_finish(c, NULL, NULL, &e), BF_OK);
    ck_assert_int_eq(chunkout_read_manifest(s, dir, &m, &found, &e), BF_OK);
    ck_assert_int_eq(found, 1);
    ck_assert_int_eq((int)cJSON_GetNumberValue(cJSON_GetObjectItem(m, "records")), 30001);
    ck_assert_int_gt(cJSON_GetArraySize(cJSON_GetObjectItem(m, "parts")), 4);
    out = cJSON_PrintUnformatted(cJSON_GetObjectItem(m, "parts"));
    cJSON_Delete(m);
    free(big);
    return out;
}

START_TEST(compressor_thread_writes_the_same_bytes)
{
    struct sink *s = open_sink();
    char *threaded = parts_of(s, "t/threaded", 0);
    char *caller = parts_of(s, "t/inline", 1);

    ck_assert_str_eq(threaded, caller);
    free(threaded);
    free(caller);
    sink_free(s);
}
END_TEST

/* A sink error on the compressor thread reaches the caller (from a later
 * write or from finish) with its class, and no manifest is written. */
START_TEST(compressor_error_reaches_the_caller)
{
    struct sink *s = open_sink();
    struct sink *fs = NULL;
    struct chunkout *c = NULL;
    struct chunkout_options o = { .dir = "t/fail", .part_max_bytes = 32 * 1024 };
    struct bf_err e;
    char line[200];
    enum bf_rc rc = BF_OK;
    int i;

    ck_assert_int_eq(failsink_new(s, 2, &fs, &e), BF_OK);
    ck_assert_int_eq(chunkout_open(fs, &o, &c, &e), BF_OK);
    for (i = 0; i < 50000 && rc == BF_OK; i++) {
        record_text(i, line, sizeof(line));
        rc = chunkout_write(c, CHUNKOUT_DATA, line, strlen(line), &e);
    }
    ck_assert_int_eq(rc, BF_E_SINK_UNAVAILABLE);
    ck_assert_int_lt(i, 50000); /* a write said so, before the end */
    ck_assert_ptr_nonnull(strstr(e.message, "simulated crash"));
    ck_assert_int_eq(chunkout_finish(c, NULL, NULL, &e), BF_E_SINK_UNAVAILABLE);
    ck_assert_int_eq(exists("t/fail/_manifest.json"), 0);
    sink_free(fs);
    sink_free(s);
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("sink");
    TCase *tc = tcase_create("file");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, uri_forms);
    tcase_add_test(tc, put_get_list_delete);
    tcase_add_test(tc, object_is_invisible_until_commit);
    tcase_add_test(tc, parts_roll_and_manifest_is_true);
    tcase_add_test(tc, parts_read_back_in_order);
    tcase_add_test(tc, rejects_and_empty_chunks);
    tcase_add_test(tc, idempotent_twice_and_after_crash);
    tcase_add_test(tc, compressor_thread_writes_the_same_bytes);
    tcase_add_test(tc, compressor_error_reaches_the_caller);
    suite_add_tcase(s, tc);
    return s;
}
