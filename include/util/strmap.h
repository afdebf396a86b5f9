/* strmap.h -- a string-keyed hash map to borrowed values.
 *
 * For the places that look records up by a composite key many times over
 * (the fleet summary indexes one entry per chunk and aggregates per tenant
 * and table): a linear lookup there makes the cost of a run grow with the
 * square of its chunks. Open addressing with linear probing, FNV-1a, the
 * table doubles at 70% load. The map copies keys and owns the copies; the
 * values are the caller's (never freed by the map). Not thread-safe: one
 * owner at a time.
 */
#ifndef BF_UTIL_STRMAP_H
#define BF_UTIL_STRMAP_H

#include <stddef.h>

#include "util/err.h"

struct strmap;

struct strmap *strmap_new(void);          /* NULL when out of memory */
void strmap_free(struct strmap *m);       /* NULL-safe; values untouched */

/* The value stored under `key`, or NULL. */
void *strmap_get(const struct strmap *m, const char *key);

/* Store `value` (not NULL) under `key`, replacing any value there.
 * BF_E_NOMEM leaves the map as it was. */
enum bf_rc strmap_put(struct strmap *m, const char *key, void *value);

size_t strmap_count(const struct strmap *m);

#endif
