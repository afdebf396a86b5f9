/* lambda.c -- Lambda Invoke on the REST client.
 *
 * Builds the request (function name in the path, X-Amz-Invocation-Type) and
 * hands back status, X-Amz-Function-Error and payload. One attempt by
 * default: a retried RequestResponse call could run the function twice
 * at once, so retrying is left to the state machine, which knows more.
 */
#include "aws/lambda.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws/endpoint.h"
#include "aws/http.h"

#define LAMBDA_DEFAULT_TIMEOUT_MS 910000L
#define LAMBDA_DEFAULT_MAX_RESPONSE ((size_t)7 * 1024 * 1024)

enum bf_rc lambda_client_new(struct awsenv *env, struct awsrest_client **out,
                             struct bf_err *err)
{
    return awsrest_client_new(env, &endpoint_svc_lambda, out, err);
}

void lambda_invoke_result_init(struct lambda_invoke_result *r)
{
    memset(r, 0, sizeof(*r));
}

void lambda_invoke_result_cleanup(struct lambda_invoke_result *r)
{
    if (r == NULL)
        return;
    free(r->payload);
    lambda_invoke_result_init(r);
}

static void take_answer(struct http_response *resp,
                        struct lambda_invoke_result *out)
{
    const char *fe = http_response_header(resp, "x-amz-function-error");

    out->status = resp->status;
    snprintf(out->function_error, sizeof(out->function_error), "%s",
             fe != NULL ? fe : "");
    out->payload_len = resp->body.len;
    out->payload = buf_detach(&resp->body);
}

enum bf_rc lambda_invoke(struct awsrest_client *c, const char *function,
                         const char *payload, size_t payload_len,
                         const struct lambda_invoke_opts *opts,
                         struct lambda_invoke_result *out, struct bf_err *err)
{
    static const struct lambda_invoke_opts defaults = { 0 };
    char path[256];
    struct http_header headers[2];
    struct awsrest_request req;
    struct http_response resp;
    enum bf_rc rc;

    if (opts == NULL)
        opts = &defaults;
    lambda_invoke_result_init(out);
    if (snprintf(path, sizeof(path), "/2015-03-31/functions/%s/invocations",
                 function) >= (int)sizeof(path))
        return bf_err_set(err, BF_E_INVALID_INPUT,
                          "lambda Invoke: function name too long");
    headers[0].name = "content-type";
    headers[0].value = "application/json";
    headers[1].name = "x-amz-invocation-type";
    headers[1].value = opts->invocation_type != NULL ? opts->invocation_type
                                                     : "RequestResponse";
    memset(&req, 0, sizeof(req));
    req.method = "POST";
    req.path = path;
    req.headers = headers;
    req.nheaders = 2;
    req.body = payload;
    req.body_len = payload_len;
    req.timeout_ms = opts->timeout_ms > 0 ? opts->timeout_ms
                                          : LAMBDA_DEFAULT_TIMEOUT_MS;
    req.max_response = opts->max_response > 0 ? opts->max_response
                                              : LAMBDA_DEFAULT_MAX_RESPONSE;
    req.max_attempts = opts->max_attempts > 0 ? opts->max_attempts : 1;
    http_response_init(&resp);
    rc = awsrest_call(c, &req, &resp, err);
    if (resp.status != 0)
        take_answer(&resp, out);
    if (out->status != 0 && out->payload == NULL && rc == BF_OK)
        rc = bf_err_set(err, BF_E_NOMEM, "lambda Invoke: out of memory");
    http_response_cleanup(&resp);
    if (err != NULL && rc != BF_OK)
        snprintf(err->endpoint, sizeof(err->endpoint), "lambda:Invoke");
    return rc;
}
