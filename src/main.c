/* main.c -- the backfill-worker command line.
 *
 * Subcommands: worker (the long-running activity worker), run-chunk (one
 * task input through the exact task code path, printed), plan (the chunk
 * plan for a StartExecution input), version, help. Settings come from
 * defaults, then BACKFILL_* variables, then flags (config.h). Exit codes:
 * 0 ok, 1 task or runtime failure, 2 usage error.
 */
#include <signal.h>
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aws/awsenv.h"
#include "aws/http.h"
#include "chunk/chunk.h"
#include "config/config.h"
#include "fleet/fleet.h"
#include "plan/plan.h"
#include "catalog/catalog.h"
#include "task/task.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/timeutil.h"
#include "worker/worker.h"

#define EXIT_USAGE 2
#define INPUT_READ_MAX (TASK_INPUT_MAX + 1) /* one more: "too big" is seen */

struct cli {
    const char *cmd;
    const char *input;  /* --input FILE|- */
    struct bf_config cfg;
};

static void usage(FILE *out, const char *cmd)
{
    if (cmd == NULL || strcmp(cmd, "help") == 0) {
        fprintf(out,
                "usage: backfill-worker COMMAND [flags]\n\n"
                "commands:\n"
                "  worker               poll the activity and run chunks until SIGTERM\n"
                "  run-chunk --input F  run one task input (file or -) and print the result\n"
                "  plan --input F       print the chunk plan for a StartExecution input\n"
                "  version              print the version\n"
                "  help                 this text; COMMAND --help for its flags\n\n"
                "exit codes: 0 ok, 1 task or runtime failure, 2 usage error\n");
        return;
    }
    if (strcmp(cmd, "plan") == 0) {
        fprintf(out, "usage: backfill-worker plan --input FILE|-\n\n"
                "Prints the chunk plan for a StartExecution input\n"
                "{tenant_id, service, table_name | tables[], start_date?, end_date?,\n"
                " chunk_size_days?, max_concurrency?} as JSON.\n");
        return;
    }
    if (strcmp(cmd, "run-chunk") == 0)
        fprintf(out, "usage: backfill-worker run-chunk --input FILE|- [flags]\n\n"
                "Runs one task input exactly as the worker would and prints the\n"
                "SendTaskSuccess output or {\"error\",\"cause\"}. Exit 1 on failure.\n\n");
    else
        fprintf(out, "usage: backfill-worker worker [flags]\n\n"
                "Polls the activity with --concurrency slots; SIGTERM/SIGINT drains.\n\n");
    fprintf(out, "flags (each also an environment variable; flags win):\n");
    config_usage(out);
}

static int read_input(const char *path, struct buf *b)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    char chunk[65536];
    size_t n;
    int rc = 0;

    if (f == NULL) {
        fprintf(stderr, "backfill-worker: cannot open %s\n", path);
        return -1;
    }
    for (;;) {
        n = fread(chunk, 1, sizeof chunk, f);
        if (n == 0)
            break;
        /* Past the limit we keep the first bytes: the parser rejects them. */
        if (b->len + n > INPUT_READ_MAX)
            n = INPUT_READ_MAX - b->len;
        if (n == 0 || buf_append(b, chunk, n) != BF_OK)
            break;
    }
    if (ferror(f))
        rc = -1;
    if (f != stdin)
        fclose(f);
    if (b->data == NULL && buf_append(b, "", 0) != BF_OK)
        rc = -1;
    return rc;
}

static int print_json(const char *s)
{
    if (s == NULL)
        return 1;
    fputs(s, stdout);
    fputc('\n', stdout);
    return fflush(stdout) == 0 ? 0 : 1;
}

/* {"error": NAME, "message": ...}: what the state machine's Plan reports. */
static void print_error_json(const struct bf_err *err)
{
    cJSON *o = cJSON_CreateObject();
    char *s = NULL;

    if (o == NULL)
        return;
    cJSON_AddStringToObject(o, "error", bf_rc_error_name(err->rc));
    cJSON_AddStringToObject(o, "message", err->message);
    s = cJSON_PrintUnformatted(o);
    print_json(s);
    free(s);
    cJSON_Delete(o);
}

static int cmd_plan(struct cli *c)
{
    struct buf in;
    struct plan_request req;
    struct bf_err err;
    char *out = NULL;
    int code = 1;

    buf_init(&in, INPUT_READ_MAX);
    bf_err_init(&err);
    if (read_input(c->input, &in) != 0)
        goto done;
    if (plan_parse_request(in.data, in.len, time_now_ms(), &req, &err) == BF_OK &&
        plan_json(&req, &out, &err) == BF_OK) {
        code = print_json(out);
        goto done;
    }
    fprintf(stderr, "backfill-worker plan: %s\n", err.message);
    print_error_json(&err);
done:
    free(out);
    buf_cleanup(&in);
    return code;
}

/* The AWS environment, if one can be made. The worker needs it; run-chunk
 * with file:// stores and builtin steps does not. */
static struct awsenv *make_aws(const struct bf_config *cfg, int required)
{
    struct awsenv_options o;
    struct awsenv *aws = NULL;
    struct bf_err err;

    memset(&o, 0, sizeof o);
    o.ca_bundle = cfg->ca_bundle;
    o.allow_insecure_http = cfg->allow_insecure_http;
    bf_err_init(&err);
    if (awsenv_new(&o, &aws, &err) != BF_OK) {
        if (required)
            fprintf(stderr, "backfill-worker: %s\n", err.message);
        return NULL;
    }
    return aws;
}

static enum bf_rc make_handler(const struct bf_config *cfg, struct awsenv *aws,
                               struct chunk_runner **runner,
                               struct task_handler *h, struct bf_err *err)
{
    memset(h, 0, sizeof *h);
    *runner = NULL;
    if (strcmp(cfg->handler, "noop") == 0) {
        h->run = worker_noop_run;
        h->ctx = (void *)&cfg->noop_sleep_ms;
        h->name = "noop";
        return BF_OK;
    }
    h->run = chunk_run;
    h->name = "chunk";
    if (chunk_runner_new(cfg, aws, runner, err) != BF_OK)
        return err != NULL ? err->rc : BF_E_INTERNAL;
    h->ctx = *runner;
    return BF_OK;
}

static int cmd_run_chunk(struct cli *c)
{
    struct buf in;
    struct awsenv *aws = NULL;
    struct chunk_runner *runner = NULL;
    struct task_handler h;
    struct bf_err err;
    char *out = NULL;
    int code = 1;
    enum bf_rc rc;

    buf_init(&in, INPUT_READ_MAX);
    bf_err_init(&err);
    if (read_input(c->input, &in) != 0)
        goto done;
    aws = make_aws(&c->cfg, 0);
    rc = make_handler(&c->cfg, aws, &runner, &h, &err);
    if (rc != BF_OK) {
        fprintf(stderr, "backfill-worker run-chunk: %s\n", err.message);
        goto done;
    }
    rc = worker_run_one(&h, c->cfg.worker_name, in.data, in.len, &out, &err);
    if (print_json(out) == 0 && rc == BF_OK)
        code = 0;
done:
    free(out);
    chunk_runner_free(runner);
    awsenv_release(aws);
    buf_cleanup(&in);
    return code;
}

static void on_signal(int sig)
{
    (void)sig;
    worker_signal();
}

static void install_signals(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

static int cmd_worker(struct cli *c)
{
    struct awsenv *aws = NULL;
    struct chunk_runner *runner = NULL;
    struct fleet *fleet = NULL;
    struct worker_options o;
    struct bf_err err;
    int code = 1;

    if (c->cfg.activity_arn[0] == '\0') {
        fprintf(stderr, "backfill-worker worker: set --activity-arn or BACKFILL_ACTIVITY_ARN\n");
        return EXIT_USAGE;
    }
    install_signals();
    bf_err_init(&err);
    aws = make_aws(&c->cfg, 1);
    if (aws == NULL)
        goto done;
    memset(&o, 0, sizeof o);
    if (make_handler(&c->cfg, aws, &runner, &o.handler, &err) != BF_OK) {
        log_msg(LOG_ERROR, "startup_failed", "%s", err.message);
        goto done;
    }
    /* The fleet state machine's plan and summary tasks share the activity. */
    if (fleet_new(&c->cfg, aws, &fleet, &err) != BF_OK) {
        log_msg(LOG_ERROR, "startup_failed", "%s", err.message);
        goto done;
    }
    o.extra.accepts = fleet_accepts;
    o.extra.run = fleet_run;
    o.extra.ctx = fleet;
    o.extra.heartbeat_seconds = 60;
    o.activity_arn = c->cfg.activity_arn;
    o.worker_name = c->cfg.worker_name;
    o.concurrency = c->cfg.concurrency;
    o.drain_seconds = c->cfg.drain_seconds;
    o.aws = aws;
    o.metrics_emf = strcmp(c->cfg.metrics, "emf") == 0;
    o.metrics_namespace = c->cfg.metrics_namespace;
    if (worker_run(&o, &err) == BF_OK) {
        code = 0;
        goto done;
    }
    log_msg(LOG_ERROR, "worker_failed", "%s", err.message);
    if (err.rc == BF_E_WORKER_SHUTDOWN) {
        /* A handler thread is still running: freeing what it uses would be
         * a use-after-free. Every task was answered; leave now. */
        fflush(stdout);
        _exit(1);
    }
done:
    fleet_free(fleet);
    chunk_runner_free(runner);
    awsenv_release(aws);
    return code;
}

/* `fleet-task`: one fleet plan or summary task through the worker's code,
 * printed instead of sent (the fleet's counterpart of run-chunk). */
static int cmd_fleet_task(struct cli *c)
{
    struct buf in;
    struct awsenv *aws = NULL;
    struct fleet *f = NULL;
    struct task_cancel cancel;
    struct bf_err err;
    char *out = NULL;
    int code = 1;

    buf_init(&in, INPUT_READ_MAX);
    bf_err_init(&err);
    task_cancel_init(&cancel);
    if (read_input(c->input, &in) != 0)
        goto done;
    aws = make_aws(&c->cfg, 0);
    if (fleet_new(&c->cfg, aws, &f, &err) == BF_OK &&
        fleet_run(f, in.data, &cancel, &out, &err) == BF_OK) {
        code = print_json(out);
        goto done;
    }
    fprintf(stderr, "backfill-worker fleet-task: %s\n", err.message);
    print_error_json(&err);
done:
    task_cancel_destroy(&cancel);
    free(out);
    fleet_free(f);
    awsenv_release(aws);
    buf_cleanup(&in);
    return code;
}

int main(int argc, char **argv)
{
    struct cli c;
    struct config_args args;
    struct bf_err err;
    int code;

    memset(&c, 0, sizeof c);
    c.cmd = argc > 1 ? argv[1] : "help";
    if (strcmp(c.cmd, "version") == 0 || strcmp(c.cmd, "--version") == 0) {
        char libs[512];

        http_library_version(libs, sizeof(libs));
        printf("backfill-worker %s\n%s\n", BF_VERSION, libs);
        return 0;
    }
    if (strcmp(c.cmd, "help") == 0 || strcmp(c.cmd, "--help") == 0 ||
        strcmp(c.cmd, "-h") == 0) {
        usage(stdout, NULL);
        return argc > 1 ? 0 : EXIT_USAGE;
    }
    if (strcmp(c.cmd, "worker") != 0 && strcmp(c.cmd, "run-chunk") != 0 &&
        strcmp(c.cmd, "plan") != 0 && strcmp(c.cmd, "fleet-task") != 0) {
        fprintf(stderr, "backfill-worker: unknown command \"%s\"\n", c.cmd);
        usage(stderr, NULL);
        return EXIT_USAGE;
    }
    config_defaults(&c.cfg);
    bf_err_init(&err);
    if (config_from_env(&c.cfg, &err) != BF_OK) {
        fprintf(stderr, "backfill-worker: %s\n", err.message);
        return EXIT_USAGE;
    }
    if (config_from_args(&c.cfg, argc - 2, argv + 2, &args, &err) != BF_OK) {
        fprintf(stderr, "backfill-worker %s: %s\n", c.cmd, err.message);
        return EXIT_USAGE;
    }
    c.input = args.input;
    if (args.help) {
        usage(stdout, c.cmd);
        return 0;
    }
    if (strcmp(c.cmd, "worker") != 0 && c.input == NULL) {
        fprintf(stderr, "backfill-worker %s: --input FILE|- is required\n", c.cmd);
        return EXIT_USAGE;
    }
    log_setup(c.cfg.log_level, c.cfg.worker_name, STDERR_FILENO);
    /* Extra endpoints join the table before any thread reads it. */
    if (c.cfg.endpoints_file[0] != '\0' &&
        catalog_add_file(c.cfg.endpoints_file, &err) != BF_OK) {
        fprintf(stderr, "backfill-worker: %s\n", err.message);
        return EXIT_USAGE;
    }
    if (strcmp(c.cmd, "plan") == 0)
        return cmd_plan(&c);
    /* libcurl's one-time set-up is not thread-safe: do it here, before
     * any slot or heartbeat thread exists. */
    if (http_global_init(&err) != BF_OK) {
        fprintf(stderr, "backfill-worker: %s\n", err.message);
        return EXIT_FAILURE;
    }
    if (strcmp(c.cmd, "run-chunk") == 0)
        code = cmd_run_chunk(&c);
    else if (strcmp(c.cmd, "fleet-task") == 0)
        code = cmd_fleet_task(&c);
    else
        code = cmd_worker(&c);
    http_global_cleanup();
    return code;
}
