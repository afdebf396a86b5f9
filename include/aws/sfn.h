/* sfn.h -- the Step Functions activity calls the worker makes.
 *
 * Thin wrappers over the AWS JSON 1.0 client (awsjson.h): build the input,
 * read the output, pass errors up unchanged (err->aws_code carries the
 * service's error name: TaskTimedOut, ActivityDoesNotExist, ...). Retries
 * on throttling, 5xx and transport errors are awsjson's, except for the
 * long poll, which the worker backs off itself. A client is per thread.
 */
#ifndef BF_AWS_SFN_H
#define BF_AWS_SFN_H

#include "aws/awsenv.h"
#include "aws/awsjson.h"
#include "util/err.h"

#define SFN_POLL_TIMEOUT_MS 70000 /* the service holds a poll up to 60 s */
#define SFN_TOKEN_MAX 4096        /* tokens are up to 2048 characters */

/* A client for the Step Functions endpoint (AWS_ENDPOINT_URL_SFN honoured). */
enum bf_rc sfn_client_new(struct awsenv *env, struct awsjson_client **out,
                          struct bf_err *err);

/* One GetActivityTask long poll (70 s read timeout, a single attempt: the
 * caller backs off). On BF_OK with no task, *token and *input are NULL.
 * Otherwise both are malloc'd; free the token with sfn_token_free(). */
enum bf_rc sfn_get_activity_task(struct awsjson_client *c, const char *arn,
                                 const char *worker_name, char **token,
                                 char **input, struct bf_err *err);

enum bf_rc sfn_send_success(struct awsjson_client *c, const char *token,
                            const char *output, struct bf_err *err);
enum bf_rc sfn_send_failure(struct awsjson_client *c, const char *token,
                            const char *error, const char *cause,
                            struct bf_err *err);
/* Heartbeats use a short timeout so one slow call cannot stall the next
 * task's heartbeat for long. */
enum bf_rc sfn_send_heartbeat(struct awsjson_client *c, const char *token,
                              struct bf_err *err);

/* Whether an error answer means the task is closed for this worker
 * (TaskTimedOut, TaskDoesNotExist, InvalidToken). */
int sfn_task_closed(const struct bf_err *err);

/* Wipe and free a task token. NULL-safe. */
void sfn_token_free(char *token);

#endif
