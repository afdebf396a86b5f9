/* catalog.h -- the endpoint catalog: which tables each service has, their
 * canonical table, page size and "last updated" condition field.
 *
 * The built-in table is src/catalog/endpoints.json, embedded at build time;
 * its format and the meaning of each key are in src/README.md, section
 * `ConnectWise ingest`. Adding an endpoint is data only: an entry here (or
 * in an extra catalog file) and a mapping file. Task validation, the plan,
 * the sources and the chunk runner all look entries up here.
 */
#ifndef BF_CATALOG_CATALOG_H
#define BF_CATALOG_CATALOG_H

#include <stddef.h>

#include "util/err.h"

struct catalog_endpoint {
    const char *service;         /* "connectwise" */
    const char *endpoint;        /* "service/tickets" (the task's table_name) */
    const char *canonical_table; /* "tickets" */
    int page_size;               /* records per request, 1..1000 */
    const char *date_field;      /* "_info/lastUpdated": the condition field */
    int enabled;                 /* disabled entries are known but refused */
    int is_default;              /* planned when an input names no table */
    int forward_only;            /* ask for pagination-type: forward-only */
};

/* The entry for (service, endpoint), or NULL when unknown. Entries live for
 * the whole process. Thread-safe (the table is parsed once, on first use). */
const struct catalog_endpoint *catalog_find(const char *service,
                                           const char *endpoint);

/* Iterate the table: entry `i` for 0 <= i < catalog_count(). */
size_t catalog_count(void);
const struct catalog_endpoint *catalog_at(size_t i);

/* Add the endpoints of an extra catalog file (the format of
 * src/catalog/endpoints.json; src/README.md, section `ConnectWise ingest`)
 * to the table, validated strictly: unknown keys, a wrong type, an unknown service,
 * a malformed endpoint, table or date field, a page size outside 1..1000 or
 * an endpoint already in the table fail the whole file with BF_E_CONFIG
 * naming the entry, and nothing is added. Call before any other thread
 * uses the table (main() does, right after reading the configuration). */
enum bf_rc catalog_add_file(const char *path, struct bf_err *err);

/* The default codebase path of a service's API ("v4_6_release"). */
const char *catalog_codebase(const char *service);

#endif
