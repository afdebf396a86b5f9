/* fuzz_json_agree.c -- libFuzzer target: the strict reading of outside JSON
 * (util/jsonstrict) against the chunk's fast record parser (jsonin) and
 * cJSON, on the same bytes. Aborts when they disagree on accept/reject:
 *  - strict accepts  => cJSON accepts, and jsonin either gives up or
 *    builds the same tree (cJSON_Compare);
 *  - jsonin accepts and strict repair mode accepts => the repaired copy
 *    read by jsonin, when it takes it, is the tree cJSON reads;
 *  - strict repair accepts => its repaired copy is strict-clean and cJSON
 *    reads it (the canonical side always gets a tree).
 * Plus no crash, no leak, no read outside the input.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "fuzz.h"
#include "transform/jsonin.h"
#include "util/jsonstrict.h"

static struct jsonin *jin;

/* Same tree: cJSON_Compare, or the same compact text (Compare calls two
 * infinities from "1e400" different). */
static int same_tree(const cJSON *a, const cJSON *b)
{
    char *x, *y;
    int same;

    if (cJSON_Compare(a, b, 1))
        return 1;
    x = cJSON_PrintUnformatted(a);
    y = cJSON_PrintUnformatted(b);
    same = x != NULL && y != NULL && strcmp(x, y) == 0;
    cJSON_free(x);
    cJSON_free(y);
    return same;
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    struct bf_err err;

    (void)argc;
    (void)argv;
    bf_err_init(&err);
    if (jsonin_new(&jin, &err) != BF_OK) {
        fprintf(stderr, "fuzz_json_agree: set-up: %s\n", err.message);
        abort();
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data;
    struct json_strict_report rep, rep2;
    enum json_strict_kind strict, repair;
    const cJSON *fast;
    cJSON *ref = NULL;
    struct buf fixed;

    strict = json_strict_scan(p, size, 0, NULL, &rep);
    if (strict == JSON_STRICT_NOMEM)
        return 0;
    fast = jsonin_parse(jin, p, size);
    if (strict == JSON_STRICT_OK) {
        ref = cJSON_ParseWithLength(p, size);
        if (ref == NULL)
            abort(); /* strict accepted what cJSON refuses */
        if (fast != NULL && !same_tree(fast, ref))
            abort(); /* two trees for one strict document */
        cJSON_Delete(ref);
    }
    buf_init(&fixed, 0);
    repair = json_strict_scan(p, size, JSON_STRICT_REPAIR, &fixed, &rep2);
    if (repair == JSON_STRICT_OK) {
        const char *q = rep2.replaced > 0 ? fixed.data : p;
        size_t n = rep2.replaced > 0 ? fixed.len : size;
        struct json_strict_report rep3;

        if (json_strict_scan(q, n, JSON_STRICT_REPAIR, NULL, &rep3) != JSON_STRICT_OK ||
            rep3.replaced != 0)
            abort(); /* the repaired copy is not clean */
        ref = cJSON_ParseWithLength(q, n);
        if (ref == NULL)
            abort(); /* no tree for the canonical side */
        fast = jsonin_parse(jin, q, n);
        if (fast != NULL && rep2.duplicate[0] == '\0' && !same_tree(fast, ref))
            abort(); /* the fast path reads the repaired record differently */
        cJSON_Delete(ref);
    }
    buf_cleanup(&fixed);
    return 0;
}
