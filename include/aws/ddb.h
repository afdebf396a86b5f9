/* ddb.h -- the one DynamoDB call the worker makes: GetItem (JSON 1.0).
 *
 * Thin on awsjson: this file builds the input and reads the output. Items
 * are returned in DynamoDB's attribute-value form ({"name": {"S": "x"}});
 * ddb_attr_str()/ddb_attr_bool() read the two types the tenant table uses.
 */
#ifndef BF_AWS_DDB_H
#define BF_AWS_DDB_H

#include <cjson/cJSON.h>

#include "aws/awsenv.h"
#include "aws/awsjson.h"
#include "util/err.h"

/* A DynamoDB client (an awsjson client with DynamoDB's target prefix). Per
 * thread, like every awsjson client. */
enum bf_rc ddb_client_new(struct awsenv *env, struct awsjson_client **out,
                          struct bf_err *err);

/* GetItem on `table` with `key` (attribute-value form, borrowed). On BF_OK
 * `*item` is the item (caller frees with cJSON_Delete), or NULL when the
 * table has no such item. AWS errors pass up as BF_E_AWS. */
enum bf_rc ddb_get_item(struct awsjson_client *c, const char *table,
                        const cJSON *key, int consistent_read, cJSON **item,
                        struct bf_err *err);

/* The string value of attribute `name` ({"S": ...}); NULL when absent or
 * of another type. */
const char *ddb_attr_str(const cJSON *item, const char *name);

/* Attribute `name` as a boolean: BOOL, or N "0"/"1", or S "true"/"false".
 * Returns 1 or 0, or `dflt` when absent; -1 when present but unreadable. */
int ddb_attr_bool(const cJSON *item, const char *name, int dflt);

#endif
