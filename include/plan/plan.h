/* plan.h -- the chunk plan (statemachine/README.md "Input (StartExecution)"),
 * shared by `plan` and tests.
 *
 * A StartExecution input names a tenant, a service, one table or a list
 * and an optional date window; the plan cuts the window into consecutive
 * half-open chunks per table, exactly as the state machine's JSONata plan
 * does, so `backfill-worker plan` can be compared against it.
 */
#ifndef BF_PLAN_PLAN_H
#define BF_PLAN_PLAN_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"
#include "util/timeutil.h"

#define PLAN_TABLES_MAX 16
#define PLAN_DEFAULT_DAYS 730       /* default window: the last two years */
#define PLAN_DEFAULT_CHUNK_DAYS 30
#define PLAN_DEFAULT_CONCURRENCY 4
#define PLAN_CONCURRENCY_MAX 40     /* the inline Map's practical ceiling */
#define PLAN_CHUNKS_MAX 200         /* over all tables: keeps states < 256 KiB */
#define PLAN_DEFAULT_HEARTBEAT 60
#define PLAN_HEARTBEAT_MAX 3600
#define PLAN_DEFAULT_TASK_TIMEOUT 14400
#define PLAN_TASK_TIMEOUT_MAX 86400

struct plan_request {
    char tenant_id[65];
    char service[32];
    char tables[PLAN_TABLES_MAX][64];
    int ntables;
    int64_t start_ms;
    int64_t end_ms;
    int chunk_size_days;   /* 1..366 */
    int max_concurrency;   /* 1..PLAN_CONCURRENCY_MAX */
    int heartbeat_seconds; /* 1..PLAN_HEARTBEAT_MAX, passed to each chunk */
    int task_timeout_seconds; /* > heartbeat_seconds, <= PLAN_TASK_TIMEOUT_MAX */
    int force_full_sync;   /* bool, default 1 */
};

/* Parse a StartExecution input {tenant_id, service|service_name,
 * table_name | tables[], start_date?, end_date?, chunk_size_days?,
 * max_concurrency?, heartbeat_seconds?, task_timeout_seconds?,
 * force_full_sync?} with the state machine's rules (statemachine/README.md,
 * "Input (StartExecution)"). `now_ms` is the default end.
 * BF_E_INVALID_INPUT naming the field for anything wrong, including a plan
 * of more than PLAN_CHUNKS_MAX chunks (field chunk_size_days). */
enum bf_rc plan_parse_request(const char *json, size_t len, int64_t now_ms,
                              struct plan_request *out, struct bf_err *err);

/* What one request may ask for. plan_parse_request() is one execution's
 * plan: tenant_id required, PLAN_CONCURRENCY_MAX, PLAN_CHUNKS_MAX. A fleet
 * plan (src/fleet) names its tenants elsewhere and has larger ceilings. */
struct plan_limits {
    int need_tenant;       /* read and check tenant_id */
    int concurrency_max;   /* max_concurrency: 1..this */
    long chunks_max;       /* chunks over all tables, for one tenant */
};

enum bf_rc plan_parse_request_limits(const char *json, size_t len, int64_t now_ms,
                                     const struct plan_limits *lim,
                                     struct plan_request *out, struct bf_err *err);

/* Chunks for one table: ceil((end - start) / step). 0 when end <= start. */
long plan_chunk_count(int64_t start_ms, int64_t end_ms, int chunk_size_days);

/* Bounds of chunk `i` (0-based): [start + i*step, min(start+(i+1)*step, end)). */
void plan_chunk_bounds(int64_t start_ms, int64_t end_ms, int chunk_size_days,
                       long i, int64_t *chunk_start, int64_t *chunk_end);

/* Chunk `i` (0-based) of `n` of `table` as a task input object without
 * backfill_id (the caller adds it): the fields plan_json lists per chunk.
 * NULL when out of memory. */
struct cJSON;
struct cJSON *plan_chunk_object(const struct plan_request *req,
                                const char *table, long i, long n);

/* The plan's header fields (tables, tenant_id, service, window, chunk size,
 * concurrency, task options, total_chunks) added to `o`. */
enum bf_rc plan_add_header(struct cJSON *o, const struct plan_request *req,
                           long total);

/* The plan as JSON: {tenant_id, service, tables, start_date, end_date,
 * chunk_size_days, max_concurrency, total_chunks, chunks: [{tenant_id,
 * service, table_name, chunk_number, total_chunks, start_date, end_date,
 * backfill_mode, force_full_sync, heartbeat_seconds}]}.
 * `*out` is malloc'd. BF_E_LIMIT when the plan has too many chunks. */
enum bf_rc plan_json(const struct plan_request *req, char **out,
                     struct bf_err *err);

#endif
