/* log.h -- structured logs: one JSON object per line on stderr.
 *
 * A line is built field by field on the caller's stack and written with a
 * single write(2), so lines from different threads never interleave.
 * The level, the worker name and the output fd are process settings made
 * once in main() before any thread starts (the one documented exception to
 * "no global mutable state"); after that they are only read.
 *
 * Never log a secret, a full task token or an Authorization header: use
 * log_token_hash() for tokens.
 *
 *     struct log_line l;
 *     if (log_begin(&l, LOG_INFO, "task_started")) {
 *         log_str(&l, "tenant", t->tenant_id);
 *         log_int(&l, "chunk", t->chunk_number);
 *         log_end(&l);
 *     }
 */
#ifndef BF_UTIL_LOG_H
#define BF_UTIL_LOG_H

#include <stdint.h>

enum log_level { LOG_DEBUG = 0, LOG_INFO, LOG_WARN, LOG_ERROR, LOG_OFF };

#define LOG_LINE_MAX 4096

struct log_line {
    char buf[LOG_LINE_MAX];
    int len;
    int truncated;
};

/* Process settings; call before starting threads. `worker` is copied. */
void log_setup(enum log_level level, const char *worker, int fd);

/* Parse "debug", "info", "warn", "error", "off". Returns 0 or -1. */
int log_level_parse(const char *s, enum log_level *out);

/* Start a line; returns 0 (and the line is skipped) below the level. */
int log_begin(struct log_line *l, enum log_level level, const char *event);
void log_str(struct log_line *l, const char *key, const char *value);
void log_int(struct log_line *l, const char *key, int64_t value);
void log_bool(struct log_line *l, const char *key, int value);
void log_end(struct log_line *l);

/* One-call form: {"time","level","event","worker","msg"}. */
void log_msg(enum log_level level, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A short, non-reversible tag for a task token: the first 12 hex digits of
 * its SHA-256. `out` must hold 13 bytes. */
void log_token_hash(const char *token, char out[13]);

#endif
