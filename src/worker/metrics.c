/* metrics.c -- CloudWatch Embedded Metric Format lines on stdout.
 *
 * Each line is built in a stack buffer and written with one write(2), so
 * lines from several slot threads never interleave. Disabled metrics cost
 * one branch. Names and units follow the EMF specification.
 */
#include "worker/metrics.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "util/timeutil.h"

#define EMF_LINE_MAX 1024

void metrics_init(struct metrics *m, int enabled, const char *ns)
{
    m->enabled = enabled;
    snprintf(m->ns, sizeof m->ns, "%s", ns != NULL && ns[0] ? ns : "AvesaBackfill");
}

/* One metric, optionally with one dimension. `dim_value` is one of our own
 * error names, so it needs no JSON escaping. */
static void emit(const struct metrics *m, const char *name, const char *unit,
                 double value, const char *dim, const char *dim_value)
{
    char line[EMF_LINE_MAX];
    int n;

    if (!m->enabled)
        return;
    n = snprintf(line, sizeof line,
                 "{\"_aws\":{\"Timestamp\":%lld,\"CloudWatchMetrics\":[{"
                 "\"Namespace\":\"%s\",\"Dimensions\":[[%s%s%s]],"
                 "\"Metrics\":[{\"Name\":\"%s\",\"Unit\":\"%s\"}]}]},"
                 "%s%s%s%s%s\"%s\":%.0f}\n",
                 (long long)time_now_ms(), m->ns, dim ? "\"" : "",
                 dim ? dim : "", dim ? "\"" : "", name, unit,
                 dim ? "\"" : "", dim ? dim : "", dim ? "\":\"" : "",
                 dim ? dim_value : "", dim ? "\"," : "", name, value);
    if (n <= 0 || n >= (int)sizeof line)
        return;
    if (write(STDOUT_FILENO, line, (size_t)n) < 0)
        return; /* metrics are best effort */
}

void metrics_task_started(const struct metrics *m)
{
    emit(m, "TasksStarted", "Count", 1, NULL, NULL);
}

void metrics_task_succeeded(const struct metrics *m, long long duration_ms,
                            long long records)
{
    emit(m, "TasksSucceeded", "Count", 1, NULL, NULL);
    emit(m, "ChunkDuration", "Milliseconds", (double)duration_ms, NULL, NULL);
    if (records >= 0)
        emit(m, "Records", "Count", (double)records, NULL, NULL);
}

void metrics_task_failed(const struct metrics *m, const char *error_name,
                         long long duration_ms)
{
    emit(m, "TasksFailed", "Count", 1, "ErrorName", error_name);
    emit(m, "ChunkDuration", "Milliseconds", (double)duration_ms, NULL, NULL);
}

void metrics_heartbeat_failed(const struct metrics *m)
{
    emit(m, "HeartbeatFailures", "Count", 1, NULL, NULL);
}
