/* jsonstrict.h -- the one strict reading of JSON that comes from outside.
 *
 * cJSON keeps the first of two members with the same name and ignores any
 * bytes after the value; another reader of the same document may take the
 * second member or refuse the text. Everything the worker reads from
 * outside the process (task inputs, tenant and secret documents, Lambda
 * answers, credential documents, AWS error bodies) therefore goes through
 * json_strict_parse(): one pass over the raw bytes refuses what two
 * parsers could read differently, then cJSON builds the tree. The rules
 * are listed in tests/README.md, section "Input hardening".
 *
 * ConnectWise records are different (raw output keeps them byte for byte):
 * json_strict_scan() in JSON_STRICT_REPAIR mode writes a copy in which each
 * lone surrogate escape, invalid UTF-8 sequence or \u0000 is U+FFFD and
 * counts them, so the canonical transform can keep the record.
 */
#ifndef BF_UTIL_JSONSTRICT_H
#define BF_UTIL_JSONSTRICT_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "util/buf.h"
#include "util/err.h"

#define JSON_STRICT_DEPTH_MAX 256

enum json_strict_kind {
    JSON_STRICT_OK = 0,
    JSON_STRICT_SYNTAX,     /* not JSON at `offset` */
    JSON_STRICT_DUPLICATE,  /* member `key` appears twice in one object */
    JSON_STRICT_TRAILING,   /* non-whitespace after the value at `offset` */
    JSON_STRICT_NUL,        /* raw NUL or \u0000 inside a string */
    JSON_STRICT_UTF8,       /* invalid UTF-8 inside a string */
    JSON_STRICT_SURROGATE,  /* \uD800-\uDFFF escape without its pair */
    JSON_STRICT_DEPTH,      /* nested deeper than JSON_STRICT_DEPTH_MAX */
    JSON_STRICT_NOMEM
};

/* Repair mode: bad string contents (NUL, UTF-8, surrogate) are not
 * errors; they are replaced by U+FFFD in `fixed` and counted. A duplicate
 * member is not an error either: the first one is named in `duplicate`
 * and the scan goes on, so the caller can still build a tree to reject. */
#define JSON_STRICT_REPAIR 1

struct json_strict_report {
    enum json_strict_kind kind;
    size_t offset;      /* byte offset of the problem in the input */
    char key[64];       /* the member name at the problem ("" at top) */
    char top_key[64];   /* the top-level member it is under ("" at top) */
    long replaced;      /* repair mode: sequences replaced by U+FFFD */
    int replaced_id;    /* repair mode: a replacement in top-level "id" */
    char duplicate[64]; /* repair mode: the first duplicate member name */
};

/* Check p[0..n) against the strict rules. With JSON_STRICT_REPAIR and a
 * non-NULL `fixed`, `fixed` receives the document with bad string
 * contents replaced (only written when rep->replaced > 0). Returns the
 * kind, also in rep->kind. */
enum json_strict_kind json_strict_scan(const char *p, size_t n, int flags,
                                       struct buf *fixed,
                                       struct json_strict_report *rep);

/* How many bytes from p (at most n) stand for themselves in a JSON
 * string: none is '"', '\\' or a control byte, nor, with `stop_high`, a
 * byte from 0x80 on (the start of UTF-8 the caller checks). Eight bytes
 * at a time, since most of a record is such runs. */
size_t json_plain_len(const void *p, size_t n, int stop_high);

/* One line for a report: "duplicate key: tenant_id", "trailing data after
 * the JSON value at byte 412", "lone surrogate in name at byte 9". */
void json_strict_describe(const struct json_strict_report *rep, char *out,
                          size_t cap);

/* json_strict_parse(): the message names no member (secret documents,
 * where a name may itself be secret: "duplicate key at byte 12"). */
#define JSON_STRICT_NO_NAMES 2

/* Strict check, then cJSON_ParseWithLength. On a refusal returns `rc`
 * with err->message "<what>: <description>"; *out is NULL. `flags`: 0 or
 * JSON_STRICT_NO_NAMES. */
enum bf_rc json_strict_parse(const char *p, size_t n, const char *what,
                             enum bf_rc rc, int flags, cJSON **out,
                             struct bf_err *err);

#endif
