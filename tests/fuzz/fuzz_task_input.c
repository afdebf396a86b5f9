/* fuzz_task_input.c -- libFuzzer target: the task input contract.
 *
 * The input is the task JSON exactly as Step Functions would hand it to
 * GetActivityTask. task_input_parse() must never crash or read past `len`
 * (the bytes are not NUL-terminated here on purpose); when it accepts an
 * input, every field must hold what the schema promises, and the result
 * document built from it must be valid JSON under TASK_OUTPUT_MAX.
 */
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "fuzz.h"
#include "task/task.h"

static void check_accepted(const struct task_input *in)
{
    struct task_result r;
    char *json = NULL;
    cJSON *doc = NULL;

    /* The schema's promises (README "Error names"). */
    if (!task_tenant_id_ok(in->tenant_id) || in->end_ms <= in->start_ms ||
        in->chunk_number < 1 || in->total_chunks < 1 ||
        in->heartbeat_seconds < 1 || in->heartbeat_seconds > 99999999 ||
        memchr(in->table_name, '\0', sizeof(in->table_name)) == NULL ||
        memchr(in->backfill_id, '\0', sizeof(in->backfill_id)) == NULL)
        abort();
    task_result_init(&r);
    r.records_ingested = 3;
    r.pages = 1;
    json = task_result_json(in, &r, "fuzz-worker", TASK_OUTPUT_MAX);
    if (json == NULL)
        abort();
    if (strlen(json) >= TASK_OUTPUT_MAX)
        abort();
    doc = cJSON_Parse(json);
    if (doc == NULL)
        abort(); /* the result must always be valid JSON */
    cJSON_Delete(doc);
    free(json);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct task_input in;
    struct bf_err err;
    /* An exact-size copy without a NUL: the parser must honour `len`. */
    char *copy = malloc(size ? size : 1);

    if (copy == NULL)
        return 0;
    memcpy(copy, data, size);
    bf_err_init(&err);
    memset(&in, 0xA5, sizeof(in));
    if (task_input_parse(copy, size, &in, &err) == BF_OK)
        check_accepted(&in);
    else if (err.message[0] == '\0' || err.rc != BF_E_INVALID_INPUT)
        abort(); /* every rejection names the problem */
    free(copy);
    return 0;
}
