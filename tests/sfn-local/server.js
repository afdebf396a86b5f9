#!/usr/bin/env node
// server.js -- a local Step Functions endpoint for development and tests.
//
// DEVELOPMENT AND TESTING ONLY. It is not a production engine (production is
// AWS Step Functions); it exists so that `make demo` and the end-to-end tests
// can run the real worker against the real definition without an AWS account.
//
//   node server.js [--port 0] [--keys AKID=SECRET,...] [--time-scale N]
//                  [--retry-scale N] [--poll-seconds 60] [--s3-root DIR] [--s3-bucket B=DIR]
//                  [--max-seconds 900] [--watch-stdin] [--log FILE]
//
// Speaks the Step Functions JSON 1.0 API on 127.0.0.1 and verifies every
// request's SigV4 signature with the reference signer: CreateActivity,
// CreateStateMachine, StartExecution, DescribeExecution,
// GetExecutionHistory, StopExecution, RedriveExecution, ListExecutions,
// GetActivityTask (long poll), SendTaskSuccess, SendTaskFailure,
// SendTaskHeartbeat. Definitions run in interpreter.js, which refuses what
// it does not implement. --time-scale divides retry intervals, heartbeat
// and task timeouts and the execution timeout (tests use 10 or more);
// --retry-scale N divides only retry intervals (then heartbeat windows stay
// real, so a real worker's heartbeat cadence of heartbeat_seconds/3 fits).
// The aws-sdk:s3:putObject integration writes to --s3-bucket B=DIR (object
// at DIR/KEY) or --s3-root DIR (object at DIR/B/KEY).
'use strict';
const { listenAndServe } = require('../support/fake/serve.js');
const crypto = require('crypto');
const fs = require('fs');
const http = require('http');
const path = require('path');
const { verify } = require('../support/fake/sigv4verify');
const { validate, Execution, StatesError } = require('./interpreter');

const REGION = 'us-east-1';
const ACCOUNT = '123456789012';
const DEFAULT_KEYS = 'AKIDEXAMPLE=wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY';

function parseArgs(argv) {
  const a = { port: 0, keys: DEFAULT_KEYS, timeScale: 1, retryScale: 0, pollSeconds: 60, s3Root: null,
              s3Buckets: {}, maxSeconds: 900, watchStdin: false, log: null };
  for (let i = 2; i < argv.length; i++) {
    const k = argv[i];
    const v = () => argv[++i];
    if (k === '--port') a.port = Number(v());
    else if (k === '--keys') a.keys = v();
    else if (k === '--time-scale') a.timeScale = Number(v());
    else if (k === '--retry-scale') a.retryScale = Number(v());
    else if (k === '--poll-seconds') a.pollSeconds = Number(v());
    else if (k === '--s3-root') a.s3Root = v();
    else if (k === '--s3-bucket') { const [b, d] = v().split('='); a.s3Buckets[b] = d; }
    else if (k === '--max-seconds') a.maxSeconds = Number(v());
    else if (k === '--watch-stdin') a.watchStdin = true;
    else if (k === '--log') a.log = v();
    else throw new Error(`unknown argument ${k}`);
  }
  if (!(a.timeScale > 0)) throw new Error('--time-scale must be > 0');
  return a;
}

class ApiError extends Error {
  constructor(type, message, status = 400) { super(message); this.type = type; this.status = status; }
}

class Runner {
  constructor(args) {
    this.args = args;
    this.activities = new Map();    // arn -> { name, queue: [task], pollers: [poller] }
    this.machines = new Map();      // arn -> { name, definition, def }
    this.executions = new Map();    // arn -> record
    this.tokens = new Map();        // token -> task
    this.logStream = args.log ? fs.createWriteStream(args.log, { flags: 'a' }) : null;
  }

  log(obj) {
    if (this.logStream) this.logStream.write(JSON.stringify({ t: new Date().toISOString(), ...obj }) + '\n');
  }

  // ---- activities ---------------------------------------------------------
  CreateActivity({ name }) {
    if (!name || !/^[A-Za-z0-9_.-]{1,80}$/.test(name)) throw new ApiError('InvalidName', 'bad activity name');
    const arn = `arn:aws:states:${REGION}:${ACCOUNT}:activity:${name}`;
    if (!this.activities.has(arn)) this.activities.set(arn, { name, queue: [], pollers: [] });
    return { activityArn: arn, creationDate: Date.now() / 1000 };
  }

  GetActivityTask({ activityArn, workerName }, res) {
    const act = this.activities.get(activityArn);
    if (!act) throw new ApiError('ActivityDoesNotExist', `no activity ${activityArn}`);
    if (workerName !== undefined && (typeof workerName !== 'string' || workerName.length > 80))
      throw new ApiError('ValidationException', 'workerName must be at most 80 characters');
    const task = act.queue.shift();
    if (task) return this.startTask(task, workerName);
    return new Promise((resolve) => {
      const poller = { resolve, workerName, done: false };
      const finish = (value) => {
        if (poller.done) return;
        poller.done = true;
        clearTimeout(timer);
        act.pollers = act.pollers.filter((p) => p !== poller);
        resolve(value);
      };
      poller.give = (t) => finish(this.startTask(t, workerName));
      const timer = setTimeout(() => finish({}), this.args.pollSeconds * 1000);
      // A poller whose connection is gone must not be handed a task.
      res.on('close', () => finish(undefined));
      act.pollers.push(poller);
    });
  }

  enqueue(act, task) {
    const poller = act.pollers.shift();
    if (poller) poller.give(task);
    else act.queue.push(task);
  }

  startTask(task, workerName) {
    task.state = 'started';
    task.worker = workerName || '';
    this.event(task.exec, 'ActivityStarted', { workerName: task.worker, path: task.path });
    // HeartbeatSeconds and TimeoutSeconds count from here (ActivityStarted).
    if (task.timeoutMs) task.timeoutTimer = setTimeout(() => this.closeTask(task, new StatesError('States.Timeout', 'task timed out')), task.timeoutMs);
    this.armHeartbeat(task);
    return { taskToken: task.token, input: JSON.stringify(task.input) };
  }

  armHeartbeat(task) {
    clearTimeout(task.heartbeatTimer);
    if (task.heartbeatMs) {
      task.heartbeatTimer = setTimeout(() => this.closeTask(task,
        new StatesError('States.HeartbeatTimeout', 'no heartbeat in time')), task.heartbeatMs);
    }
  }

  closeTask(task, error, result) {
    if (task.state === 'closed') return false;
    task.state = 'closed';
    clearTimeout(task.timeoutTimer);
    clearTimeout(task.heartbeatTimer);
    const act = this.activities.get(task.activityArn);
    if (act) act.queue = act.queue.filter((t) => t !== task);
    if (error) {
      const type = error.error === 'States.HeartbeatTimeout' || error.error === 'States.Timeout'
        ? 'ActivityTimedOut' : 'ActivityFailed';
      this.event(task.exec, type, { error: error.error, cause: error.cause, path: task.path });
      task.reject(error);
    } else {
      this.event(task.exec, 'ActivitySucceeded', { path: task.path });
      task.resolve(result);
    }
    return true;
  }

  taskFor(token) {
    const t = this.tokens.get(token);
    if (!t) throw new ApiError('InvalidToken', 'invalid task token');
    if (t.state === 'closed') throw new ApiError('TaskTimedOut', 'task is no longer open');
    if (t.state !== 'started') throw new ApiError('TaskDoesNotExist', 'task not started');
    return t;
  }

  SendTaskSuccess({ taskToken, output }) {
    const t = this.taskFor(taskToken);
    let value;
    try { value = JSON.parse(output); } catch (e) { throw new ApiError('InvalidOutput', 'output is not JSON'); }
    if (Buffer.byteLength(output) > 262144) throw new ApiError('InvalidOutput', 'output over 256 KiB');
    this.closeTask(t, null, value);
    return {};
  }

  SendTaskFailure({ taskToken, error, cause }) {
    const t = this.taskFor(taskToken);
    if (error && error.length > 256) throw new ApiError('ValidationException', 'error over 256 characters');
    if (cause && cause.length > 32768) throw new ApiError('ValidationException', 'cause over 32768 characters');
    this.closeTask(t, new StatesError(error || '', cause || ''));
    return {};
  }

  SendTaskHeartbeat({ taskToken }) {
    const t = this.taskFor(taskToken);
    this.armHeartbeat(t);
    return {};
  }

  scheduleActivity(exec, arn, input, opts) {
    const act = this.activities.get(arn);
    if (!act) return Promise.reject(new StatesError('States.Runtime', `activity ${arn} does not exist`));
    return new Promise((resolve, reject) => {
      const task = {
        token: crypto.randomBytes(96).toString('base64'), activityArn: arn, input, exec,
        path: opts.path, state: 'scheduled', resolve, reject,
        timeoutMs: opts.timeoutMs, heartbeatMs: opts.heartbeatMs,
      };
      this.tokens.set(task.token, task);
      this.event(exec, 'ActivityScheduled', { resource: arn, path: opts.path, input: JSON.stringify(input) });
      // Aborted (Map sibling failed, execution stopped): the token closes,
      // so the worker's next heartbeat or Send* is answered TaskTimedOut.
      const onAbort = () => this.closeTask(task, opts.signal.reason);
      if (opts.signal.aborted) return onAbort();
      opts.signal.addEventListener('abort', onAbort, { once: true });
      this.enqueue(act, task);
    });
  }

  objectFile(bucket, key) {
    const dir = this.args.s3Buckets[bucket] || (this.args.s3Root && path.join(this.args.s3Root, bucket));
    if (!dir) throw new StatesError('S3.NoSuchBucket', `no local directory for bucket ${bucket}`);
    const file = path.resolve(dir, key);
    if (!file.startsWith(path.resolve(dir) + path.sep)) throw new StatesError('S3.InvalidKey', 'key escapes the bucket');
    return file;
  }

  // The Distributed Map's ItemReader (s3:getObject) reads the same tree.
  getObject(bucket, key) {
    const file = this.objectFile(bucket, key);
    if (!fs.existsSync(file)) throw new StatesError('S3.NoSuchKey', `no object ${key}`);
    return fs.readFileSync(file, 'utf8');
  }

  putObject(bucket, key, body) {
    const file = this.objectFile(bucket, key);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const tmp = `${file}.tmp-${process.pid}`;
    fs.writeFileSync(tmp, body);
    fs.renameSync(tmp, file);
    return { ETag: `"${crypto.createHash('md5').update(body).digest('hex')}"` };
  }

  // ---- state machines and executions -------------------------------------
  CreateStateMachine({ name, definition, roleArn, type }) {
    if (!name || !/^[A-Za-z0-9_.-]{1,80}$/.test(name)) throw new ApiError('InvalidName', 'bad state machine name');
    if (type && type !== 'STANDARD') throw new ApiError('InvalidDefinition', `type ${type} is not implemented (STANDARD only)`);
    let def;
    try { def = JSON.parse(definition); } catch (e) { throw new ApiError('InvalidDefinition', `definition is not JSON: ${e.message}`); }
    const problems = validate(def);
    if (problems.length) throw new ApiError('InvalidDefinition', `not supported by the local runner: ${problems.join('; ')}`);
    const arn = `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:${name}`;
    const old = this.machines.get(arn);
    if (old && old.definition !== definition) throw new ApiError('StateMachineAlreadyExists', `${name} exists with another definition`);
    this.machines.set(arn, { name, definition, def, roleArn });
    return { stateMachineArn: arn, creationDate: Date.now() / 1000 };
  }

  StartExecution({ stateMachineArn, name, input }) {
    const sm = this.machines.get(stateMachineArn);
    if (!sm) throw new ApiError('StateMachineDoesNotExist', `no state machine ${stateMachineArn}`);
    name = name || crypto.randomUUID();
    const arn = `arn:aws:states:${REGION}:${ACCOUNT}:execution:${sm.name}:${name}`;
    const inputText = input === undefined ? '{}' : input;
    let parsed;
    try { parsed = JSON.parse(inputText); } catch (e) { throw new ApiError('InvalidExecutionInput', 'input is not JSON'); }
    const existing = this.executions.get(arn);
    if (existing) {
      if (existing.input === inputText && existing.status === 'RUNNING') return { executionArn: arn, startDate: existing.startDate };
      throw new ApiError('ExecutionAlreadyExists', `execution ${name} exists`);
    }
    const rec = { arn, name, smArn: stateMachineArn, sm, input: inputText, parsed, status: 'RUNNING',
                  startDate: Date.now() / 1000, history: [], memo: new Map(), redriveCount: 0 };
    this.executions.set(arn, rec);
    this.event(rec, 'ExecutionStarted', { input: inputText });
    this.launch(rec);
    return { executionArn: arn, startDate: rec.startDate };
  }

  launch(rec) {
    const context = {
      Execution: { Id: rec.arn, Name: rec.name, Input: rec.parsed, StartTime: new Date(rec.startDate * 1000).toISOString(),
                   RoleArn: rec.sm.roleArn || '', RedriveCount: rec.redriveCount },
      StateMachine: { Id: rec.smArn, Name: rec.sm.name },
    };
    // Kept across redrives, so the figures cover every run of the execution.
    rec.stats = rec.stats || { maxPayloadBytes: 0, maxPayloadState: '', eventsPerChild: 0, childEvents: 0,
                               childTasks: 0, childTasksByTable: {} };
    const exec = new Execution({
      def: rec.sm.def, input: rec.parsed, context, timeScale: this.args.timeScale,
      retryScale: this.args.retryScale || this.args.timeScale, memo: rec.memo, stats: rec.stats,
      hooks: {
        scheduleActivity: (arn, input, opts) => this.scheduleActivity(rec, arn, input, opts),
        putObject: (b, k, body) => this.putObject(b, k, body),
        getObject: (b, k) => this.getObject(b, k),
        // A Distributed Map child's activity tasks are events of the child.
        childHooks: (child) => ({ scheduleActivity: (arn, input, opts) => {
          rec.stats.childTasks += 1;
          const t = String((input && input.table_name) || '');
          rec.stats.childTasksByTable[t] = (rec.stats.childTasksByTable[t] || 0) + 1;
          return this.scheduleActivity(child, arn, input, opts);
        } }),
        event: (type, d) => this.event(rec, type, d),
        now: () => Date.now(),
      },
    });
    rec.exec = exec;
    rec.status = 'RUNNING';
    if (rec.sm.def.TimeoutSeconds) {
      rec.timer = setTimeout(() => exec.abort(new StatesError('States.Timeout', 'execution timed out')),
                             (rec.sm.def.TimeoutSeconds * 1000) / this.args.timeScale);
    }
    exec.run().then((output) => {
      this.finish(rec, 'SUCCEEDED', { output: JSON.stringify(output === undefined ? null : output) });
    }, (err) => {
      const e = err instanceof StatesError ? err : new StatesError('States.Runtime', String(err && err.stack || err));
      const status = e.error === 'States.Timeout' && exec.root.signal.aborted ? 'TIMED_OUT'
                   : e.error === 'States.Aborted' ? 'ABORTED' : 'FAILED';
      this.finish(rec, status, { error: e.error, cause: e.cause });
    });
  }

  finish(rec, status, fields) {
    clearTimeout(rec.timer);
    if (rec.status !== 'RUNNING') return;
    Object.assign(rec, { status, stopDate: Date.now() / 1000, output: undefined, error: undefined, cause: undefined }, fields);
    const type = { SUCCEEDED: 'ExecutionSucceeded', FAILED: 'ExecutionFailed', ABORTED: 'ExecutionAborted', TIMED_OUT: 'ExecutionTimedOut' }[status];
    this.event(rec, type, fields);
    this.log({ execution: rec.name, status, error: fields.error });
  }

  exec(arn) {
    const rec = this.executions.get(arn);
    if (!rec) throw new ApiError('ExecutionDoesNotExist', `no execution ${arn}`);
    return rec;
  }

  DescribeExecution({ executionArn }) {
    const r = this.exec(executionArn);
    const out = { executionArn: r.arn, stateMachineArn: r.smArn, name: r.name, status: r.status,
                  startDate: r.startDate, input: r.input, redriveCount: r.redriveCount,
                  redriveStatus: ['FAILED', 'ABORTED', 'TIMED_OUT'].includes(r.status) ? 'REDRIVABLE' : 'NOT_REDRIVABLE' };
    if (r.stopDate) out.stopDate = r.stopDate;
    if (r.output !== undefined) out.output = r.output;
    if (r.error !== undefined) { out.error = r.error; out.cause = r.cause; }
    if (r.redriveDate) out.redriveDate = r.redriveDate;
    return out;
  }

  ListExecutions({ stateMachineArn }) {
    return { executions: [...this.executions.values()].filter((r) => r.smArn === stateMachineArn)
      .map((r) => ({ executionArn: r.arn, name: r.name, status: r.status, startDate: r.startDate })) };
  }

  GetExecutionHistory({ executionArn, reverseOrder }) {
    const ev = this.exec(executionArn).history.slice();
    return { events: reverseOrder ? ev.reverse() : ev };
  }

  StopExecution({ executionArn, error, cause }) {
    const r = this.exec(executionArn);
    if (r.status === 'RUNNING') r.exec.abort(new StatesError('States.Aborted', cause || error || 'stopped'));
    return { stopDate: Date.now() / 1000 };
  }

  // Runner-only (not an AWS operation): figures for the limits table.
  LocalGetExecutionStats({ executionArn }) {
    const r = this.exec(executionArn);
    return { ...r.exec.stats, historyEvents: r.history.length };
  }

  RedriveExecution({ executionArn }) {
    const r = this.exec(executionArn);
    if (!['FAILED', 'ABORTED', 'TIMED_OUT'].includes(r.status))
      throw new ApiError('ExecutionNotRedrivable', `execution is ${r.status}`);
    r.redriveCount += 1;
    r.redriveDate = Date.now() / 1000;
    r.stopDate = undefined;
    this.event(r, 'ExecutionRedriven', { redriveCount: r.redriveCount });
    this.launch(r);
    return { redriveDate: r.redriveDate };
  }

  event(rec, type, details) {
    const id = rec.history.length + 1;
    rec.history.push({ timestamp: Date.now() / 1000, type, id, previousEventId: id - 1, details: details || {} });
  }
}

const OPS = ['CreateActivity', 'CreateStateMachine', 'StartExecution', 'DescribeExecution',
             'GetExecutionHistory', 'StopExecution', 'RedriveExecution', 'ListExecutions',
             'GetActivityTask', 'SendTaskSuccess', 'SendTaskFailure', 'SendTaskHeartbeat',
             'LocalGetExecutionStats'];

function main() {
  const args = parseArgs(process.argv);
  const keys = {};
  for (const item of args.keys.split(',')) { const [a, s, t] = item.split('='); keys[a] = { secret: s, token: t }; }
  const runner = new Runner(args);
  const reply = (res, status, obj) => {
    const body = JSON.stringify(obj);
    res.writeHead(status, { 'content-type': 'application/x-amz-json-1.0', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  };
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', async () => {
      const body = Buffer.concat(chunks);
      try {
        const v = await verify(req, body, keys);
        if (!v.ok) throw new ApiError(v.reason.split(':')[0], v.reason, 403);
        if (v.service !== 'states') throw new ApiError('InvalidSignatureException', `signed for ${v.service}, not states`, 403);
        const target = req.headers['x-amz-target'] || '';
        const op = target.startsWith('AWSStepFunctions.') ? target.slice(17) : '';
        if (!OPS.includes(op)) throw new ApiError('UnknownOperationException', `operation ${target} is not implemented`);
        const input = body.length ? JSON.parse(body.toString('utf8')) : {};
        const out = await runner[op](input, res);
        if (out === undefined) return; // the poller's connection is gone
        runner.log({ op, status: 200 });
        reply(res, 200, out);
      } catch (e) {
        const err = e instanceof ApiError ? e : new ApiError('InternalFailure', String(e.message || e), 500);
        runner.log({ error: err.type, message: err.message });
        if (!res.headersSent && !res.destroyed) reply(res, err.status, { __type: `com.amazonaws.swf.service.v2.model#${err.type}`, message: err.message });
      }
    });
  });
  server.requestTimeout = 0;
  server.headersTimeout = 0;
  server.keepAliveTimeout = 75000;
  listenAndServe(server, { port: args.port, maxSeconds: args.maxSeconds, watchStdin: args.watchStdin });
}

if (require.main === module) main();
module.exports = { Runner, parseArgs };
