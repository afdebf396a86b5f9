/* idle_floor.c -- the idle RSS that any worker built on the same libraries
 * pays before doing anything of its own (make bench, idle section).
 *
 * Links exactly what backfill-worker links (Debian's libcurl with OpenSSL,
 * cJSON, libcrypto, zlib), calls curl_global_init as every libcurl program
 * must, starts N threads that each create a curl easy handle and one
 * SHA-256 HMAC (the worker signs with it), and then reports its own VmRSS,
 * RssAnon and RssFile from /proc/self/status as one JSON line. No request
 * is made: this is the floor under the worker's 16 open polls, so the
 * benchmark can say how much of the worker's RSS is its own.
 *
 *   idle_floor [N]     (N threads, default 16)
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <zlib.h>

#define FLOOR_MAX_THREADS 256

struct floor_run {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int ready;
    int release;
};

static void *floor_thread(void *arg)
{
    struct floor_run *r = arg;
    unsigned char md[32];
    unsigned int mdlen = 0;
    CURL *h = curl_easy_init();

    HMAC(EVP_sha256(), "key", 3, (const unsigned char *)"data", 4, md, &mdlen);
    pthread_mutex_lock(&r->mu);
    r->ready++;
    pthread_cond_broadcast(&r->cv);
    while (!r->release)
        pthread_cond_wait(&r->cv, &r->mu);
    pthread_mutex_unlock(&r->mu);
    curl_easy_cleanup(h);
    return NULL;
}

static long status_kb(const char *field)
{
    char line[256];
    long kb = -1;
    size_t n = strlen(field);
    FILE *fp = fopen("/proc/self/status", "r");

    if (fp == NULL)
        return -1;
    while (fgets(line, sizeof(line), fp) != NULL)
        if (strncmp(line, field, n) == 0 && line[n] == ':')
            kb = strtol(line + n + 1, NULL, 10);
    fclose(fp);
    return kb;
}

int main(int argc, char **argv)
{
    struct floor_run r = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0 };
    pthread_t t[FLOOR_MAX_THREADS];
    int n = argc > 1 ? atoi(argv[1]) : 16, i;
    cJSON *probe = cJSON_Parse("{\"floor\":true}");

    if (n < 0 || n > FLOOR_MAX_THREADS || probe == NULL)
        return 2;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return 1;
    for (i = 0; i < n; i++)
        if (pthread_create(&t[i], NULL, floor_thread, &r) != 0)
            return 1;
    pthread_mutex_lock(&r.mu);
    while (r.ready < n)
        pthread_cond_wait(&r.cv, &r.mu);
    pthread_mutex_unlock(&r.mu);
    printf("{\"threads\":%d,\"zlib\":\"%s\",\"vmrss_kb\":%ld,\"rss_anon_kb\":%ld,"
           "\"rss_file_kb\":%ld}\n", n, zlibVersion(), status_kb("VmRSS"),
           status_kb("RssAnon"), status_kb("RssFile"));
    fflush(stdout);
    pthread_mutex_lock(&r.mu);
    r.release = 1;
    pthread_cond_broadcast(&r.cv);
    pthread_mutex_unlock(&r.mu);
    for (i = 0; i < n; i++)
        pthread_join(t[i], NULL);
    cJSON_Delete(probe);
    curl_global_cleanup();
    return 0;
}
