/* metrics.h -- optional CloudWatch Embedded Metric Format lines.
 *
 * With BACKFILL_METRICS=emf the worker prints one EMF JSON object per line
 * on stdout (logs go to stderr), which the CloudWatch agent or the awslogs
 * driver turns into metrics: TasksStarted, TasksSucceeded, TasksFailed (by
 * ErrorName), ChunkDuration (ms), Records, HeartbeatFailures.
 */
#ifndef BF_WORKER_METRICS_H
#define BF_WORKER_METRICS_H

struct metrics {
    int enabled;
    char ns[128];
};

void metrics_init(struct metrics *m, int enabled, const char *ns);
void metrics_task_started(const struct metrics *m);
void metrics_task_succeeded(const struct metrics *m, long long duration_ms,
                            long long records);
void metrics_task_failed(const struct metrics *m, const char *error_name,
                         long long duration_ms);
void metrics_heartbeat_failed(const struct metrics *m);

#endif
