/* chunkout.c -- gzip JSON Lines parts and the manifest of one chunk directory.
 *
 * Owns the on-sink layout of a chunk (README "Output layout, manifests and idempotency"): part and reject
 * part names, rolling at a size limit, per-part record counts, sizes and
 * SHA-256, the manifest written last, and the clean-up of an earlier
 * attempt (its manifest and unfinished S3 uploads removed first, its
 * leftover names removed after the new manifest is in place). Also the
 * reader that streams a part back. It does not know what the records
 * mean: chunk.c decides what to write.
 *
 * gzip is about half of a chunk's CPU, so it runs on a compressor thread
 * of each chunkout's own while the caller parses and maps the next
 * records. The caller only copies lines into a batch; full batches go
 * through a small bounded queue (memory stays bounded; a slow sink slows
 * the caller down instead of piling up). The compressor owns the parts
 * (zlib, SHA-256, sink objects) while it runs; finish and abort join it
 * before touching them. Records reach zlib in the same order and with the
 * same calls as on one thread, so the output bytes do not depend on the
 * timing. If the thread cannot be started, the caller compresses itself.
 *
 * The compressor is libdeflate, which compresses whole buffers: lines
 * gather in a block of about CHUNKOUT_BLOCK bytes and each block becomes
 * one gzip member of the part. A part is therefore a concatenation of gzip
 * members (smaller when the part limit is small), which gzip's format
 * allows and every reader (zlib's inflate
 * with a reset per member, zcat, Python's gzip) reads as one stream. At
 * the same level libdeflate writes fewer bytes than zlib and takes about
 * half the CPU (tests/bench/README.md, the deflate table); 1 MiB blocks
 * cost under 1% in ratio against one stream. Block boundaries depend on
 * line lengths only, so the same records give the same bytes.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libdeflate.h>
#include <openssl/evp.h>
#include <zlib.h>

#include "sink/chunkout.h"
#include "util/buf.h"
#include "util/hex.h"

#define CHUNKOUT_DEFAULT_PART (32u * 1024 * 1024)
#define CHUNKOUT_BLOCK (1u << 20) /* input bytes per gzip member */
#define CHUNKOUT_ZBUF 65536       /* the reader's inflate buffers */
#define CHUNKOUT_MAX_PARTS 99999
#define CHUNKOUT_KEY_MAX 1024
#define CHUNKOUT_BATCH (256u * 1024)
#define CHUNKOUT_QDEPTH 3 /* batches queued; one more is being filled */
#define JSONL_MAX_LINE (64u * 1024 * 1024)
#define JSONL_DEFAULT_OBJECT (256u * 1024 * 1024)

static const char *const stream_prefix[] = { "part", "rejects" };
static const char *const stream_kind[] = { "data", "rejects" };

/* A finished part, as the manifest lists it. */
struct part_info {
    char name[32];
    enum chunkout_stream st;
    uint64_t records;
    uint64_t bytes;
    char sha256[65];
};

/* The part being written on one stream. */
struct part_state {
    struct sink_object *obj; /* NULL when no part is open */
    struct buf block;        /* lines not yet compressed */
    EVP_MD_CTX *sha;
    char name[32];
    uint64_t records;
    uint64_t bytes;
    int next_index;
};

/* Whole lines of one stream, each ending in '\n'. */
struct batch {
    enum chunkout_stream st;
    struct buf b;
};

/* The hand-off between the caller and the compressor thread; everything
 * but `cur` (the caller's) and the thread handle is guarded by `mu`. */
struct zpipe {
    pthread_mutex_t mu;
    pthread_cond_t work;            /* a batch was queued, or stop/cancel */
    pthread_cond_t space;           /* a batch came back */
    pthread_t thread;
    int started;
    int sync;                       /* no thread: the caller compresses */
    struct batch pool[CHUNKOUT_QDEPTH + 1];
    struct batch *queue[CHUNKOUT_QDEPTH + 1];
    size_t qhead, qlen;
    struct batch *idle[CHUNKOUT_QDEPTH + 1];
    size_t nidle;
    struct batch *cur;              /* being filled by the caller */
    int stop;                       /* finish: compress what is queued, exit */
    int cancel;                     /* abort: drop what is queued, exit */
    enum bf_rc failed;              /* the compressor's first error */
    struct bf_err fail_err;
};

struct chunkout {
    struct sink *s;
    char dir[CHUNKOUT_KEY_MAX];
    size_t part_max;
    size_t block_max;   /* input bytes per gzip member */
    int level;
    struct part_state st[2];
    struct part_info *parts;
    size_t nparts;
    struct zpipe zp;
    struct libdeflate_compressor *deflater; /* the compressor's */
    unsigned char *zout;                     /* one member's output */
    size_t zout_cap;
};

static enum bf_rc key_join(const char *dir, const char *name, char *out,
                           struct bf_err *err)
{
    if (snprintf(out, CHUNKOUT_KEY_MAX, "%s/%s", dir, name) >= CHUNKOUT_KEY_MAX)
        return bf_err_set(err, BF_E_INTERNAL, "chunk key too long: %s", dir);
    return BF_OK;
}

/* ---- the compressor hand-off ---- */

static enum bf_rc zpipe_init(struct zpipe *zp, int sync, struct bf_err *err)
{
    size_t i;

    if (pthread_mutex_init(&zp->mu, NULL) != 0)
        return bf_err_set(err, BF_E_NOMEM, "chunkout: mutex init failed");
    if (pthread_cond_init(&zp->work, NULL) != 0) {
        pthread_mutex_destroy(&zp->mu);
        return bf_err_set(err, BF_E_NOMEM, "chunkout: cond init failed");
    }
    if (pthread_cond_init(&zp->space, NULL) != 0) {
        pthread_cond_destroy(&zp->work);
        pthread_mutex_destroy(&zp->mu);
        return bf_err_set(err, BF_E_NOMEM, "chunkout: cond init failed");
    }
    /* A batch holds at least one whole line, so its cap is one line's. */
    for (i = 0; i < CHUNKOUT_QDEPTH + 1; i++) {
        buf_init(&zp->pool[i].b, JSONL_MAX_LINE + 1);
        zp->idle[zp->nidle++] = &zp->pool[i];
    }
    zp->sync = sync;
    zp->failed = BF_OK;
    return BF_OK;
}

/* Called with the thread joined (or never started). */
static void zpipe_cleanup(struct zpipe *zp)
{
    size_t i;

    for (i = 0; i < CHUNKOUT_QDEPTH + 1; i++)
        buf_cleanup(&zp->pool[i].b);
    pthread_cond_destroy(&zp->space);
    pthread_cond_destroy(&zp->work);
    pthread_mutex_destroy(&zp->mu);
}

/* Small parts (tests, tiny chunks) get small members, so that a part
 * still rolls near its limit rather than a whole block past it. */
static size_t block_size_for(size_t part_max)
{
    size_t b = part_max / 4;

    if (b > CHUNKOUT_BLOCK)
        return CHUNKOUT_BLOCK;
    return b < 4096 ? 4096 : b;
}

enum bf_rc chunkout_open(struct sink *s, const struct chunkout_options *opts,
                         struct chunkout **out, struct bf_err *err)
{
    struct chunkout *c = NULL;
    char key[CHUNKOUT_KEY_MAX];
    enum bf_rc rc;

    *out = NULL;
    if (snprintf(key, sizeof(key), "%s", opts->dir) >= (int)sizeof(key) - 40)
        return bf_err_set(err, BF_E_INTERNAL, "chunk dir too long");
    c = calloc(1, sizeof(*c));
    if (c == NULL)
        return bf_err_set(err, BF_E_NOMEM, "out of memory");
    c->s = s;
    snprintf(c->dir, sizeof(c->dir), "%s", opts->dir);
    c->part_max = opts->part_max_bytes ? opts->part_max_bytes
                                       : CHUNKOUT_DEFAULT_PART;
    c->block_max = block_size_for(c->part_max);
    c->level = opts->gzip_level > 0 && opts->gzip_level <= CHUNKOUT_LEVEL_MAX
                   ? opts->gzip_level : CHUNKOUT_LEVEL_DEFAULT;
    buf_init(&c->st[0].block, JSONL_MAX_LINE + CHUNKOUT_BLOCK);
    buf_init(&c->st[1].block, JSONL_MAX_LINE + CHUNKOUT_BLOCK);
    c->deflater = libdeflate_alloc_compressor(c->level);
    if (c->deflater == NULL) {
        free(c);
        return bf_err_set(err, BF_E_NOMEM, "chunkout: out of memory");
    }
    rc = zpipe_init(&c->zp, opts->inline_gzip, err);
    if (rc != BF_OK) {
        libdeflate_free_compressor(c->deflater);
        free(c);
        return rc;
    }
    /* An earlier attempt's manifest goes first: from here until our own
     * manifest lands, readers see an incomplete chunk, never a mix. */
    rc = key_join(c->dir, CHUNKOUT_MANIFEST, key, err);
    if (rc == BF_OK)
        rc = sink_delete(s, key, err);
    if (rc == BF_OK)
        rc = sink_abort_incomplete(s, c->dir, err);
    if (rc != BF_OK) {
        chunkout_abort(c);
        return rc;
    }
    *out = c;
    return BF_OK;
}

/* Compress the stream's pending block as one gzip member and hand it to
 * the sink and the running SHA-256. */
static enum bf_rc block_flush(struct chunkout *c, struct part_state *p,
                              struct bf_err *err)
{
    size_t bound, have;
    enum bf_rc rc;

    if (p->block.len == 0)
        return BF_OK;
    bound = libdeflate_gzip_compress_bound(c->deflater, p->block.len);
    if (bound > c->zout_cap) {
        unsigned char *nz = realloc(c->zout, bound);

        if (nz == NULL)
            return bf_err_set(err, BF_E_NOMEM, "chunkout: out of memory");
        c->zout = nz;
        c->zout_cap = bound;
    }
    have = libdeflate_gzip_compress(c->deflater, p->block.data, p->block.len,
                                    c->zout, c->zout_cap);
    if (have == 0)
        return bf_err_set(err, BF_E_INTERNAL, "deflate failed");
    buf_reset(&p->block);
    rc = sink_object_write(p->obj, c->zout, have, err);
    if (rc != BF_OK)
        return rc;
    if (EVP_DigestUpdate(p->sha, c->zout, have) != 1)
        return bf_err_set(err, BF_E_INTERNAL, "sha256 failed");
    p->bytes += have;
    return BF_OK;
}

static void part_discard(struct part_state *p)
{
    if (p->obj != NULL)
        sink_object_abort(p->obj);
    p->obj = NULL;
    buf_reset(&p->block);
    EVP_MD_CTX_free(p->sha);
    p->sha = NULL;
}

static enum bf_rc part_start(struct chunkout *c, enum chunkout_stream st,
                             struct bf_err *err)
{
    struct part_state *p = &c->st[st];
    char key[CHUNKOUT_KEY_MAX];
    enum bf_rc rc;

    if (p->next_index > CHUNKOUT_MAX_PARTS)
        return bf_err_set(err, BF_E_LIMIT, "more than %d parts in a chunk",
                          CHUNKOUT_MAX_PARTS);
    snprintf(p->name, sizeof(p->name), "%s-%05d.jsonl.gz", stream_prefix[st],
             p->next_index);
    rc = key_join(c->dir, p->name, key, err);
    if (rc != BF_OK)
        return rc;
    /* libdeflate's gzip header has no name and mtime 0, so the same
     * records always give the same bytes. */
    p->sha = EVP_MD_CTX_new();
    if (p->sha == NULL || EVP_DigestInit_ex(p->sha, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(p->sha);
        p->sha = NULL;
        return bf_err_set(err, BF_E_NOMEM, "sha256 init failed");
    }
    rc = sink_object_begin(c->s, key, &p->obj, err);
    if (rc != BF_OK) {
        part_discard(p);
        return rc;
    }
    p->records = 0;
    p->bytes = 0;
    p->next_index++;
    return BF_OK;
}

static enum bf_rc part_close(struct chunkout *c, enum chunkout_stream st,
                             struct bf_err *err)
{
    struct part_state *p = &c->st[st];
    struct part_info *info = NULL, *np = NULL;
    unsigned char md[32];
    unsigned int mdlen = 0;
    enum bf_rc rc = block_flush(c, p, err);
    struct sink_object *obj = p->obj;

    if (rc != BF_OK)
        return rc;
    np = realloc(c->parts, (c->nparts + 1) * sizeof(*np));
    if (np == NULL)
        return bf_err_set(err, BF_E_NOMEM, "out of memory");
    c->parts = np;
    if (EVP_DigestFinal_ex(p->sha, md, &mdlen) != 1)
        return bf_err_set(err, BF_E_INTERNAL, "sha256 failed");
    p->obj = NULL;
    EVP_MD_CTX_free(p->sha);
    p->sha = NULL;
    rc = sink_object_commit(obj, err);
    if (rc != BF_OK)
        return rc;
    info = &c->parts[c->nparts++];
    snprintf(info->name, sizeof(info->name), "%s", p->name);
    info->st = st;
    info->records = p->records;
    info->bytes = p->bytes;
    hex_encode(md, sizeof(md), info->sha256);
    return BF_OK;
}

/* Compress one line (with its '\n') into the stream's open part, rolling
 * to a new part at the size limit. Runs on the compressor thread. */
static enum bf_rc line_compress(struct chunkout *c, enum chunkout_stream st,
                                const char *line, size_t len,
                                struct bf_err *err)
{
    struct part_state *p = &c->st[st];
    enum bf_rc rc = BF_OK;

    if (p->obj == NULL)
        rc = part_start(c, st, err);
    if (rc != BF_OK)
        return rc;
    /* A line never splits over two members; a line longer than a block
     * is a member of its own. */
    if (p->block.len > 0 && p->block.len + len > c->block_max)
        rc = block_flush(c, p, err);
    if (rc == BF_OK)
        rc = buf_append(&p->block, line, len);
    if (rc == BF_OK && p->block.len >= c->block_max)
        rc = block_flush(c, p, err);
    if (rc != BF_OK)
        return rc;
    p->records++;
    /* The size counts compressed bytes written so far, so a part may pass
     * the limit by up to one block's compressed size. */
    if (p->bytes >= c->part_max)
        rc = part_close(c, st, err);
    return rc;
}

/* Line by line, not the batch at once: the rolling decision after each
 * record keeps parts (and their bytes) independent of batch boundaries. */
static enum bf_rc batch_compress(struct chunkout *c, const struct batch *bt,
                                 struct bf_err *err)
{
    const char *p = bt->b.data, *end = p + bt->b.len, *nl = NULL;
    enum bf_rc rc = BF_OK;

    while (p < end && rc == BF_OK) {
        nl = memchr(p, '\n', (size_t)(end - p));
        if (nl == NULL)
            return bf_err_set(err, BF_E_INTERNAL, "chunkout: torn batch");
        rc = line_compress(c, bt->st, p, (size_t)(nl - p) + 1, err);
        p = nl + 1;
    }
    return rc;
}

/* The compressor: takes batches in order until told to stop (after the
 * queue drains) or to cancel. After an error it keeps taking batches and
 * drops them, so the caller never waits for a queue nobody empties. */
static void *zpipe_main(void *arg)
{
    struct chunkout *c = arg;
    struct zpipe *zp = &c->zp;
    struct batch *bt = NULL;
    struct bf_err e;
    enum bf_rc rc, failed;

    pthread_setname_np(pthread_self(), "bf-gzip");
    pthread_mutex_lock(&zp->mu);
    for (;;) {
        while (zp->qlen == 0 && !zp->stop && !zp->cancel)
            pthread_cond_wait(&zp->work, &zp->mu);
        if (zp->cancel || zp->qlen == 0)
            break;
        bt = zp->queue[zp->qhead];
        zp->qhead = (zp->qhead + 1) % (CHUNKOUT_QDEPTH + 1);
        zp->qlen--;
        failed = zp->failed;
        pthread_mutex_unlock(&zp->mu);

        bf_err_init(&e);
        rc = failed == BF_OK ? batch_compress(c, bt, &e) : BF_OK;
        buf_reset(&bt->b);

        pthread_mutex_lock(&zp->mu);
        if (rc != BF_OK && zp->failed == BF_OK) {
            zp->failed = rc;
            zp->fail_err = e;
        }
        zp->idle[zp->nidle++] = bt;
        pthread_cond_signal(&zp->space);
    }
    pthread_mutex_unlock(&zp->mu);
    return NULL;
}

static enum bf_rc zpipe_failed(struct zpipe *zp, struct bf_err *err)
{
    enum bf_rc rc = zp->failed;

    if (rc != BF_OK && err != NULL)
        *err = zp->fail_err;
    return rc;
}

/* Hand the caller's batch over. The first hand-off starts the thread; if
 * that fails, or in sync mode, the caller compresses the batch itself. The
 * queue has a slot for every batch, so queueing never waits. */
static enum bf_rc zpipe_submit(struct chunkout *c, struct bf_err *err)
{
    struct zpipe *zp = &c->zp;
    struct batch *bt = zp->cur;
    enum bf_rc rc = BF_OK;

    zp->cur = NULL;
    if (!zp->sync && !zp->started)
        zp->started = pthread_create(&zp->thread, NULL, zpipe_main, c) == 0;
    if (!zp->started) {
        zp->sync = 1;
        rc = batch_compress(c, bt, err);
        buf_reset(&bt->b);
        zp->idle[zp->nidle++] = bt;
        return rc;
    }
    pthread_mutex_lock(&zp->mu);
    zp->queue[(zp->qhead + zp->qlen) % (CHUNKOUT_QDEPTH + 1)] = bt;
    zp->qlen++;
    pthread_cond_signal(&zp->work);
    pthread_mutex_unlock(&zp->mu);
    return BF_OK;
}

/* Give the caller an idle batch to fill, waiting while the compressor has
 * them all: this is where a slow sink slows the caller down. */
static enum bf_rc zpipe_take(struct zpipe *zp, struct bf_err *err)
{
    enum bf_rc rc;

    pthread_mutex_lock(&zp->mu);
    while (zp->nidle == 0 && zp->failed == BF_OK)
        pthread_cond_wait(&zp->space, &zp->mu);
    rc = zpipe_failed(zp, err);
    if (rc == BF_OK)
        zp->cur = zp->idle[--zp->nidle];
    pthread_mutex_unlock(&zp->mu);
    return rc;
}

/* Wait for the compressor to finish what is queued (stop) or to drop it
 * (cancel), and join it; from here the caller owns the parts again. */
static void zpipe_join(struct zpipe *zp, int cancel)
{
    if (!zp->started)
        return;
    pthread_mutex_lock(&zp->mu);
    if (cancel)
        zp->cancel = 1;
    else
        zp->stop = 1;
    pthread_cond_signal(&zp->work);
    pthread_mutex_unlock(&zp->mu);
    pthread_join(zp->thread, NULL);
    zp->started = 0;
}

/* The caller's side: copy the line into the current batch of its stream;
 * hand the batch over when it is full or the stream changes. */
enum bf_rc chunkout_write(struct chunkout *c, enum chunkout_stream st,
                          const char *line, size_t len, struct bf_err *err)
{
    struct zpipe *zp = &c->zp;
    enum bf_rc rc = BF_OK;

    if (memchr(line, '\n', len) != NULL)
        return bf_err_set(err, BF_E_INVALID_INPUT, "record holds a newline");
    if (len > JSONL_MAX_LINE)
        return bf_err_set(err, BF_E_LIMIT, "record of %zu bytes is too long", len);
    if (zp->cur != NULL && zp->cur->st != st && zp->cur->b.len > 0)
        rc = zpipe_submit(c, err);
    if (rc == BF_OK && zp->cur == NULL)
        rc = zpipe_take(zp, err);
    if (rc != BF_OK)
        return rc;
    zp->cur->st = st;
    if (buf_reserve(&zp->cur->b, len + 1) != BF_OK)
        return bf_err_set(err, BF_E_NOMEM, "out of memory batching a record");
    rc = buf_append(&zp->cur->b, line, len);
    if (rc == BF_OK)
        rc = buf_append(&zp->cur->b, "\n", 1);
    if (rc != BF_OK)
        return bf_err_set(err, rc, "out of memory batching a record");
    if (zp->cur->b.len >= CHUNKOUT_BATCH)
        rc = zpipe_submit(c, err);
    return rc;
}

enum bf_rc chunkout_write_json(struct chunkout *c, enum chunkout_stream st,
                               const cJSON *rec, struct bf_err *err)
{
    char *s = cJSON_PrintUnformatted(rec);
    enum bf_rc rc;

    if (s == NULL)
        return bf_err_set(err, BF_E_NOMEM, "out of memory serialising a record");
    rc = chunkout_write(c, st, s, strlen(s), err);
    free(s);
    return rc;
}

void chunkout_summary_cleanup(struct chunkout_summary *sum)
{
    size_t i;

    if (sum == NULL || sum->part_keys == NULL)
        return;
    for (i = 0; i < sum->parts; i++)
        free(sum->part_keys[i]);
    free(sum->part_keys);
    sum->part_keys = NULL;
}

static cJSON *manifest_build(const struct chunkout *c, const cJSON *extra)
{
    cJSON *m = cJSON_CreateObject();
    cJSON *arr = NULL, *p = NULL;
    const cJSON *e = NULL;
    uint64_t n[2] = { 0, 0 }, bytes = 0;
    size_t i;
    int ok = m != NULL;

    for (i = 0; i < c->nparts; i++) {
        n[c->parts[i].st] += c->parts[i].records;
        bytes += c->parts[i].bytes;
    }
    ok = ok && cJSON_AddNumberToObject(m, "format", 1) &&
         cJSON_AddTrueToObject(m, "complete") &&
         cJSON_AddNumberToObject(m, "records", (double)n[CHUNKOUT_DATA]) &&
         cJSON_AddNumberToObject(m, "rejects", (double)n[CHUNKOUT_REJECTS]) &&
         cJSON_AddNumberToObject(m, "bytes", (double)bytes);
    arr = ok ? cJSON_AddArrayToObject(m, "parts") : NULL;
    ok = arr != NULL;
    for (i = 0; ok && i < c->nparts; i++) {
        const struct part_info *pi = &c->parts[i];

        p = cJSON_CreateObject();
        ok = p != NULL && cJSON_AddItemToArray(arr, p) &&
             cJSON_AddStringToObject(p, "name", pi->name) &&
             cJSON_AddStringToObject(p, "kind", stream_kind[pi->st]) &&
             cJSON_AddNumberToObject(p, "records", (double)pi->records) &&
             cJSON_AddNumberToObject(p, "bytes", (double)pi->bytes) &&
             cJSON_AddStringToObject(p, "sha256", pi->sha256);
    }
    cJSON_ArrayForEach(e, extra) {
        cJSON *dup = NULL;

        if (!ok || e->string == NULL || cJSON_HasObjectItem(m, e->string))
            continue;
        dup = cJSON_Duplicate(e, 1);
        ok = dup != NULL && cJSON_AddItemToObject(m, e->string, dup);
        if (!ok)
            cJSON_Delete(dup);
    }
    if (!ok) {
        cJSON_Delete(m);
        return NULL;
    }
    return m;
}

static int listed(const struct chunkout *c, const char *name)
{
    size_t i;

    if (strcmp(name, CHUNKOUT_MANIFEST) == 0)
        return 1;
    for (i = 0; i < c->nparts; i++)
        if (strcmp(c->parts[i].name, name) == 0)
            return 1;
    return 0;
}

/* Remove what an earlier attempt left that the new manifest does not
 * list: its extra parts and any temporary file of a crashed write. */
static enum bf_rc remove_stale(struct chunkout *c, struct bf_err *err)
{
    char **names = NULL;
    char key[CHUNKOUT_KEY_MAX];
    size_t n = 0, i;
    enum bf_rc rc = sink_list(c->s, c->dir, &names, &n, err);

    for (i = 0; rc == BF_OK && i < n; i++) {
        if (listed(c, names[i]))
            continue;
        rc = key_join(c->dir, names[i], key, err);
        if (rc == BF_OK)
            rc = sink_delete(c->s, key, err);
    }
    sink_names_free(names, n);
    return rc;
}

static enum bf_rc summary_fill(const struct chunkout *c,
                               struct chunkout_summary *sum, struct bf_err *err)
{
    size_t i, k = 0;
    char key[CHUNKOUT_KEY_MAX];

    memset(sum, 0, sizeof(*sum));
    sink_uri(c->s, c->dir, sum->uri, sizeof(sum->uri));
    sum->part_keys = calloc(c->nparts + 1, sizeof(*sum->part_keys));
    if (sum->part_keys == NULL)
        return bf_err_set(err, BF_E_NOMEM, "out of memory");
    for (i = 0; i < c->nparts; i++) {
        const struct part_info *pi = &c->parts[i];

        sum->bytes += pi->bytes;
        if (pi->st == CHUNKOUT_REJECTS) {
            sum->reject_parts++;
            sum->rejects += pi->records;
            continue;
        }
        sum->records += pi->records;
        if (key_join(c->dir, pi->name, key, err) != BF_OK) {
            sum->parts = k;
            chunkout_summary_cleanup(sum);
            return BF_E_INTERNAL;
        }
        sum->part_keys[k] = strdup(key);
        if (sum->part_keys[k] == NULL) {
            sum->parts = k;
            chunkout_summary_cleanup(sum);
            return bf_err_set(err, BF_E_NOMEM, "out of memory");
        }
        sum->parts = ++k;
    }
    return BF_OK;
}

enum bf_rc chunkout_finish(struct chunkout *c, const cJSON *extra,
                           struct chunkout_summary *sum, struct bf_err *err)
{
    cJSON *m = NULL;
    char *text = NULL;
    char key[CHUNKOUT_KEY_MAX];
    enum bf_rc rc = BF_OK;
    int st;

    if (c->zp.cur != NULL && c->zp.cur->b.len > 0)
        rc = zpipe_submit(c, err);
    zpipe_join(&c->zp, rc != BF_OK);
    if (rc == BF_OK)
        rc = zpipe_failed(&c->zp, err);
    for (st = 0; st < 2 && rc == BF_OK; st++)
        if (c->st[st].obj != NULL)
            rc = part_close(c, (enum chunkout_stream)st, err);
    if (rc == BF_OK) {
        m = manifest_build(c, extra);
        text = m ? cJSON_Print(m) : NULL;
        if (text == NULL)
            rc = bf_err_set(err, BF_E_NOMEM, "out of memory building manifest");
    }
    if (rc == BF_OK)
        rc = key_join(c->dir, CHUNKOUT_MANIFEST, key, err);
    if (rc == BF_OK)
        rc = sink_put(c->s, key, text, strlen(text), err);
    if (rc == BF_OK)
        rc = remove_stale(c, err);
    if (rc == BF_OK && sum != NULL)
        rc = summary_fill(c, sum, err);
    free(text);
    cJSON_Delete(m);
    chunkout_abort(c);
    return rc;
}

void chunkout_abort(struct chunkout *c)
{
    if (c == NULL)
        return;
    zpipe_join(&c->zp, 1);
    zpipe_cleanup(&c->zp);
    part_discard(&c->st[0]);
    part_discard(&c->st[1]);
    buf_cleanup(&c->st[0].block);
    buf_cleanup(&c->st[1].block);
    libdeflate_free_compressor(c->deflater);
    free(c->zout);
    free(c->parts);
    free(c);
}

enum bf_rc chunkout_read_manifest(struct sink *s, const char *dir, cJSON **out,
                                  int *found, struct bf_err *err)
{
    char key[CHUNKOUT_KEY_MAX];
    struct buf b;
    enum bf_rc rc = key_join(dir, CHUNKOUT_MANIFEST, key, err);

    *out = NULL;
    *found = 0;
    if (rc != BF_OK)
        return rc;
    buf_init(&b, 16u * 1024 * 1024);
    rc = sink_get(s, key, &b, found, err);
    if (rc == BF_OK && *found) {
        *out = cJSON_ParseWithLength(b.data ? b.data : "", b.len);
        if (*out == NULL)
            rc = bf_err_set(err, BF_E_IO, "%s: invalid manifest", key);
    }
    buf_cleanup(&b);
    return rc;
}

/* ---- reader ---- */

struct jsonl_reader {
    struct sink_reader *src; /* the compressed object, streamed */
    uint64_t read_total;     /* compressed bytes read so far */
    size_t max_object;
    int src_eof;
    z_stream z;
    int z_init;
    int eof;
    int ended;           /* zlib saw the end of the (last) gzip member */
    struct buf acc;      /* inflated bytes not yet returned */
    size_t start;        /* where the next line begins in acc */
    unsigned char zin[CHUNKOUT_ZBUF];
    unsigned char zbuf[CHUNKOUT_ZBUF];
};

enum bf_rc jsonl_reader_open(struct sink *s, const char *key,
                             size_t max_object, struct jsonl_reader **out,
                             struct bf_err *err)
{
    struct jsonl_reader *r = calloc(1, sizeof(*r));
    int found = 0;
    enum bf_rc rc;

    *out = NULL;
    if (r == NULL)
        return bf_err_set(err, BF_E_NOMEM, "out of memory");
    r->max_object = max_object ? max_object : JSONL_DEFAULT_OBJECT;
    buf_init(&r->acc, JSONL_MAX_LINE + CHUNKOUT_ZBUF);
    rc = sink_read_open(s, key, &r->src, &found, err);
    if (rc == BF_OK && !found)
        rc = bf_err_set(err, BF_E_IO, "%s: no such object", key);
    /* windowBits 15 + 32: gzip or zlib, detected from the header. */
    if (rc == BF_OK && inflateInit2(&r->z, 15 + 32) != Z_OK)
        rc = bf_err_set(err, BF_E_NOMEM, "inflateInit2 failed");
    if (rc != BF_OK) {
        jsonl_reader_free(r);
        return rc;
    }
    r->z_init = 1;
    *out = r;
    return BF_OK;
}

/* Refill zlib's input from the object when it is used up. */
static enum bf_rc refill(struct jsonl_reader *r, struct bf_err *err)
{
    size_t got = 0;
    enum bf_rc rc;

    if (r->z.avail_in > 0 || r->src_eof)
        return BF_OK;
    rc = sink_read(r->src, r->zin, sizeof(r->zin), &got, err);
    if (rc != BF_OK)
        return rc;
    r->src_eof = got == 0;
    r->read_total += got;
    if (r->read_total > r->max_object)
        return bf_err_set(err, BF_E_LIMIT, "part larger than %zu bytes",
                          r->max_object);
    r->z.next_in = r->zin;
    r->z.avail_in = (uInt)got;
    return BF_OK;
}

/* Inflate up to one buffer more into acc; sets r->eof at the end. */
static enum bf_rc inflate_more(struct jsonl_reader *r, struct bf_err *err)
{
    int zrc;
    size_t have;
    enum bf_rc rc = refill(r, err);

    if (rc != BF_OK)
        return rc;
    if (r->z.avail_in == 0) {
        /* All input used: fine after a complete member (or for an empty
         * object), a truncated part otherwise. */
        if (!r->ended && r->read_total > 0)
            return bf_err_set(err, BF_E_IO, "truncated gzip part");
        r->eof = 1;
        return BF_OK;
    }
    r->z.next_out = r->zbuf;
    r->z.avail_out = sizeof(r->zbuf);
    zrc = inflate(&r->z, Z_NO_FLUSH);
    if (zrc != Z_OK && zrc != Z_STREAM_END)
        return bf_err_set(err, BF_E_IO, "corrupt gzip part (zlib %d)", zrc);
    have = sizeof(r->zbuf) - r->z.avail_out;
    r->ended = zrc == Z_STREAM_END;
    /* Several gzip members one after another read as one stream. */
    if (r->ended && inflateReset(&r->z) != Z_OK)
        return bf_err_set(err, BF_E_IO, "corrupt gzip part");
    if (have > 0 && buf_append(&r->acc, r->zbuf, have) != BF_OK)
        return bf_err_set(err, BF_E_LIMIT, "line longer than %u bytes",
                          JSONL_MAX_LINE);
    return BF_OK;
}

enum bf_rc jsonl_reader_next(struct jsonl_reader *r, const char **line,
                             size_t *len, struct bf_err *err)
{
    char *nl = NULL;
    enum bf_rc rc;

    *line = NULL;
    *len = 0;
    for (;;) {
        size_t avail = r->acc.len - r->start;

        nl = avail ? memchr(r->acc.data + r->start, '\n', avail) : NULL;
        if (nl != NULL || (r->eof && avail > 0)) {
            *line = r->acc.data + r->start;
            *len = nl ? (size_t)(nl - *line) : avail;
            if (nl != NULL)
                *nl = '\0';
            r->start += *len + (nl != NULL);
            return BF_OK;
        }
        if (r->eof)
            return BF_OK;
        /* Keep only the unfinished line before reading more. */
        if (r->acc.data != NULL) {
            memmove(r->acc.data, r->acc.data + r->start, avail);
            r->acc.data[avail] = '\0';
        }
        r->acc.len = avail;
        r->start = 0;
        rc = inflate_more(r, err);
        if (rc != BF_OK)
            return rc;
    }
}

void jsonl_reader_free(struct jsonl_reader *r)
{
    if (r == NULL)
        return;
    if (r->z_init)
        inflateEnd(&r->z);
    sink_read_close(r->src);
    buf_cleanup(&r->acc);
    free(r);
}
