/* fleet.c -- the fleet tasks' context and dispatch (include/fleet/fleet.h).
 *
 * One context per worker: the configuration (for BACKFILL_OUTPUT), the AWS
 * environment and one tenant store. Each task opens its own sink, because
 * a sink is used by one thread at a time (sink.h).
 */
#include "fleet/fleet.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "sink/sink.h"

struct fleet {
    const struct bf_config *cfg;
    struct awsenv *aws;
    struct tenant_store *tenants;
};

enum bf_rc fleet_new(const struct bf_config *cfg, struct awsenv *aws,
                     struct fleet **out, struct bf_err *err)
{
    struct fleet *f = calloc(1, sizeof *f);

    *out = NULL;
    if (f == NULL)
        return bf_err_set(err, BF_E_NOMEM, "fleet: out of memory");
    f->cfg = cfg;
    f->aws = aws;
    if (tenant_store_new(cfg, aws, &f->tenants, err) != BF_OK) {
        free(f);
        return err->rc;
    }
    *out = f;
    return BF_OK;
}

void fleet_free(struct fleet *f)
{
    if (f == NULL)
        return;
    tenant_store_free(f->tenants);
    free(f);
}

int fleet_accepts(void *ctx, const char *input)
{
    (void)ctx;
    /* A chunk input never names this member; the real check is the parse
     * in fleet_run, which fails a malformed fleet task as InvalidInput. */
    return input != NULL && strstr(input, "\"fleet_task\"") != NULL;
}

enum bf_rc fleet_sink(struct fleet *f, struct sink **out, struct bf_err *err)
{
    return sink_open(f->cfg->output, f->aws, NULL, out, err);
}

struct tenant_store *fleet_tenants(struct fleet *f)
{
    return f->tenants;
}

enum bf_rc fleet_run(void *ctx, const char *input, struct task_cancel *cancel,
                     char **output, struct bf_err *err)
{
    struct fleet *f = ctx;
    size_t len = strlen(input);
    cJSON *root = NULL;
    const cJSON *kind = NULL;
    enum bf_rc rc;

    *output = NULL;
    if (len > TASK_INPUT_MAX)
        return bf_err_set(err, BF_E_INVALID_INPUT, "input: over %d bytes", TASK_INPUT_MAX);
    root = cJSON_ParseWithLength(input, len);
    kind = cJSON_GetObjectItemCaseSensitive(root, "fleet_task");
    if (cJSON_IsString(kind) && strcmp(kind->valuestring, "plan") == 0)
        rc = fleet_plan_run(f, input, len, output, err);
    else if (cJSON_IsString(kind) && strcmp(kind->valuestring, "summary") == 0)
        rc = fleet_summary_run(f, input, len, cancel, output, err);
    else
        rc = bf_err_set(err, BF_E_INVALID_INPUT, "fleet_task: must be \"plan\" or \"summary\"");
    cJSON_Delete(root);
    return rc;
}
