/* err.c -- result codes, their Step Functions names, and the cause JSON.
 *
 * The table of names is the contract with statemachine/backfill.asl.json
 * (README "Error names"); tests/asl checks that both sides list the same names.
 */
#include "util/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

void bf_err_init(struct bf_err *err)
{
    if (err == NULL)
        return;
    memset(err, 0, sizeof(*err));
    err->rc = BF_OK;
    err->page = -1;
    err->retryable = -1;
}

/* One line only: a cause or log line must not be split by a stray newline. */
static void flatten_line(char *s)
{
    for (; *s != '\0'; s++) {
        if (*s == '\n' || *s == '\r')
            *s = ' ';
    }
}

enum bf_rc bf_err_set(struct bf_err *err, enum bf_rc rc, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL)
        return rc;
    err->rc = rc;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof(err->message), fmt, ap);
    va_end(ap);
    flatten_line(err->message);
    return rc;
}

enum bf_rc bf_err_reclassify(struct bf_err *err, enum bf_rc rc)
{
    if (err != NULL)
        err->rc = rc;
    return rc;
}

void bf_err_prefix(struct bf_err *err, const char *fmt, ...)
{
    char prefix[256];
    char old[BF_ERR_MSG_MAX];
    va_list ap;

    if (err == NULL)
        return;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof(prefix), fmt, ap);
    va_end(ap);
    memcpy(old, err->message, sizeof(old));
    /* Cutting the tail of a long message is fine: it stays one line. */
    if (snprintf(err->message, sizeof(err->message), "%s: %s", prefix, old) < 0)
        err->message[0] = '\0';
    flatten_line(err->message);
}

/* No default case: -Wall (-Wswitch) then flags a code added without a name. */
const char *bf_rc_error_name(enum bf_rc rc)
{
    switch (rc) {
    case BF_OK:                      return "Backfill.Internal";
    case BF_E_INVALID_INPUT:         return "Backfill.InvalidInput";
    case BF_E_TENANT_NOT_CONFIGURED: return "Backfill.TenantNotConfigured";
    case BF_E_TENANT_DISABLED:       return "Backfill.TenantDisabled";
    case BF_E_CREDENTIALS_INVALID:   return "Backfill.CredentialsInvalid";
    case BF_E_SOURCE_AUTH_FAILED:    return "Backfill.SourceAuthFailed";
    case BF_E_SOURCE_RATE_LIMITED:   return "Backfill.SourceRateLimited";
    case BF_E_SOURCE_UNAVAILABLE:    return "Backfill.SourceUnavailable";
    case BF_E_SOURCE_PROTOCOL:       return "Backfill.SourceProtocolError";
    case BF_E_SINK_UNAVAILABLE:      return "Backfill.SinkUnavailable";
    case BF_E_SINK_ACCESS_DENIED:    return "Backfill.SinkAccessDenied";
    case BF_E_TRANSFORM_FAILED:      return "Backfill.TransformFailed";
    case BF_E_LAMBDA_FAILED:         return "Backfill.LambdaFailed";
    case BF_E_WORKER_SHUTDOWN:       return "Backfill.WorkerShutdown";
    case BF_E_INTERNAL:
    case BF_E_NOMEM:
    case BF_E_LIMIT:
    case BF_E_CONFIG:
    case BF_E_DECLINED:
    case BF_E_TRANSPORT:
    case BF_E_AWS:
    case BF_E_HTTP:
    case BF_E_CANCELLED:
    case BF_E_IO:                    return "Backfill.Internal";
    }
    return "Backfill.Internal";
}

const char *bf_rc_str(enum bf_rc rc)
{
    switch (rc) {
    case BF_OK:                      return "BF_OK";
    case BF_E_INVALID_INPUT:         return "BF_E_INVALID_INPUT";
    case BF_E_TENANT_NOT_CONFIGURED: return "BF_E_TENANT_NOT_CONFIGURED";
    case BF_E_TENANT_DISABLED:       return "BF_E_TENANT_DISABLED";
    case BF_E_CREDENTIALS_INVALID:   return "BF_E_CREDENTIALS_INVALID";
    case BF_E_SOURCE_AUTH_FAILED:    return "BF_E_SOURCE_AUTH_FAILED";
    case BF_E_SOURCE_RATE_LIMITED:   return "BF_E_SOURCE_RATE_LIMITED";
    case BF_E_SOURCE_UNAVAILABLE:    return "BF_E_SOURCE_UNAVAILABLE";
    case BF_E_SOURCE_PROTOCOL:       return "BF_E_SOURCE_PROTOCOL";
    case BF_E_SINK_UNAVAILABLE:      return "BF_E_SINK_UNAVAILABLE";
    case BF_E_SINK_ACCESS_DENIED:    return "BF_E_SINK_ACCESS_DENIED";
    case BF_E_TRANSFORM_FAILED:      return "BF_E_TRANSFORM_FAILED";
    case BF_E_LAMBDA_FAILED:         return "BF_E_LAMBDA_FAILED";
    case BF_E_WORKER_SHUTDOWN:       return "BF_E_WORKER_SHUTDOWN";
    case BF_E_INTERNAL:              return "BF_E_INTERNAL";
    case BF_E_NOMEM:                 return "BF_E_NOMEM";
    case BF_E_LIMIT:                 return "BF_E_LIMIT";
    case BF_E_CONFIG:                return "BF_E_CONFIG";
    case BF_E_DECLINED:              return "BF_E_DECLINED";
    case BF_E_TRANSPORT:             return "BF_E_TRANSPORT";
    case BF_E_AWS:                   return "BF_E_AWS";
    case BF_E_HTTP:                  return "BF_E_HTTP";
    case BF_E_CANCELLED:             return "BF_E_CANCELLED";
    case BF_E_IO:                    return "BF_E_IO";
    }
    return "BF_E_UNKNOWN";
}

enum bf_rc bf_rc_from_error_name(const char *name)
{
    enum bf_rc rc;

    if (name == NULL)
        return BF_E_INTERNAL;
    for (rc = BF_E_INVALID_INPUT; rc <= BF_E_INTERNAL; rc++) {
        if (strcmp(bf_rc_error_name(rc), name) == 0)
            return rc;
    }
    return BF_E_INTERNAL;
}

int bf_rc_default_retryable(enum bf_rc rc)
{
    switch (rc) {
    case BF_E_SOURCE_RATE_LIMITED:
    case BF_E_SOURCE_UNAVAILABLE:
    case BF_E_SOURCE_PROTOCOL:
    case BF_E_SINK_UNAVAILABLE:
    case BF_E_WORKER_SHUTDOWN:
    case BF_E_INTERNAL:
    case BF_E_NOMEM:
    case BF_E_TRANSPORT:
    case BF_E_AWS:
    case BF_E_HTTP:
    case BF_E_IO:
        return 1;
    case BF_OK:
    case BF_E_INVALID_INPUT:
    case BF_E_TENANT_NOT_CONFIGURED:
    case BF_E_TENANT_DISABLED:
    case BF_E_CREDENTIALS_INVALID:
    case BF_E_SOURCE_AUTH_FAILED:
    case BF_E_SINK_ACCESS_DENIED:
    case BF_E_TRANSFORM_FAILED:
    case BF_E_LAMBDA_FAILED:
    case BF_E_LIMIT:
    case BF_E_CONFIG:
    case BF_E_DECLINED:
    case BF_E_CANCELLED:
        return 0;
    }
    return 0;
}

/* The cause object for `err`, with `msg` and `endpoint` in place of its
 * own (so the caller can shorten them). NULL when out of memory. */
static char *cause_print(const struct bf_err *err, const char *msg,
                         const char *endpoint)
{
    cJSON *o = cJSON_CreateObject();
    char *s = NULL;

    if (o == NULL)
        return NULL;
    cJSON_AddStringToObject(o, "message", msg);
    if (err->http_status > 0)
        cJSON_AddNumberToObject(o, "http_status", err->http_status);
    else
        cJSON_AddNullToObject(o, "http_status");
    if (endpoint[0] != '\0')
        cJSON_AddStringToObject(o, "endpoint", endpoint);
    else
        cJSON_AddNullToObject(o, "endpoint");
    if (err->page >= 0)
        cJSON_AddNumberToObject(o, "page", (double)err->page);
    else
        cJSON_AddNullToObject(o, "page");
    cJSON_AddBoolToObject(o, "retryable", err->retryable >= 0
                                              ? err->retryable
                                              : bf_rc_default_retryable(err->rc));
    s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

char *bf_err_cause_json(const struct bf_err *err, size_t max)
{
    char msg[BF_ERR_MSG_MAX];
    char endpoint[sizeof(err->endpoint)];
    char *s = NULL;
    size_t cut;

    if (err == NULL || max < 64)
        return NULL;
    snprintf(msg, sizeof(msg), "%s", err->message);
    snprintf(endpoint, sizeof(endpoint), "%s", err->endpoint);
    /* Halve the message until the object fits: the other fields are small
     * and bounded, so a few rounds suffice. Only a `max` too small even for
     * an empty message costs the endpoint, then the whole answer. */
    for (cut = strlen(msg);; cut /= 2) {
        msg[cut] = '\0';
        s = cause_print(err, msg, endpoint);
        if (s == NULL || strlen(s) < max)
            return s;
        free(s);
        if (cut > 0)
            continue;
        if (endpoint[0] == '\0')
            return NULL;
        endpoint[0] = '\0';
    }
}
