/* test_plan.c -- the chunk plan (statemachine/README.md "Input (StartExecution)"). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "plan/plan.h"
#include "util/timeutil.h"

#include "testsuite.h"

#define DAY 86400000LL

static cJSON *plan_of(const char *json, int64_t now, enum bf_rc want)
{
    struct plan_request req;
    struct bf_err e;
    char *out = NULL;
    cJSON *o = NULL;
    enum bf_rc rc;

    bf_err_init(&e);
    rc = plan_parse_request(json, strlen(json), now, &req, &e);
    if (rc == BF_OK)
        rc = plan_json(&req, &out, &e);
    ck_assert_msg(rc == want, "rc %d (%s) for %s", rc, e.message, json);
    if (out != NULL)
        o = cJSON_Parse(out);
    free(out);
    return o;
}

static const char *chunk_str(const cJSON *plan, int i, const char *k)
{
    return cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(plan, "chunks"), i),
                               k)->valuestring;
}

static int chunk_int(const cJSON *plan, int i, const char *k)
{
    return cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(plan, "chunks"), i),
                               k)->valueint;
}

START_TEST(design_example)
{
    cJSON *p = plan_of("{\"tenant_id\":\"acme\",\"service\":\"connectwise\","
                       "\"table_name\":\"service/tickets\","
                       "\"start_date\":\"2025-06-13T06:00:57.295053+00:00\","
                       "\"end_date\":\"2025-06-20T06:00:57.295053+00:00\","
                       "\"chunk_size_days\":2}", 0, BF_OK);

    ck_assert_ptr_nonnull(p);
    ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(p, "chunks")), 4);
    ck_assert_str_eq(chunk_str(p, 0, "start_date"), "2025-06-13T06:00:57.295Z");
    ck_assert_str_eq(chunk_str(p, 0, "end_date"), "2025-06-15T06:00:57.295Z");
    ck_assert_str_eq(chunk_str(p, 3, "start_date"), "2025-06-19T06:00:57.295Z");
    ck_assert_str_eq(chunk_str(p, 3, "end_date"), "2025-06-20T06:00:57.295Z");
    ck_assert_int_eq(chunk_int(p, 3, "chunk_number"), 4);
    ck_assert_int_eq(chunk_int(p, 0, "total_chunks"), 4);
    ck_assert_str_eq(chunk_str(p, 2, "table_name"), "service/tickets");
    cJSON_Delete(p);
}
END_TEST

START_TEST(defaults_four_tables_two_years)
{
    int64_t now = 1750000000123LL;
    cJSON *p = plan_of("{\"tenant_id\":\"acme\",\"service_name\":\"connectwise\"}", now, BF_OK);
    char iso[TIME_ISO_LEN];
    long per = (730 + 29) / 30; /* 25 */

    ck_assert_ptr_nonnull(p);
    ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(p, "tables")), 4);
    ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(p, "chunks")), 4 * per);
    time_format_iso8601(now, iso);
    ck_assert_str_eq(cJSON_GetObjectItem(p, "end_date")->valuestring, iso);
    time_format_iso8601(now - 730 * DAY, iso);
    ck_assert_str_eq(cJSON_GetObjectItem(p, "start_date")->valuestring, iso);
    ck_assert_str_eq(chunk_str(p, 0, "table_name"), "service/tickets");
    ck_assert_str_eq(chunk_str(p, (int)per, "table_name"), "time/entries");
    ck_assert_int_eq(chunk_int(p, (int)per, "chunk_number"), 1);
    ck_assert_int_eq(cJSON_GetObjectItem(p, "max_concurrency")->valueint, 4);
    cJSON_Delete(p);
}
END_TEST

static void expect_field(const char *json, const char *field)
{
    struct plan_request req;
    struct bf_err e;

    bf_err_init(&e);
    ck_assert_msg(plan_parse_request(json, strlen(json), 1750000000000LL, &req, &e) ==
                  BF_E_INVALID_INPUT, "accepted %s", json);
    ck_assert_msg(strncmp(e.message, field, strlen(field)) == 0 &&
                  e.message[strlen(field)] == ':', "%s: \"%s\" should name %s",
                  json, e.message, field);
}

/* The same field names as the state machine's Plan (tests/asl INVALID). */
START_TEST(invalid_requests_name_the_field)
{
#define T "{\"tenant_id\":\"t\",\"service\":\"connectwise\","
    expect_field("{\"service\":\"connectwise\"}", "tenant_id");
    expect_field("{\"tenant_id\":\"bad tenant!\",\"service\":\"connectwise\"}", "tenant_id");
    expect_field("{\"tenant_id\":\"t\"}", "service_name");
    expect_field("{\"tenant_id\":\"t\",\"service\":\"autotask\"}", "service");
    expect_field(T "\"table_name\":\"service/nope\"}", "table_name");
    expect_field(T "\"tables\":[\"service/tickets\",\"service/tickets\"]}", "tables");
    expect_field(T "\"tables\":\"service/tickets\"}", "tables");
    expect_field(T "\"start_date\":\"2025-02-30\",\"end_date\":\"2025-03-10\"}", "start_date");
    expect_field(T "\"start_date\":\"2025-01-02\",\"end_date\":\"2025-01-02\"}", "end_date");
    expect_field(T "\"chunk_size_days\":2.5}", "chunk_size_days");
    expect_field(T "\"chunk_size_days\":\"30\"}", "chunk_size_days");
    expect_field(T "\"chunk_size_days\":3}", "chunk_size_days"); /* 4 x 244 > 200 */
    expect_field(T "\"max_concurrency\":0}", "max_concurrency");
    expect_field(T "\"max_concurrency\":41}", "max_concurrency");
    expect_field(T "\"heartbeat_seconds\":0}", "heartbeat_seconds");
    expect_field(T "\"heartbeat_seconds\":600,\"task_timeout_seconds\":600}",
                 "task_timeout_seconds");
    expect_field(T "\"force_full_sync\":\"yes\"}", "force_full_sync");
#undef T
}
END_TEST

START_TEST(bad_requests)
{
    plan_of("{\"tenant_id\":\"../x\",\"service\":\"connectwise\"}", 0, BF_E_INVALID_INPUT);
    plan_of("{\"tenant_id\":\"a\"}", 0, BF_E_INVALID_INPUT);
    plan_of("{\"tenant_id\":\"a\",\"service\":\"connectwise\",\"tables\":[]}", 0, BF_E_INVALID_INPUT);
    plan_of("{\"tenant_id\":\"a\",\"service\":\"connectwise\",\"tables\":[\"x/y\"]}", 0,
            BF_E_INVALID_INPUT);
    plan_of("{\"tenant_id\":\"a\",\"service\":\"connectwise\",\"chunk_size_days\":0}", 0,
            BF_E_INVALID_INPUT);
    plan_of("{\"tenant_id\":\"a\",\"service\":\"connectwise\",\"chunk_size_days\":367}", 0,
            BF_E_INVALID_INPUT);
    plan_of("{\"tenant_id\":\"a\",\"service\":\"connectwise\",\"start_date\":\"2025-01-02\","
            "\"end_date\":\"2025-01-01\"}", 0, BF_E_INVALID_INPUT);
    plan_of("not json", 0, BF_E_INVALID_INPUT);
}
END_TEST

/* Random windows: chunks are consecutive, cover [start, end) exactly, each
 * is `step` long except a shorter last one, and the count is the ceiling. */
START_TEST(random_windows_partition_exactly)
{
    unsigned seed = 12345;
    int k;

    for (k = 0; k < 2000; k++) {
        int64_t start, end, step, prev;
        int days;
        long n, i;

        seed = seed * 1103515245u + 12345u;
        start = 1500000000000LL + (int64_t)(seed % 1000000000u) * 97;
        seed = seed * 1103515245u + 12345u;
        end = start + 1 + (int64_t)(seed % 800u) * DAY + (seed >> 8) % DAY;
        seed = seed * 1103515245u + 12345u;
        days = 1 + (int)(seed % 366u);
        step = days * DAY;
        n = plan_chunk_count(start, end, days);
        ck_assert_int_eq(n, (long)((end - start) / step + ((end - start) % step != 0)));
        prev = start;
        for (i = 0; i < n; i++) {
            int64_t s, e;

            plan_chunk_bounds(start, end, days, i, &s, &e);
            ck_assert(s == prev);
            ck_assert(e > s);
            ck_assert(i == n - 1 ? e == end : e - s == step);
            prev = e;
        }
    }
    ck_assert_int_eq(plan_chunk_count(10, 10, 1), 0);
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("plan");
    TCase *tc = tcase_create("plan");

    tcase_add_test(tc, design_example);
    tcase_add_test(tc, defaults_four_tables_two_years);
    tcase_add_test(tc, bad_requests);
    tcase_add_test(tc, invalid_requests_name_the_field);
    tcase_add_test(tc, random_windows_partition_exactly);
    suite_add_tcase(s, tc);
    return s;
}
