/* deflate.c -- the deflate table of `make bench` (tests/bench/README.md):
 * zlib, libdeflate and ISA-L igzip on the same page bytes, one core.
 *
 *   deflate PAGES_FILE [ROUNDS]
 *
 * Reads the file (the page JSON the pipeline benchmark's fake serves) into
 * memory and compresses all of it with each codec and level, ROUNDS times
 * (default 3), interleaved so that a change in machine load hits every
 * codec alike. Each codec writes standard gzip the way the worker would:
 * zlib as one streamed member, libdeflate in 1 MiB input blocks (one gzip
 * member each: libdeflate compresses whole buffers), igzip as one streamed
 * member. Every output is inflated again with zlib (several members read
 * as one stream) and must give back the input bytes, or the run fails.
 * Prints one JSON object per line: codec, level, bytes in and out, ratio,
 * thread CPU seconds (best of the rounds) and MB/s per core.
 */
#include <isa-l/igzip_lib.h>
#include <libdeflate.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#define BLOCK (1u << 20)

struct out {
    unsigned char *data;
    size_t len, cap;
};

static double cpu_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int gz_zlib(const unsigned char *in, size_t n, int level, struct out *o)
{
    z_stream z;
    int rc;

    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return -1;
    o->len = 0;
    z.next_in = (unsigned char *)(uintptr_t)in;
    do {
        size_t step = n - (size_t)(z.next_in - in) < 65536 ? n - (size_t)(z.next_in - in) : 65536;
        int last = (size_t)(z.next_in - in) + step == n;

        z.avail_in = (uInt)step;
        do {
            z.next_out = o->data + o->len;
            z.avail_out = (uInt)(o->cap - o->len > 1u << 30 ? 1u << 30 : o->cap - o->len);
            rc = deflate(&z, last ? Z_FINISH : Z_NO_FLUSH);
            o->len = (size_t)(z.next_out - o->data);
        } while (z.avail_in > 0 || (last && rc != Z_STREAM_END));
    } while ((size_t)(z.next_in - in) < n);
    deflateEnd(&z);
    return 0;
}

static int gz_libdeflate(const unsigned char *in, size_t n, int level, struct out *o)
{
    struct libdeflate_compressor *c = libdeflate_alloc_compressor(level);
    size_t off;

    if (c == NULL)
        return -1;
    o->len = 0;
    for (off = 0; off < n; off += BLOCK) {
        size_t len = n - off < BLOCK ? n - off : BLOCK;
        size_t w = libdeflate_gzip_compress(c, in + off, len, o->data + o->len, o->cap - o->len);

        if (w == 0) {
            libdeflate_free_compressor(c);
            return -1;
        }
        o->len += w;
    }
    libdeflate_free_compressor(c);
    return 0;
}

static int gz_isal(const unsigned char *in, size_t n, int level, struct out *o)
{
    static const unsigned sizes[] = { ISAL_DEF_LVL0_DEFAULT, ISAL_DEF_LVL1_DEFAULT,
                                      ISAL_DEF_LVL2_DEFAULT, ISAL_DEF_LVL3_DEFAULT };
    struct isal_zstream s;
    unsigned char *lb = malloc(sizes[level]);
    int rc = 0;

    if (lb == NULL)
        return -1;
    isal_deflate_init(&s);
    s.gzip_flag = IGZIP_GZIP;
    s.level = (uint32_t)level;
    s.level_buf = lb;
    s.level_buf_size = sizes[level];
    s.end_of_stream = 1;
    s.next_in = (uint8_t *)(uintptr_t)in;
    s.avail_in = (uint32_t)n;
    s.next_out = o->data;
    s.avail_out = (uint32_t)o->cap;
    while (s.internal_state.state != ZSTATE_END) {
        if (isal_deflate(&s) != COMP_OK || s.avail_out == 0) {
            rc = -1;
            break;
        }
    }
    o->len = (size_t)(s.next_out - o->data);
    free(lb);
    return rc;
}

/* zlib inflates every member; the bytes must be the input's. */
static int check(const unsigned char *in, size_t n, const struct out *o)
{
    unsigned char *back = malloc(n + 1);
    z_stream z;
    size_t got = 0;
    int rc = Z_OK, ok;

    memset(&z, 0, sizeof z);
    if (back == NULL || inflateInit2(&z, 15 + 32) != Z_OK) {
        free(back);
        return -1;
    }
    z.next_in = o->data;
    z.avail_in = (uInt)o->len;
    while (z.avail_in > 0 && rc != Z_DATA_ERROR) {
        z.next_out = back + got;
        z.avail_out = (uInt)(n + 1 - got);
        rc = inflate(&z, Z_NO_FLUSH);
        got = (size_t)(z.next_out - back);
        if (rc == Z_STREAM_END && z.avail_in > 0)
            rc = inflateReset(&z);
        else if (rc != Z_OK && rc != Z_STREAM_END)
            break;
    }
    inflateEnd(&z);
    ok = got == n && memcmp(back, in, n) == 0;
    free(back);
    return ok ? 0 : -1;
}

struct codec {
    const char *name;
    int level;
    int (*fn)(const unsigned char *, size_t, int, struct out *);
    double best_cpu;
    size_t bytes;
};

int main(int argc, char **argv)
{
    struct codec cs[] = {
        { "zlib", 3, gz_zlib, 0, 0 },       { "zlib", 1, gz_zlib, 0, 0 },
        { "zlib", 6, gz_zlib, 0, 0 },       { "libdeflate", 1, gz_libdeflate, 0, 0 },
        { "libdeflate", 2, gz_libdeflate, 0, 0 }, { "libdeflate", 3, gz_libdeflate, 0, 0 },
        { "libdeflate", 4, gz_libdeflate, 0, 0 }, { "libdeflate", 6, gz_libdeflate, 0, 0 },
        { "isal", 1, gz_isal, 0, 0 },       { "isal", 2, gz_isal, 0, 0 },
        { "isal", 3, gz_isal, 0, 0 },
    };
    size_t nc = sizeof cs / sizeof cs[0], i, n = 0;
    int rounds = argc > 2 ? atoi(argv[2]) : 3, r;
    unsigned char *in = NULL;
    struct out o;
    FILE *f;
    long sz;

    if (argc < 2 || (f = fopen(argv[1], "rb")) == NULL) {
        fprintf(stderr, "usage: deflate PAGES_FILE [ROUNDS]\n");
        return 2;
    }
    if (fseek(f, 0, SEEK_END) != 0 || (sz = ftell(f)) <= 0 || fseek(f, 0, SEEK_SET) != 0 ||
        (in = malloc((size_t)sz)) == NULL || fread(in, 1, (size_t)sz, f) != (size_t)sz) {
        fprintf(stderr, "deflate: cannot read %s\n", argv[1]);
        return 1;
    }
    fclose(f);
    n = (size_t)sz;
    o.cap = n + n / 8 + (n / BLOCK + 1) * 64 + 65536;
    if ((o.data = malloc(o.cap)) == NULL)
        return 1;
    for (r = 0; r < (rounds > 0 ? rounds : 1); r++) {
        for (i = 0; i < nc; i++) {
            double t0 = cpu_now(), t;
            int rc = cs[i].fn(in, n, cs[i].level, &o);

            t = cpu_now() - t0;
            if (rc != 0 || check(in, n, &o) != 0) {
                fprintf(stderr, "deflate: %s level %d failed or did not round-trip\n",
                        cs[i].name, cs[i].level);
                return 1;
            }
            if (r == 0 || t < cs[i].best_cpu)
                cs[i].best_cpu = t;
            cs[i].bytes = o.len;
        }
    }
    for (i = 0; i < nc; i++)
        printf("{\"codec\":\"%s\",\"level\":%d,\"bytes_in\":%zu,\"bytes_out\":%zu,"
               "\"ratio\":%.2f,\"cpu_s\":%.3f,\"mb_per_s\":%.1f}\n",
               cs[i].name, cs[i].level, n, cs[i].bytes, (double)n / (double)cs[i].bytes,
               cs[i].best_cpu, (double)n / 1e6 / cs[i].best_cpu);
    free(o.data);
    free(in);
    return 0;
}
