/* failsink.c -- the failing sink of failsink.h: a backend over a real sink.
 *
 * Every operation forwards to the inner sink through its public calls
 * (sink.h), which take the inner sink's own mutex; the dispatcher already
 * holds this wrapper's mutex, so the write counter needs no lock of its
 * own. Objects that crashed keep their inner object on a list, aborted
 * only when the wrapper is freed (no leak in-process, debris meanwhile).
 */
#include <stdlib.h>
#include <string.h>

#include "failsink.h"
#include "sink/private/sink_backend.h"

struct failsink_object;

struct failsink {
    struct sink base;
    struct sink_ops ops;             /* failsink_ops, with the inner kind */
    struct sink *inner;
    int writes_left;                 /* the failing write when it reaches 0;
                                        < 0 once it has happened */
    struct failsink_object *crashed; /* dead objects, their debris kept */
};

struct failsink_object {
    struct sink_object base;
    struct sink_object *inner;
    char *key;
    int crashed;
    struct failsink_object *next;    /* on failsink.crashed */
};

static struct failsink *failsink_of(const struct sink *s)
{
    return (struct failsink *)s;
}

static struct failsink_object *failsink_object_of(struct sink_object *o)
{
    return (struct failsink_object *)o;
}

static void failsink_uri(const struct sink *s, const char *key, char *out,
                         size_t n)
{
    sink_uri(failsink_of(s)->inner, key, out, n);
}

static enum bf_rc failsink_begin(struct sink *s, const char *key,
                                 struct sink_object **out, struct bf_err *err)
{
    struct failsink_object *o = calloc(1, sizeof(*o));
    enum bf_rc rc;

    if (o == NULL || (o->key = strdup(key)) == NULL) {
        free(o);
        return bf_err_set(err, BF_E_NOMEM, "out of memory");
    }
    o->base.s = s;
    rc = sink_object_begin(failsink_of(s)->inner, key, &o->inner, err);
    if (rc != BF_OK) {
        free(o->key);
        free(o);
        return rc;
    }
    *out = &o->base;
    return BF_OK;
}

static enum bf_rc failsink_crash_error(const struct failsink_object *o,
                                       struct bf_err *err)
{
    return bf_err_set(err, BF_E_SINK_UNAVAILABLE, "simulated crash writing %s",
                      o->key);
}

static enum bf_rc failsink_write(struct sink_object *base, const void *p,
                                 size_t n, struct bf_err *err)
{
    struct failsink *fs = failsink_of(base->s);
    struct failsink_object *o = failsink_object_of(base);

    if (!o->crashed && fs->writes_left > 0 && --fs->writes_left == 0) {
        fs->writes_left = -1;
        o->crashed = 1;
    }
    if (o->crashed)
        return failsink_crash_error(o, err);
    return sink_object_write(o->inner, p, n, err);
}

/* Forget a dead object but keep its inner object, as a crash would. */
static void failsink_bury(struct failsink_object *o)
{
    struct failsink *fs = failsink_of(o->base.s);

    o->next = fs->crashed;
    fs->crashed = o;
}

static void failsink_object_free(struct failsink_object *o)
{
    free(o->key);
    free(o);
}

static void failsink_abort(struct sink_object *base)
{
    struct failsink_object *o = failsink_object_of(base);

    if (o->crashed) {
        failsink_bury(o);
        return;
    }
    sink_object_abort(o->inner);
    failsink_object_free(o);
}

static enum bf_rc failsink_commit(struct sink_object *base, struct bf_err *err)
{
    struct failsink_object *o = failsink_object_of(base);
    enum bf_rc rc;

    if (o->crashed) {
        rc = failsink_crash_error(o, err);
        failsink_bury(o);
        return rc;
    }
    rc = sink_object_commit(o->inner, err);
    failsink_object_free(o);
    return rc;
}

static enum bf_rc failsink_get(struct sink *s, const char *key,
                               struct buf *out, int *found, struct bf_err *err)
{
    return sink_get(failsink_of(s)->inner, key, out, found, err);
}

/* Readers are the inner sink's own: read and close go straight to it. */
static enum bf_rc failsink_read_open(struct sink *s, const char *key,
                                     struct sink_reader **out, int *found,
                                     struct bf_err *err)
{
    return sink_read_open(failsink_of(s)->inner, key, out, found, err);
}

static enum bf_rc failsink_del(struct sink *s, const char *key,
                               struct bf_err *err)
{
    return sink_delete(failsink_of(s)->inner, key, err);
}

static enum bf_rc failsink_list(struct sink *s, const char *dir, char ***names,
                                size_t *n, struct bf_err *err)
{
    return sink_list(failsink_of(s)->inner, dir, names, n, err);
}

static enum bf_rc failsink_abort_incomplete(struct sink *s, const char *dir,
                                            struct bf_err *err)
{
    return sink_abort_incomplete(failsink_of(s)->inner, dir, err);
}

static void failsink_destroy(struct sink *s)
{
    struct failsink *fs = failsink_of(s);

    while (fs->crashed != NULL) {
        struct failsink_object *o = fs->crashed;

        fs->crashed = o->next;
        sink_object_abort(o->inner);
        failsink_object_free(o);
    }
    sink_base_cleanup(s);
    free(fs);
}

static const struct sink_ops failsink_ops = {
    .kind = NULL,       /* per sink: the inner sink's (failsink_new) */
    .uri = failsink_uri,
    .begin = failsink_begin,
    .write = failsink_write,
    .commit = failsink_commit,
    .abort = failsink_abort,
    .get = failsink_get,
    .read_open = failsink_read_open,
    .read = NULL,       /* never called: readers belong to the inner sink */
    .read_close = NULL,
    .del = failsink_del,
    .list = failsink_list,
    .abort_incomplete = failsink_abort_incomplete,
    .destroy = failsink_destroy,
};

enum bf_rc failsink_new(struct sink *inner, int nth, struct sink **out,
                        struct bf_err *err)
{
    struct failsink *fs = calloc(1, sizeof(*fs));
    enum bf_rc rc;

    *out = NULL;
    if (fs == NULL)
        return bf_err_set(err, BF_E_NOMEM, "out of memory");
    fs->ops = failsink_ops;
    fs->ops.kind = sink_kind(inner);
    fs->inner = inner;
    fs->writes_left = nth;
    rc = sink_base_init(&fs->base, &fs->ops, err);
    if (rc != BF_OK) {
        free(fs);
        return rc;
    }
    *out = &fs->base;
    return BF_OK;
}
