/* xform_oracle.c -- the reference canonical transform, for tests only.
 *
 * The worker maps records with one path, the writer of
 * src/transform/xform.c, which streams each canonical line without building
 * a tree. This file is the independent reading of the same rules (the
 * mapping file format and the coercion rules at the top of xform.c and in
 * src/README.md, "Mapping files and coercion rules"): it loads the same
 * embedded mapping files (and an override directory) itself, builds each
 * canonical record as a cJSON tree and hashes it by sorting the tree's keys.
 * Tests and fuzzers compare the writer's line with
 * cJSON_PrintUnformatted() of this tree byte for byte, so a change to either
 * side that is not a change to the rules shows as a difference.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "xform_oracle.h"
#include "util/buf.h"
#include "util/fileio.h"
#include "util/hex.h"
#include "util/jsonout.h"
#include "util/timeutil.h"

/* The embedded mapping files, generated into the library by
 * src/transform/module.mk: the oracle reads the same texts as the worker. */
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

struct xoracle_path {
    char *text;               /* as written, for reasons */
    char *segs[XFORM_MAX_SEGS];
    size_t nsegs;
};

struct xoracle_field {
    char *name;
    struct xoracle_path alts[XFORM_MAX_ALTS];
    size_t nalts;
    enum xform_type type;
    int required;
};

struct xoracle_table {
    char *canonical;
    char *system;
    char *source_table;
    struct xoracle_field *fields;
    size_t nfields;
};

struct xoracle_mappings {
    struct xoracle_table **tables;
    size_t n;
};

static const char *const type_names[] = {
    [XT_STRING] = "string",   [XT_INTEGER] = "integer",
    [XT_NUMBER] = "number",   [XT_BOOLEAN] = "boolean",
    [XT_TIMESTAMP] = "timestamp", [XT_JSON] = "json",
};

/* ---- loading ---- */

static void path_cleanup(struct xoracle_path *p)
{
    size_t i;

    for (i = 0; i < p->nsegs; i++)
        free(p->segs[i]);
    free(p->text);
    memset(p, 0, sizeof(*p));
}

static void table_free(struct xoracle_table *t)
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
    free(t->canonical);
    free(t->system);
    free(t->source_table);
    free(t);
}

void xoracle_free(struct xoracle_mappings *m)
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

static enum bf_rc path_parse(const char *text, struct xoracle_path *p,
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
static enum bf_rc field_parse(const cJSON *spec, struct xoracle_field *f,
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
                              const cJSON *spec, struct xoracle_table **out,
                              struct bf_err *err)
{
    struct xoracle_table *t = NULL;
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
    *out = t;
    return BF_OK;
nomem:
    rc = bf_err_set(err, BF_E_NOMEM, "out of memory");
out:
    table_free(t);
    return rc;
}

static enum bf_rc mappings_add(struct xoracle_mappings *m, struct xoracle_table *t,
                               struct bf_err *err)
{
    struct xoracle_table **nt = realloc(m->tables, (m->n + 1) * sizeof(*nt));

    if (nt == NULL) {
        table_free(t);
        return bf_err_set(err, BF_E_NOMEM, "out of memory");
    }
    m->tables = nt;
    m->tables[m->n++] = t;
    return BF_OK;
}

static int mappings_has_canonical(const struct xoracle_mappings *m,
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
static enum bf_rc load_text(struct xoracle_mappings *m, const char *name,
                            const char *text, size_t len, int skip_known,
                            struct bf_err *err)
{
    cJSON *doc = cJSON_ParseWithLength(text, len);
    const cJSON *canon = NULL, *sources = NULL, *sys = NULL, *tab = NULL;
    struct xoracle_table *t = NULL;
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
static enum bf_rc load_dir(struct xoracle_mappings *m, const char *dir,
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

enum bf_rc xoracle_load(const char *dir, struct xoracle_mappings **out,
                               struct bf_err *err)
{
    struct xoracle_mappings *m = calloc(1, sizeof(*m));
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
        xoracle_free(m);
        return rc;
    }
    *out = m;
    return BF_OK;
}

const struct xoracle_table *xoracle_find(const struct xoracle_mappings *m,
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
static const cJSON *path_walk(const cJSON *v, const struct xoracle_path *p,
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

/* The value at `p` in `raw`, or NULL when absent. */
static const cJSON *path_get(const cJSON *raw, const struct xoracle_path *p)
{
    return path_walk(raw, p, 0);
}

/* Shortest text that reads back as `d` (integers without a fraction). */
static void number_text(double d, char out[32])
{
    if (d == floor(d) && fabs(d) <= XFORM_INT_LIMIT) {
        snprintf(out, 32, "%.0f", d);
        return;
    }
    snprintf(out, 32, "%.15g", d);
    if (strtod(out, NULL) != d)
        snprintf(out, 32, "%.17g", d);
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

static cJSON *to_string(const cJSON *v)
{
    char tmp[32];
    char *s = NULL;
    cJSON *r = NULL;

    if (cJSON_IsString(v))
        return cJSON_CreateString(v->valuestring);
    if (cJSON_IsBool(v))
        return cJSON_CreateString(cJSON_IsTrue(v) ? "true" : "false");
    if (cJSON_IsNumber(v)) {
        number_text(v->valuedouble, tmp);
        return cJSON_CreateString(tmp);
    }
    s = cJSON_PrintUnformatted(v);
    r = s ? cJSON_CreateString(s) : NULL;
    free(s);
    return r;
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

/* Coerce `v` to `type`. Returns the new item, or NULL with *failed = 1 when
 * the value does not fit (or *failed = 0 on out of memory). */
static cJSON *coerce(const cJSON *v, enum xform_type type, int *failed)
{
    char iso[TIME_ISO_LEN];
    double d = 0;
    int64_t ms = 0;
    int b = 0;
    struct bf_err e;

    *failed = 0;
    switch (type) {
    case XT_JSON:
        return cJSON_Duplicate(v, 1);
    case XT_STRING:
        return to_string(v);
    case XT_INTEGER:
    case XT_NUMBER:
        if (to_number(v, type == XT_INTEGER, &d))
            return cJSON_CreateNumber(d);
        break;
    case XT_BOOLEAN:
        if (to_bool(v, &b))
            return cJSON_CreateBool(b);
        break;
    case XT_TIMESTAMP:
        if (cJSON_IsString(v) &&
            time_parse_iso8601(v->valuestring, &ms, &e) == BF_OK) {
            time_format_iso8601(ms, iso);
            return cJSON_CreateString(iso);
        }
        break;
    }
    *failed = 1;
    return NULL;
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
 * could not be coerced. */
static enum bf_rc required_missing(const struct xoracle_field *f, const cJSON *v,
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

/* Map one field into `rec`. Returns BF_OK (mapped, or null after a failed
 * optional coercion), BF_E_TRANSFORM_FAILED with `reason` for a reject. */
static enum bf_rc map_field(const struct xoracle_field *f, const cJSON *raw,
                            cJSON *rec, char reason[XFORM_REASON_MAX],
                            int *nulls)
{
    const cJSON *v = NULL;
    cJSON *item = NULL;
    size_t i;
    int failed = 0;

    for (i = 0; i < f->nalts && (v == NULL || cJSON_IsNull(v)); i++)
        v = path_get(raw, &f->alts[i]);
    if (v != NULL && !cJSON_IsNull(v)) {
        item = coerce(v, f->type, &failed);
        if (item == NULL && !failed)
            return BF_E_NOMEM;
    }
    if (item == NULL && f->required)
        return required_missing(f, failed ? v : NULL, reason);
    if (item == NULL && failed)
        (*nulls)++;
    if (item == NULL)
        item = cJSON_CreateNull();
    if (item == NULL || !cJSON_AddItemToObject(rec, f->name, item)) {
        cJSON_Delete(item);
        return BF_E_NOMEM;
    }
    return BF_OK;
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

/* First: clear the outputs; a record that is not
 * a JSON object is rejected (returns 0, `reason` says why). */
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

enum bf_rc xoracle_map_record(const struct xoracle_table *t, const cJSON *raw,
                            const struct xform_ctx *ctx, cJSON **out,
                            char reason[XFORM_REASON_MAX],
                            int *coercion_nulls, struct bf_err *err)
{
    cJSON *rec = NULL;
    char hash[65];
    int nulls = 0;
    size_t i;
    enum bf_rc rc = BF_OK;

    *out = NULL;
    if (!record_start(raw, reason, coercion_nulls))
        return BF_OK;
    rec = cJSON_CreateObject();
    if (rec == NULL)
        return bf_err_set(err, BF_E_NOMEM, "out of memory");
    for (i = 0; i < t->nfields && rc == BF_OK; i++)
        rc = map_field(&t->fields[i], raw, rec, reason, &nulls);
    if (rc == BF_E_TRANSFORM_FAILED) {
        cJSON_Delete(rec);
        return BF_OK; /* a reject, with `reason` */
    }
    if (rc == BF_OK && add_context(rec, ctx) != 0)
        rc = BF_E_NOMEM;
    if (rc == BF_OK)
        rc = xoracle_record_hash(rec, hash, err);
    if (rc == BF_OK && cJSON_AddStringToObject(rec, "record_hash", hash) == NULL)
        rc = BF_E_NOMEM;
    if (rc != BF_OK) {
        cJSON_Delete(rec);
        reason[0] = '\0';
        return bf_err_set(err, BF_E_NOMEM, "out of memory mapping a record");
    }
    if (coercion_nulls != NULL)
        *coercion_nulls = nulls;
    *out = rec;
    return BF_OK;
}

/* ---- the record hash: sorted-key compact JSON, SHA-256 ----
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

static int hash_skipped(const char *k)
{
    return strcmp(k, "ingestion_timestamp") == 0 ||
           strcmp(k, "backfill_id") == 0 || strcmp(k, "record_hash") == 0;
}

static enum bf_rc put_value(struct buf *b, const cJSON *v, int top, int depth);

static enum bf_rc put_object(struct buf *b, const cJSON *v, int top, int depth)
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
    for (i = 0, k = 0; i < n && rc == BF_OK; i++) {
        if (top && hash_skipped(items[i]->string))
            continue;
        if (k++ > 0)
            rc = buf_append(b, ",", 1);
        if (rc == BF_OK)
            rc = put_string(b, items[i]->string);
        if (rc == BF_OK)
            rc = buf_append(b, ":", 1);
        if (rc == BF_OK)
            rc = put_value(b, items[i], 0, depth + 1);
    }
    free(items);
    return rc == BF_OK ? buf_append(b, "}", 1) : rc;
}

static enum bf_rc put_value(struct buf *b, const cJSON *v, int top, int depth)
{
    const cJSON *c = NULL;
    char num[32];
    enum bf_rc rc = BF_OK;

    if (depth > 64)
        return BF_E_LIMIT;
    if (cJSON_IsObject(v))
        return put_object(b, v, top, depth);
    if (cJSON_IsArray(v)) {
        rc = buf_append(b, "[", 1);
        cJSON_ArrayForEach(c, v) {
            if (rc == BF_OK && c != v->child)
                rc = buf_append(b, ",", 1);
            if (rc == BF_OK)
                rc = put_value(b, c, 0, depth + 1);
        }
        return rc == BF_OK ? buf_append(b, "]", 1) : rc;
    }
    if (cJSON_IsString(v))
        return put_string(b, v->valuestring);
    if (cJSON_IsNumber(v)) {
        number_text(v->valuedouble, num);
        return buf_append_str(b, num);
    }
    if (cJSON_IsBool(v))
        return buf_append_str(b, cJSON_IsTrue(v) ? "true" : "false");
    return buf_append_str(b, "null");
}

enum bf_rc xoracle_record_hash(const cJSON *rec, char out[65], struct bf_err *err)
{
    struct buf b;
    enum bf_rc rc;

    buf_init(&b, 0);
    rc = put_value(&b, rec, 1, 0);
    if (rc == BF_OK)
        hex_sha256(b.data, b.len, out);
    buf_cleanup(&b);
    if (rc != BF_OK)
        return bf_err_set(err, rc, "cannot hash a record");
    return BF_OK;
}
