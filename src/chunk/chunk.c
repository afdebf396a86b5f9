/* chunk.c -- one chunk end to end: open the source and the outputs; for
 * each page, write raw, map, write canonical; finish.
 *
 * Owns the order of the steps (tenant, secret, source, outputs, manifests
 * last), the per-tenant request-rate limiters that all worker slots share,
 * and the task result. Each page is written raw and mapped to canonical in
 * one pass (memory bounded by a page, nothing read twice); the raw manifest
 * is still finished before the canonical one. Which source and which
 * transform is decided once, when the runner is made: the source
 * (source_open: ConnectWise, or the ingestion Lambda, whose pages are the
 * raw chunk it wrote, read back) and either the built-in mapping or a
 * transform backend (the canonical-transform Lambda) run after ingest.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "chunk/chunk.h"
#include "sink/chunkout.h"
#include "sink/sink.h"
#include "source/source.h"
#include "tenant/tenant.h"
#include "transform/jsonin.h"
#include "transform/xform.h"
#include "transform/xform_backend.h"
#include "util/jsonstrict.h"
#include "util/log.h"
#include "util/timeutil.h"

#define CHUNK_DIR_MAX 768

struct rl_entry {
    char tenant[65];
    struct source_ratelimit *rl;
};

struct chunk_runner {
    struct bf_config cfg;
    struct awsenv *aws;             /* reference, may be NULL */
    struct tenant_store *tenants;
    struct xform_mappings *maps;    /* NULL with a transform backend */
    struct xform_backend *xback;    /* NULL with the built-in mapping */
    enum source_mode source_mode;
    int source_writes_raw;          /* source_writes_raw(source_mode) */
    struct chunk_options opts;
    pthread_mutex_t mu;             /* guards rls */
    struct rl_entry *rls;
    size_t nrls;
    size_t caprls;
};

/* The state of one run; lives on chunk_run()'s stack. */
struct chunk_job {
    struct chunk_runner *r;
    const struct task_input *in;
    struct task_cancel *cancel;
    const struct catalog_endpoint *ep;
    const struct xform_table *map;  /* NULL: no built-in transform */
    struct tenant_info tenant;
    struct sink *sink;
    int own_sink;                   /* 0: chunk_options.sink, borrowed */
    struct chunkout *raw;
    struct chunkout *canon;
    struct xform_ctx xctx;
    struct xform_writer *xw;        /* canonical lines; NULL without map */
    struct jsonin *jin;             /* raw record parser; NULL without map */
    char ingest_ts[TIME_ISO_LEN];
    char raw_dir[CHUNK_DIR_MAX];
    char canon_dir[CHUNK_DIR_MAX];
    long pages;
    long long ingested;
    long long coercion_nulls;
    long long text_replaced;        /* U+FFFD replacements, all records */
    struct buf fixed;               /* a record's repaired copy, reused */
    struct chunkout_summary raw_sum;
    struct chunkout_summary canon_sum;
    int have_raw_sum;
    int have_canon_sum;
};

static int is_lambda(const char *mode)
{
    return strcmp(mode, "lambda") == 0;
}

/* ---- the runner ---- */

/* Whether the configured output or steps are AWS services (the tenant
 * store checks its own). */
static int needs_aws(const struct bf_config *cfg)
{
    return strncmp(cfg->output, "s3://", 5) == 0 || is_lambda(cfg->ingest) ||
           is_lambda(cfg->transform);
}

enum bf_rc chunk_runner_new(const struct bf_config *cfg, struct awsenv *aws,
                            struct chunk_runner **out, struct bf_err *err)
{
    struct chunk_runner *r = calloc(1, sizeof(*r));
    enum bf_rc rc = BF_OK;

    *out = NULL;
    if (aws == NULL && needs_aws(cfg)) {
        free(r);
        return bf_err_set(err, BF_E_CONFIG,
                          "BACKFILL_OUTPUT=s3:// or a Lambda step needs AWS "
                          "settings (AWS_REGION and credentials)");
    }
    if (r == NULL)
        return bf_err_set(err, BF_E_NOMEM, "chunk runner: out of memory");
    r->cfg = *cfg;
    pthread_mutex_init(&r->mu, NULL);
    if (aws != NULL)
        r->aws = awsenv_acquire(aws);
    r->source_mode = is_lambda(cfg->ingest) ? SOURCE_LAMBDA
                                            : SOURCE_CONNECTWISE;
    r->source_writes_raw = source_writes_raw(r->source_mode);
    rc = tenant_store_new(cfg, aws, &r->tenants, err);
    if (rc == BF_OK && is_lambda(cfg->transform)) {
        struct xform_lambda_params xp = {0};

        xp.aws = aws;
        xp.env = cfg->env;
        xp.invocation = cfg->transform_invocation;
        rc = xform_lambda_new(&xp, &r->xback, err);
    } else if (rc == BF_OK) {
        rc = xform_mappings_load(cfg->mappings_dir, &r->maps, err);
    }
    if (rc != BF_OK) {
        chunk_runner_free(r);
        return rc;
    }
    *out = r;
    return BF_OK;
}

void chunk_runner_free(struct chunk_runner *r)
{
    size_t i;

    if (r == NULL)
        return;
    for (i = 0; i < r->nrls; i++)
        source_ratelimit_free(r->rls[i].rl);
    free(r->rls);
    xform_mappings_free(r->maps);
    xform_backend_free(r->xback);
    tenant_store_free(r->tenants);
    awsenv_release(r->aws);
    pthread_mutex_destroy(&r->mu);
    free(r);
}

void chunk_runner_set_options(struct chunk_runner *r,
                              const struct chunk_options *o)
{
    r->opts = *o;
}

/* The tenant's limiter, made on first use. Limiters live as long as the
 * runner, so the pointer stays valid without holding the lock. */
static struct source_ratelimit *tenant_ratelimit(struct chunk_runner *r,
                                                 const char *tenant)
{
    struct source_ratelimit *rl = NULL;
    size_t i;

    pthread_mutex_lock(&r->mu);
    for (i = 0; i < r->nrls && rl == NULL; i++) {
        if (strcmp(r->rls[i].tenant, tenant) == 0)
            rl = r->rls[i].rl;
    }
    if (rl == NULL && r->nrls == r->caprls) {
        size_t ncap = r->caprls ? r->caprls * 2 : 8;
        struct rl_entry *n = realloc(r->rls, ncap * sizeof(*n));

        if (n != NULL) {
            r->rls = n;
            r->caprls = ncap;
        }
    }
    if (rl == NULL && r->nrls < r->caprls) {
        double rps = r->cfg.source_rps;

        rl = source_ratelimit_new(rps, rps < 1.0 ? 1.0 : rps);
        if (rl != NULL) {
            snprintf(r->rls[r->nrls].tenant, sizeof(r->rls[r->nrls].tenant),
                     "%s", tenant);
            r->rls[r->nrls++].rl = rl;
        }
    }
    pthread_mutex_unlock(&r->mu);
    return rl; /* NULL (out of memory) only means "not limited" */
}

/* ---- manifests and record handling ---- */

static cJSON *manifest_extra(const struct chunk_job *j, const char *kind)
{
    const struct task_input *in = j->in;
    cJSON *o = cJSON_CreateObject();

    if (o == NULL)
        return NULL;
    cJSON_AddStringToObject(o, "kind", kind);
    cJSON_AddStringToObject(o, "tenant_id", in->tenant_id);
    cJSON_AddStringToObject(o, "service", in->service);
    cJSON_AddStringToObject(o, "endpoint", in->table_name);
    cJSON_AddStringToObject(o, "canonical_table", j->ep->canonical_table);
    cJSON_AddStringToObject(o, "start_date", in->start_date);
    cJSON_AddStringToObject(o, "end_date", in->end_date);
    cJSON_AddStringToObject(o, "date_field", j->ep->date_field);
    cJSON_AddNumberToObject(o, "chunk_number", in->chunk_number);
    cJSON_AddNumberToObject(o, "total_chunks", in->total_chunks);
    cJSON_AddStringToObject(o, "backfill_id", in->backfill_id);
    cJSON_AddStringToObject(o, "worker", j->r->cfg.worker_name);
    cJSON_AddNumberToObject(o, "attempt", in->attempt);
    if (j->pages >= 0)
        cJSON_AddNumberToObject(o, "pages", (double)j->pages);
    if (strcmp(kind, "canonical") == 0)
        cJSON_AddStringToObject(o, "ingestion_timestamp", j->ingest_ts);
    return o;
}

/* A record's bytes may hold newlines only as insignificant whitespace (the
 * scanner refuses raw control characters inside strings), and JSON Lines
 * needs one line per record: turn them into spaces, on a copy. */
static enum bf_rc write_raw(struct chunk_job *j, const char *p, size_t n,
                            struct bf_err *err)
{
    char *copy = NULL;
    enum bf_rc rc = BF_OK;
    size_t i;

    if (memchr(p, '\n', n) == NULL && memchr(p, '\r', n) == NULL)
        return chunkout_write(j->raw, CHUNKOUT_DATA, p, n, err);
    copy = malloc(n);
    if (copy == NULL)
        return bf_err_set(err, BF_E_NOMEM, "raw record: out of memory");
    for (i = 0; i < n; i++)
        copy[i] = p[i] == '\n' || p[i] == '\r' ? ' ' : p[i];
    rc = chunkout_write(j->raw, CHUNKOUT_DATA, copy, n, err);
    free(copy);
    return rc;
}

/* Map one raw record into the canonical data part or the rejects part. The
 * raw record is parsed into jsonin's reused arena and the writer serialises
 * the canonical line into its own reused buffer: no malloc per record
 * unless the record is unusual (cJSON parses it) or rejected. */
/* The strict check of one record (tests/README.md, "Input hardening":
 * malformed records). A duplicate member or bad text in "id" makes it a reject
 * (`reason` set); bad text elsewhere is replaced by U+FFFD and counted, and
 * *p, *n then point at the repaired copy. Text the scan finds no JSON in
 * (cJSON reads some laxer forms, "2." or control bytes) is left to the
 * parsers; only a record neither can read fails the chunk. */
static enum bf_rc check_record(struct chunk_job *j, const char **p, size_t *n,
                               char *reason, size_t cap, struct bf_err *err)
{
    struct json_strict_report rep;
    enum json_strict_kind k;

    buf_reset(&j->fixed);
    k = json_strict_scan(*p, *n, JSON_STRICT_REPAIR, &j->fixed, &rep);
    if (k == JSON_STRICT_NOMEM)
        return bf_err_set(err, BF_E_NOMEM, "record check: out of memory");
    if (k != JSON_STRICT_OK)
        return BF_OK; /* not strict JSON: cJSON's reading decides, as before */
    if (rep.replaced > 0) {
        *p = j->fixed.data;
        *n = j->fixed.len;
    }
    if (rep.duplicate[0] != '\0')
        snprintf(reason, cap, "duplicate key: %s", rep.duplicate);
    else if (rep.replaced_id)
        snprintf(reason, cap, "id: invalid text (lone surrogate, invalid "
                 "UTF-8 or NUL)");
    else
        j->text_replaced += rep.replaced;
    return BF_OK;
}

static enum bf_rc transform_record(struct chunk_job *j, const char *p, size_t n,
                                   struct bf_err *err)
{
    const cJSON *raw = NULL;
    cJSON *owned = NULL, *rej = NULL;
    const char *line = NULL;
    size_t len = 0;
    char reason[XFORM_REASON_MAX] = "";
    int nulls = 0;
    enum bf_rc rc = check_record(j, &p, &n, reason, sizeof reason, err);

    if (rc != BF_OK)
        return rc;
    raw = jsonin_parse(j->jin, p, n);
    if (raw == NULL) /* not the common subset: cJSON decides */
        raw = owned = cJSON_ParseWithLength(p, n);
    if (raw == NULL)
        return bf_err_set(err, BF_E_TRANSFORM_FAILED,
                          "a raw record could not be parsed");
    if (reason[0] == '\0')
        rc = xform_write_record(j->xw, raw, &line, &len, reason, &nulls, err);
    if (rc != BF_OK)
        goto out;
    j->coercion_nulls += nulls;
    if (line != NULL) {
        rc = chunkout_write(j->canon, CHUNKOUT_DATA, line, len, err);
    } else {
        rej = xform_reject_record(raw, reason, &j->xctx);
        rc = rej != NULL
            ? chunkout_write_json(j->canon, CHUNKOUT_REJECTS, rej, err)
            : bf_err_set(err, BF_E_NOMEM, "reject record: out of memory");
    }
out:
    cJSON_Delete(rej);
    cJSON_Delete(owned);
    return rc;
}

static enum bf_rc check_cancel(const struct chunk_job *j, struct bf_err *err)
{
    enum bf_rc why;

    if (j->cancel == NULL || !task_cancelled(j->cancel))
        return BF_OK;
    why = task_cancel_reason(j->cancel);
    if (why != BF_E_WORKER_SHUTDOWN)
        why = BF_E_CANCELLED;
    return bf_err_set(err, why, "cancelled after page %ld", j->pages);
}

static enum bf_rc open_outputs(struct chunk_job *j, int raw, struct bf_err *err)
{
    struct chunkout_options o = {0};
    enum bf_rc rc = BF_OK;

    o.part_max_bytes = j->r->opts.part_max_bytes;
    /* BACKFILL_GZIP_LEVEL (README "Configuration"), unless a test set
     * the runner's own. */
    o.gzip_level = j->r->opts.gzip_level > 0 ? j->r->opts.gzip_level : j->r->cfg.gzip_level;
    if (raw) {
        o.dir = j->raw_dir;
        rc = chunkout_open(j->sink, &o, &j->raw, err);
    }
    if (rc == BF_OK && j->map != NULL) {
        o.dir = j->canon_dir;
        rc = chunkout_open(j->sink, &o, &j->canon, err);
    }
    return rc;
}

static void abort_outputs(struct chunk_job *j)
{
    chunkout_abort(j->raw);
    chunkout_abort(j->canon);
    j->raw = NULL;
    j->canon = NULL;
}

/* Finish one writer: its manifest goes last. Frees the writer. */
static enum bf_rc finish_output(struct chunk_job *j, struct chunkout **c,
                                const char *kind, struct chunkout_summary *sum,
                                int *have, struct bf_err *err)
{
    cJSON *extra = manifest_extra(j, kind);
    enum bf_rc rc = BF_OK;

    if (extra == NULL) {
        chunkout_abort(*c);
        *c = NULL;
        return bf_err_set(err, BF_E_NOMEM, "manifest: out of memory");
    }
    rc = chunkout_finish(*c, extra, sum, err);
    *c = NULL;
    cJSON_Delete(extra);
    if (rc == BF_OK)
        *have = 1;
    return rc;
}

/* ---- ingest ---- */

static void source_params_fill(struct chunk_job *j,
                               const struct tenant_secret *sec,
                               struct task_result *out,
                               struct source_open_params *p)
{
    struct chunk_runner *r = j->r;

    memset(p, 0, sizeof(*p));
    p->mode = r->source_mode;
    p->in = j->in;
    p->ep = j->ep;
    p->cancel = j->cancel;
    p->opts = r->opts.source;
    p->secret = sec->text;
    p->secret_len = sec->len;
    p->secret_name = j->tenant.secret_name;
    p->ratelimit = tenant_ratelimit(r, j->in->tenant_id);
    p->ca_bundle = r->cfg.ca_bundle[0] != '\0' ? r->cfg.ca_bundle : NULL;
    p->aws = r->aws;
    p->env = r->cfg.env;
    p->sink = j->sink;
    p->raw_dir = j->raw_dir;
    p->want_records = j->map != NULL;
    p->report = out;
}

/* Each record raw (unless the source wrote the raw chunk itself: then no
 * raw writer is open) and mapped (unless a backend transforms later). */
static enum bf_rc write_page(struct chunk_job *j, const struct source_page *pg,
                             struct bf_err *err)
{
    enum bf_rc rc = BF_OK;
    size_t i;

    for (i = 0; i < pg->count && rc == BF_OK; i++) {
        if (j->raw != NULL)
            rc = write_raw(j, pg->records[i].json, pg->records[i].len, err);
        if (rc == BF_OK && j->map != NULL)
            rc = transform_record(j, pg->records[i].json, pg->records[i].len,
                                  err);
    }
    j->ingested += (long long)i;
    return rc;
}

/* One pass: open the source and the outputs; for each page, write raw,
 * map, write canonical; finish (raw manifest, then canonical). */
static enum bf_rc ingest_once(struct chunk_job *j,
                              const struct tenant_secret *sec,
                              struct task_result *out, struct bf_err *err)
{
    struct source_open_params p;
    struct source *src = NULL;
    const struct source_page *pg = NULL;
    int writes_raw = j->r->source_writes_raw;
    enum bf_rc rc = BF_OK;

    j->pages = 0;
    j->ingested = 0;
    j->coercion_nulls = 0;
    j->text_replaced = 0;
    source_params_fill(j, sec, out, &p);
    rc = source_open(&p, &src, err);
    if (writes_raw) /* the pages its writer reported (or -1) */
        j->pages = out->pages;
    if (rc == BF_OK)
        rc = open_outputs(j, !writes_raw, err);
    while (rc == BF_OK) {
        rc = source_next_page(src, &pg, err);
        if (rc != BF_OK || pg == NULL)
            break;
        if (!writes_raw)
            j->pages++;
        rc = write_page(j, pg, err);
        if (rc == BF_OK)
            rc = check_cancel(j, err);
    }
    source_close(src);
    if (rc == BF_OK && j->raw != NULL)
        rc = finish_output(j, &j->raw, "raw", &j->raw_sum, &j->have_raw_sum,
                           err);
    if (rc == BF_OK && j->canon != NULL)
        rc = finish_output(j, &j->canon, "canonical", &j->canon_sum,
                           &j->have_canon_sum, err);
    abort_outputs(j);
    return rc;
}

/* Ingest, with the tenant's secret when the source reads one. A 401/403
 * may be a rotated secret: read it again once, bypassing the cache, and
 * start the chunk over before giving up. */
static enum bf_rc ingest(struct chunk_job *j, struct task_result *out,
                         struct bf_err *err)
{
    source_secret_check_fn check = source_secret_check(j->r->source_mode);
    struct tenant_secret sec;
    enum bf_rc rc = BF_OK;
    int attempt;

    for (attempt = 0; attempt < 2; attempt++) {
        memset(&sec, 0, sizeof(sec));
        if (check != NULL)
            rc = tenant_secret_get(j->r->tenants, &j->tenant, attempt, check,
                                   &sec, err);
        if (rc == BF_OK)
            rc = ingest_once(j, &sec, out, err);
        tenant_secret_wipe(&sec);
        if (rc != BF_E_SOURCE_AUTH_FAILED || check == NULL || attempt == 1)
            break;
        log_msg(LOG_WARN, "source_auth_retry",
                "%s: credentials refused, re-reading the secret once",
                j->in->tenant_id);
        bf_err_init(err);
    }
    return rc;
}

/* ---- the run ---- */

static enum bf_rc job_prepare(struct chunk_job *j, struct bf_err *err)
{
    const struct task_input *in = j->in;
    char a[TIME_ISO_LEN], b[TIME_ISO_LEN];
    struct sink_options so = {0};
    enum bf_rc rc = BF_OK;

    j->ep = catalog_find(in->service, in->table_name);
    if (j->ep == NULL || !j->ep->enabled)
        return bf_err_set(err, BF_E_INVALID_INPUT,
                          "table_name: %s is not an enabled %s endpoint",
                          in->table_name, in->service);
    rc = tenant_lookup(j->r->tenants, in->tenant_id, in->service, &j->tenant,
                       err);
    if (rc != BF_OK)
        return rc;
    if (j->r->maps != NULL) {
        j->map = xform_find(j->r->maps, in->service, in->table_name);
        if (j->map == NULL)
            return bf_err_set(err, BF_E_TRANSFORM_FAILED,
                              "no mapping for %s %s", in->service,
                              in->table_name);
    }
    time_format_key(in->start_ms, a);
    time_format_key(in->end_ms, b);
    snprintf(j->raw_dir, sizeof(j->raw_dir), "%s/raw/%s/%s/backfill/%s_%s",
             in->tenant_id, in->service, in->table_name, a, b);
    snprintf(j->canon_dir, sizeof(j->canon_dir),
             "%s/canonical/%s/backfill/%s_%s", in->tenant_id,
             j->ep->canonical_table, a, b);
    time_format_iso8601(time_now_ms(), j->ingest_ts);
    j->xctx.tenant_id = in->tenant_id;
    j->xctx.source_system = in->service;
    j->xctx.source_table = in->table_name;
    j->xctx.canonical_table = j->ep->canonical_table;
    j->xctx.ingestion_timestamp = j->ingest_ts;
    j->xctx.backfill_id = in->backfill_id;
    if (j->map != NULL) {
        rc = xform_writer_new(j->map, &j->xctx, &j->xw, err);
        if (rc == BF_OK)
            rc = jsonin_new(&j->jin, err);
        if (rc != BF_OK)
            return rc;
    }
    if (j->r->opts.sink != NULL) {
        j->sink = j->r->opts.sink;
        return BF_OK;
    }
    so.sse_kms_key_id = j->r->cfg.sse_kms_key_id;
    rc = sink_open(j->r->cfg.output, j->r->aws, &so, &j->sink, err);
    j->own_sink = rc == BF_OK;
    return rc;
}

static void location_fill(struct task_location *loc,
                          const struct chunkout_summary *s)
{
    snprintf(loc->uri, sizeof(loc->uri), "%s", s->uri);
    loc->parts = (long)(s->parts + s->reject_parts);
    loc->bytes = (long long)s->bytes;
}

static void result_fill(const struct chunk_job *j, struct task_result *out)
{
    snprintf(out->canonical_table, sizeof(out->canonical_table), "%s",
             j->ep->canonical_table);
    if (j->have_raw_sum) {
        out->records_ingested = (long long)j->raw_sum.records;
        out->pages = j->pages;
        location_fill(&out->raw, &j->raw_sum);
    } else if (j->sink != NULL && out->raw.uri[0] == '\0') {
        sink_uri(j->sink, j->raw_dir, out->raw.uri, sizeof(out->raw.uri));
    }
    if (j->have_canon_sum) {
        out->records_transformed = (long long)j->canon_sum.records;
        out->records_rejected = (long long)j->canon_sum.rejects;
        out->text_replaced = j->text_replaced;
        location_fill(&out->canonical, &j->canon_sum);
    }
}

static void log_done(const struct chunk_job *j, const struct task_result *out,
                     enum bf_rc rc, const struct bf_err *err)
{
    struct log_line l;

    if (!log_begin(&l, rc == BF_OK ? LOG_INFO : LOG_WARN,
                   rc == BF_OK ? "chunk_done" : "chunk_failed"))
        return;
    log_str(&l, "tenant", j->in->tenant_id);
    log_str(&l, "table", j->in->table_name);
    log_int(&l, "chunk", j->in->chunk_number);
    log_int(&l, "pages", j->pages);
    log_int(&l, "records_ingested", out->records_ingested);
    log_int(&l, "records_transformed", out->records_transformed);
    log_int(&l, "records_rejected", out->records_rejected);
    log_int(&l, "coercion_nulls", j->coercion_nulls);
    log_int(&l, "text_replaced", j->text_replaced);
    log_int(&l, "duration_ms", out->duration_ms);
    if (rc != BF_OK && err != NULL) {
        log_str(&l, "error", bf_rc_error_name(rc));
        log_str(&l, "message", err->message);
    }
    log_end(&l);
}

static enum bf_rc run_steps(struct chunk_job *j, struct task_result *out,
                            struct bf_err *err)
{
    enum bf_rc rc = job_prepare(j, err);

    if (rc == BF_OK)
        rc = ingest(j, out, err);
    if (rc == BF_OK && j->r->xback != NULL)
        rc = xform_backend_run(j->r->xback, j->in, j->ep->canonical_table, out,
                               err);
    return rc;
}

enum bf_rc chunk_run(void *ctx, const struct task_input *in,
                     struct task_cancel *cancel, struct task_result *out,
                     struct bf_err *err)
{
    struct chunk_job j;
    int64_t t0 = time_mono_ms();
    enum bf_rc rc = BF_OK;

    memset(&j, 0, sizeof(j));
    j.r = ctx;
    j.in = in;
    j.cancel = cancel;
    buf_init(&j.fixed, 0);
    task_result_init(out);
    rc = run_steps(&j, out, err);
    /* The source only knows "cancelled"; a shutdown drain is retried at once
     * by the state machine, so keep that distinction. */
    if (rc == BF_E_CANCELLED && cancel != NULL &&
        task_cancel_reason(cancel) == BF_E_WORKER_SHUTDOWN) {
        rc = BF_E_WORKER_SHUTDOWN;
        if (err != NULL)
            err->rc = rc;
    }
    if (j.ep != NULL)
        result_fill(&j, out);
    out->duration_ms = time_mono_ms() - t0;
    if (j.ep != NULL)
        log_done(&j, out, rc, err);
    chunkout_summary_cleanup(&j.raw_sum);
    chunkout_summary_cleanup(&j.canon_sum);
    if (j.own_sink)
        sink_free(j.sink);
    xform_writer_free(j.xw);
    jsonin_free(j.jin);
    buf_cleanup(&j.fixed);
    return rc;
}
