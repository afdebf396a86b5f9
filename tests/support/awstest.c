/* awstest.c -- shared set-up for tests against the fake AWS server. */
#include "awstest.h"

#include <string.h>

#include <check.h>

#include "aws/creds.h"
#include "util/err.h"

struct awsenv *awstest_env(void)
{
    struct creds_provider *p = creds_provider_new_env();
    struct awsenv_options o;
    struct awsenv *env = NULL;
    struct bf_err err;

    memset(&o, 0, sizeof(o));
    o.region = "us-east-1";
    o.creds = p;
    bf_err_init(&err);
    ck_assert_msg(awsenv_new(&o, &env, &err) == BF_OK, "%s", err.message);
    creds_provider_release(p);
    return env;
}
