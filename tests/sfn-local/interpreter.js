// interpreter.js -- executes JSONata Amazon States Language definitions for
// the local runner. DEVELOPMENT AND TESTING ONLY: production is AWS Step
// Functions; this exists because nothing installable here runs activities
// with JSONata (tests/sfn-local/README.md says what it is held to).
//
// Supported (anything else is refused by validate() with the feature named):
//   QueryLanguage JSONata; states Pass, Task, Map (INLINE, and DISTRIBUTED as
//   distributed.js describes), Choice, Succeed,
//   Fail; fields Arguments, Output, Assign, Items, ItemSelector,
//   ItemProcessor, MaxConcurrency, Condition, Choices, Default, Error, Cause,
//   Retry (ErrorEquals, IntervalSeconds, MaxAttempts, BackoffRate,
//   MaxDelaySeconds, JitterStrategy), Catch (ErrorEquals, Next, Output,
//   Assign), HeartbeatSeconds, TimeoutSeconds (counted from the moment a
//   worker takes an activity task), Comment, Next, End; Task resources: an
//   activity ARN, and arn:aws:states:::aws-sdk:s3:putObject (written to a
//   local directory).
//
// Redrive is implemented by replay: every state that completes records its
// output and variable assignments under its path ("Map[3]/Work"). A redriven
// execution runs the definition again from the start, and a state with a
// record is not executed again: its recorded result is used. Records are
// per entry (path#n), so a state entered again later in the flow runs anew.
// So successful Tasks and Pass states are not re-run, Choice is re-evaluated, a Fail state
// fails again, and an inline Map re-runs only iterations that failed or were
// aborted -- the semantics the Step Functions developer guide documents.
'use strict';
const crypto = require('crypto');
const { setMaxListeners } = require('events');
const jsonata = require('jsonata');
const { runDistributedMap, validateDistributed } = require('./distributed');

const SUPPORTED_STATE_FIELDS = {
  common: ['Type', 'Comment', 'Next', 'End', 'Output', 'Assign', 'QueryLanguage'],
  Pass: [],
  Task: ['Resource', 'Arguments', 'Retry', 'Catch', 'TimeoutSeconds', 'HeartbeatSeconds'],
  Map: ['Items', 'ItemSelector', 'ItemProcessor', 'MaxConcurrency', 'Retry', 'Catch'],
  Choice: ['Choices', 'Default'],
  Succeed: [],
  Fail: ['Error', 'Cause'],
};
const TOP_FIELDS = ['Comment', 'StartAt', 'States', 'TimeoutSeconds', 'QueryLanguage', 'Version'];
const RETRY_FIELDS = ['ErrorEquals', 'IntervalSeconds', 'MaxAttempts', 'BackoffRate',
                      'MaxDelaySeconds', 'JitterStrategy', 'Comment'];
const CATCH_FIELDS = ['ErrorEquals', 'Next', 'Output', 'Assign', 'Comment'];
const S3_PUT = 'arn:aws:states:::aws-sdk:s3:putObject';
const ACTIVITY_RE = /^arn:aws[a-z-]*:states:[a-z0-9-]+:\d{12}:activity:[A-Za-z0-9_.-]{1,80}$/;

class StatesError extends Error {
  constructor(error, cause) {
    super(`${error}: ${cause}`);
    this.error = error;
    this.cause = cause === undefined ? '' : String(cause);
  }
}

// ---- validation: refuse what we do not implement, naming it ----------------

function validate(def) {
  const problems = [];
  if (def.QueryLanguage !== 'JSONata')
    problems.push('QueryLanguage must be "JSONata" (JSONPath is not implemented)');
  for (const k of Object.keys(def)) {
    if (!TOP_FIELDS.includes(k)) problems.push(`top-level field ${k} is not implemented`);
  }
  validateStates(def, '', problems);
  return problems;
}

function validateStates(machine, prefix, problems) {
  if (!machine.States || !machine.StartAt || !machine.States[machine.StartAt]) {
    problems.push(`${prefix || 'definition'}: StartAt must name a state`);
    return;
  }
  for (const [name, st] of Object.entries(machine.States)) {
    const where = `${prefix}${name}`;
    const own = SUPPORTED_STATE_FIELDS[st.Type];
    if (st.Type === 'Map' && isDistributed(st)) {
      validateDistributed(st, where, problems);
      validateStates(st.ItemProcessor || {}, `${where}/`, problems);
      continue;
    }
    if (!own) { problems.push(`${where}: state type ${st.Type} is not implemented`); continue; }
    if (st.QueryLanguage && st.QueryLanguage !== 'JSONata')
      problems.push(`${where}: QueryLanguage ${st.QueryLanguage} is not implemented`);
    for (const k of Object.keys(st)) {
      if (!SUPPORTED_STATE_FIELDS.common.includes(k) && !own.includes(k))
        problems.push(`${where}: field ${k} is not implemented for ${st.Type}`);
    }
    if (st.Next && !machine.States[st.Next]) problems.push(`${where}: Next ${st.Next} does not exist`);
    for (const r of st.Retry || []) {
      for (const k of Object.keys(r)) if (!RETRY_FIELDS.includes(k)) problems.push(`${where}: Retry field ${k} is not implemented`);
      if (r.JitterStrategy && !['FULL', 'NONE'].includes(r.JitterStrategy))
        problems.push(`${where}: JitterStrategy ${r.JitterStrategy} is not implemented`);
    }
    for (const c of st.Catch || []) {
      for (const k of Object.keys(c)) if (!CATCH_FIELDS.includes(k)) problems.push(`${where}: Catch field ${k} is not implemented`);
      if (!machine.States[c.Next]) problems.push(`${where}: Catch Next ${c.Next} does not exist`);
    }
    if (st.Type === 'Task' && st.Resource !== S3_PUT && !ACTIVITY_RE.test(st.Resource || ''))
      problems.push(`${where}: Task resource ${st.Resource} is not implemented (activities and ${S3_PUT} only)`);
    if (st.Type === 'Map') {
      const p = st.ItemProcessor || {};
      const mode = (p.ProcessorConfig || {}).Mode || 'INLINE';
      if (mode !== 'INLINE') problems.push(`${where}: Map mode ${mode} is not implemented (INLINE or DISTRIBUTED only)`);
      for (const k of Object.keys(p)) {
        if (!['ProcessorConfig', 'StartAt', 'States', 'Comment'].includes(k))
          problems.push(`${where}: ItemProcessor field ${k} is not implemented`);
      }
      validateStates(p, `${where}/`, problems);
    }
    if (st.Type === 'Choice') {
      for (const c of st.Choices || []) {
        for (const k of Object.keys(c)) {
          if (!['Condition', 'Next', 'Output', 'Assign', 'Comment'].includes(k))
            problems.push(`${where}: Choice rule field ${k} is not implemented`);
        }
        if (!machine.States[c.Next]) problems.push(`${where}: Choice Next ${c.Next} does not exist`);
      }
    }
  }
}

function isDistributed(st) {
  return ((st.ItemProcessor || {}).ProcessorConfig || {}).Mode === 'DISTRIBUTED';
}

// ---- JSONata evaluation -----------------------------------------------------

// Step Functions adds these to standard JSONata; these mimic AWS's.
function registerAwsFunctions(expr) {
  expr.registerFunction('partition', (arr, size) => {
    if (!Array.isArray(arr)) arr = arr === undefined ? [] : [arr];
    const out = [];
    for (let i = 0; i < arr.length; i += size) out.push(arr.slice(i, i + size));
    return out;
  });
  expr.registerFunction('range', (start, end, step) => {
    const out = [];
    if (!step) throw new Error('$range step must not be 0');
    for (let v = start; step > 0 ? v <= end : v >= end; v += step) out.push(v);
    return out;
  });
  expr.registerFunction('hash', (data, alg) => {
    const algo = { 'MD5': 'md5', 'SHA-1': 'sha1', 'SHA-256': 'sha256', 'SHA-384': 'sha384', 'SHA-512': 'sha512' }[alg || 'SHA-256'];
    return crypto.createHash(algo).update(String(data)).digest('hex');
  });
  expr.registerFunction('random', () => Math.random());
  expr.registerFunction('uuid', () => crypto.randomUUID());
  expr.registerFunction('parse', (s) => JSON.parse(s));
}

const exprCache = new Map();
function compile(src) {
  let e = exprCache.get(src);
  if (!e) {
    try { e = jsonata(src); } catch (err) {
      throw new StatesError('States.QueryEvaluationError', `cannot parse ${src}: ${err.message}`);
    }
    registerAwsFunctions(e);
    exprCache.set(src, e);
  }
  return e;
}

const EXPR_RE = /^\{%([\s\S]*)%\}$/;

async function evalValue(v, states, vars) {
  if (typeof v === 'string') {
    const m = EXPR_RE.exec(v);
    if (!m) return v;
    try {
      return await compile(m[1]).evaluate(states.input, { ...vars, states });
    } catch (err) {
      if (err instanceof StatesError) throw err;
      throw new StatesError('States.QueryEvaluationError', `${m[1].trim().slice(0, 200)}: ${err.message}`);
    }
  }
  if (Array.isArray(v)) {
    const out = [];
    for (const x of v) out.push(await evalValue(x, states, vars));
    return out;
  }
  if (v && typeof v === 'object') {
    const out = {};
    for (const [k, x] of Object.entries(v)) {
      const r = await evalValue(x, states, vars);
      if (r !== undefined) out[k] = r;
    }
    return out;
  }
  return v;
}

// ---- error matching and retry ------------------------------------------------

function errorMatches(list, error) {
  for (const e of list) {
    if (e === error) return true;
    if (e === 'States.ALL' && error !== 'States.Runtime') return true;
    if (e === 'States.TaskFailed' && error !== 'States.Timeout' && !error.startsWith('States.Runtime')) return true;
  }
  return false;
}

function retryDelayMs(r, attempt, scale) {
  const interval = r.IntervalSeconds ?? 1;
  const rate = r.BackoffRate ?? 2.0;
  let s = interval * Math.pow(rate, attempt);
  if (r.MaxDelaySeconds !== undefined) s = Math.min(s, r.MaxDelaySeconds);
  if (r.JitterStrategy === 'FULL') s = Math.random() * s;
  return (s * 1000) / scale;
}

// ---- the executor ------------------------------------------------------------

class Execution {
  // hooks: { scheduleActivity(arn, input, opts) -> Promise<result>,
  //          putObject(bucket, key, body), event(type, details), now() }
  constructor({ def, input, context, hooks, timeScale = 1, retryScale, memo = new Map(), stats }) {
    this.def = def;
    this.input = input;
    this.context = context;     // { Execution: {...}, StateMachine: {...} }
    this.hooks = hooks;
    this.scale = timeScale;
    this.retryScale = retryScale || timeScale;
    this.visits = new Map();     // path -> entries during this run
    this.memo = memo;            // path -> { output, assigned, next }
    // Runner-only figures (shared with child executions): the largest
    // state output or task input in bytes, events per child execution.
    this.stats = stats || { maxPayloadBytes: 0, maxPayloadState: '', eventsPerChild: 0, childEvents: 0 };
    this.root = new AbortController(); // StopExecution and timeouts
    // Every in-flight state listens on its scope's signal; a Map of 200
    // chunks legitimately has hundreds of listeners.
    setMaxListeners(0, this.root.signal);
  }

  // Stop everything with `err` (a StatesError) as the outcome.
  abort(err) {
    if (!this.root.signal.aborted) this.root.abort(err);
  }

  sleep(ms, signal) {
    return new Promise((resolve, reject) => {
      if (signal.aborted) return reject(signal.reason);
      const onAbort = () => { clearTimeout(t); reject(signal.reason); };
      const t = setTimeout(() => { signal.removeEventListener('abort', onAbort); resolve(); }, ms);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  async run() {
    return this.runMachine(this.def, this.input, {}, '', null, this.root.signal);
  }

  // Runs a (sub)machine. `vars` is this scope's variable object; a Map
  // iteration gets a child scope that can read outer variables.
  // `signal` aborts this scope (the execution, or a Map whose sibling
  // iteration failed).
  async runMachine(machine, input, vars, prefix, mapCtx, signal) {
    let name = machine.StartAt;
    let data = input;
    for (;;) {
      if (signal.aborted) throw signal.reason;
      const st = machine.States[name];
      const path = `${prefix}${name}`;
      // A definition may enter a state more than once (a loop back to
      // Summarize after a second round); each entry is its own record, so
      // replay reproduces exactly the entries that completed before.
      const visit = (this.visits.get(path) || 0) + 1;
      this.visits.set(path, visit);
      const key = `${path}#${visit}`;
      const rec = this.memo.get(key);
      let out;
      if (rec && st.Type !== 'Choice') {
        Object.assign(vars, rec.assigned);
        out = rec;
      } else {
        out = await this.runState(st, name, path, data, vars, mapCtx, signal, key);
        if (st.Type !== 'Choice' && st.Type !== 'Fail') this.memo.set(key, out);
        Object.assign(vars, out.assigned);
      }
      data = out.output;
      if (st.Type === 'Succeed' || st.Type === 'Fail' || (!out.next && st.End)) return data;
      if (!out.next) return data;
      name = out.next;
    }
  }

  notePayload(path, value) {
    const n = value === undefined ? 0 : Buffer.byteLength(JSON.stringify(value));
    if (n > this.stats.maxPayloadBytes) {
      this.stats.maxPayloadBytes = n;
      this.stats.maxPayloadState = path;
    }
  }

  async runState(st, name, path, input, vars, mapCtx, signal, key) {
    this.hooks.event('StateEntered', { name, path });
    const context = { ...this.context, State: { Name: name, EnteredTime: new Date(this.hooks.now()).toISOString(), RetryCount: 0 } };
    if (mapCtx) context.Map = mapCtx;
    const base = { input, context };
    const finish = async (result, next) => {
      const states = { ...base, result };
      const output = st.Output !== undefined ? await evalValue(st.Output, states, vars) : result;
      const assigned = st.Assign !== undefined ? await evalValue(st.Assign, states, vars) : {};
      this.notePayload(path, output);
      this.hooks.event('StateExited', { name, path });
      return { output, assigned, next: next ?? st.Next ?? null };
    };
    switch (st.Type) {
      case 'Pass':
        return finish(input);
      case 'Succeed':
        return finish(input, null);
      case 'Fail': {
        const error = await evalValue(st.Error ?? 'States.Fail', base, vars);
        const cause = await evalValue(st.Cause ?? '', base, vars);
        throw new StatesError(String(error), typeof cause === 'string' ? cause : JSON.stringify(cause));
      }
      case 'Choice': {
        for (const c of st.Choices || []) {
          if ((await evalValue(c.Condition, base, vars)) === true) {
            const states = { ...base };
            const output = c.Output !== undefined ? await evalValue(c.Output, states, vars)
                         : st.Output !== undefined ? await evalValue(st.Output, states, vars) : input;
            const assigned = c.Assign !== undefined ? await evalValue(c.Assign, states, vars)
                           : st.Assign !== undefined ? await evalValue(st.Assign, states, vars) : {};
            return { output, assigned, next: c.Next };
          }
        }
        if (!st.Default) throw new StatesError('States.NoChoiceMatched', `no choice matched in ${name}`);
        return finish(input, st.Default);
      }
      case 'Task':
      case 'Map':
        return this.runWithRetry(st, name, path, base, vars, finish, signal, key);
      default:
        throw new StatesError('States.Runtime', `state type ${st.Type}`);
    }
  }

  async runWithRetry(st, name, path, base, vars, finish, signal, key) {
    const counts = new Array((st.Retry || []).length).fill(0);
    let retryCount = 0;
    for (;;) {
      if (signal.aborted) throw signal.reason;
      base.context.State.RetryCount = retryCount;
      try {
        const result = st.Type === 'Task'
          ? await this.runTask(st, name, path, base, vars, signal)
          : isDistributed(st) ? await runDistributedMap(this, st, name, path, key, base, vars, signal)
          : await this.runMap(st, name, path, base, vars, signal);
        return await finish(result);
      } catch (err) {
        // An abort is not this state's error: no Retry, no Catch.
        if (!(err instanceof StatesError) || signal.aborted) throw err;
        const ri = (st.Retry || []).findIndex((r) => errorMatches(r.ErrorEquals, err.error));
        if (ri >= 0 && counts[ri] < (st.Retry[ri].MaxAttempts ?? 3)) {
          const delay = retryDelayMs(st.Retry[ri], counts[ri], this.retryScale);
          counts[ri]++;
          retryCount++;
          this.hooks.event('StateRetry', { name, path, error: err.error, delayMs: Math.round(delay) });
          await this.sleep(delay, signal);
          continue;
        }
        const c = (st.Catch || []).find((k) => errorMatches(k.ErrorEquals, err.error));
        if (!c) throw err;
        const errorOutput = { Error: err.error, Cause: err.cause };
        const states = { ...base, errorOutput };
        const output = c.Output !== undefined ? await evalValue(c.Output, states, vars) : errorOutput;
        const assigned = c.Assign !== undefined ? await evalValue(c.Assign, states, vars) : {};
        this.hooks.event('StateCaught', { name, path, error: err.error });
        return { output, assigned, next: c.Next };
      }
    }
  }

  async runTask(st, name, path, base, vars, signal) {
    const args = st.Arguments !== undefined ? await evalValue(st.Arguments, base, vars) : base.input;
    const timeout = st.TimeoutSeconds !== undefined ? await evalValue(st.TimeoutSeconds, base, vars) : undefined;
    const heartbeat = st.HeartbeatSeconds !== undefined ? await evalValue(st.HeartbeatSeconds, base, vars) : undefined;
    this.notePayload(path, args);
    if (st.Resource === S3_PUT) {
      if (!args || typeof args.Bucket !== 'string' || typeof args.Key !== 'string')
        throw new StatesError('States.Runtime', 'putObject needs Bucket and Key');
      const body = typeof args.Body === 'string' ? args.Body : JSON.stringify(args.Body);
      return this.hooks.putObject(args.Bucket, args.Key, body);
    }
    const result = await this.hooks.scheduleActivity(st.Resource, args, {
      timeoutMs: timeout !== undefined ? (timeout * 1000) / this.scale : undefined,
      heartbeatMs: heartbeat !== undefined ? (heartbeat * 1000) / this.scale : undefined,
      path, name, signal,
    });
    return result;
  }

  async runMap(st, name, path, base, vars, signal) {
    let items = st.Items !== undefined ? await evalValue(st.Items, base, vars) : base.input;
    if (items === undefined) items = [];
    if (!Array.isArray(items)) throw new StatesError('States.Runtime', `Map ${name}: Items is not an array`);
    let max = st.MaxConcurrency !== undefined ? await evalValue(st.MaxConcurrency, base, vars) : 0;
    if (!max || max < 1) max = items.length || 1;
    const proc = st.ItemProcessor;
    const results = new Array(items.length);
    let next = 0;
    let failure = null;
    // One failed iteration fails the Map and aborts its siblings (their
    // activity tasks are closed, so their workers' heartbeats are refused).
    const mapAbort = new AbortController();
    setMaxListeners(0, mapAbort.signal);
    const onParent = () => mapAbort.abort(signal.reason);
    signal.addEventListener('abort', onParent, { once: true });
    this.hooks.event('MapStateStarted', { name, path, length: items.length });
    const worker = async () => {
      while (!failure && next < items.length) {
        const i = next++;
        const mapCtx = { Item: { Index: i, Value: items[i] } };
        const itemBase = { input: base.input, context: { ...base.context, Map: mapCtx } };
        try {
          const itemInput = st.ItemSelector !== undefined ? await evalValue(st.ItemSelector, itemBase, vars) : items[i];
          const scope = Object.create(null);
          Object.assign(scope, vars);
          results[i] = await this.runMachine(proc, itemInput, scope, `${path}[${i}]/`, mapCtx, mapAbort.signal);
        } catch (err) {
          if (!failure) {
            failure = err;
            mapAbort.abort(err);
          }
        }
      }
    };
    const workers = [];
    for (let k = 0; k < Math.min(max, Math.max(items.length, 1)); k++) workers.push(worker());
    await Promise.all(workers);
    signal.removeEventListener('abort', onParent);
    if (signal.aborted) throw signal.reason;
    if (failure) {
      this.hooks.event('MapStateFailed', { name, path });
      throw failure;
    }
    this.hooks.event('MapStateSucceeded', { name, path });
    return results;
  }
}

module.exports = { validate, Execution, StatesError, evalValue, errorMatches, retryDelayMs, S3_PUT };
