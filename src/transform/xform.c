/* xform.c -- the mapping engine: raw source records to canonical records.
 *
 * Owns the mapping file format (src/README.md, "Mapping files and coercion
 * rules"), loading it from the embedded copies (src/transform/module.mk) or
 * BACKFILL_MAPPINGS_DIR, and the per-field rules. It knows nothing of sinks or sources: chunk.c
 * feeds it one parsed raw record at a time and writes what comes out.
 *
 * Rules, in one place:
 *  - a path is split on '/', '.' or '__' ("status/name", "status.name" and
 *    the original "status__name" are the same); a numeric segment indexes an
 *    array ("types/0/name"); `path` may be a list of alternatives, the first
 *    one present (and not null) wins.
 *  - absent or JSON null -> null. A required field that is absent or null,
 *    or whose value cannot be coerced, rejects the record (with a reason).
 *    An optional field that cannot be coerced becomes null and is counted
 *    (coercion_nulls): one odd value should not lose the whole record.
 *  - string: strings as-is, numbers in shortest round-trip form, booleans
 *    "true"/"false", objects and arrays as compact JSON text.
 *  - integer: an integral JSON number or numeric string within +-2^53.
 *  - number: a finite JSON number or numeric string.
 *  - boolean: true/false, the numbers 0/1, the strings "true"/"false"/"1"/
 *    "0" (any case).
 *  - timestamp: an ISO 8601 string (offsets converted, none means UTC),
 *    normalised to "YYYY-MM-DDTHH:MM:SS.sssZ" (finer digits truncated).
 *  - json: the value unchanged.
 *
 * One way out: xform_write_record() writes the canonical line straight
 * into a reused buffer (jsonout.c's cJSON-exact printing), with the record
 * hash put together from the same value texts in a key order sorted once
 * per table; no canonical cJSON tree is built. The tests hold a second,
 * tree-building reading of these rules (tests/support/xform_oracle.c) and
 * compare the two byte for byte.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/jsonout.h"
#include "transform/xform.h"
#include "util/buf.h"
#include "util/fileio.h"
#include "util/hex.h"
#include "util/timeutil.h"

/* The generated table (src/transform/module.mk). */
struct xform_embedded {
    const char *name;
    const unsigned char *data;
    size_t len;
};
extern const struct xform_embedded xform_embedded[];
extern const size_t xform_embedded_count;

#define XFORM_MAX_SEGS 16
#define XFORM_MAX_ALTS 8
#define XFORM_MAX_FILE (4u * 1024 * 1024)
#define XFORM_INT_LIMIT 9007199254740992.0 /* 2^53: exact in a double */

enum xform_type {
    XT_STRING,
    XT_INTEGER,
    XT_NUMBER,
    XT_BOOLEAN,
    XT_TIMESTAMP,
    XT_JSON
};

struct xform_path {
    char *text;               /* as written, for reasons */
    char *segs[XFORM_MAX_SEGS];
    size_t nsegs;
    size_t first;             /* index of segs[0] in the table's firsts[] */
};

struct xform_field {
    char *name;
    struct xform_path alts[XFORM_MAX_ALTS];
    size_t nalts;
    enum xform_type type;
    int required;
};

/* What the writer (xform_write_record) precomputes per table: the
 * escaped "name": text of every field, the order of the hashed keys, and a
 * hash set of the distinct first path segments, so a record's top-level
 * members are matched in one pass instead of a strcmp scan per field. */
struct xform_fast {
    struct buf keys;         /* every field's "name": text, back to back */
    size_t *key_off;         /* per field: offset in keys */
    size_t *key_len;
    size_t *order;           /* hashed keys sorted: < nfields a field, else
                                nfields + index in ctx_names[] */
    size_t norder;
    char **firsts;           /* distinct first segments (borrowed) */
    size_t nfirsts;
    size_t *slots;           /* open addressing: firsts index + 1, 0 empty */
    size_t nslots;           /* a power of two */
};

struct xform_table {
    char *canonical;
    char *system;
    char *source_table;
    struct xform_field *fields;
    size_t nfields;
    struct xform_fast fast;
};

struct xform_mappings {
    struct xform_table **tables;
    size_t n;
};

static const char *const type_names[] = {
    [XT_STRING] = "string",   [XT_INTEGER] = "integer",
    [XT_NUMBER] = "number",   [XT_BOOLEAN] = "boolean",
    [XT_TIMESTAMP] = "timestamp", [XT_JSON] = "json",
};

/* ---- loading ---- */

static void path_cleanup(struct xform_path *p)
{
    size_t i;

    for (i = 0; i < p->nsegs; i++)
        free(p->segs[i]);
    free(p->text);
    memset(p, 0, sizeof(*p));
}

/* The members every canonical record ends with, in this order; the first
 * XFORM_CTX_HASHED of them are part of the record hash. */
static const char *const ctx_names[] = {
    "tenant_id", "source_system", "source_table", "canonical_table",
    "ingestion_timestamp", "backfill_id", "record_hash",
};
#define XFORM_CTX_HASHED 4
#define XFORM_NCTX (sizeof(ctx_names) / sizeof(ctx_names[0]))

static void fast_cleanup(struct xform_fast *f)
{
    buf_cleanup(&f->keys);
    free(f->key_off);
    free(f->key_len);
    free(f->order);
    free(f->firsts);
    free(f->slots);
    memset(f, 0, sizeof(*f));
}

static uint64_t name_hash(const char *s)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */

    for (; *s != '\0'; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

/* The index of `name` in f->firsts, or SIZE_MAX. */
static size_t first_find(const struct xform_fast *f, const char *name)
{
    size_t i = (size_t)name_hash(name) & (f->nslots - 1);

    for (; f->slots[i] != 0; i = (i + 1) & (f->nslots - 1)) {
        if (strcmp(f->firsts[f->slots[i] - 1], name) == 0)
            return f->slots[i] - 1;
    }
    return SIZE_MAX;
}

static const char *hashed_key_name(const struct xform_table *t, size_t k)
{
    return k < t->nfields ? t->fields[k].name : ctx_names[k - t->nfields];
}

/* Sort the hashed keys by strcmp, as the record hash does per record.
 * Insertion sort: a few dozen names, once per table. */
static void order_sort(const struct xform_table *t, size_t *o, size_t n)
{
    size_t i, j, x;

    for (i = 1; i < n; i++) {
        x = o[i];
        for (j = i; j > 0 && strcmp(hashed_key_name(t, o[j - 1]),
                                    hashed_key_name(t, x)) > 0; j--)
            o[j] = o[j - 1];
        o[j] = x;
    }
}

/* The top-level members the record hash leaves out (run-specific). A field
 * may carry one of these names too: it is left out the same way. */
static int hash_skipped(const char *k)
{
    return strcmp(k, "ingestion_timestamp") == 0 ||
           strcmp(k, "backfill_id") == 0 || strcmp(k, "record_hash") == 0;
}

static enum bf_rc fast_add_first(struct xform_fast *f, struct xform_path *p)
{
    size_t i = (size_t)name_hash(p->segs[0]) & (f->nslots - 1);

    p->first = first_find(f, p->segs[0]);
    if (p->first != SIZE_MAX)
        return BF_OK;
    while (f->slots[i] != 0)
        i = (i + 1) & (f->nslots - 1);
    f->firsts[f->nfirsts] = p->segs[0];
    p->first = f->nfirsts++;
    f->slots[i] = p->first + 1;
    return BF_OK;
}

/* Precompute the writer's tables (struct xform_fast). BF_E_NOMEM. */
static enum bf_rc table_prepare(struct xform_table *t)
{
    struct xform_fast *f = &t->fast;
    size_t i, j, npaths = 0;
    enum bf_rc rc = BF_OK;

    buf_init(&f->keys, 0);
    for (i = 0; i < t->nfields; i++)
        npaths += t->fields[i].nalts;
    for (f->nslots = 8; f->nslots < 2 * npaths; f->nslots *= 2)
        continue;
    f->key_off = calloc(t->nfields, sizeof(*f->key_off));
    f->key_len = calloc(t->nfields, sizeof(*f->key_len));
    f->order = calloc(t->nfields + XFORM_CTX_HASHED, sizeof(*f->order));
    f->firsts = calloc(npaths, sizeof(*f->firsts));
    f->slots = calloc(f->nslots, sizeof(*f->slots));
    if (!f->key_off || !f->key_len || !f->order || !f->firsts || !f->slots)
        return BF_E_NOMEM;
    for (i = 0; i < t->nfields && rc == BF_OK; i++) {
        f->key_off[i] = f->keys.len;
        rc = jsonout_string(&f->keys, t->fields[i].name,
                            strlen(t->fields[i].name));
        if (rc == BF_OK)
            rc = buf_append(&f->keys, ":", 1);
        f->key_len[i] = f->keys.len - f->key_off[i];
        for (j = 0; j < t->fields[i].nalts && rc == BF_OK; j++)
            rc = fast_add_first(f, &t->fields[i].alts[j]);
    }
    if (rc != BF_OK)
        return rc;
    /* A canonical name may appear twice (two fields, or a field named like
     * a context member): the record then has that member twice, in field
     * order before the context members, and the hash keeps both in that
     * order among equal names (the sort is stable). */
    for (i = 0; i < t->nfields + XFORM_CTX_HASHED; i++)
        if (!hash_skipped(hashed_key_name(t, i)))
            f->order[f->norder++] = i;
    order_sort(t, f->order, f->norder);
    return BF_OK;
}

static void table_free(struct xform_table *t)
{
    size_t i, j;

    if (t == NULL)
        return;
    for (i = 0; i < t->nfields; i++) {
        for (j = 0; j < t->fields[i].nalts; j++)
            path_cleanup(&t->fields[i].alts[j]);
        free(t->fields[i].name);
    }
    free(t->fields);
    fast_cleanup(&t->fast);
    free(t->canonical);
    free(t->system);
    free(t->source_table);
    free(t);
}

void xform_mappings_free(struct xform_mappings *m)
{
    size_t i;

    if (m == NULL)
        return;
    for (i = 0; i < m->n; i++)
        table_free(m->tables[i]);
    free(m->tables);
    free(m);
}

/* Length of the separator at s (0 if none): '/', '.' or "__". */
static size_t sep_len(const char *s)
{
    if (*s == '/' || *s == '.')
        return 1;
    if (s[0] == '_' && s[1] == '_')
        return 2;
    return 0;
}

static enum bf_rc path_parse(const char *text, struct xform_path *p,
                             struct bf_err *err)
{
    const char *s = text;

    memset(p, 0, sizeof(*p));
    p->text = strdup(text);
    if (p->text == NULL)
        return bf_err_set(err, BF_E_NOMEM, "out of memory");
    while (*s != '\0') {
        size_t n = 0;

        while (s[n] != '\0' && sep_len(s + n) == 0)
            n++;
        if (n == 0 || p->nsegs == XFORM_MAX_SEGS)
            return bf_err_set(err, BF_E_CONFIG, "bad path '%s'", text);
        p->segs[p->nsegs] = strndup(s, n);
        if (p->segs[p->nsegs] == NULL)
            return bf_err_set(err, BF_E_NOMEM, "out of memory");
        p->nsegs++;
        s += n;
        if (*s != '\0') {
            s += sep_len(s);
            if (*s == '\0')
                return bf_err_set(err, BF_E_CONFIG, "bad path '%s'", text);
        }
    }
    if (p->nsegs == 0)
        return bf_err_set(err, BF_E_CONFIG, "empty path");
    return BF_OK;
}

static int type_parse(const char *s, enum xform_type *out)
{
    size_t i;

    for (i = 0; i < sizeof(type_names) / sizeof(type_names[0]); i++) {
        if (strcmp(s, type_names[i]) == 0) {
            *out = (enum xform_type)i;
            return 0;
        }
    }
    return -1;
}

/* A field spec is "path" (a string field) or {"path", "type", "required"}. */
static enum bf_rc field_parse(const cJSON *spec, struct xform_field *f,
                              struct bf_err *err)
{
    const cJSON *path = spec, *type = NULL, *req = NULL, *alt = NULL;
    enum bf_rc rc;

    f->type = XT_STRING;
    f->name = strdup(spec->string);
    if (f->name == NULL)
        return bf_err_set(err, BF_E_NOMEM, "out of memory");
    if (cJSON_IsObject(spec)) {
        path = cJSON_GetObjectItemCaseSensitive(spec, "path");
        type = cJSON_GetObjectItemCaseSensitive(spec, "type");
        req = cJSON_GetObjectItemCaseSensitive(spec, "required");
    }
    if (type != NULL && (!cJSON_IsString(type) ||
                         type_parse(type->valuestring, &f->type) != 0))
        return bf_err_set(err, BF_E_CONFIG, "field '%s': unknown type", f->name);
    if (req != NULL && !cJSON_IsBool(req))
        return bf_err_set(err, BF_E_CONFIG,
                          "field '%s': required must be true or false", f->name);
    f->required = cJSON_IsTrue(req);
    if (cJSON_IsString(path))
        return path_parse(path->valuestring, &f->alts[f->nalts++], err);
    if (!cJSON_IsArray(path) || cJSON_GetArraySize(path) == 0)
        return bf_err_set(err, BF_E_CONFIG,
                          "field '%s': path must be a string or a list", f->name);
    cJSON_ArrayForEach(alt, path) {
        if (!cJSON_IsString(alt) || f->nalts == XFORM_MAX_ALTS)
            return bf_err_set(err, BF_E_CONFIG,
                              "field '%s': bad path list", f->name);
        rc = path_parse(alt->valuestring, &f->alts[f->nalts++], err);
        if (rc != BF_OK)
            return rc;
    }
    return BF_OK;
}

static enum bf_rc table_parse(const char *canonical, const char *system,
                              const cJSON *spec, struct xform_table **out,
                              struct bf_err *err)
{
    struct xform_table *t = NULL;
    const cJSON *fields = cJSON_GetObjectItemCaseSensitive(spec, "fields");
    const cJSON *f = NULL;
    enum bf_rc rc = BF_E_NOMEM;

    if (!cJSON_IsObject(fields) || cJSON_GetArraySize(fields) == 0)
        return bf_err_set(err, BF_E_CONFIG, "%s %s: no \"fields\" object",
                          system, spec->string);
    t = calloc(1, sizeof(*t));
    if (t == NULL)
        goto nomem;
    t->canonical = strdup(canonical);
    t->system = strdup(system);
    t->source_table = strdup(spec->string);
    t->fields = calloc((size_t)cJSON_GetArraySize(fields), sizeof(*t->fields));
    if (!t->canonical || !t->system || !t->source_table || !t->fields)
        goto nomem;
    cJSON_ArrayForEach(f, fields) {
        rc = field_parse(f, &t->fields[t->nfields++], err);
        if (rc != BF_OK)
            goto out;
    }
    if (table_prepare(t) != BF_OK)
        goto nomem;
    *out = t;
    return BF_OK;
nomem:
    rc = bf_err_set(err, BF_E_NOMEM, "out of memory");
out:
    table_free(t);
    return rc;
}

static enum bf_rc mappings_add(struct xform_mappings *m, struct xform_table *t,
                               struct bf_err *err)
{
    struct xform_table **nt = realloc(m->tables, (m->n + 1) * sizeof(*nt));

    if (nt == NULL) {
        table_free(t);
        return bf_err_set(err, BF_E_NOMEM, "out of memory");
    }
    m->tables = nt;
    m->tables[m->n++] = t;
    return BF_OK;
}

static int mappings_has_canonical(const struct xform_mappings *m,
                                  const char *canonical)
{
    size_t i;

    for (i = 0; i < m->n; i++)
        if (strcmp(m->tables[i]->canonical, canonical) == 0)
            return 1;
    return 0;
}

/* Parse one mapping file's text. With `skip_known`, a file whose canonical
 * table is already loaded (from the override directory) is ignored. */
static enum bf_rc load_text(struct xform_mappings *m, const char *name,
                            const char *text, size_t len, int skip_known,
                            struct bf_err *err)
{
    cJSON *doc = cJSON_ParseWithLength(text, len);
    const cJSON *canon = NULL, *sources = NULL, *sys = NULL, *tab = NULL;
    struct xform_table *t = NULL;
    enum bf_rc rc = BF_OK;

    if (doc == NULL)
        return bf_err_set(err, BF_E_CONFIG, "mapping %s: invalid JSON", name);
    canon = cJSON_GetObjectItemCaseSensitive(doc, "canonical_table");
    sources = cJSON_GetObjectItemCaseSensitive(doc, "sources");
    if (!cJSON_IsString(canon) || canon->valuestring[0] == '\0' ||
        !cJSON_IsObject(sources)) {
        rc = bf_err_set(err, BF_E_CONFIG,
                        "mapping %s: needs \"canonical_table\" and \"sources\"",
                        name);
        goto out;
    }
    if (skip_known && mappings_has_canonical(m, canon->valuestring))
        goto out;
    cJSON_ArrayForEach(sys, sources) {
        cJSON_ArrayForEach(tab, sys) {
            rc = table_parse(canon->valuestring, sys->string, tab, &t, err);
            if (rc == BF_OK)
                rc = mappings_add(m, t, err);
            if (rc != BF_OK) {
                bf_err_prefix(err, "mapping %s", name);
                goto out;
            }
        }
    }
out:
    cJSON_Delete(doc);
    return rc;
}

/* A mapping file that cannot be read is a deployment mistake: BF_E_CONFIG. */
static enum bf_rc read_file(const char *path, struct buf *b, struct bf_err *err)
{
    enum bf_rc rc = file_read_all(path, b, NULL, err);

    if (rc == BF_E_IO || rc == BF_E_LIMIT)
        return bf_err_reclassify(err, BF_E_CONFIG);
    return rc;
}

static int is_json_name(const char *name)
{
    size_t n = strlen(name);

    return name[0] != '.' && n > 5 && strcmp(name + n - 5, ".json") == 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Load *.json from `dir` in name order (so the result is reproducible). */
static enum bf_rc load_dir(struct xform_mappings *m, const char *dir,
                           struct bf_err *err)
{
    DIR *d = opendir(dir);
    struct dirent *e = NULL;
    char **names = NULL, **nn = NULL;
    size_t n = 0, i;
    struct buf path, text;
    enum bf_rc rc = BF_OK;

    buf_init(&path, 4096);
    buf_init(&text, XFORM_MAX_FILE);
    if (d == NULL)
        return bf_err_set(err, BF_E_CONFIG, "mappings dir %s: %s", dir,
                          strerror(errno));
    for (e = readdir(d); e != NULL; e = readdir(d)) {
        if (!is_json_name(e->d_name))
            continue;
        nn = realloc(names, (n + 1) * sizeof(*names));
        if (nn == NULL) {
            rc = bf_err_set(err, BF_E_NOMEM, "out of memory");
            goto out;
        }
        names = nn;
        names[n] = strdup(e->d_name);
        if (names[n] == NULL) {
            rc = bf_err_set(err, BF_E_NOMEM, "out of memory");
            goto out;
        }
        n++;
    }
    if (n > 0)
        qsort(names, n, sizeof(*names), cmp_str);
    for (i = 0; i < n && rc == BF_OK; i++) {
        buf_reset(&path);
        buf_reset(&text);
        rc = buf_printf(&path, "%s/%s", dir, names[i]);
        if (rc == BF_OK)
            rc = read_file(path.data, &text, err);
        if (rc == BF_OK)
            rc = load_text(m, path.data, text.data, text.len, 0, err);
    }
out:
    for (i = 0; i < n; i++)
        free(names[i]);
    free(names);
    closedir(d);
    buf_cleanup(&path);
    buf_cleanup(&text);
    return rc;
}

enum bf_rc xform_mappings_load(const char *dir, struct xform_mappings **out,
                               struct bf_err *err)
{
    struct xform_mappings *m = calloc(1, sizeof(*m));
    enum bf_rc rc = BF_OK;
    size_t i;

    *out = NULL;
    if (m == NULL)
        return bf_err_set(err, BF_E_NOMEM, "out of memory");
    /* The directory first, so its tables shadow the embedded ones. */
    if (dir != NULL && dir[0] != '\0')
        rc = load_dir(m, dir, err);
    for (i = 0; rc == BF_OK && i < xform_embedded_count; i++)
        rc = load_text(m, xform_embedded[i].name,
                       (const char *)xform_embedded[i].data,
                       xform_embedded[i].len, 1, err);
    if (rc != BF_OK) {
        xform_mappings_free(m);
        return rc;
    }
    *out = m;
    return BF_OK;
}

const struct xform_table *xform_find(const struct xform_mappings *m,
                                     const char *source_system,
                                     const char *source_table)
{
    size_t i;

    for (i = 0; m != NULL && i < m->n; i++) {
        if (strcmp(m->tables[i]->system, source_system) == 0 &&
            strcmp(m->tables[i]->source_table, source_table) == 0)
            return m->tables[i];
    }
    return NULL;
}

const char *xform_table_canonical(const struct xform_table *t)
{
    return t->canonical;
}

/* ---- mapping one record ---- */

static int all_digits(const char *s)
{
    if (*s == '\0')
        return 0;
    for (; *s != '\0'; s++)
        if (!isdigit((unsigned char)*s))
            return 0;
    return 1;
}

/* The value at segments [i..] of `p` below `v`, or NULL when absent. */
static const cJSON *path_walk(const cJSON *v, const struct xform_path *p,
                              size_t i)
{
    for (; i < p->nsegs && v != NULL; i++) {
        if (cJSON_IsObject(v))
            v = cJSON_GetObjectItemCaseSensitive(v, p->segs[i]);
        else if (cJSON_IsArray(v) && all_digits(p->segs[i]) &&
                 strlen(p->segs[i]) < 9)
            v = cJSON_GetArrayItem(v, atoi(p->segs[i]));
        else
            v = NULL;
    }
    return v;
}

/* Parse all of `s` (surrounding spaces allowed) as a finite number. */
static int parse_number(const char *s, double *out)
{
    char *end = NULL;
    double d;

    while (isspace((unsigned char)*s))
        s++;
    if (*s == '\0')
        return -1;
    errno = 0;
    d = strtod(s, &end);
    while (isspace((unsigned char)*end))
        end++;
    if (*end != '\0' || errno != 0 || !isfinite(d))
        return -1;
    /* strtod also takes hex and "inf"/"nan"; only decimal text is data. */
    if (strpbrk(s, "xXnN") != NULL)
        return -1;
    *out = d;
    return 0;
}

/* 1 and *out set when `v` reads as a number (of integral value if
 * `integral`), else 0. */
static int to_number(const cJSON *v, int integral, double *out)
{
    double d = 0;

    if (cJSON_IsNumber(v))
        d = v->valuedouble;
    else if (!cJSON_IsString(v) || parse_number(v->valuestring, &d) != 0)
        return 0;
    if (integral && (d != floor(d) || fabs(d) > XFORM_INT_LIMIT))
        return 0;
    *out = d;
    return 1;
}

/* 1 and *out set when `v` reads as a boolean, else 0. */
static int to_bool(const cJSON *v, int *out)
{
    const char *s = cJSON_IsString(v) ? v->valuestring : NULL;

    if (cJSON_IsBool(v))
        *out = cJSON_IsTrue(v);
    else if (cJSON_IsNumber(v) && (v->valuedouble == 0 || v->valuedouble == 1))
        *out = v->valuedouble == 1;
    else if (s != NULL && (strcasecmp(s, "true") == 0 || strcmp(s, "1") == 0))
        *out = 1;
    else if (s != NULL && (strcasecmp(s, "false") == 0 || strcmp(s, "0") == 0))
        *out = 0;
    else
        return 0;
    return 1;
}

/* A short description of a value for reject reasons (cut, no newlines). */
static void value_brief(const cJSON *v, char out[48])
{
    char *s = cJSON_PrintUnformatted(v);
    size_t i;

    snprintf(out, 48, "%s", s ? s : "?");
    if (s != NULL && strlen(s) > 40)
        memcpy(out + 40, "...", 4);
    for (i = 0; out[i] != '\0'; i++)
        if ((unsigned char)out[i] < 0x20)
            out[i] = ' ';
    free(s);
}

/* A required field has no usable value: the reject reason names the field
 * and either its source path (`v` NULL: absent or null) or the value that
 * could not be coerced. Returns BF_E_TRANSFORM_FAILED: a reject. */
static enum bf_rc required_missing(const struct xform_field *f, const cJSON *v,
                                   char reason[XFORM_REASON_MAX])
{
    char brief[48];

    if (v == NULL) {
        snprintf(reason, XFORM_REASON_MAX,
                 "missing required field '%s' (source path '%s')",
                 f->name, f->alts[0].text);
        return BF_E_TRANSFORM_FAILED;
    }
    value_brief(v, brief);
    snprintf(reason, XFORM_REASON_MAX,
             "required field '%s': cannot coerce %s to %s", f->name,
             brief, type_names[f->type]);
    return BF_E_TRANSFORM_FAILED;
}

static int add_str_or_null(cJSON *o, const char *k, const char *v)
{
    cJSON *item = v ? cJSON_CreateString(v) : cJSON_CreateNull();

    if (item == NULL || !cJSON_AddItemToObject(o, k, item)) {
        cJSON_Delete(item);
        return -1;
    }
    return 0;
}

static int add_context(cJSON *o, const struct xform_ctx *ctx)
{
    if (add_str_or_null(o, "tenant_id", ctx->tenant_id) != 0 ||
        add_str_or_null(o, "source_system", ctx->source_system) != 0 ||
        add_str_or_null(o, "source_table", ctx->source_table) != 0 ||
        add_str_or_null(o, "canonical_table", ctx->canonical_table) != 0 ||
        add_str_or_null(o, "ingestion_timestamp", ctx->ingestion_timestamp) != 0 ||
        add_str_or_null(o, "backfill_id", ctx->backfill_id) != 0)
        return -1;
    return 0;
}

/* Clear the outputs; a record that is not a JSON object is rejected
 * (returns 0, `reason` says why). */
static int record_start(const cJSON *raw, char reason[XFORM_REASON_MAX],
                        int *coercion_nulls)
{
    reason[0] = '\0';
    if (coercion_nulls != NULL)
        *coercion_nulls = 0;
    if (cJSON_IsObject(raw))
        return 1;
    snprintf(reason, XFORM_REASON_MAX, "record is not a JSON object");
    return 0;
}

cJSON *xform_reject_record(const cJSON *raw, const char *reason,
                           const struct xform_ctx *ctx)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *copy = NULL;

    if (o == NULL || add_str_or_null(o, "reason", reason) != 0 ||
        add_context(o, ctx) != 0)
        goto fail;
    copy = cJSON_Duplicate(raw, 1);
    if (copy == NULL || !cJSON_AddItemToObject(o, "record", copy)) {
        cJSON_Delete(copy);
        goto fail;
    }
    return o;
fail:
    cJSON_Delete(o);
    return NULL;
}

/* ---- the record hash's text of a json value: sorted keys, compact ----
 * The serialisation is what Python's json.dumps(rec, sort_keys=True,
 * separators=(",", ":"), ensure_ascii=False) writes for our values (short
 * escapes for \n \r \t \b \f, \u00xx for other controls, UTF-8 as is),
 * so a consumer can recompute and check the hash with standard tools. */

/* cJSON's and json.dumps' escaping are the same (jsonout.h). */
static enum bf_rc put_string(struct buf *b, const char *s)
{
    return jsonout_string(b, s, strlen(s));
}

static int cmp_item(const void *a, const void *b)
{
    const cJSON *x = *(const cJSON *const *)a, *y = *(const cJSON *const *)b;

    return strcmp(x->string, y->string);
}

static enum bf_rc put_value(struct buf *b, const cJSON *v, int depth);

static enum bf_rc put_object(struct buf *b, const cJSON *v, int depth)
{
    const cJSON **items = NULL, *c = NULL;
    size_t n = 0, i, k = 0;
    enum bf_rc rc = BF_OK;

    cJSON_ArrayForEach(c, v)
        n++;
    items = n ? malloc(n * sizeof(*items)) : NULL;
    if (n && items == NULL)
        return BF_E_NOMEM;
    cJSON_ArrayForEach(c, v)
        items[k++] = c;
    if (n > 1)
        qsort(items, n, sizeof(*items), cmp_item);
    rc = buf_append(b, "{", 1);
    for (i = 0; i < n && rc == BF_OK; i++) {
        if (i > 0)
            rc = buf_append(b, ",", 1);
        if (rc == BF_OK)
            rc = put_string(b, items[i]->string);
        if (rc == BF_OK)
            rc = buf_append(b, ":", 1);
        if (rc == BF_OK)
            rc = put_value(b, items[i], depth + 1);
    }
    free(items);
    return rc == BF_OK ? buf_append(b, "}", 1) : rc;
}

static enum bf_rc put_value(struct buf *b, const cJSON *v, int depth)
{
    const cJSON *c = NULL;
    enum bf_rc rc = BF_OK;

    if (depth > 64)
        return BF_E_LIMIT;
    if (cJSON_IsObject(v))
        return put_object(b, v, depth);
    if (cJSON_IsArray(v)) {
        rc = buf_append(b, "[", 1);
        cJSON_ArrayForEach(c, v) {
            if (rc == BF_OK && c != v->child)
                rc = buf_append(b, ",", 1);
            if (rc == BF_OK)
                rc = put_value(b, c, depth + 1);
        }
        return rc == BF_OK ? buf_append(b, "]", 1) : rc;
    }
    if (cJSON_IsString(v))
        return put_string(b, v->valuestring);
    if (cJSON_IsNumber(v))
        return jsonout_number_short(b, v->valuedouble);
    if (cJSON_IsBool(v))
        return buf_append_str(b, cJSON_IsTrue(v) ? "true" : "false");
    return buf_append_str(b, "null");
}

/* ---- the writer (xform_write_record) ----
 * Each field's value text goes straight into the line; where the record
 * hash's text of a value differs from the line's (numbers cJSON prints
 * with fewer digits than the hash rule, json values holding objects, whose
 * keys the hash sorts) it also goes into `alt`. The hash input is then put
 * together from those spans in the table's precomputed key order. */

/* Where a value's text is: in the line, or (hash-only text) in `alt`. */
struct xspan {
    int in_alt;
    size_t off;
    size_t len;
};

struct xform_writer {
    const struct xform_table *t;
    const struct xform_ctx *ctx;
    struct buf line;                      /* the canonical line */
    struct buf alt;                       /* hash-only value texts */
    struct buf hash;                      /* the hash input */
    struct buf tmp;                       /* containers for string fields */
    struct buf ctx_text;                  /* ,"tenant_id":"acme",... */
    struct xspan ctx_member[XFORM_CTX_HASHED]; /* "key":value in ctx_text */
    struct xspan *val;                    /* per field */
    const cJSON **first;                  /* per first segment: the member */
};

void xform_writer_free(struct xform_writer *w)
{
    if (w == NULL)
        return;
    buf_cleanup(&w->line);
    buf_cleanup(&w->alt);
    buf_cleanup(&w->hash);
    buf_cleanup(&w->tmp);
    buf_cleanup(&w->ctx_text);
    free(w->val);
    free(w->first);
    free(w);
}

/* The context members' text, which is the same for every record. */
static enum bf_rc ctx_text_build(struct xform_writer *w)
{
    const struct xform_ctx *c = w->ctx;
    const char *vals[XFORM_NCTX - 1] = {
        c->tenant_id, c->source_system, c->source_table, c->canonical_table,
        c->ingestion_timestamp, c->backfill_id,
    };
    struct buf *b = &w->ctx_text;
    enum bf_rc rc = BF_OK;
    size_t i, start;

    for (i = 0; i < XFORM_NCTX - 1 && rc == BF_OK; i++) {
        rc = buf_append(b, ",", 1);
        start = b->len;
        if (rc == BF_OK)
            rc = jsonout_string(b, ctx_names[i], strlen(ctx_names[i]));
        if (rc == BF_OK)
            rc = buf_append(b, ":", 1);
        if (rc == BF_OK)
            rc = vals[i] != NULL ? jsonout_string(b, vals[i], strlen(vals[i]))
                                 : buf_append(b, "null", 4);
        if (i < XFORM_CTX_HASHED) {
            w->ctx_member[i].off = start;
            w->ctx_member[i].len = b->len - start;
        }
    }
    return rc;
}

enum bf_rc xform_writer_new(const struct xform_table *t,
                            const struct xform_ctx *ctx,
                            struct xform_writer **out, struct bf_err *err)
{
    struct xform_writer *w = calloc(1, sizeof(*w));

    *out = NULL;
    if (w == NULL)
        return bf_err_set(err, BF_E_NOMEM, "out of memory");
    w->t = t;
    w->ctx = ctx;
    buf_init(&w->line, 0);
    buf_init(&w->alt, 0);
    buf_init(&w->hash, 0);
    buf_init(&w->tmp, 0);
    buf_init(&w->ctx_text, 0);
    w->val = calloc(t->nfields, sizeof(*w->val));
    w->first = calloc(t->fast.nfirsts + 1, sizeof(*w->first));
    if (w->val == NULL || w->first == NULL || ctx_text_build(w) != BF_OK) {
        xform_writer_free(w);
        return bf_err_set(err, BF_E_NOMEM, "out of memory");
    }
    *out = w;
    return BF_OK;
}

/* One pass over the record's members: the first member named like each
 * first path segment (what cJSON_GetObjectItemCaseSensitive finds). */
static void index_members(struct xform_writer *w, const cJSON *raw)
{
    const struct xform_fast *f = &w->t->fast;
    const cJSON *c = NULL;
    size_t k;

    memset(w->first, 0, f->nfirsts * sizeof(*w->first));
    for (c = raw->child; c != NULL; c = c->next) {
        if (c->string == NULL)
            break; /* cJSON's lookup stops at a nameless member too */
        k = first_find(f, c->string);
        if (k != SIZE_MAX && w->first[k] == NULL)
            w->first[k] = c;
    }
}

/* to_string() into the line. */
static enum bf_rc put_as_string(struct xform_writer *w, const cJSON *v)
{
    struct buf *b = &w->line;
    enum bf_rc rc = BF_OK;

    if (cJSON_IsString(v))
        return jsonout_string(b, v->valuestring, strlen(v->valuestring));
    if (cJSON_IsBool(v))
        return cJSON_IsTrue(v) ? buf_append(b, "\"true\"", 6)
                               : buf_append(b, "\"false\"", 7);
    if (cJSON_IsNumber(v)) {
        rc = buf_append(b, "\"", 1);
        if (rc == BF_OK)
            rc = jsonout_number_short(b, v->valuedouble);
        return rc == BF_OK ? buf_append(b, "\"", 1) : rc;
    }
    buf_reset(&w->tmp);
    rc = jsonout_value(&w->tmp, v);
    if (rc != BF_OK)
        return BF_E_NOMEM; /* as cJSON_PrintUnformatted's NULL */
    return jsonout_string(b, w->tmp.data, strlen(w->tmp.data));
}

/* A number: cJSON's text in the line, the hash's in `alt` if different. */
static enum bf_rc put_number(struct xform_writer *w, double d,
                             struct xspan *sp)
{
    size_t off = w->line.len, aoff = w->alt.len;
    enum bf_rc rc = jsonout_number_cjson(&w->line, d);

    if (rc == BF_OK)
        rc = jsonout_number_short(&w->alt, d);
    if (rc != BF_OK)
        return rc;
    if (w->alt.len - aoff == w->line.len - off &&
        memcmp(w->alt.data + aoff, w->line.data + off, w->line.len - off) == 0) {
        w->alt.len = aoff;
        return BF_OK;
    }
    sp->in_alt = 1;
    sp->off = aoff;
    sp->len = w->alt.len - aoff;
    return BF_OK;
}

/* Coerce `v` to the field's type into the line. Sets *failed (writing
 * nothing) when it does not fit; *hash_bad when the hash text of a json
 * value cannot be made (nested too deep), which xform_write_record reports
 * after the whole record mapped. */
static enum bf_rc put_coerced(struct xform_writer *w,
                              const struct xform_field *f, const cJSON *v,
                              struct xspan *sp, int *failed, int *hash_bad)
{
    char iso[TIME_ISO_LEN + 1]; /* quoted, no NUL */
    struct bf_err e;
    size_t aoff = w->alt.len;
    int64_t ms = 0;
    double d = 0;
    int b = 0;
    enum bf_rc rc = BF_OK;

    switch (f->type) {
    case XT_JSON:
        rc = jsonout_value(&w->line, v);
        if (rc == BF_OK && put_value(&w->alt, v, 1) != BF_OK)
            *hash_bad = 1;
        sp->in_alt = 1;
        sp->off = aoff;
        sp->len = w->alt.len - aoff;
        return rc;
    case XT_STRING:
        return put_as_string(w, v);
    case XT_INTEGER:
    case XT_NUMBER:
        if (to_number(v, f->type == XT_INTEGER, &d))
            return put_number(w, d, sp);
        break;
    case XT_BOOLEAN:
        if (to_bool(v, &b))
            return b ? buf_append(&w->line, "true", 4)
                     : buf_append(&w->line, "false", 5);
        break;
    case XT_TIMESTAMP:
        if (cJSON_IsString(v) &&
            time_parse_iso8601(v->valuestring, &ms, &e) == BF_OK) {
            time_format_iso8601(ms, iso + 1);
            iso[0] = '"';
            iso[TIME_ISO_LEN] = '"';
            return buf_append(&w->line, iso, TIME_ISO_LEN + 1);
        }
        break;
    }
    *failed = 1;
    return BF_OK;
}

/* map_field() for the fast writer: the member text into the line. The
 * record's members were indexed by index_members(), so each path starts at
 * its first segment's member. */
static enum bf_rc write_field(struct xform_writer *w, size_t i,
                              char reason[XFORM_REASON_MAX], int *nulls,
                              int *hash_bad)
{
    const struct xform_field *f = &w->t->fields[i];
    const struct xform_fast *fa = &w->t->fast;
    struct xspan *sp = &w->val[i];
    const cJSON *v = NULL;
    size_t a, off;
    int failed = 0;
    enum bf_rc rc = BF_OK;

    for (a = 0; a < f->nalts && (v == NULL || cJSON_IsNull(v)); a++)
        v = path_walk(w->first[f->alts[a].first], &f->alts[a], 1);
    if (i > 0)
        rc = buf_append(&w->line, ",", 1);
    if (rc == BF_OK)
        rc = buf_append(&w->line, fa->keys.data + fa->key_off[i],
                        fa->key_len[i]);
    if (rc != BF_OK)
        return rc;
    off = w->line.len;
    sp->in_alt = 0;
    if (v == NULL || cJSON_IsNull(v))
        failed = -1; /* absent */
    else
        rc = put_coerced(w, f, v, sp, &failed, hash_bad);
    if (rc != BF_OK)
        return rc;
    if (failed != 0 && f->required)
        return required_missing(f, failed > 0 ? v : NULL, reason);
    if (failed > 0)
        (*nulls)++;
    if (failed != 0)
        rc = buf_append(&w->line, "null", 4);
    if (!sp->in_alt) {
        sp->off = off;
        sp->len = w->line.len - off;
    }
    return rc;
}

static enum bf_rc hash_append(struct xform_writer *w, const struct xspan *sp,
                              const struct buf *src)
{
    return buf_append(&w->hash, src->data + sp->off, sp->len);
}

/* The record hash of the record in the line, from the spans: SHA-256 of
 * the record's members but ingestion_timestamp, backfill_id and
 * record_hash, sorted by name, compact (include/transform/xform.h). */
static enum bf_rc hash_line(struct xform_writer *w, char out[65])
{
    const struct xform_table *t = w->t;
    const struct xform_fast *fa = &t->fast;
    const struct xspan *sp = NULL;
    enum bf_rc rc;
    size_t i, k;

    buf_reset(&w->hash);
    rc = buf_reserve(&w->hash, w->line.len + w->alt.len);
    if (rc == BF_OK)
        rc = buf_append(&w->hash, "{", 1);
    for (i = 0; i < fa->norder && rc == BF_OK; i++) {
        k = fa->order[i];
        if (i > 0)
            rc = buf_append(&w->hash, ",", 1);
        if (rc != BF_OK)
            break;
        if (k >= t->nfields) {
            rc = hash_append(w, &w->ctx_member[k - t->nfields], &w->ctx_text);
            continue;
        }
        sp = &w->val[k];
        rc = buf_append(&w->hash, fa->keys.data + fa->key_off[k],
                        fa->key_len[k]);
        if (rc == BF_OK)
            rc = hash_append(w, sp, sp->in_alt ? &w->alt : &w->line);
    }
    if (rc == BF_OK)
        rc = buf_append(&w->hash, "}", 1);
    if (rc == BF_OK)
        hex_sha256(w->hash.data, w->hash.len, out);
    return rc;
}

enum bf_rc xform_write_record(struct xform_writer *w, const cJSON *raw,
                              const char **line, size_t *len,
                              char reason[XFORM_REASON_MAX],
                              int *coercion_nulls, struct bf_err *err)
{
    char hash[65];
    int nulls = 0, hash_bad = 0;
    size_t i;
    enum bf_rc rc = BF_OK;

    *line = NULL;
    *len = 0;
    if (!record_start(raw, reason, coercion_nulls))
        return BF_OK;
    index_members(w, raw);
    buf_reset(&w->line);
    buf_reset(&w->alt);
    rc = buf_append(&w->line, "{", 1);
    for (i = 0; i < w->t->nfields && rc == BF_OK; i++)
        rc = write_field(w, i, reason, &nulls, &hash_bad);
    if (rc == BF_E_TRANSFORM_FAILED)
        return BF_OK; /* a reject, with `reason` */
    /* A json value nested too deep for the hash is reported as the
     * record's mapping failing, as every other failure here. */
    if (rc == BF_OK && hash_bad)
        rc = BF_E_LIMIT;
    if (rc == BF_OK)
        rc = buf_append(&w->line, w->ctx_text.data, w->ctx_text.len);
    if (rc == BF_OK)
        rc = hash_line(w, hash);
    if (rc == BF_OK)
        rc = buf_append(&w->line, ",\"record_hash\":\"", 16);
    if (rc == BF_OK)
        rc = buf_append(&w->line, hash, 64);
    if (rc == BF_OK)
        rc = buf_append(&w->line, "\"}", 2);
    if (rc != BF_OK) {
        reason[0] = '\0';
        return bf_err_set(err, BF_E_NOMEM, "out of memory mapping a record");
    }
    if (coercion_nulls != NULL)
        *coercion_nulls = nulls;
    *line = w->line.data;
    *len = w->line.len;
    return BF_OK;
}
