/* log.c -- JSON Lines logger on stderr (see log.h for the rules).
 *
 * Owns the line format (time, level, event, worker, then the caller's
 * fields), JSON string escaping and the all-or-nothing field rule that
 * keeps a truncated line valid JSON. A line is built on the caller's stack
 * and written with one write(2), so there is no lock and no interleaving.
 */
#include "util/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/sha.h>

#include "util/hex.h"
#include "util/timeutil.h"

/* Process-wide, written only by log_setup() before threads start. */
static struct {
    enum log_level level;
    char worker[96];
    int fd;
} log_cfg = { LOG_INFO, "", 2 };

void log_setup(enum log_level level, const char *worker, int fd)
{
    log_cfg.level = level;
    snprintf(log_cfg.worker, sizeof(log_cfg.worker), "%s",
             worker != NULL ? worker : "");
    log_cfg.fd = fd;
}

int log_level_parse(const char *s, enum log_level *out)
{
    static const char *names[] = { "debug", "info", "warn", "error", "off" };
    int i;

    if (s == NULL)
        return -1;
    for (i = 0; i < 5; i++) {
        if (strcasecmp(s, names[i]) == 0) {
            *out = (enum log_level)i;
            return 0;
        }
    }
    if (strcasecmp(s, "warning") == 0) {
        *out = LOG_WARN;
        return 0;
    }
    return -1;
}

/* Room kept back so that the closing brace and newline always fit. */
#define LOG_RESERVE 24

static void put_bytes(struct log_line *l, const char *s, size_t n)
{
    if (l->truncated)
        return;
    if (l->len + (int)n > LOG_LINE_MAX - LOG_RESERVE) {
        l->truncated = 1;
        return;
    }
    memcpy(l->buf + l->len, s, n);
    l->len += (int)n;
}

static void put_escaped(struct log_line *l, const char *s)
{
    char esc[8];
    const unsigned char *p;

    put_bytes(l, "\"", 1);
    for (p = (const unsigned char *)s; *p != '\0'; p++) {
        if (*p == '"' || *p == '\\') {
            esc[0] = '\\';
            esc[1] = (char)*p;
            put_bytes(l, esc, 2);
        } else if (*p < 0x20) {
            snprintf(esc, sizeof(esc), "\\u%04x", *p);
            put_bytes(l, esc, 6);
        } else {
            put_bytes(l, (const char *)p, 1);
        }
        if (l->truncated)
            break;
    }
    put_bytes(l, "\"", 1);
}

static void put_key(struct log_line *l, const char *key)
{
    put_bytes(l, ",", 1);
    put_escaped(l, key);
    put_bytes(l, ":", 1);
}

int log_begin(struct log_line *l, enum log_level level, const char *event)
{
    static const char *names[] = { "debug", "info", "warn", "error" };
    char stamp[TIME_ISO_LEN];

    l->len = 0;
    l->truncated = 0;
    if (level < log_cfg.level || level >= LOG_OFF)
        return 0;
    time_format_iso8601(time_now_ms(), stamp);
    put_bytes(l, "{\"time\":", 8);
    put_escaped(l, stamp);
    put_key(l, "level");
    put_escaped(l, names[level]);
    put_key(l, "event");
    put_escaped(l, event);
    if (log_cfg.worker[0] != '\0') {
        put_key(l, "worker");
        put_escaped(l, log_cfg.worker);
    }
    return 1;
}

/* A field that does not fit is dropped whole, so the line stays valid JSON. */
static void field_done(struct log_line *l, int start)
{
    if (l->truncated)
        l->len = start;
}

void log_str(struct log_line *l, const char *key, const char *value)
{
    int start = l->len;

    put_key(l, key);
    if (value == NULL)
        put_bytes(l, "null", 4);
    else
        put_escaped(l, value);
    field_done(l, start);
}

void log_int(struct log_line *l, const char *key, int64_t value)
{
    char num[32];
    int n = snprintf(num, sizeof(num), "%lld", (long long)value);
    int start = l->len;

    put_key(l, key);
    put_bytes(l, num, (size_t)n);
    field_done(l, start);
}

void log_bool(struct log_line *l, const char *key, int value)
{
    int start = l->len;

    put_key(l, key);
    if (value)
        put_bytes(l, "true", 4);
    else
        put_bytes(l, "false", 5);
    field_done(l, start);
}

void log_end(struct log_line *l)
{
    ssize_t w;
    int off = 0;

    if (l->len == 0)
        return;
    if (l->truncated) {
        /* Fields are dropped whole (field_done), so the object so far is
         * valid JSON; LOG_RESERVE keeps room to say that some were cut. */
        l->truncated = 0;
        put_bytes(l, ",\"truncated\":true", 17);
    }
    l->buf[l->len++] = '}';
    l->buf[l->len++] = '\n';
    while (off < l->len) {
        w = write(log_cfg.fd, l->buf + off, (size_t)(l->len - off));
        if (w <= 0)
            break;
        off += (int)w;
    }
    l->len = 0;
}

void log_msg(enum log_level level, const char *event, const char *fmt, ...)
{
    struct log_line l;
    char msg[1024];
    va_list ap;

    if (!log_begin(&l, level, event))
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    log_str(&l, "msg", msg);
    log_end(&l);
}

void log_token_hash(const char *token, char out[13])
{
    unsigned char md[SHA256_DIGEST_LENGTH];

    if (token == NULL)
        token = "";
    SHA256((const unsigned char *)token, strlen(token), md);
    /* Six bytes tell tokens apart in a log without making one guessable. */
    hex_encode(md, 6, out);
}
