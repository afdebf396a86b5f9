/* awstest.h -- shared set-up for unit tests that talk to the fake AWS
 * server: one AWS environment on the environment credentials. */
#ifndef BF_TESTS_AWSTEST_H
#define BF_TESTS_AWSTEST_H

#include "aws/awsenv.h"

/* An awsenv in us-east-1 on AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (the
 * test sets them); fails the running test if it cannot be made. The caller
 * releases it with awsenv_release(). */
struct awsenv *awstest_env(void);

#endif
