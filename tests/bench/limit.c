/* limit.c -- the pipeline's ceiling: parse, re-serialize and gzip, nothing else.
 *
 * `make bench` compares backfill-worker's records per second with this: the
 * same ConnectWise page bytes (one JSON array per line of the input file,
 * dumped from the benchmark's fake), parsed with cJSON, each record printed
 * back with cJSON_PrintUnformatted and gzipped (zlib, level 3, the sink's
 * level) into memory that is thrown away. Same libraries as the worker; no
 * network, no disk, no mapping, no hashing. Reading the file is not timed.
 *
 *   limit PAGES_FILE   ->  {"records":N,"pages":N,"bytes_in":N,"gz_bytes":N,
 *                           "seconds":S,"busy_cpu_seconds":S,"cpu_seconds":S}
 * seconds and busy_cpu_seconds cover the timed work only; cpu_seconds all.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <zlib.h>

struct gz {
    z_stream z;
    unsigned char out[65536];
    unsigned long long out_bytes;
};

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double busy_cpu_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_s(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* Feed len bytes (or finish, with Z_FINISH) and drop what comes out. */
static int gz_feed(struct gz *g, const void *p, size_t len, int flush)
{
    int zrc;

    g->z.next_in = (unsigned char *)p;
    g->z.avail_in = (uInt)len;
    do {
        g->z.next_out = g->out;
        g->z.avail_out = sizeof g->out;
        zrc = deflate(&g->z, flush);
        if (zrc == Z_STREAM_ERROR)
            return -1;
        g->out_bytes += sizeof g->out - g->z.avail_out;
    } while (g->z.avail_out == 0);
    return 0;
}

/* One page: parse, print each record, gzip the line. Returns records or -1. */
static long do_page(struct gz *g, const char *text, size_t len)
{
    cJSON *page = cJSON_ParseWithLength(text, len);
    const cJSON *rec = NULL;
    long n = 0;

    if (!cJSON_IsArray(page)) {
        cJSON_Delete(page);
        return -1;
    }
    cJSON_ArrayForEach(rec, page) {
        char *line = cJSON_PrintUnformatted(rec);

        if (line == NULL || gz_feed(g, line, strlen(line), Z_NO_FLUSH) != 0 ||
            gz_feed(g, "\n", 1, Z_NO_FLUSH) != 0) {
            free(line);
            n = -1;
            break;
        }
        free(line);
        n++;
    }
    cJSON_Delete(page);
    return n;
}

int main(int argc, char **argv)
{
    FILE *f = NULL;
    struct gz *g = NULL;
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    long records = 0, pages = 0;
    unsigned long long bytes_in = 0;
    double busy = 0.0, busy_cpu = 0.0, cpu0;
    int code = 1;

    if (argc != 2) {
        fprintf(stderr, "usage: limit PAGES_FILE\n");
        return 2;
    }
    f = fopen(argv[1], "rb");
    g = calloc(1, sizeof *g);
    if (f == NULL || g == NULL ||
        deflateInit2(&g->z, 3, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
        fprintf(stderr, "limit: cannot start\n");
        goto out;
    }
    cpu0 = cpu_s();
    while ((len = getline(&line, &cap, f)) > 0) {
        double t0 = now_s(), c0 = busy_cpu_s();
        long n = do_page(g, line, (size_t)len);

        busy += now_s() - t0;
        busy_cpu += busy_cpu_s() - c0;
        if (n < 0) {
            fprintf(stderr, "limit: page %ld is not a JSON array\n", pages + 1);
            goto out;
        }
        records += n;
        pages++;
        bytes_in += (unsigned long long)len;
    }
    gz_feed(g, NULL, 0, Z_FINISH);
    printf("{\"records\":%ld,\"pages\":%ld,\"bytes_in\":%llu,\"gz_bytes\":%llu,"
           "\"seconds\":%.4f,\"busy_cpu_seconds\":%.4f,\"cpu_seconds\":%.4f}\n",
           records, pages, bytes_in, g->out_bytes, busy, busy_cpu, cpu_s() - cpu0);
    code = 0;
out:
    if (g != NULL)
        deflateEnd(&g->z);
    free(g);
    free(line);
    if (f != NULL)
        fclose(f);
    return code;
}
