/* fleet.h -- the fleet state machine's own activity tasks: plan, summary.
 *
 * statemachine/backfill-fleet.asl.json (statemachine/README.md) sends two
 * kinds of task besides chunks to the same activity, marked by a
 * "fleet_task" member: "plan" cuts the window for every tenant with the
 * plan rule of src/plan and writes the chunks as JSON Lines (the
 * Distributed Map's ItemReader object); "summary" reads the Distributed
 * Map's ResultWriter manifests and result files and writes each tenant's
 * summary at its backfill metadata key plus one fleet summary. Both work
 * through the sink of BACKFILL_OUTPUT, so their keys are relative to it.
 */
#ifndef BF_FLEET_FLEET_H
#define BF_FLEET_FLEET_H

#include <stddef.h>

#include "aws/awsenv.h"
#include "config/config.h"
#include "task/task.h"
#include "tenant/tenant.h"
#include "util/err.h"

#define FLEET_TENANTS_MAX 1000        /* keeps the plan's answer < 256 KiB */
#define FLEET_CONCURRENCY_MAX 10000   /* Distributed Map's own ceiling */
#define FLEET_CHUNKS_PER_TENANT_MAX 100000L
#define FLEET_CHUNKS_MAX 1000000L     /* over the whole fleet */
#define FLEET_FAILED_LISTED 50        /* failed chunks listed per summary */
#define FLEET_RESULT_FILE_MAX (512u * 1024u * 1024u) /* one ResultWriter file */

struct fleet;

/* Borrowed `cfg` and `aws` must outlive the fleet (`aws` may be NULL when
 * the output and the tenant store are local). */
enum bf_rc fleet_new(const struct bf_config *cfg, struct awsenv *aws,
                     struct fleet **out, struct bf_err *err);
void fleet_free(struct fleet *f); /* NULL-safe */

/* Whether `input` is a fleet task (has a "fleet_task" member). Cheap: a
 * chunk input never has it. `ctx` is unused (the worker's hook shape). */
int fleet_accepts(void *ctx, const char *input);

/* Run a fleet task. On BF_OK `*output` (malloc'd) is the SendTaskSuccess
 * output; otherwise `err` says why (BF_E_INVALID_INPUT naming the field,
 * sink errors as the sink classes them). Thread-safe. */
enum bf_rc fleet_run(void *ctx, const char *input, struct task_cancel *cancel,
                     char **output, struct bf_err *err);

/* The two kinds, for tests; `f` from fleet_new. */
enum bf_rc fleet_plan_run(struct fleet *f, const char *input, size_t len,
                          char **output, struct bf_err *err);
enum bf_rc fleet_summary_run(struct fleet *f, const char *input, size_t len,
                             struct task_cancel *cancel, char **output,
                             struct bf_err *err);

/* Internal to src/fleet: the pieces both kinds share. */
struct sink;
enum bf_rc fleet_sink(struct fleet *f, struct sink **out, struct bf_err *err);
struct tenant_store *fleet_tenants(struct fleet *f);

#endif
