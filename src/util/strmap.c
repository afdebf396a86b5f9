/* strmap.c -- string-keyed hash map (include/util/strmap.h).
 *
 * Slots hold a copied key and a borrowed value; an empty slot has key NULL.
 * There is no removal, so probing never meets a tombstone: a lookup stops
 * at the first empty slot.
 */
#include "util/strmap.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct strmap_slot {
    char *key;
    void *value;
};

struct strmap {
    struct strmap_slot *slots;
    size_t cap;   /* a power of two */
    size_t count;
};

#define STRMAP_INITIAL_CAP 64

static uint64_t strmap_hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL;

    for (; *s != '\0'; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

/* The slot holding `key`, or the empty slot where it would go. */
static struct strmap_slot *strmap_find(struct strmap_slot *slots, size_t cap,
                                       const char *key)
{
    size_t i = (size_t)strmap_hash(key) & (cap - 1);

    while (slots[i].key != NULL && strcmp(slots[i].key, key) != 0)
        i = (i + 1) & (cap - 1);
    return &slots[i];
}

struct strmap *strmap_new(void)
{
    struct strmap *m = calloc(1, sizeof *m);

    if (m == NULL)
        return NULL;
    m->slots = calloc(STRMAP_INITIAL_CAP, sizeof *m->slots);
    if (m->slots == NULL) {
        free(m);
        return NULL;
    }
    m->cap = STRMAP_INITIAL_CAP;
    return m;
}

void strmap_free(struct strmap *m)
{
    size_t i;

    if (m == NULL)
        return;
    for (i = 0; i < m->cap; i++)
        free(m->slots[i].key);
    free(m->slots);
    free(m);
}

void *strmap_get(const struct strmap *m, const char *key)
{
    return strmap_find(m->slots, m->cap, key)->value;
}

static enum bf_rc strmap_grow(struct strmap *m)
{
    size_t cap = m->cap * 2, i;
    struct strmap_slot *slots;

    if (cap < m->cap || (slots = calloc(cap, sizeof *slots)) == NULL)
        return BF_E_NOMEM;
    for (i = 0; i < m->cap; i++)
        if (m->slots[i].key != NULL)
            *strmap_find(slots, cap, m->slots[i].key) = m->slots[i];
    free(m->slots);
    m->slots = slots;
    m->cap = cap;
    return BF_OK;
}

enum bf_rc strmap_put(struct strmap *m, const char *key, void *value)
{
    struct strmap_slot *slot;

    if ((m->count + 1) * 10 > m->cap * 7 && strmap_grow(m) != BF_OK)
        return BF_E_NOMEM;
    slot = strmap_find(m->slots, m->cap, key);
    if (slot->key == NULL) {
        if ((slot->key = strdup(key)) == NULL)
            return BF_E_NOMEM;
        m->count++;
    }
    slot->value = value;
    return BF_OK;
}

size_t strmap_count(const struct strmap *m)
{
    return m->count;
}
