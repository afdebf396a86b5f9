/* test_worker.c -- the real backfill-worker binary against the fake SFN.
 *
 * Each test starts tests/support/fake/server.js with the sfn service (it
 * verifies SigV4 and records every call), runs $BF_BIN as a child process
 * with the `noop` handler, scripts tasks and faults through the admin API
 * and then checks the fake's record: every task answered exactly once,
 * the right error names, heartbeat cadence, shutdown rules. The one slow
 * case (a poll that hangs for 70 s) is in its own TCase.
 */
#include <dirent.h>
#include <pthread.h>
#include <stdatomic.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "aws/awsenv.h"
#include "fakesrv.h"
#include "util/buf.h"
#include "util/log.h"
#include "worker/worker.h"
#include "util/timeutil.h"

#include "testsuite.h"

#define ARN "arn:aws:states:us-east-1:123456789012:activity:backfill-test"
#define GOOD_INPUT "{\"tenant_id\":\"acme\",\"service\":\"connectwise\"," \
                   "\"table_name\":\"service/tickets\",\"start_date\":\"2025-06-13\"," \
                   "\"end_date\":\"2025-06-20\",\"heartbeat_seconds\":%d}"

struct wk {
    struct fakesrv fs;
    pid_t pid;
    char log[128];
};

static void admin_ok(struct wk *w, const char *method, const char *path, const char *body)
{
    long st = fakesrv_admin(&w->fs, method, path, body, NULL);

    ck_assert_msg(st == 200, "admin %s %s -> %ld", method, path, st);
}

static void fake_start(struct wk *w, int long_poll_ms)
{
    static const char *const args[] = { "--services", "sfn", "--watch-stdin",
                                        "--max-seconds", "300", NULL };
    char cfg[64];

    memset(w, 0, sizeof *w);
    ck_assert_int_eq(fakesrv_start(&w->fs, "tests/support/fake/server.js", args), 0);
    setenv("AWS_ENDPOINT_URL_SFN", w->fs.url, 1);
    setenv("AWS_REGION", "us-east-1", 1);
    setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", 1);
    setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
    unsetenv("AWS_SESSION_TOKEN");
    unsetenv("AWS_PROFILE");
    unsetenv("AWS_ENDPOINT_URL");
    snprintf(cfg, sizeof cfg, "{\"longPollMs\":%d}", long_poll_ms);
    admin_ok(w, "POST", "svc/sfn/config", cfg);
    snprintf(w->log, sizeof w->log, "/tmp/bf-test-worker-%d.log", (int)getpid());
}

/* Start the worker with `args` (NULL-terminated) after the fixed ones. */
static void worker_start(struct wk *w, const char *const *args)
{
    const char *bin = getenv("BF_BIN");
    const char *argv[32];
    int n = 0, fd;

    ck_assert_ptr_nonnull(bin);
    argv[n++] = bin;
    argv[n++] = "worker";
    argv[n++] = "--activity-arn";
    argv[n++] = ARN;
    argv[n++] = "--handler";
    argv[n++] = "noop";
    argv[n++] = "--log-level";
    argv[n++] = "debug";
    for (; args != NULL && *args != NULL && n < 30; args++)
        argv[n++] = *args;
    argv[n] = NULL;
    w->pid = fork();
    ck_assert_int_ge(w->pid, 0);
    if (w->pid == 0) {
        fd = open(w->log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            dup2(fd, STDERR_FILENO);
            dup2(fd, STDOUT_FILENO);
        }
        execv(bin, (char *const *)argv);
        _exit(127);
    }
}

/* Exit status, or -1 after `timeout_ms` (the child is then killed). */
static int worker_wait(struct wk *w, int timeout_ms)
{
    int64_t end = time_mono_ms() + timeout_ms;
    int status = 0;

    while (time_mono_ms() < end) {
        pid_t r = waitpid(w->pid, &status, WNOHANG);
        if (r == w->pid) {
            w->pid = 0;
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        }
        time_sleep_ms(20);
    }
    kill(w->pid, SIGKILL);
    waitpid(w->pid, &status, 0);
    w->pid = 0;
    return -1;
}

static void teardown_wk(struct wk *w)
{
    if (w->pid > 0)
        worker_wait(w, 1);
    fakesrv_stop(&w->fs);
    unlink(w->log);
}

static cJSON *admin_json(struct wk *w, const char *path)
{
    struct buf b;
    cJSON *o;

    buf_init(&b, 64 << 20);
    ck_assert_int_eq(fakesrv_admin(&w->fs, "GET", path, NULL, &b), 200);
    o = cJSON_Parse(b.data);
    buf_cleanup(&b);
    ck_assert_ptr_nonnull(o);
    return o;
}

static void enqueue(struct wk *w, const char *input_json, int count, int hb_timeout_at)
{
    cJSON *o = cJSON_CreateObject();
    char *body;

    cJSON_AddStringToObject(o, "input", input_json);
    cJSON_AddNumberToObject(o, "count", count);
    cJSON_AddNumberToObject(o, "heartbeatTimeoutAt", hb_timeout_at);
    body = cJSON_PrintUnformatted(o);
    admin_ok(w, "POST", "svc/sfn/tasks", body);
    free(body);
    cJSON_Delete(o);
}

static int count_answered(cJSON *tasks)
{
    cJSON *t;
    int n = 0;

    cJSON_ArrayForEach(t, tasks)
        n += cJSON_GetArraySize(cJSON_GetObjectItem(t, "answers")) > 0;
    return n;
}

static int count_state(cJSON *tasks, const char *state)
{
    cJSON *t;
    int n = 0;

    cJSON_ArrayForEach(t, tasks)
        n += strcmp(cJSON_GetObjectItem(t, "state")->valuestring, state) == 0;
    return n;
}

/* Wait until `n` tasks have an answer; returns the task list. */
static cJSON *wait_answered(struct wk *w, int n, int timeout_ms)
{
    int64_t end = time_mono_ms() + timeout_ms;

    for (;;) {
        cJSON *t = admin_json(w, "svc/sfn/tasks");
        if (count_answered(t) >= n || time_mono_ms() >= end)
            return t;
        cJSON_Delete(t);
        time_sleep_ms(50);
    }
}

static cJSON *wait_delivered(struct wk *w, int n, int timeout_ms)
{
    int64_t end = time_mono_ms() + timeout_ms;

    for (;;) {
        cJSON *t = admin_json(w, "svc/sfn/tasks");
        cJSON *x;
        int d = 0;

        cJSON_ArrayForEach(x, t)
            d += cJSON_GetArraySize(cJSON_GetObjectItem(x, "deliveries")) > 0;
        if (d >= n || time_mono_ms() >= end)
            return t;
        cJSON_Delete(t);
        time_sleep_ms(20);
    }
}

/* Every task: delivered once, answered exactly once, no late answer. */
static void assert_each_answered_once(cJSON *tasks, int n)
{
    cJSON *t;

    ck_assert_int_eq(cJSON_GetArraySize(tasks), n);
    cJSON_ArrayForEach(t, tasks) {
        const char *tok = cJSON_GetObjectItem(t, "token")->valuestring;
        ck_assert_msg(cJSON_GetArraySize(cJSON_GetObjectItem(t, "answers")) == 1,
                      "%s answered %d times", tok,
                      cJSON_GetArraySize(cJSON_GetObjectItem(t, "answers")));
        ck_assert_msg(cJSON_GetArraySize(cJSON_GetObjectItem(t, "deliveries")) == 1,
                      "%s delivered %d times", tok,
                      cJSON_GetArraySize(cJSON_GetObjectItem(t, "deliveries")));
    }
}

static const char *answer_field(cJSON *task, const char *k)
{
    cJSON *a = cJSON_GetArrayItem(cJSON_GetObjectItem(task, "answers"), 0);
    cJSON *v = cJSON_GetObjectItem(a, k);

    return cJSON_IsString(v) ? v->valuestring : "";
}

/* Count recorded calls of `op`; `sigv4_ok` counts how many verified. */
static int count_calls(struct wk *w, const char *op, int *sigv4_bad)
{
    cJSON *calls = admin_json(w, "calls?service=sfn");
    cJSON *c;
    int n = 0;

    if (sigv4_bad != NULL)
        *sigv4_bad = 0;
    cJSON_ArrayForEach(c, calls) {
        cJSON *o = cJSON_GetObjectItem(c, "op");
        if (sigv4_bad != NULL && strcmp(cJSON_GetObjectItem(c, "sigv4")->valuestring, "ok") != 0)
            (*sigv4_bad)++;
        if (cJSON_IsString(o) && strcmp(o->valuestring, op) == 0)
            n++;
    }
    cJSON_Delete(calls);
    return n;
}

/* Wait until the fake has seen at least `n` GetActivityTask calls;
 * returns how many it saw. */
static int wait_polls(struct wk *w, int n, int timeout_ms)
{
    int64_t end = time_mono_ms() + timeout_ms;

    while (count_calls(w, "GetActivityTask", NULL) < n && time_mono_ms() < end)
        time_sleep_ms(20);
    return count_calls(w, "GetActivityTask", NULL);
}

/* Lines of the worker's log that contain `needle`. */
static int log_count(struct wk *w, const char *needle)
{
    FILE *f = fopen(w->log, "r");
    char line[8192];
    int n = 0;

    if (f == NULL)
        return 0;
    while (fgets(line, sizeof line, f) != NULL)
        n += strstr(line, needle) != NULL;
    fclose(f);
    return n;
}

static int log_contains(struct wk *w, const char *needle)
{
    return log_count(w, needle) > 0;
}

/* Wait until the worker has logged `n` task_started events. The fake
 * records a delivery when it sends the response, before the worker has
 * read it; a test about a task that is *running* when something happens
 * must wait for the worker's own word (a sanitizer build is slow enough
 * to lose that race). */
static void wait_started(struct wk *w, int n, int timeout_ms)
{
    int64_t end = time_mono_ms() + timeout_ms;

    while (log_count(w, "\"event\":\"task_started\"") < n && time_mono_ms() < end)
        time_sleep_ms(10);
    ck_assert_int_eq(log_count(w, "\"event\":\"task_started\""), n);
}

static void stop_worker(struct wk *w, int timeout_ms)
{
    int code;

    kill(w->pid, SIGTERM);
    code = worker_wait(w, timeout_ms);
    ck_assert_msg(code == 0, "worker exit %d", code);
}

START_TEST(tasks_over_slots_answered_once)
{
    struct wk w;
    const char *const args[] = { "--concurrency", "4", "--noop-sleep-ms", "150",
                                 "--metrics", "emf", "--metrics-namespace", "BfTest", NULL };
    char input[512];
    cJSON *tasks;
    int bad = 0;

    fake_start(&w, 1000);
    snprintf(input, sizeof input, GOOD_INPUT, 60);
    enqueue(&w, input, 24, 0);
    worker_start(&w, args);
    tasks = wait_answered(&w, 24, 15000);
    ck_assert_int_eq(count_state(tasks, "succeeded"), 24);
    assert_each_answered_once(tasks, 24);
    ck_assert(strstr(answer_field(cJSON_GetArrayItem(tasks, 0), "output"),
                     "\"canonical_table\":\"tickets\"") != NULL);
    cJSON_Delete(tasks);
    stop_worker(&w, 5000);
    ck_assert_int_eq(count_calls(&w, "SendTaskSuccess", &bad), 24);
    ck_assert_int_eq(bad, 0);
    ck_assert_int_eq(count_calls(&w, "SendTaskFailure", NULL), 0);
    ck_assert(!log_contains(&w, "tok-1-"));       /* never the token */
    ck_assert(log_contains(&w, "\"Namespace\":\"BfTest\""));
    ck_assert(log_contains(&w, "\"TasksSucceeded\":1}"));
    ck_assert(log_contains(&w, "\"Name\":\"ChunkDuration\",\"Unit\":\"Milliseconds\""));
    ck_assert(log_contains(&w, "\"clean drain\"") || log_contains(&w, "clean drain"));
    teardown_wk(&w);
}
END_TEST

START_TEST(malformed_inputs_fail_and_worker_keeps_running)
{
    struct wk w;
    const char *const args[] = { "--concurrency", "2", NULL };
    static const struct { const char *input, *field; } cases[] = {
        { "not json", "input:" },
        { "{\"service\":\"connectwise\",\"table_name\":\"service/tickets\","
          "\"start_date\":\"2025-06-13\",\"end_date\":\"2025-06-20\"}", "tenant_id:" },
        { "{\"tenant_id\":\"acme\",\"service\":\"connectwise\",\"table_name\":\"service/tickets\","
          "\"start_date\":\"2025-13-40\",\"end_date\":\"2025-06-20\"}", "start_date:" },
        { "{\"tenant_id\":\"acme\",\"service\":\"connectwise\",\"table_name\":\"service/tickets\","
          "\"start_date\":\"2025-06-20\",\"end_date\":\"2025-06-13\"}", "end_date:" },
        { "{\"tenant_id\":\"../x\",\"service\":\"connectwise\",\"table_name\":\"service/tickets\","
          "\"start_date\":\"2025-06-13\",\"end_date\":\"2025-06-20\"}", "tenant_id:" },
        /* Documents two readers would read differently: each
         * refused before any work, with the field named. */
        { "{\"tenant_id\":\"acme\",\"tenant_id\":\"../x\",\"service\":\"connectwise\","
          "\"table_name\":\"service/tickets\",\"start_date\":\"2025-06-13\","
          "\"end_date\":\"2025-06-20\"}", "input: duplicate key: tenant_id" },
        { "{\"tenant_id\":\"acme\",\"service\":\"connectwise\",\"table_name\":\"service/tickets\","
          "\"start_date\":\"2025-06-13\",\"start_date\":\"2025-06-01\","
          "\"end_date\":\"2025-06-20\"}", "input: duplicate key: start_date" },
        { "{\"tenant_id\":\"acme\",\"service\":\"connectwise\",\"table_name\":\"service/tickets\","
          "\"start_date\":\"2025-06-13\",\"end_date\":\"2025-06-20\"} trailing",
          "input: trailing data after the JSON value at byte " },
        { "{\"tenant_id\":\"ac\\u0000me\",\"service\":\"connectwise\",\"table_name\":\"service/tickets\","
          "\"start_date\":\"2025-06-13\",\"end_date\":\"2025-06-20\"}", "input: NUL in a string (tenant_id) at byte " },
        { "{\"tenant_id\":\"ac\\ud800me\",\"service\":\"connectwise\",\"table_name\":\"service/tickets\","
          "\"start_date\":\"2025-06-13\",\"end_date\":\"2025-06-20\"}", "input: lone surrogate escape in a string (tenant_id) at byte " },
    };
    size_t i, n = sizeof cases / sizeof cases[0];
    char *big = NULL, good[512];
    cJSON *tasks, *t;
    int k = 0;

    fake_start(&w, 1000);
    for (i = 0; i < n; i++)
        enqueue(&w, cases[i].input, 1, 0);
    big = malloc(300 * 1024 + 64);
    ck_assert_ptr_nonnull(big);
    snprintf(big, 64, "{\"tenant_id\":\"acme\",\"pad\":\"");
    memset(big + strlen(big), 'a', 300 * 1024);
    strcpy(big + 30 + 300 * 1024 - 40, "\"}");
    enqueue(&w, big, 1, 0);
    free(big);
    snprintf(good, sizeof good, GOOD_INPUT, 60);
    enqueue(&w, good, 1, 0);
    worker_start(&w, args);
    tasks = wait_answered(&w, (int)n + 2, 10000);
    assert_each_answered_once(tasks, (int)n + 2);
    cJSON_ArrayForEach(t, tasks) {
        char want[128];
        const char *cause = answer_field(t, "cause");

        if (k == (int)n + 1) {
            ck_assert_str_eq(cJSON_GetObjectItem(t, "state")->valuestring, "succeeded");
            break;
        }
        ck_assert_str_eq(answer_field(t, "error"), "Backfill.InvalidInput");
        snprintf(want, sizeof want, "\"message\":\"%s", k < (int)n ? cases[k].field : "input:");
        ck_assert_msg(strstr(cause, want) != NULL, "cause %s lacks %s", cause, want);
        k++;
    }
    cJSON_Delete(tasks);
    stop_worker(&w, 5000);
    teardown_wk(&w);
}
END_TEST

START_TEST(heartbeat_cadence)
{
    struct wk w;
    const char *const args[] = { "--concurrency", "2", "--noop-sleep-ms", "3600", NULL };
    char input[512];
    cJSON *tasks, *t;

    fake_start(&w, 1000);
    snprintf(input, sizeof input, GOOD_INPUT, 3); /* every 1000 ms */
    enqueue(&w, input, 2, 0);
    worker_start(&w, args);
    tasks = wait_answered(&w, 2, 10000);
    assert_each_answered_once(tasks, 2);
    cJSON_ArrayForEach(t, tasks) {
        cJSON *hb = cJSON_GetObjectItem(t, "heartbeats");
        double got = cJSON_GetArrayItem(cJSON_GetObjectItem(t, "deliveries"), 0)
                         ->child->valuedouble; /* deliveries[0].time */
        int i, nhb = cJSON_GetArraySize(hb);

        ck_assert_msg(nhb == 3, "%d heartbeats in 3.6 s at 1 s cadence", nhb);
        for (i = 0; i < nhb; i++) {
            double at = cJSON_GetArrayItem(hb, i)->valuedouble;
            double gap = at - got;
            ck_assert_msg(gap >= 900 && gap <= 1700, "heartbeat %d after %.0f ms", i, gap);
            got = at;
        }
        ck_assert_str_eq(cJSON_GetObjectItem(t, "state")->valuestring, "succeeded");
    }
    cJSON_Delete(tasks);
    stop_worker(&w, 5000);
    teardown_wk(&w);
}
END_TEST

/* Whether task `tid` of `pid` is one of the worker's own threads: the
 * main thread or one it named "bf-..." (a sanitizer's helper thread is
 * neither, and wakes on its own schedule). */
static int own_thread(pid_t pid, const char *tid)
{
    char path[300], comm[32] = "";
    FILE *f;

    if (atoi(tid) == (int)pid)
        return 1;
    snprintf(path, sizeof path, "/proc/%d/task/%.32s/comm", (int)pid, tid);
    f = fopen(path, "r");
    if (f == NULL)
        return 0;
    if (fgets(comm, sizeof comm, f) == NULL)
        comm[0] = '\0';
    fclose(f);
    return strncmp(comm, "bf-", 3) == 0;
}

/* Voluntary context switches of the worker's threads so far: each is a
 * thread going to sleep, so the count says how often they woke. `*threads`
 * gets how many threads were counted. */
static long proc_wakeups(pid_t pid, int *threads)
{
    char path[300], line[128];
    struct dirent *e;
    long total = 0, v;
    DIR *d;

    *threads = 0;
    snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
    d = opendir(path);
    ck_assert_msg(d != NULL, "no %s", path);
    while ((e = readdir(d)) != NULL) {
        FILE *f;

        if (e->d_name[0] == '.' || !own_thread(pid, e->d_name))
            continue;
        snprintf(path, sizeof path, "/proc/%d/task/%.32s/status", (int)pid, e->d_name);
        f = fopen(path, "r");
        if (f == NULL)
            continue; /* the thread ended */
        (*threads)++;
        while (fgets(line, sizeof line, f) != NULL)
            if (sscanf(line, "voluntary_ctxt_switches: %ld", &v) == 1)
                total += v;
        fclose(f);
    }
    closedir(d);
    return total;
}

/* An idle worker sleeps: 16 slots in long polls, no task, and the process
 * wakes a few times a second (the coordinator's look at the stop flag),
 * not once per slot per second plus every 20 ms per housekeeping thread
 * as it did (about 117 wakeups a second). */
START_TEST(idle_worker_sleeps)
{
    struct wk w;
    const char *const args[] = { "--concurrency", "16", NULL };
    long before, woke;
    int threads;

    fake_start(&w, 8000);
    worker_start(&w, args);
    ck_assert_int_eq(wait_polls(&w, 16, 5000), 16);
    time_sleep_ms(300);
    before = proc_wakeups(w.pid, &threads);
    time_sleep_ms(2000);
    woke = proc_wakeups(w.pid, &threads) - before;
    /* main, heartbeat and one per slot: the names are what we count by */
    ck_assert_int_eq(threads, 18);
    ck_assert_msg(woke <= 40, "%ld wakeups in 2 s of idle polling", woke);
    stop_worker(&w, 15000);
    teardown_wk(&w);
}
END_TEST

/* Slots backing off from a failing endpoint sleep too, and still see a
 * stop request soon. The old 20 ms steps woke each slot 50 times a
 * second (over 400 wakeups in 2 s at 4 slots). */
START_TEST(backoff_sleeps_and_stops_promptly)
{
    struct wk w;
    const char *const args[] = { "--concurrency", "4", NULL };
    long before, woke;
    int threads;
    int64_t t0;

    fake_start(&w, 1000);
    admin_ok(&w, "POST", "faults", "{\"faults\":["
             "{\"service\":\"sfn\",\"op\":\"GetActivityTask\",\"times\":10000,"
             "\"status\":500,\"body\":{\"__type\":\"InternalFailure\"}}]}");
    worker_start(&w, args);
    ck_assert_int_ge(wait_polls(&w, 8, 5000), 8);
    before = proc_wakeups(w.pid, &threads);
    time_sleep_ms(2000);
    woke = proc_wakeups(w.pid, &threads) - before;
    ck_assert_msg(woke <= 200, "%ld wakeups in 2 s of backoff", woke);
    ck_assert_int_eq(threads, 6);
    t0 = time_mono_ms();
    stop_worker(&w, 5000);
    ck_assert_msg(time_mono_ms() - t0 < 1500, "stop took %lld ms",
                  (long long)(time_mono_ms() - t0));
    teardown_wk(&w);
}
END_TEST

START_TEST(heartbeat_timed_out_cancels_and_sends_nothing)
{
    struct wk w;
    const char *const args[] = { "--concurrency", "1", "--noop-sleep-ms", "2500", NULL };
    char input[512];
    cJSON *tasks, *first;

    fake_start(&w, 1000);
    snprintf(input, sizeof input, GOOD_INPUT, 3);
    enqueue(&w, input, 1, 1);  /* the first heartbeat says TaskTimedOut */
    enqueue(&w, input, 1, 0);
    worker_start(&w, args);
    tasks = wait_answered(&w, 1, 10000);
    first = cJSON_GetArrayItem(tasks, 0);
    ck_assert_str_eq(cJSON_GetObjectItem(first, "state")->valuestring, "timedout");
    ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(first, "heartbeats")), 1);
    ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(first, "answers")), 0);
    ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(first, "lateAnswers")), 0);
    ck_assert_str_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(tasks, 1), "state")->valuestring,
                     "succeeded");
    cJSON_Delete(tasks);
    stop_worker(&w, 5000);
    /* One success (the second task), no failure for the cancelled one. */
    ck_assert_int_eq(count_calls(&w, "SendTaskSuccess", NULL), 1);
    ck_assert_int_eq(count_calls(&w, "SendTaskFailure", NULL), 0);
    ck_assert(log_contains(&w, "task_cancelled"));
    ck_assert(log_contains(&w, "TaskTimedOut"));
    teardown_wk(&w);
}
END_TEST

START_TEST(endpoint_faults_no_lost_or_duplicate_answer)
{
    struct wk w;
    const char *const args[] = { "--concurrency", "3", "--noop-sleep-ms", "100", NULL };
    char input[512];
    cJSON *tasks, *t;
    int late = 0;

    fake_start(&w, 1000);
    admin_ok(&w, "POST", "faults", "{\"faults\":["
             "{\"service\":\"sfn\",\"op\":\"GetActivityTask\",\"times\":6,\"status\":400,"
             "\"body\":{\"__type\":\"ThrottlingException\",\"message\":\"Rate exceeded\"}},"
             "{\"service\":\"sfn\",\"op\":\"GetActivityTask\",\"times\":3,\"status\":500,"
             "\"body\":{\"__type\":\"InternalFailure\"}},"
             "{\"service\":\"sfn\",\"op\":\"GetActivityTask\",\"times\":3,\"reset\":true},"
             "{\"service\":\"sfn\",\"op\":\"SendTaskSuccess\",\"times\":2,\"status\":503,"
             "\"body\":{\"__type\":\"ServiceUnavailable\"}},"
             "{\"service\":\"sfn\",\"op\":\"SendTaskSuccess\",\"times\":1,\"reset\":true},"
             "{\"service\":\"sfn\",\"op\":\"SendTaskSuccess\",\"times\":1,\"resetAfterHandle\":true}"
             "]}");
    snprintf(input, sizeof input, GOOD_INPUT, 60);
    enqueue(&w, input, 12, 0);
    worker_start(&w, args);
    tasks = wait_answered(&w, 12, 30000);
    assert_each_answered_once(tasks, 12);
    ck_assert_int_eq(count_state(tasks, "succeeded"), 12);
    cJSON_Delete(tasks);
    /* The retry of the lost reply comes after a backoff: read the record
     * once the worker has stopped (it answers everything before exiting),
     * not the moment the twelfth task was accepted. */
    stop_worker(&w, 5000);
    tasks = wait_answered(&w, 12, 1000);
    cJSON_ArrayForEach(t, tasks)
        late += cJSON_GetArraySize(cJSON_GetObjectItem(t, "lateAnswers"));
    /* The lost reply is retried once and told TaskTimedOut: logged only. */
    ck_assert_int_eq(late, 1);
    cJSON_Delete(tasks);
    ck_assert(log_contains(&w, "result_not_accepted"));
    ck_assert(log_contains(&w, "poll_failed"));
    teardown_wk(&w);
}
END_TEST

START_TEST(sigterm_mid_poll_fails_late_task)
{
    struct wk w;
    const char *const args[] = { "--concurrency", "2", NULL };
    char input[512];
    cJSON *tasks;

    fake_start(&w, 3000);
    worker_start(&w, args);
    ck_assert_int_eq(wait_polls(&w, 2, 5000), 2);
    kill(w.pid, SIGTERM);
    time_sleep_ms(200);
    /* Arrives on a poll that was in flight when the signal came. */
    snprintf(input, sizeof input, GOOD_INPUT, 60);
    enqueue(&w, input, 1, 0);
    ck_assert_int_eq(worker_wait(&w, 8000), 0);
    tasks = admin_json(&w, "svc/sfn/tasks");
    assert_each_answered_once(tasks, 1);
    ck_assert_str_eq(answer_field(cJSON_GetArrayItem(tasks, 0), "error"),
                     "Backfill.WorkerShutdown");
    cJSON_Delete(tasks);
    /* No poll started after the signal. */
    ck_assert_int_eq(count_calls(&w, "GetActivityTask", NULL), 2);
    teardown_wk(&w);
}
END_TEST

START_TEST(sigterm_mid_task_drains_then_fails)
{
    struct wk w;
    const char *const args[] = { "--concurrency", "3", "--noop-sleep-ms", "20000",
                                 "--drain-seconds", "1", NULL };
    char input[512];
    cJSON *tasks, *t;
    int64_t t0;

    fake_start(&w, 1000);
    snprintf(input, sizeof input, GOOD_INPUT, 60);
    enqueue(&w, input, 2, 0);
    worker_start(&w, args);
    cJSON_Delete(wait_delivered(&w, 2, 5000));
    wait_started(&w, 2, 10000);
    t0 = time_mono_ms();
    kill(w.pid, SIGTERM);
    ck_assert_int_eq(worker_wait(&w, 8000), 0);
    ck_assert_msg(time_mono_ms() - t0 >= 900, "drain was not honoured");
    tasks = admin_json(&w, "svc/sfn/tasks");
    assert_each_answered_once(tasks, 2);
    cJSON_ArrayForEach(t, tasks)
        ck_assert_str_eq(answer_field(t, "error"), "Backfill.WorkerShutdown");
    cJSON_Delete(tasks);
    teardown_wk(&w);
}
END_TEST

START_TEST(sigterm_mid_task_finishes_within_drain)
{
    struct wk w;
    const char *const args[] = { "--concurrency", "2", "--noop-sleep-ms", "1500",
                                 "--drain-seconds", "30", NULL };
    char input[512];
    cJSON *tasks, *t;
    int delivered = 0;

    fake_start(&w, 1000);
    snprintf(input, sizeof input, GOOD_INPUT, 60);
    enqueue(&w, input, 2, 0);
    worker_start(&w, args);
    /* Both tasks must be running before the signal: a task that arrives
     * after it is failed by design. */
    tasks = wait_delivered(&w, 2, 20000);
    cJSON_ArrayForEach(t, tasks)
        delivered += cJSON_GetArraySize(cJSON_GetObjectItem(t, "deliveries")) > 0;
    cJSON_Delete(tasks);
    ck_assert_int_eq(delivered, 2);
    wait_started(&w, 2, 10000);
    kill(w.pid, SIGTERM);
    ck_assert_int_eq(worker_wait(&w, 10000), 0);
    tasks = admin_json(&w, "svc/sfn/tasks");
    assert_each_answered_once(tasks, 2);
    ck_assert_int_eq(count_state(tasks, "succeeded"), 2);
    cJSON_Delete(tasks);
    teardown_wk(&w);
}
END_TEST

START_TEST(second_signal_shortens_drain)
{
    struct wk w;
    const char *const args[] = { "--concurrency", "1", "--noop-sleep-ms", "30000",
                                 "--drain-seconds", "60", NULL };
    char input[512];
    cJSON *tasks;
    int64_t t0;

    fake_start(&w, 1000);
    snprintf(input, sizeof input, GOOD_INPUT, 60);
    enqueue(&w, input, 1, 0);
    worker_start(&w, args);
    cJSON_Delete(wait_delivered(&w, 1, 5000));
    t0 = time_mono_ms();
    kill(w.pid, SIGTERM);
    time_sleep_ms(300);
    kill(w.pid, SIGINT);
    ck_assert_int_eq(worker_wait(&w, 5000), 0);
    ck_assert(time_mono_ms() - t0 < 3000);
    tasks = admin_json(&w, "svc/sfn/tasks");
    assert_each_answered_once(tasks, 1);
    ck_assert_str_eq(answer_field(cJSON_GetArrayItem(tasks, 0), "error"),
                     "Backfill.WorkerShutdown");
    cJSON_Delete(tasks);
    teardown_wk(&w);
}
END_TEST

START_TEST(unknown_activity_is_fatal)
{
    struct wk w;

    fake_start(&w, 1000);
    admin_ok(&w, "POST", "svc/sfn/config",
             "{\"activities\":[\"arn:aws:states:us-east-1:123456789012:activity:other\"]}");
    worker_start(&w, NULL);
    ck_assert_int_eq(worker_wait(&w, 5000), 1);
    ck_assert(log_contains(&w, "ActivityDoesNotExist"));
    ck_assert(log_contains(&w, "--activity-arn"));
    teardown_wk(&w);

    fake_start(&w, 1000);
    admin_ok(&w, "POST", "faults", "{\"faults\":[{\"service\":\"sfn\",\"op\":\"GetActivityTask\","
             "\"times\":50,\"status\":400,\"body\":{\"__type\":\"AccessDeniedException\","
             "\"message\":\"not authorized\"}}]}");
    worker_start(&w, NULL);
    ck_assert_int_eq(worker_wait(&w, 5000), 1);
    ck_assert(log_contains(&w, "AccessDeniedException"));
    teardown_wk(&w);
}
END_TEST

/* A credential source that is set up but wrong stops the worker at its
 * first poll (exit 1, the variable or file named), never falling through
 * to another source and never sending an unsigned or half-signed call. */
START_TEST(misconfigured_credentials_are_fatal)
{
    struct wk w;

    fake_start(&w, 1000);
    unsetenv("AWS_SECRET_ACCESS_KEY");
    worker_start(&w, NULL);
    ck_assert_int_eq(worker_wait(&w, 5000), 1);
    ck_assert(log_contains(&w, "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not"));
    ck_assert(!log_contains(&w, "AKIDEXAMPLE"));
    ck_assert_int_eq(count_calls(&w, "GetActivityTask", NULL), 0);
    teardown_wk(&w);

    fake_start(&w, 1000);
    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SECRET_ACCESS_KEY");
    setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials", 1);
    setenv("AWS_CONFIG_FILE", "/nonexistent/config", 1);
    setenv("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/backfill", 1);
    setenv("AWS_WEB_IDENTITY_TOKEN_FILE", "/nonexistent/token", 1);
    worker_start(&w, NULL);
    ck_assert_int_eq(worker_wait(&w, 5000), 1);
    ck_assert(log_contains(&w, "AWS_WEB_IDENTITY_TOKEN_FILE: cannot read /nonexistent/token"));
    ck_assert_int_eq(count_calls(&w, "GetActivityTask", NULL), 0);
    unsetenv("AWS_ROLE_ARN");
    unsetenv("AWS_WEB_IDENTITY_TOKEN_FILE");
    unsetenv("AWS_SHARED_CREDENTIALS_FILE");
    unsetenv("AWS_CONFIG_FILE");
    teardown_wk(&w);
}
END_TEST

START_TEST(poll_hanging_70s_recovers)
{
    struct wk w;
    const char *const args[] = { "--concurrency", "1", NULL };
    char input[512];
    cJSON *tasks;
    int64_t t0 = time_mono_ms();

    fake_start(&w, 1000);
    admin_ok(&w, "POST", "faults", "{\"faults\":[{\"service\":\"sfn\","
             "\"op\":\"GetActivityTask\",\"times\":1,\"hang\":true}]}");
    worker_start(&w, args);
    time_sleep_ms(500);
    snprintf(input, sizeof input, GOOD_INPUT, 60);
    enqueue(&w, input, 1, 0);
    tasks = wait_answered(&w, 1, 90000);
    assert_each_answered_once(tasks, 1);
    ck_assert_str_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(tasks, 0), "state")->valuestring,
                     "succeeded");
    /* The client waited out its 70 s read timeout, not less. */
    ck_assert_msg(time_mono_ms() - t0 >= 69000, "gave up after %lld ms",
                  (long long)(time_mono_ms() - t0));
    cJSON_Delete(tasks);
    stop_worker(&w, 5000);
    teardown_wk(&w);
}
END_TEST

/* In-process: a handler that ignores cancellation must not delay the other
 * task's heartbeats, and after the drain and the grace period its task is
 * answered WorkerShutdown by the coordinator, exactly once. */
static atomic_int hang_release;

static enum bf_rc hang_or_work(void *ctx, const struct task_input *in,
                               struct task_cancel *cancel, struct task_result *out,
                               struct bf_err *err)
{
    int work_ms = 2500;

    (void)ctx;
    if (strcmp(in->tenant_id, "hang") != 0)
        return worker_noop_run(&work_ms, in, cancel, out, err);
    while (!atomic_load(&hang_release))
        time_sleep_ms(10);
    task_result_init(out);
    return BF_OK;
}

struct run_args {
    struct worker_options o;
    struct bf_err err;
    enum bf_rc rc;
    atomic_int done;
};

static void *run_worker(void *arg)
{
    struct run_args *a = arg;

    a->rc = worker_run(&a->o, &a->err);
    atomic_store(&a->done, 1);
    return NULL;
}

static int find_task(cJSON *tasks, const char *tenant)
{
    cJSON *t;
    int i = 0;

    cJSON_ArrayForEach(t, tasks) {
        if (strstr(cJSON_GetObjectItem(t, "input")->valuestring, tenant) != NULL)
            return i;
        i++;
    }
    return -1;
}

START_TEST(hung_handler_does_not_block_heartbeats_and_is_answered)
{
    struct wk w;
    struct awsenv_options eo;
    struct awsenv *env = NULL;
    struct run_args *a = calloc(1, sizeof *a);
    atomic_int stop;
    pthread_t th;
    char input[512];
    cJSON *tasks, *hang, *work;
    int64_t end;

    ck_assert_ptr_nonnull(a);
    log_setup(LOG_OFF, "test", STDERR_FILENO); /* this child process only */
    fake_start(&w, 1000);
    snprintf(input, sizeof input, "{\"tenant_id\":\"hang\",\"service\":\"connectwise\","
             "\"table_name\":\"service/tickets\",\"start_date\":\"2025-06-13\","
             "\"end_date\":\"2025-06-20\",\"heartbeat_seconds\":3}");
    enqueue(&w, input, 1, 0);
    snprintf(input, sizeof input, GOOD_INPUT, 3);
    enqueue(&w, input, 1, 0);
    memset(&eo, 0, sizeof eo);
    ck_assert_int_eq(awsenv_new(&eo, &env, NULL), BF_OK);
    atomic_init(&stop, 0);
    atomic_init(&a->done, 0);
    a->o.activity_arn = ARN;
    a->o.worker_name = "test-worker";
    a->o.concurrency = 2;
    a->o.drain_seconds = 1;
    a->o.aws = env;
    a->o.handler.run = hang_or_work;
    a->o.handler.name = "hang_or_work";
    a->o.cancel_grace_ms = 500;
    a->o.stop = &stop;
    ck_assert_int_eq(pthread_create(&th, NULL, run_worker, a), 0);
    cJSON_Delete(wait_delivered(&w, 2, 5000));
    tasks = wait_answered(&w, 1, 5000);
    work = cJSON_GetArrayItem(tasks, find_task(tasks, "acme"));
    hang = cJSON_GetArrayItem(tasks, find_task(tasks, "hang"));
    ck_assert_str_eq(cJSON_GetObjectItem(work, "state")->valuestring, "succeeded");
    ck_assert_int_ge(cJSON_GetArraySize(cJSON_GetObjectItem(work, "heartbeats")), 2);
    ck_assert_int_ge(cJSON_GetArraySize(cJSON_GetObjectItem(hang, "heartbeats")), 2);
    cJSON_Delete(tasks);
    atomic_store(&stop, 1);
    end = time_mono_ms() + 8000;
    while (!atomic_load(&a->done) && time_mono_ms() < end)
        time_sleep_ms(20);
    ck_assert_msg(atomic_load(&a->done), "worker_run did not return");
    pthread_join(th, NULL);
    ck_assert_int_eq(a->rc, BF_E_WORKER_SHUTDOWN);
    tasks = admin_json(&w, "svc/sfn/tasks");
    assert_each_answered_once(tasks, 2);
    hang = cJSON_GetArrayItem(tasks, find_task(tasks, "hang"));
    ck_assert_str_eq(answer_field(hang, "error"), "Backfill.WorkerShutdown");
    cJSON_Delete(tasks);
    atomic_store(&hang_release, 1); /* the stuck thread finishes: sends nothing */
    time_sleep_ms(300);
    tasks = admin_json(&w, "svc/sfn/tasks");
    assert_each_answered_once(tasks, 2);
    hang = cJSON_GetArrayItem(tasks, find_task(tasks, "hang"));
    ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(hang, "lateAnswers")), 0);
    cJSON_Delete(tasks);
    awsenv_release(env);
    free(a);
    teardown_wk(&w);
}
END_TEST

/* The CLI: exit codes, run-chunk and plan through the binary. */
static int run_cli(const char *args, const char *stdin_text, char *out, size_t cap)
{
    char cmd[1024], path[64];
    FILE *f;
    size_t n;
    int status;

    snprintf(path, sizeof path, "/tmp/bf-test-cli-%d.in", (int)getpid());
    f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(stdin_text != NULL ? stdin_text : "", f);
    fclose(f);
    snprintf(cmd, sizeof cmd, "'%s' %s < %s 2>/dev/null", getenv("BF_BIN"), args, path);
    f = popen(cmd, "r");
    ck_assert_ptr_nonnull(f);
    n = fread(out, 1, cap - 1, f);
    out[n] = '\0';
    status = pclose(f);
    unlink(path);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

START_TEST(cli_commands_and_exit_codes)
{
    char out[65536], input[512];

    ck_assert_int_eq(run_cli("version", NULL, out, sizeof out), 0);
    ck_assert(strncmp(out, "backfill-worker ", 16) == 0);
    /* The second line names the linked libcurl, which speaks https. */
    ck_assert_ptr_nonnull(strstr(out, "\nlibcurl/"));
    ck_assert_ptr_nonnull(strstr(out, " https"));
    ck_assert_int_eq(run_cli("help", NULL, out, sizeof out), 0);
    ck_assert_int_eq(run_cli("worker --help", NULL, out, sizeof out), 0);
    ck_assert(strstr(out, "--activity-arn") != NULL && strstr(out, "BACKFILL_DRAIN_SECONDS") != NULL);
    ck_assert_int_eq(run_cli("plan --help", NULL, out, sizeof out), 0);
    ck_assert_int_eq(run_cli("run-chunk --help", NULL, out, sizeof out), 0);
    ck_assert_int_eq(run_cli("frobnicate", NULL, out, sizeof out), 2);
    ck_assert_int_eq(run_cli("worker --concurrency x --activity-arn arn:a", NULL, out, sizeof out), 2);
    ck_assert_int_eq(run_cli("run-chunk", NULL, out, sizeof out), 2);
    unsetenv("BACKFILL_ACTIVITY_ARN");
    ck_assert_int_eq(run_cli("worker", NULL, out, sizeof out), 2);
    snprintf(input, sizeof input, GOOD_INPUT, 60);
    ck_assert_int_eq(run_cli("run-chunk --handler noop --input -", input, out, sizeof out), 0);
    ck_assert(strstr(out, "\"status\":\"SUCCEEDED\"") != NULL);
    ck_assert_int_eq(run_cli("run-chunk --handler noop --input -", "{\"tenant_id\":\"../x\"}",
                             out, sizeof out), 1);
    ck_assert(strstr(out, "\"error\":\"Backfill.InvalidInput\"") != NULL);
    ck_assert_int_eq(run_cli("plan --input -", "{\"tenant_id\":\"a\",\"service\":\"connectwise\","
                             "\"table_name\":\"time/entries\",\"start_date\":\"2025-01-01\","
                             "\"end_date\":\"2025-01-08\",\"chunk_size_days\":2}",
                             out, sizeof out), 0);
    ck_assert(strstr(out, "\"chunk_number\":4,\"total_chunks\":4,"
                          "\"start_date\":\"2025-01-07T00:00:00.000Z\","
                          "\"end_date\":\"2025-01-08T00:00:00.000Z\"") != NULL);
    ck_assert_int_eq(run_cli("plan --input -", "{}", out, sizeof out), 1);
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("worker");
    TCase *fast = tcase_create("worker");
    TCase *slow = tcase_create("worker_slow");

    tcase_set_timeout(fast, 60);
    tcase_add_test(fast, cli_commands_and_exit_codes);
    tcase_add_test(fast, tasks_over_slots_answered_once);
    tcase_add_test(fast, malformed_inputs_fail_and_worker_keeps_running);
    tcase_add_test(fast, heartbeat_cadence);
    tcase_add_test(fast, idle_worker_sleeps);
    tcase_add_test(fast, backoff_sleeps_and_stops_promptly);
    tcase_add_test(fast, heartbeat_timed_out_cancels_and_sends_nothing);
    tcase_add_test(fast, endpoint_faults_no_lost_or_duplicate_answer);
    tcase_add_test(fast, sigterm_mid_poll_fails_late_task);
    tcase_add_test(fast, sigterm_mid_task_drains_then_fails);
    tcase_add_test(fast, sigterm_mid_task_finishes_within_drain);
    tcase_add_test(fast, second_signal_shortens_drain);
    tcase_add_test(fast, unknown_activity_is_fatal);
    tcase_add_test(fast, misconfigured_credentials_are_fatal);
    tcase_add_test(fast, hung_handler_does_not_block_heartbeats_and_is_answered);
    suite_add_tcase(s, fast);
    tcase_set_timeout(slow, 150);
    tcase_add_test(slow, poll_hanging_70s_recovers);
    suite_add_tcase(s, slow);
    return s;
}
