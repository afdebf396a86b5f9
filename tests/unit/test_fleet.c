/* test_fleet.c -- the fleet plan and summary tasks over a file sink and a
 * file tenant store: a disabled tenant is skipped, an unknown one is invalid
 * input naming the field, the plan's lines are the plan rule's chunks, and
 * the summary counts per tenant and table from ResultWriter-shaped files
 * and writes the failed chunks for the next round. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "config/config.h"
#include "fleet/fleet.h"
#include "testsuite.h"

static char dir[256];
static struct bf_config cfg;

static void write_file(const char *rel, const char *text)
{
    char p[512];
    FILE *f;

    snprintf(p, sizeof p, "%s/%s", dir, rel);
    f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

static char *slurp(const char *rel)
{
    char p[512];
    FILE *f;
    char *s = calloc(1, 1 << 20);

    snprintf(p, sizeof p, "%s/out/%s", dir, rel);
    f = fopen(p, "r");
    ck_assert_msg(f != NULL, "missing %s", p);
    ck_assert(fread(s, 1, (1 << 20) - 1, f) > 0);
    fclose(f);
    return s;
}

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/test_fleet.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    config_defaults(&cfg);
    snprintf(cfg.output, sizeof cfg.output, "file://%s/out", dir);
    snprintf(cfg.tenants, sizeof cfg.tenants, "file://%s/tenants.json", dir);
    snprintf(cfg.secrets, sizeof cfg.secrets, "file://%s/secrets.json", dir);
    write_file("tenants.json",
               "[{\"tenant_id\":\"acme\",\"service\":\"connectwise\",\"enabled\":true},"
               "{\"tenant_id\":\"globex\",\"service\":\"connectwise\",\"enabled\":true},"
               "{\"tenant_id\":\"initech\",\"service\":\"connectwise\",\"enabled\":false}]");
}

static void teardown(void)
{
    char cmd[300];

    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}

static const char PLAN[] =
    "{\"fleet_task\":\"plan\",\"backfill_id\":\"f1\",\"now\":\"2025-06-01T00:00:00Z\","
    "\"plan_key\":\"fleet_metadata/connectwise/f1/plan.jsonl\",\"request\":{"
    "\"tenants\":[\"acme\",\"globex\",\"initech\"],\"service\":\"connectwise\","
    "\"tables\":[\"service/tickets\",\"time/entries\"],\"start_date\":\"2025-01-01\","
    "\"end_date\":\"2025-01-10\",\"chunk_size_days\":3,\"max_concurrency\":500}}";

static char *run(struct fleet *f, const char *input, enum bf_rc want, struct bf_err *err)
{
    struct task_cancel c;
    char *out = NULL;

    task_cancel_init(&c);
    bf_err_init(err);
    ck_assert_int_eq(fleet_run(f, input, &c, &out, err), want);
    return out;
}

START_TEST(plan_skips_disabled_and_writes_lines)
{
    struct fleet *f = NULL;
    struct bf_err err;
    char *out, *lines;
    cJSON *a;
    int n = 0;
    const char *p;

    ck_assert_int_eq(fleet_new(&cfg, NULL, &f, &err), BF_OK);
    out = run(f, PLAN, BF_OK, &err);
    a = cJSON_Parse(out);
    ck_assert_int_eq(cJSON_GetObjectItem(a, "total_chunks")->valueint, 12);
    ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(a, "tenants")), 2);
    ck_assert_str_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(a, "skipped"), 0),
                                         "tenant_id")->valuestring, "initech");
    lines = slurp("fleet_metadata/connectwise/f1/plan.jsonl");
    for (p = lines; (p = strchr(p, '\n')) != NULL; p++)
        n++;
    ck_assert_int_eq(n, 12);
    ck_assert_ptr_nonnull(strstr(lines, "\"end_date\":\"2025-01-10T00:00:00.000Z\""));
    ck_assert_ptr_nonnull(strstr(lines, "\"backfill_id\":\"f1\""));
    cJSON_Delete(a);
    free(lines);
    free(out);
    fleet_free(f);
}
END_TEST

START_TEST(plan_rejects_unknown_tenant_naming_field)
{
    struct fleet *f = NULL;
    struct bf_err err;
    char in[sizeof PLAN + 16];
    char *p;

    snprintf(in, sizeof in, "%s", PLAN);
    p = strstr(in, "initech");
    memcpy(p, "nobody1", 7);
    ck_assert_int_eq(fleet_new(&cfg, NULL, &f, &err), BF_OK);
    ck_assert_ptr_null(run(f, in, BF_E_INVALID_INPUT, &err));
    ck_assert_ptr_nonnull(strstr(err.message, "tenants: \"nobody1\""));
    fleet_free(f);
}
END_TEST

START_TEST(summary_counts_and_writes_retry_lines)
{
    struct fleet *f = NULL;
    struct bf_err err;
    char *plan, *lines, *ok, *bad, *in, *out, *tenant, *line, *save = NULL;
    size_t cap = 1 << 20;
    int i = 0;
    cJSON *a;

    ck_assert_int_eq(fleet_new(&cfg, NULL, &f, &err), BF_OK);
    plan = run(f, PLAN, BF_OK, &err);
    lines = slurp("fleet_metadata/connectwise/f1/plan.jsonl");
    ok = calloc(1, cap);
    bad = calloc(1, cap);
    strcpy(ok, "[");
    strcpy(bad, "[");
    for (line = strtok_r(lines, "\n", &save); line; line = strtok_r(NULL, "\n", &save), i++) {
        cJSON *js = cJSON_CreateString(line);
        char *q = cJSON_PrintUnformatted(js);
        char *dst = i == 3 ? bad : ok;
        if (strlen(dst) > 1)
            strcat(dst, ",");
        if (i == 3)
            sprintf(dst + strlen(dst), "{\"Input\":%s,\"Status\":\"FAILED\",\"Error\":\"Backfill.SourceAuthFailed\",\"Cause\":\"401\"}", q);
        else
            sprintf(dst + strlen(dst), "{\"Input\":%s,\"Status\":\"SUCCEEDED\",\"Output\":\"{\\\"records_ingested\\\":10,\\\"records_transformed\\\":9,\\\"records_rejected\\\":1}\"}", q);
        free(q);
        cJSON_Delete(js);
    }
    strcat(ok, "]");
    strcat(bad, "]");
    {
        char cmd[600];
        snprintf(cmd, sizeof cmd, "mkdir -p '%s/out/r1/run'", dir);
        ck_assert_int_eq(system(cmd), 0);
    }
    write_file("out/r1/run/SUCCEEDED_0.json", ok);
    write_file("out/r1/run/FAILED_0.json", bad);
    write_file("out/r1/run/manifest.json",
               "{\"ResultFiles\":{\"SUCCEEDED\":[{\"Key\":\"pre/r1/run/SUCCEEDED_0.json\"}],"
               "\"FAILED\":[{\"Key\":\"pre/r1/run/FAILED_0.json\"}],\"PENDING\":[]}}");
    in = calloc(1, cap);
    snprintf(in, cap, "{\"fleet_task\":\"summary\",\"backfill_id\":\"f1\",\"round\":1,"
             "\"data_prefix\":\"pre\",\"manifests\":[\"pre/r1/run/manifest.json\"],\"plan\":%s,"
             "\"retry_key\":\"fleet_metadata/connectwise/f1/retry-1.jsonl\"}", plan);
    out = run(f, in, BF_OK, &err);
    a = cJSON_Parse(out);
    ck_assert_str_eq(cJSON_GetObjectItem(a, "status")->valuestring, "FAILED");
    ck_assert_int_eq(cJSON_GetObjectItem(a, "chunks_succeeded")->valueint, 11);
    ck_assert_int_eq(cJSON_GetObjectItem(a, "chunks_failed")->valueint, 1);
    tenant = slurp("acme/backfill_metadata/connectwise/f1.json");
    ck_assert_ptr_nonnull(strstr(tenant, "\"records_ingested\":50"));
    ck_assert_ptr_nonnull(strstr(tenant, "\"error\":\"Backfill.SourceAuthFailed\""));
    free(tenant);
    tenant = slurp("fleet_metadata/connectwise/f1/retry-1.jsonl");
    ck_assert_ptr_nonnull(strstr(tenant, "\"table_name\":\"time/entries\",\"chunk_number\":1,"));
    ck_assert_ptr_null(strchr(strchr(tenant, '\n') + 1, '\n'));
    free(tenant);
    cJSON_Delete(a);
    free(out);
    free(in);
    free(ok);
    free(bad);
    free(lines);
    free(plan);
    fleet_free(f);
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("fleet");
    TCase *tc = tcase_create("fleet");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, plan_skips_disabled_and_writes_lines);
    tcase_add_test(tc, plan_rejects_unknown_tenant_naming_field);
    tcase_add_test(tc, summary_counts_and_writes_retry_lines);
    suite_add_tcase(s, tc);
    return s;
}
