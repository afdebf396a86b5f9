/* awscall.c -- what the two AWS protocol clients share (see awscall.h).
 *
 * Owns the connection life (endpoint, curl handle, environment reference),
 * the signing set-up, the retry-loop parameters and the error record of an
 * AWS answer, so awsjson.c and awsrest.c keep only their wire layout and
 * their error-body parsers. Never logs or echoes a request: it can carry
 * task tokens or secrets.
 */
#include "aws/private/awscall.h"

#include <stdio.h>
#include <string.h>

#include "util/backoff.h"

enum bf_rc awscall_conn_init(struct awscall_conn *k, struct awsenv *env,
                             const struct endpoint_service *svc,
                             const char *who, struct bf_err *err)
{
    enum bf_rc rc;

    memset(k, 0, sizeof(*k));
    rc = endpoint_resolve(svc, awsenv_region(env),
                          awsenv_allow_insecure_http(env), &k->ep, err);
    if (rc != BF_OK)
        return rc;
    k->http = http_client_new();
    if (k->http == NULL)
        return bf_err_set(err, BF_E_NOMEM, "%s: out of memory", who);
    rc = http_client_set_ca_bundle(k->http, awsenv_ca_bundle(env), err);
    if (rc != BF_OK) {
        http_client_free(k->http);
        k->http = NULL;
        return rc;
    }
    k->env = awsenv_acquire(env);
    k->svc = svc;
    backoff_seed(&k->rng);
    return BF_OK;
}

void awscall_conn_cleanup(struct awscall_conn *k)
{
    if (k == NULL)
        return;
    http_client_free(k->http);
    awsenv_release(k->env);
    k->http = NULL;
    k->env = NULL;
}

enum bf_rc awscall_sign_setup(struct awscall_conn *k, struct creds *creds,
                              struct sigv4_config *cfg, struct bf_err *err)
{
    enum bf_rc rc = creds_provider_get(awsenv_creds(k->env), creds, err);

    if (rc != BF_OK)
        return rc;
    memset(cfg, 0, sizeof(*cfg));
    cfg->creds = creds;
    cfg->region = awsenv_region(k->env);
    cfg->service = k->svc->signing_name;
    cfg->time_s = (awsenv_now_ms(k->env) + k->skew_ms) / 1000;
    return BF_OK;
}

void awscall_retry_loop(struct awscall_conn *k, int max_attempts,
                        struct retry_loop *loop)
{
    loop->budget = awsenv_retry_budget(k->env);
    loop->max_attempts = max_attempts > 0 ? max_attempts
                                          : awsenv_max_attempts(k->env);
    loop->rng = &k->rng;
    loop->sleep_ms = awsenv_sleep_ms;
    loop->sleep_ctx = k->env;
}

enum bf_rc awscall_answer_error(struct awscall_conn *k, const char *op,
                                const struct http_response *r,
                                const char *code, const char *message,
                                const char *request_id,
                                struct retry_outcome *o, struct bf_err *err)
{
    o->status = r->status;
    o->aws_code = code;
    o->skew_corrected = retry_clock_skew_update(
        &k->skew_ms, awsenv_now_ms(k->env), http_response_header(r, "date"),
        code);
    /* The service's message is echoed (cut), the request never is; the
     * request id is what AWS support asks for. */
    bf_err_set(err, BF_E_AWS, "%s: %s%s%s (HTTP %ld%s%.80s)", op, code,
               message[0] != '\0' ? ": " : "", message, r->status,
               request_id != NULL ? ", request id " : "",
               request_id != NULL ? request_id : "");
    if (err != NULL) {
        err->http_status = (int)r->status;
        snprintf(err->aws_code, sizeof(err->aws_code), "%s", code);
        err->retryable = retry_is_retryable(r->status, code);
    }
    return BF_E_AWS;
}

void awscall_transport_failed(const struct http_response *r,
                              struct retry_outcome *o, struct bf_err *err)
{
    o->status = 0;
    o->timed_out = r->timed_out;
    if (err != NULL) {
        err->http_status = 0;
        err->retryable = 1;
    }
}
