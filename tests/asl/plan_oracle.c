/* plan_oracle.c -- batch front end to the C chunk plan for tests/asl.
 *
 * Reads one request per line on stdin and writes one JSON line per request:
 *   NOW_MS<TAB>JSON   the plan_json() output for a StartExecution input
 *   TASK<TAB>JSON     task_input_parse() of a task input: {"ok": true}
 *   NAMES             every error name the worker can emit, with
 *                     bf_rc_default_retryable(): {"names": {NAME: 0|1}}
 * A failure prints {"error": NAME, "message": MSG}. It calls exactly what `backfill-worker
 * plan` calls (plan_parse_request + plan_json), but in one process, so the
 * Node test can compare thousands of randomized plans in well under a second.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "plan/plan.h"
#include "task/task.h"
#include "util/err.h"

static void print_error(const struct bf_err *err)
{
    cJSON *o = cJSON_CreateObject();
    char *s = NULL;

    if (o == NULL)
        return;
    cJSON_AddStringToObject(o, "error", bf_rc_error_name(err->rc));
    cJSON_AddStringToObject(o, "message", err->message);
    s = cJSON_PrintUnformatted(o);
    if (s != NULL)
        puts(s);
    free(s);
    cJSON_Delete(o);
}

/* Every code from BF_OK to the last one (BF_E_IO) mapped to its name. */
static void print_names(void)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *names = cJSON_AddObjectToObject(o, "names");
    char *s = NULL;
    int rc;

    for (rc = BF_E_INVALID_INPUT; names != NULL && rc <= BF_E_IO; rc++) {
        const char *n = bf_rc_error_name((enum bf_rc)rc);
        cJSON_DeleteItemFromObjectCaseSensitive(names, n);
        cJSON_AddNumberToObject(names, n, bf_rc_default_retryable(
                                    bf_rc_from_error_name(n)));
    }
    s = cJSON_PrintUnformatted(o);
    if (s != NULL)
        puts(s);
    free(s);
    cJSON_Delete(o);
}

static void task_line(const char *json)
{
    struct task_input in;
    struct bf_err err;

    bf_err_init(&err);
    if (task_input_parse(json, strlen(json), &in, &err) != BF_OK) {
        print_error(&err);
        return;
    }
    puts("{\"ok\":true}");
}

static void one_line(char *line)
{
    struct plan_request req;
    struct bf_err err;
    char *tab = strchr(line, '\t');
    char *json = NULL;
    long long now_ms;

    bf_err_init(&err);
    if (strcmp(line, "NAMES") == 0) {
        print_names();
        return;
    }
    if (strncmp(line, "TASK\t", 5) == 0) {
        task_line(line + 5);
        return;
    }
    if (tab == NULL) {
        puts("{\"error\":\"oracle\",\"message\":\"expected NOW_MS<TAB>JSON\"}");
        return;
    }
    *tab = '\0';
    now_ms = strtoll(line, NULL, 10);
    if (plan_parse_request(tab + 1, strlen(tab + 1), (int64_t)now_ms, &req,
                           &err) != BF_OK ||
        plan_json(&req, &json, &err) != BF_OK) {
        print_error(&err);
        return;
    }
    puts(json);
    free(json);
}

int main(void)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;

    while ((n = getline(&line, &cap, stdin)) > 0) {
        if (line[n - 1] == '\n')
            line[n - 1] = '\0';
        one_line(line);
    }
    free(line);
    return 0;
}
