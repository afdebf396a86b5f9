/* chunkout.h -- one chunk directory of gzip JSON Lines parts plus a manifest.
 *
 * README "Output layout, manifests and idempotency": a chunk directory (a
 * key prefix such as "t1/raw/connectwise/service/tickets/backfill/{start}_{end}") holds
 * part-NNNNN.jsonl.gz (and, for canonical output, rejects-NNNNN.jsonl.gz)
 * and `_manifest.json`, written LAST. Readers trust only a directory with a
 * manifest. Opening a chunk deletes an earlier attempt's manifest first, so
 * a half-rewritten directory is never mistaken for a complete one; finishing
 * writes the new manifest and then deletes every other name in the
 * directory that the manifest does not list (stale parts of an earlier
 * attempt, leftover temporary files). Records stream through zlib; memory
 * is bounded by the sink's buffering (one multipart part for S3) plus the
 * compressor hand-off (CHUNKOUT_QDEPTH batches of about 256 KiB).
 * Compression runs on a thread of the chunkout's own, so the caller's
 * parsing and mapping overlap gzip: chunkout_write() copies the line into
 * a batch and returns; an error of the compressor (a sink write, say)
 * comes back from a later chunkout_write() or from chunkout_finish().
 * Part names and gzip output are deterministic (no gzip mtime), so writing
 * the same records twice gives byte-identical parts.
 */
#ifndef BF_SINK_CHUNKOUT_H
#define BF_SINK_CHUNKOUT_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "sink/sink.h"
#include "util/err.h"

#define CHUNKOUT_MANIFEST "_manifest.json"

/* Compression levels (libdeflate's scale: 1 fastest, 12 smallest). */
#define CHUNKOUT_LEVEL_MAX 12
#define CHUNKOUT_LEVEL_DEFAULT 3

enum chunkout_stream {
    CHUNKOUT_DATA = 0,    /* part-NNNNN.jsonl.gz */
    CHUNKOUT_REJECTS = 1  /* rejects-NNNNN.jsonl.gz */
};

struct chunkout_options {
    const char *dir;        /* key prefix of the chunk directory, no trailing '/' */
    size_t part_max_bytes;  /* roll to a new part once a part's compressed
                               size reaches this; 0 = 32 MiB */
    int gzip_level;         /* libdeflate's level, 1..CHUNKOUT_LEVEL_MAX;
                               0 = CHUNKOUT_LEVEL_DEFAULT */
    int inline_gzip;        /* 1: compress on the caller's thread (no
                               compressor thread); same output bytes */
};

struct chunkout;

/* Start writing a chunk directory on `s` (borrowed; must outlive the
 * writer). Deletes an existing manifest in `dir` first. */
enum bf_rc chunkout_open(struct sink *s, const struct chunkout_options *opts,
                         struct chunkout **out, struct bf_err *err);

/* Append one record: `line` is one JSON text of `len` bytes with no
 * newline (a newline is added). BF_E_INVALID_INPUT if it holds '\n'. */
enum bf_rc chunkout_write(struct chunkout *c, enum chunkout_stream st,
                          const char *line, size_t len, struct bf_err *err);

/* Serialise `rec` compactly and append it. */
enum bf_rc chunkout_write_json(struct chunkout *c, enum chunkout_stream st,
                               const cJSON *rec, struct bf_err *err);

struct chunkout_summary {
    char uri[1024];       /* sink URI of the chunk directory */
    size_t parts;         /* data parts (an empty chunk has 0) */
    size_t reject_parts;
    uint64_t records;     /* data records */
    uint64_t rejects;     /* reject records */
    uint64_t bytes;       /* compressed bytes of all parts (data + rejects) */
    char **part_keys;     /* full keys of the data parts, in order */
};
void chunkout_summary_cleanup(struct chunkout_summary *sum); /* NULL-safe */

/* Close the last parts, write the manifest, then delete names not listed.
 * `extra` (borrowed, may be NULL) is an object whose members are copied
 * into the manifest (source window, backfill_id, worker, attempt, ...).
 * Frees `c` whether or not it succeeds. `sum` may be NULL. */
enum bf_rc chunkout_finish(struct chunkout *c, const cJSON *extra,
                           struct chunkout_summary *sum, struct bf_err *err);

/* Abandon the chunk: uncommitted parts are discarded, committed ones stay
 * (without a manifest they are not trusted). Frees `c`. NULL-safe. */
void chunkout_abort(struct chunkout *c);

/* Read `dir`'s manifest. *found = 0 when the directory has none (an
 * incomplete chunk). The caller frees *out with cJSON_Delete. */
enum bf_rc chunkout_read_manifest(struct sink *s, const char *dir,
                                  cJSON **out, int *found, struct bf_err *err);

/* ---- reading parts back ---- */

struct jsonl_reader;

/* Open a gzip JSON Lines object for reading. The object is streamed
 * (sink_read: the file in place, S3 by ranges), lines are inflated
 * incrementally, so memory is bounded by the longest line plus one S3
 * range. More than `max_object` compressed bytes (0 = 256 MiB) is
 * BF_E_LIMIT. BF_E_IO if missing. */
enum bf_rc jsonl_reader_open(struct sink *s, const char *key,
                             size_t max_object, struct jsonl_reader **out,
                             struct bf_err *err);

/* The next line (without '\n'), valid until the next call. *line = NULL at
 * the end. Lines longer than 64 MiB are BF_E_LIMIT; a corrupt gzip stream
 * is BF_E_IO. */
enum bf_rc jsonl_reader_next(struct jsonl_reader *r, const char **line,
                             size_t *len, struct bf_err *err);
void jsonl_reader_free(struct jsonl_reader *r); /* NULL-safe */

#endif
