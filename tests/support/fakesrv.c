/* fakesrv.c -- launcher for the Node fake servers (see fakesrv.h). */
#include "fakesrv.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

const char *fakesrv_top_path(const char *rel)
{
    static _Thread_local char path[4096];
    const char *top = getenv("BF_TOP");

    snprintf(path, sizeof(path), "%s/%s", top != NULL ? top : ".", rel);
    return path;
}

/* Read one line (the port announcement) with an overall deadline. */
static int read_port_line(int fd, char *line, size_t cap, int timeout_ms)
{
    size_t n = 0;
    struct pollfd p = { .fd = fd, .events = POLLIN };

    while (n + 1 < cap) {
        int r = poll(&p, 1, timeout_ms);
        if (r <= 0)
            return -1;
        if (read(fd, line + n, 1) != 1)
            return -1;
        if (line[n] == '\n')
            break;
        n++;
    }
    line[n] = '\0';
    return 0;
}

int fakesrv_start(struct fakesrv *s, const char *script, const char *const *argv)
{
    int in[2], out[2];
    const char *args[64];
    char line[256];
    size_t n = 0;
    const char *p;

    memset(s, 0, sizeof(*s));
    s->pid = -1;
    s->stdin_fd = -1;
    if (pipe(in) != 0 || pipe(out) != 0)
        return -1;
    args[n++] = "node";
    args[n++] = fakesrv_top_path(script);
    for (; argv != NULL && argv[n - 2] != NULL && n < 60; n++)
        args[n] = argv[n - 2];
    args[n++] = "--watch-stdin";
    args[n] = NULL;
    s->pid = fork();
    if (s->pid < 0)
        return -1;
    if (s->pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        close(in[1]);
        close(out[0]);
        execvp("node", (char *const *)args);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    s->stdin_fd = in[1];
    if (read_port_line(out[0], line, sizeof(line), 15000) != 0 ||
        (p = strstr(line, "\"port\":")) == NULL) {
        fprintf(stderr, "fakesrv: %s did not announce a port\n", script);
        close(out[0]);
        fakesrv_stop(s);
        return -1;
    }
    close(out[0]);
    s->port = atoi(p + 7);
    snprintf(s->url, sizeof(s->url), "http://127.0.0.1:%d", s->port);
    return 0;
}

void fakesrv_stop(struct fakesrv *s)
{
    int status, i;

    if (s == NULL || s->pid <= 0)
        return;
    if (s->stdin_fd >= 0)
        close(s->stdin_fd);
    s->stdin_fd = -1;
    /* The fake exits on stdin EOF; give it 2 s, then insist. */
    for (i = 0; i < 200; i++) {
        if (waitpid(s->pid, &status, WNOHANG) == s->pid) {
            s->pid = -1;
            return;
        }
        usleep(10000);
    }
    kill(s->pid, SIGKILL);
    waitpid(s->pid, &status, 0);
    s->pid = -1;
}

static size_t collect(char *p, size_t size, size_t n, void *ud)
{
    struct buf *b = ud;

    if (b != NULL && buf_append(b, p, size * n) != BF_OK)
        return 0;
    return size * n;
}

long fakesrv_admin(const struct fakesrv *s, const char *method,
                   const char *path, const char *body, struct buf *resp)
{
    CURL *c = curl_easy_init();
    struct curl_slist *h = NULL;
    char url[512];
    long status = -1;

    if (c == NULL)
        return -1;
    snprintf(url, sizeof(url), "%s/__admin/%s", s->url,
             path[0] == '/' ? path + 1 : path);
    h = curl_slist_append(h, "content-type: application/json");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    if (body != NULL)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, resp);
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return status;
}
