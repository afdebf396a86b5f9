/* sink_backend.h -- what a sink backend implements, and what it may use.
 *
 * Not part of the sink interface (sink/sink.h). The dispatcher (sink.c)
 * checks keys, takes the sink's mutex and calls one of these operations;
 * the backends (sink_file.c for file://, sink_s3.c for s3://) do the work.
 * A backend embeds `struct sink` as the first member of its own sink type
 * (and likewise `struct sink_object`, `struct sink_reader`), so that the
 * dispatcher hands it the base pointer and it casts back to its own type.
 * A wrapper that is a sink itself (a test's failing sink) implements the
 * same table over another sink's public calls.
 *
 * Every operation except `uri`, `read_close` and `destroy` runs with the
 * sink's mutex held, so a backend needs no locking of its own; it must not
 * call back into the same sink through sink.h.
 */
#ifndef BF_SINK_PRIVATE_SINK_BACKEND_H
#define BF_SINK_PRIVATE_SINK_BACKEND_H

#include <pthread.h>
#include <stddef.h>

#include "aws/awsenv.h"
#include "sink/sink.h"
#include "util/buf.h"
#include "util/err.h"

struct sink_ops {
    const char *kind;           /* sink_kind(): "file", "s3", ... */
    void (*uri)(const struct sink *s, const char *key, char *out, size_t n);
    /* Allocates the object (its first member a struct sink_object whose
     * `s` is set); *out stays NULL on failure, with nothing left behind. */
    enum bf_rc (*begin)(struct sink *s, const char *key,
                        struct sink_object **out, struct bf_err *err);
    enum bf_rc (*write)(struct sink_object *o, const void *p, size_t n,
                        struct bf_err *err);
    enum bf_rc (*commit)(struct sink_object *o, struct bf_err *err); /* frees o */
    void (*abort)(struct sink_object *o);                            /* frees o */
    enum bf_rc (*get)(struct sink *s, const char *key, struct buf *out,
                      int *found, struct bf_err *err);
    /* *out stays NULL (and *found 0) when there is no such object. */
    enum bf_rc (*read_open)(struct sink *s, const char *key,
                            struct sink_reader **out, int *found,
                            struct bf_err *err);
    enum bf_rc (*read)(struct sink_reader *r, void *p, size_t cap,
                       size_t *got, struct bf_err *err);
    void (*read_close)(struct sink_reader *r);                       /* frees r */
    enum bf_rc (*del)(struct sink *s, const char *key, struct bf_err *err);
    /* Appends with sink_names_push(); the dispatcher frees on failure. */
    enum bf_rc (*list)(struct sink *s, const char *dir, char ***names,
                       size_t *n, struct bf_err *err);
    /* NULL: nothing to do (sink_abort_incomplete() is then BF_OK). */
    enum bf_rc (*abort_incomplete)(struct sink *s, const char *dir,
                                   struct bf_err *err);
    /* Releases the backend's resources and frees `s`; it calls
     * sink_base_cleanup() itself. */
    void (*destroy)(struct sink *s);
};

struct sink {
    const struct sink_ops *ops;
    pthread_mutex_t mu;         /* serialises calls into the backend */
};

struct sink_object {
    struct sink *s;
};

struct sink_reader {
    struct sink *s;
};

/* Set up and tear down the part every sink shares (the mutex). */
enum bf_rc sink_base_init(struct sink *s, const struct sink_ops *ops,
                          struct bf_err *err);
void sink_base_cleanup(struct sink *s);

/* Listing helpers: append a copy of `name`; sort the result by name. */
enum bf_rc sink_names_push(char ***names, size_t *n, const char *name,
                           struct bf_err *err);
void sink_names_sort(char **names, size_t n);

/* The backends' constructors, called by sink_open() with the URI after
 * its scheme. `opts` may be NULL. */
enum bf_rc sink_file_open(const char *path, struct sink **out,
                          struct bf_err *err);
enum bf_rc sink_s3_open(const char *rest, struct awsenv *aws,
                        const struct sink_options *opts, struct sink **out,
                        struct bf_err *err);

#endif
