/* test_task.c -- the task contract: input validation, result JSON, cancel. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "task/task.h"
#include "util/err.h"

#include "testsuite.h"

#define GOOD_FIELDS "\"service\":\"connectwise\",\"table_name\":\"service/tickets\"," \
                    "\"start_date\":\"2025-06-13T06:00:57.295053+00:00\"," \
                    "\"end_date\":\"2025-06-15T06:00:57.295053+00:00\""

static enum bf_rc parse(const char *json, struct task_input *in, struct bf_err *e)
{
    bf_err_init(e);
    return task_input_parse(json, strlen(json), in, e);
}

/* Expect BF_E_INVALID_INPUT whose message starts with `field`. */
static void expect_invalid(const char *json, const char *field)
{
    struct task_input in;
    struct bf_err e;

    ck_assert_msg(parse(json, &in, &e) == BF_E_INVALID_INPUT, "accepted: %s", json);
    ck_assert_msg(strncmp(e.message, field, strlen(field)) == 0,
                  "message \"%s\" does not name %s (input %s)", e.message, field, json);
}

START_TEST(full_input_parses)
{
    struct task_input in;
    struct bf_err e;
    const char *j = "{\"tenant_id\":\"site-tech_1\"," GOOD_FIELDS ",\"chunk_number\":2,"
                    "\"total_chunks\":4,\"backfill_id\":\"exec-1.a\",\"backfill_mode\":false,"
                    "\"force_full_sync\":false,\"heartbeat_seconds\":120,\"attempt\":3,"
                    "\"redrive_count\":1,\"extra\":{\"ignored\":true}}";

    ck_assert_int_eq(parse(j, &in, &e), BF_OK);
    ck_assert_str_eq(in.tenant_id, "site-tech_1");
    ck_assert_str_eq(in.service, "connectwise");
    ck_assert_str_eq(in.table_name, "service/tickets");
    ck_assert_str_eq(in.start_date, "2025-06-13T06:00:57.295Z");
    ck_assert_str_eq(in.end_date, "2025-06-15T06:00:57.295Z");
    ck_assert(in.end_ms - in.start_ms == 2LL * 86400000);
    ck_assert_int_eq(in.chunk_number, 2);
    ck_assert_int_eq(in.total_chunks, 4);
    ck_assert_str_eq(in.backfill_id, "exec-1.a");
    ck_assert_int_eq(in.backfill_mode, 0);
    ck_assert_int_eq(in.force_full_sync, 0);
    ck_assert_int_eq(in.heartbeat_seconds, 120);
    ck_assert_int_eq(in.attempt, 3);
    ck_assert_int_eq(in.redrive_count, 1);
}
END_TEST

START_TEST(defaults_and_alias)
{
    struct task_input in;
    struct bf_err e;
    const char *j = "{\"tenant_id\":\"acme\",\"service_name\":\"connectwise\","
                    "\"table_name\":\"time/entries\",\"start_date\":\"2025-01-01\","
                    "\"end_date\":\"2025-01-02T00:00:00+02:00\",\"attempt\":null}";

    ck_assert_int_eq(parse(j, &in, &e), BF_OK);
    ck_assert_str_eq(in.service, "connectwise");
    ck_assert_str_eq(in.end_date, "2025-01-01T22:00:00.000Z");
    ck_assert_int_eq(in.chunk_number, 1);
    ck_assert_int_eq(in.total_chunks, 1);
    ck_assert_str_eq(in.backfill_id, "manual");
    ck_assert_int_eq(in.backfill_mode, 1);
    ck_assert_int_eq(in.force_full_sync, 1);
    ck_assert_int_eq(in.heartbeat_seconds, 60);
    ck_assert_int_eq(in.attempt, 0);
}
END_TEST

START_TEST(malformed_inputs_name_the_field)
{
    expect_invalid("not json", "input");
    expect_invalid("[1,2]", "input");
    expect_invalid("{" GOOD_FIELDS "}", "tenant_id");
    expect_invalid("{\"tenant_id\":7," GOOD_FIELDS "}", "tenant_id");
    expect_invalid("{\"tenant_id\":\"../x\"," GOOD_FIELDS "}", "tenant_id");
    expect_invalid("{\"tenant_id\":\"a/b\"," GOOD_FIELDS "}", "tenant_id");
    expect_invalid("{\"tenant_id\":\"-lead\"," GOOD_FIELDS "}", "tenant_id");
    expect_invalid("{\"tenant_id\":\"\"," GOOD_FIELDS "}", "tenant_id");
    expect_invalid("{\"tenant_id\":\"a b\"," GOOD_FIELDS "}", "tenant_id");
    expect_invalid("{\"tenant_id\":\"%2e%2e\"," GOOD_FIELDS "}", "tenant_id");
    expect_invalid("{\"tenant_id\":\"a\\u0000b\"," GOOD_FIELDS "}", "input");
    expect_invalid("{\"tenant_id\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\","
                   GOOD_FIELDS "}", "tenant_id"); /* 65 chars */
    expect_invalid("{\"tenant_id\":\"a\",\"table_name\":\"service/tickets\","
                   "\"start_date\":\"2025-01-01\",\"end_date\":\"2025-01-02\"}", "service");
    expect_invalid("{\"tenant_id\":\"a\",\"service\":\"salesforce\",\"table_name\":\"service/tickets\","
                   "\"start_date\":\"2025-01-01\",\"end_date\":\"2025-01-02\"}", "service");
    expect_invalid("{\"tenant_id\":\"a\",\"service\":\"connectwise\",\"table_name\":\"../etc\","
                   "\"start_date\":\"2025-01-01\",\"end_date\":\"2025-01-02\"}", "table_name");
    expect_invalid("{\"tenant_id\":\"a\",\"service\":\"connectwise\","
                   "\"start_date\":\"2025-01-01\",\"end_date\":\"2025-01-02\"}", "table_name");
    expect_invalid("{\"tenant_id\":\"a\",\"service\":\"connectwise\",\"table_name\":\"service/tickets\","
                   "\"start_date\":\"2025-02-30\",\"end_date\":\"2025-03-02\"}", "start_date");
    expect_invalid("{\"tenant_id\":\"a\",\"service\":\"connectwise\",\"table_name\":\"service/tickets\","
                   "\"start_date\":\"yesterday\",\"end_date\":\"2025-03-02\"}", "start_date");
    expect_invalid("{\"tenant_id\":\"a\",\"service\":\"connectwise\",\"table_name\":\"service/tickets\","
                   "\"start_date\":\"2025-01-01\",\"end_date\":\"2025-01-01T24:00:00Z\"}", "end_date");
    expect_invalid("{\"tenant_id\":\"a\",\"service\":\"connectwise\",\"table_name\":\"service/tickets\","
                   "\"start_date\":\"2025-01-01\"}", "end_date");
    /* reversed and empty ranges, and a window over 366 days */
    expect_invalid("{\"tenant_id\":\"a\",\"service\":\"connectwise\",\"table_name\":\"service/tickets\","
                   "\"start_date\":\"2025-01-02\",\"end_date\":\"2025-01-01\"}", "end_date");
    expect_invalid("{\"tenant_id\":\"a\",\"service\":\"connectwise\",\"table_name\":\"service/tickets\","
                   "\"start_date\":\"2025-01-01\",\"end_date\":\"2025-01-01\"}", "end_date");
    expect_invalid("{\"tenant_id\":\"a\",\"service\":\"connectwise\",\"table_name\":\"service/tickets\","
                   "\"start_date\":\"2023-01-01\",\"end_date\":\"2025-01-01\"}", "end_date");
    expect_invalid("{\"tenant_id\":\"a\"," GOOD_FIELDS ",\"chunk_number\":1.5}", "chunk_number");
    expect_invalid("{\"tenant_id\":\"a\"," GOOD_FIELDS ",\"chunk_number\":\"1\"}", "chunk_number");
    expect_invalid("{\"tenant_id\":\"a\"," GOOD_FIELDS ",\"chunk_number\":0}", "chunk_number");
    expect_invalid("{\"tenant_id\":\"a\"," GOOD_FIELDS ",\"chunk_number\":5,\"total_chunks\":4}",
                   "chunk_number");
    expect_invalid("{\"tenant_id\":\"a\"," GOOD_FIELDS ",\"heartbeat_seconds\":0}", "heartbeat_seconds");
    expect_invalid("{\"tenant_id\":\"a\"," GOOD_FIELDS ",\"heartbeat_seconds\":100000000}",
                   "heartbeat_seconds");
    expect_invalid("{\"tenant_id\":\"a\"," GOOD_FIELDS ",\"backfill_mode\":\"yes\"}", "backfill_mode");
    expect_invalid("{\"tenant_id\":\"a\"," GOOD_FIELDS ",\"backfill_id\":\"a/../b\"}", "backfill_id");
    expect_invalid("{\"tenant_id\":\"a\"," GOOD_FIELDS ",\"attempt\":-1}", "attempt");
}
END_TEST

/* Two readers must not be able to read one input two ways: each strict
 * rule refuses it, and the message says which rule and where. */
START_TEST(strict_json_rules_refuse_ambiguous_inputs)
{
    static const char dup_tenant[] =
        "{\"tenant_id\":\"sitetechnology\",\"tenant_id\":\"../x\"," GOOD_FIELDS "}";
    static const char dup_start[] =
        "{\"tenant_id\":\"t\"," GOOD_FIELDS
        ",\"start_date\":\"2025-06-14T00:00:00Z\"}";
    static const char dup_escaped[] =
        "{\"tenant_id\":\"t\",\"tenant_\\u0069d\":\"u\"," GOOD_FIELDS "}";
    static const char dup_nested[] =
        "{\"tenant_id\":\"t\"," GOOD_FIELDS ",\"x\":{\"a\":1,\"a\":2}}";
    static const char trailing[] = "{\"tenant_id\":\"t\"," GOOD_FIELDS "} trailing";
    static const char second[] = "{\"tenant_id\":\"t\"," GOOD_FIELDS "}{}";
    static const char surrogate[] = "{\"tenant_id\":\"t\\ud800\"," GOOD_FIELDS "}";
    static const char bad_utf8[] = "{\"tenant_id\":\"t\xC3\"," GOOD_FIELDS "}";
    char msg[128];
    struct task_input in;
    struct bf_err e;

    expect_invalid(dup_tenant, "input: duplicate key: tenant_id");
    expect_invalid(dup_start, "input: duplicate key: start_date");
    expect_invalid(dup_escaped, "input: duplicate key: tenant_id");
    expect_invalid(dup_nested, "input: duplicate key: a");
    snprintf(msg, sizeof msg,
             "input: trailing data after the JSON value at byte %zu",
             strlen(trailing) - strlen("trailing"));
    expect_invalid(trailing, msg);
    expect_invalid(second, "input: trailing data after the JSON value");
    expect_invalid(surrogate, "input: lone surrogate escape in a string (tenant_id)");
    expect_invalid(bad_utf8, "input: invalid UTF-8 in a string (tenant_id)");
    expect_invalid("{\"tenant_id\":\"a\\u0000b\"," GOOD_FIELDS "}",
                   "input: NUL in a string (tenant_id)");
    /* Trailing JSON whitespace is not data; a paired surrogate is fine. */
    ck_assert_int_eq(parse("{\"tenant_id\":\"t\",\"note\":\"\\ud83d\\ude00\","
                           GOOD_FIELDS "} \r\n\t", &in, &e), BF_OK);
}
END_TEST

START_TEST(oversized_input_rejected_unread)
{
    size_t n = 300 * 1024;
    char *big = malloc(n + 1);
    struct task_input in;
    struct bf_err e;

    ck_assert_ptr_nonnull(big);
    memset(big, ' ', n);
    memcpy(big, "{\"tenant_id\":\"a\"}", 17);
    big[n] = '\0';
    bf_err_init(&e);
    ck_assert_int_eq(task_input_parse(big, n, &in, &e), BF_E_INVALID_INPUT);
    ck_assert(strncmp(e.message, "input:", 6) == 0);
    free(big);
}
END_TEST

START_TEST(tables_known)
{
    ck_assert(task_table_known("connectwise", "service/tickets"));
    ck_assert(task_table_known("connectwise", "time/entries"));
    ck_assert(task_table_known("connectwise", "company/companies"));
    ck_assert(task_table_known("connectwise", "company/contacts"));
    ck_assert(task_table_known("connectwise", "procurement/products"));
    ck_assert(task_table_known("connectwise", "finance/agreements"));
    ck_assert(task_table_known("connectwise", "project/projects"));
    ck_assert(task_table_known("connectwise", "system/members"));
    ck_assert(!task_table_known("connectwise", "service/tickets/../x"));
    ck_assert(!task_table_known("salesforce", "service/tickets"));
    ck_assert(!task_table_known(NULL, "service/tickets"));
}
END_TEST

static void sample(struct task_input *in, struct task_result *r)
{
    struct bf_err e;

    ck_assert_int_eq(parse("{\"tenant_id\":\"acme\"," GOOD_FIELDS ",\"attempt\":2}", in, &e), BF_OK);
    task_result_init(r);
    snprintf(r->canonical_table, sizeof r->canonical_table, "tickets");
    r->records_ingested = 10;
    r->records_transformed = 9;
    r->records_rejected = 1;
    r->pages = 1;
    memset(r->raw.uri, 'r', sizeof r->raw.uri - 1);
    r->raw.uri[sizeof r->raw.uri - 1] = '\0';
    snprintf(r->canonical.uri, sizeof r->canonical.uri, "file:///tmp/c");
    r->duration_ms = 42;
}

START_TEST(result_json_fields)
{
    struct task_input in;
    struct task_result r;
    char *s;
    cJSON *o;

    sample(&in, &r);
    r.pages = -1;
    s = task_result_json(&in, &r, "w1", TASK_OUTPUT_MAX);
    ck_assert_ptr_nonnull(s);
    o = cJSON_Parse(s);
    ck_assert_ptr_nonnull(o);
    ck_assert_str_eq(cJSON_GetObjectItem(o, "status")->valuestring, "SUCCEEDED");
    ck_assert_str_eq(cJSON_GetObjectItem(o, "tenant_id")->valuestring, "acme");
    ck_assert_str_eq(cJSON_GetObjectItem(o, "start_date")->valuestring, "2025-06-13T06:00:57.295Z");
    ck_assert_str_eq(cJSON_GetObjectItem(o, "canonical_table")->valuestring, "tickets");
    ck_assert_int_eq(cJSON_GetObjectItem(o, "records_ingested")->valueint, 10);
    ck_assert(cJSON_IsNull(cJSON_GetObjectItem(o, "pages")));
    ck_assert_str_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "canonical"), "uri")->valuestring,
                     "file:///tmp/c");
    ck_assert_str_eq(cJSON_GetObjectItem(o, "worker")->valuestring, "w1");
    ck_assert_int_eq(cJSON_GetObjectItem(o, "attempt")->valueint, 2);
    cJSON_Delete(o);
    free(s);
}
END_TEST

START_TEST(result_json_trimmed_never_cut)
{
    struct task_input in;
    struct task_result r;
    size_t max;

    sample(&in, &r);
    for (max = 2000; max >= 200; max -= 50) {
        char *s = task_result_json(&in, &r, "w1", max);
        cJSON *o;

        if (s == NULL)
            break; /* cannot fit even the identifying fields */
        ck_assert_msg(strlen(s) < max, "%zu >= %zu", strlen(s), max);
        o = cJSON_Parse(s);
        ck_assert_msg(o != NULL, "not JSON at max %zu: %s", max, s);
        ck_assert_str_eq(cJSON_GetObjectItem(o, "status")->valuestring, "SUCCEEDED");
        ck_assert_str_eq(cJSON_GetObjectItem(o, "tenant_id")->valuestring, "acme");
        if (max < 1100)
            ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(o, "truncated")));
        cJSON_Delete(o);
        free(s);
    }
    ck_assert(max < 500);
}
END_TEST

START_TEST(cancel_first_reason_wins)
{
    struct task_cancel c;

    task_cancel_init(&c);
    ck_assert(!task_cancelled(&c));
    task_cancel_set(&c, BF_E_CANCELLED);
    task_cancel_set(&c, BF_E_WORKER_SHUTDOWN);
    ck_assert(task_cancelled(&c));
    ck_assert_int_eq(atomic_load(&c.reason), BF_E_CANCELLED);
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("task");
    TCase *tc = tcase_create("task");

    tcase_add_test(tc, full_input_parses);
    tcase_add_test(tc, defaults_and_alias);
    tcase_add_test(tc, malformed_inputs_name_the_field);
    tcase_add_test(tc, strict_json_rules_refuse_ambiguous_inputs);
    tcase_add_test(tc, oversized_input_rejected_unread);
    tcase_add_test(tc, tables_known);
    tcase_add_test(tc, result_json_fields);
    tcase_add_test(tc, result_json_trimmed_never_cut);
    tcase_add_test(tc, cancel_first_reason_wins);
    suite_add_tcase(s, tc);
    return s;
}
