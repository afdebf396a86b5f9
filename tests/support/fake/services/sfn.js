// sfn.js -- a scripted Step Functions activity endpoint for the fake server.
//
// Implements GetActivityTask (held up to longPollMs, like the service's 60 s
// long poll), SendTaskSuccess, SendTaskFailure and SendTaskHeartbeat with
// the service's error names. Tests enqueue task inputs and script closures
// through the admin API, then read every task's history (deliveries,
// answers, heartbeats) to check the worker's behaviour; the server itself
// records every call.
//
// Admin (under /__admin/svc/sfn/):
//   POST /tasks      {input: string|object, count?: n, heartbeatTimeoutAt?: k}
//                    enqueue; heartbeatTimeoutAt: the k-th heartbeat (1-based)
//                    is answered TaskTimedOut and closes the task.
//                    -> {tokens: [...]}
//   GET  /tasks      every task: {token, input, state, deliveries, answers,
//                    heartbeats: [ms...], closedReason}
//   POST /close      {token, reason?} close a task (later Send* get TaskTimedOut)
//   POST /config     {longPollMs?, activities?: [arn...]}: with activities
//                    set, any other ARN gets ActivityDoesNotExist
'use strict';

function create(ctx) {
  let seq = 0;
  let tasks = new Map();
  let queue = [];
  let waiters = [];
  const cfg = { longPollMs: 60000, activities: null };
  if (ctx.config && ctx.config.sfn) Object.assign(cfg, ctx.config.sfn);

  function reset() {
    for (const w of waiters) clearTimeout(w.timer);
    tasks = new Map();
    queue = [];
    waiters = [];
    cfg.longPollMs = 60000;
    cfg.activities = null;
    if (ctx.config && ctx.config.sfn) Object.assign(cfg, ctx.config.sfn);
  }

  function json(res, status, obj) {
    ctx.sendJson(res, status, obj, { 'content-type': 'application/x-amz-json-1.0' });
  }

  function deliver(res, task, worker) {
    task.state = 'delivered';
    task.deliveries.push({ time: Date.now(), worker });
    json(res, 200, { taskToken: task.token, input: task.input });
  }

  // Hand queued tasks to waiting pollers whose connection is still open;
  // a poll the client gave up on must not swallow a task.
  function pump() {
    while (queue.length && waiters.length) {
      const w = waiters.shift();
      clearTimeout(w.timer);
      if (w.closed) continue;
      deliver(w.res, queue.shift(), w.worker);
    }
  }

  function getActivityTask(req, res, body) {
    const arn = body.activityArn;
    if (typeof arn !== 'string' || !arn.startsWith('arn:'))
      return ctx.awsJsonError(res, 400, 'InvalidArn', `Invalid Arn: '${arn}'`);
    if (cfg.activities && !cfg.activities.includes(arn))
      return ctx.awsJsonError(res, 400, 'ActivityDoesNotExist', `Activity Does Not Exist: '${arn}'`);
    if (typeof body.workerName !== 'string' || body.workerName.length > 80)
      return ctx.awsJsonError(res, 400, 'ValidationException', 'workerName');
    if (queue.length) return deliver(res, queue.shift(), body.workerName);
    const w = { res, worker: body.workerName, closed: false, timer: null };
    w.timer = setTimeout(() => {
      waiters = waiters.filter((x) => x !== w);
      if (!w.closed) json(res, 200, {});
    }, cfg.longPollMs);
    res.on('close', () => {
      if (!res.writableFinished) w.closed = true;
    });
    req.socket.on('close', () => { w.closed = true; });
    waiters.push(w);
  }

  function taskOf(res, token) {
    const t = tasks.get(token);
    if (!t) {
      ctx.awsJsonError(res, 400, 'TaskDoesNotExist', 'Task Does Not Exist');
      return null;
    }
    if (t.state !== 'delivered') {
      ctx.awsJsonError(res, 400, 'TaskTimedOut', 'Task Timed Out');
      return null;
    }
    return t;
  }

  function answer(res, body, kind) {
    const t = taskOf(res, body.taskToken);
    if (!t) {
      const known = tasks.get(body.taskToken);
      if (known) known.lateAnswers.push({ kind, time: Date.now() });
      return;
    }
    if (kind === 'success' && (typeof body.output !== 'string' ||
                               Buffer.byteLength(body.output) > 262144))
      return ctx.awsJsonError(res, 400, 'InvalidOutput', 'output');
    if (kind === 'failure' && typeof body.cause === 'string' && body.cause.length > 32768)
      return ctx.awsJsonError(res, 400, 'ValidationException', 'cause too long');
    t.state = kind === 'success' ? 'succeeded' : 'failed';
    t.answers.push({ kind, time: Date.now(), output: body.output,
                     error: body.error, cause: body.cause });
    json(res, 200, {});
  }

  function heartbeat(res, body) {
    const t = taskOf(res, body.taskToken);
    if (!t) return;
    t.heartbeats.push(Date.now());
    if (t.heartbeatTimeoutAt && t.heartbeats.length >= t.heartbeatTimeoutAt) {
      t.state = 'timedout';
      t.closedReason = 'heartbeatTimeoutAt';
      return ctx.awsJsonError(res, 400, 'TaskTimedOut', 'Task Timed Out');
    }
    json(res, 200, {});
  }

  function handle(req, res, call, raw) {
    let body;
    try { body = JSON.parse(raw.toString('utf8') || '{}'); } catch (e) {
      return ctx.awsJsonError(res, 400, 'SerializationException', 'bad JSON');
    }
    switch (call.op) {
      case 'GetActivityTask': return getActivityTask(req, res, body);
      case 'SendTaskSuccess': return answer(res, body, 'success');
      case 'SendTaskFailure': return answer(res, body, 'failure');
      case 'SendTaskHeartbeat': return heartbeat(res, body);
      default: return ctx.awsJsonError(res, 400, 'UnknownOperationException', String(call.op));
    }
  }

  function admin(req, res, sub, raw) {
    const body = raw && raw.length ? JSON.parse(raw.toString('utf8')) : {};
    if (sub === '/tasks' && req.method === 'POST') {
      const tokens = [];
      for (let i = 0; i < (body.count || 1); i++) {
        const token = `tok-${++seq}-` + 'x'.repeat(body.tokenPad || 0);
        const input = typeof body.input === 'string' ? body.input : JSON.stringify(body.input);
        const t = { token, input, state: 'queued', deliveries: [], answers: [],
                    heartbeats: [], lateAnswers: [], closedReason: null,
                    heartbeatTimeoutAt: body.heartbeatTimeoutAt || 0 };
        tasks.set(token, t);
        queue.push(t);
        tokens.push(token);
      }
      pump();
      return ctx.sendJson(res, 200, { tokens });
    }
    if (sub === '/tasks' && req.method === 'GET')
      return ctx.sendJson(res, 200, [...tasks.values()].map((t) => ({
        ...t, input: t.input.length > 4096 ? `<${t.input.length} bytes>` : t.input })));
    if (sub === '/close') {
      const t = tasks.get(body.token);
      if (!t) return ctx.sendJson(res, 404, { error: 'no such task' });
      t.state = 'timedout';
      t.closedReason = body.reason || 'closed';
      return ctx.sendJson(res, 200, {});
    }
    if (sub === '/config') {
      if (body.longPollMs !== undefined) cfg.longPollMs = body.longPollMs;
      if (body.activities !== undefined) cfg.activities = body.activities;
      return ctx.sendJson(res, 200, cfg);
    }
    return ctx.sendJson(res, 404, { error: `no admin path ${sub}` });
  }

  return { name: 'sfn', signingName: 'states', handle, admin, reset };
}

module.exports = { create };
