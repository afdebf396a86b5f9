#!/usr/bin/env node
// asl.test.js -- tests of statemachine/backfill.asl.json.
//
// Every JSONata expression is read from the definition file itself (walking
// the JSON for "{% ... %}" strings) and evaluated with the reference
// implementation (npm jsonata), so the tests cannot drift from the file.
// The C side comes from tests/asl/plan_oracle (plan_parse_request +
// plan_json, task_input_parse, the error-name table), and from
// `backfill-worker plan` when the CLI offers it. Run with TZ=UTC
// (`make check-asl`). A node:test file: the runner prints the counts.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');

const fs = require('fs');
const path = require('path');
const crypto = require('crypto');
const { spawnSync } = require('child_process');

const TOP = process.env.BF_TOP || path.resolve(__dirname, '../..');
const jsonata = require(path.join(TOP, 'tests/node_modules/jsonata'));
const aslValidator = require(path.join(TOP, 'tests/node_modules/asl-validator'));

const DEF_PATH = path.join(TOP, 'statemachine/backfill.asl.json');
const DEF_TEXT = fs.readFileSync(DEF_PATH, 'utf8');
const SUBST_NAMES = ['BackfillActivityArn', 'DataBucket', 'MetadataPrefix'];
const SUBST = {
  BackfillActivityArn: 'arn:aws:states:us-east-1:123456789012:activity:avesa-backfill-test',
  DataBucket: 'data-storage-msp-test',
  MetadataPrefix: '',
};
const MAX_PAYLOAD = 262144;

function substitute(text, values) {
  return text.replace(/\$\{([A-Za-z0-9_]+)\}/g, (m, name) =>
    Object.prototype.hasOwnProperty.call(values, name) ? values[name] : m);
}

// ---- the harness -----------------------------------------------------------
// eq compares the JSON texts rather than deepStrictEqual: key order counts,
// and a failure shows both texts in full.
function eq(a, b, msg) {
  const sa = JSON.stringify(a);
  const sb = JSON.stringify(b);
  if (sa !== sb) assert.fail(`${msg || 'not equal'}:\n  got      ${sa}\n  expected ${sb}`);
}

// ---- expressions from the definition ---------------------------------------
function walk(node, ptr, out) {
  if (typeof node === 'string') {
    if (node.startsWith('{%') && node.endsWith('%}')) out.push({ ptr, expr: node.slice(2, -2).trim() });
  } else if (Array.isArray(node)) {
    node.forEach((v, i) => walk(v, `${ptr}/${i}`, out));
  } else if (node && typeof node === 'object') {
    for (const k of Object.keys(node)) walk(node[k], `${ptr}/${k.replace(/~/g, '~0').replace(/\//g, '~1')}`, out);
  }
}

function loadDef(values) {
  const def = JSON.parse(substitute(DEF_TEXT, values));
  const exprs = [];
  walk(def, '', exprs);
  return { def, exprs: new Map(exprs.map((e) => [e.ptr, e.expr])) };
}

const BASE = loadDef(SUBST);
const evaluated = new Set();

// Step Functions adds these to JSONata; the test evaluator mimics AWS's
// documented behaviour closely enough for expressions that might use them.
const AWS_FUNCTIONS = {
  partition: (arr, size) => {
    const a = Array.isArray(arr) ? arr : [arr];
    const out = [];
    for (let i = 0; i < a.length; i += size) out.push(a.slice(i, i + size));
    return out;
  },
  range: (start, end, step) => {
    const out = [];
    const s = step === undefined ? 1 : step;
    for (let v = start; s > 0 ? v <= end : v >= end; v += s) out.push(v);
    return out;
  },
  hash: (data, alg) => crypto.createHash(({ 'SHA-1': 'sha1', 'SHA-256': 'sha256', 'SHA-384': 'sha384', 'SHA-512': 'sha512', MD5: 'md5' })[alg || 'SHA-256'] || 'sha256').update(String(data)).digest('hex'),
  random: () => Math.random(),
  uuid: () => crypto.randomUUID(),
  parse: (s) => JSON.parse(s),
};

const compiled = new Map();
function compile(expr) {
  let c = compiled.get(expr);
  if (!c) {
    c = jsonata(expr);
    compiled.set(expr, c);
  }
  return c;
}

// Evaluate the expression at JSON pointer `ptr` with $states bound.
async function ev(ptr, states, loaded = BASE) {
  const expr = loaded.exprs.get(ptr);
  if (expr === undefined) throw new Error(`no expression at ${ptr}`);
  evaluated.add(ptr);
  const r = await compile(expr).evaluate({}, Object.assign({ states }, AWS_FUNCTIONS));
  return r === undefined ? undefined : JSON.parse(JSON.stringify(r));
}

// Evaluate a template (object with "{% %}" leaves) the way Step Functions does.
async function evTemplate(ptrBase, tmpl, states, loaded = BASE) {
  if (typeof tmpl === 'string' && tmpl.startsWith('{%')) return ev(ptrBase, states, loaded);
  if (Array.isArray(tmpl)) return Promise.all(tmpl.map((v, i) => evTemplate(`${ptrBase}/${i}`, v, states, loaded)));
  if (tmpl && typeof tmpl === 'object') {
    const out = {};
    for (const k of Object.keys(tmpl)) {
      const v = await evTemplate(`${ptrBase}/${k}`, tmpl[k], states, loaded);
      if (v !== undefined) out[k] = v;
    }
    return out;
  }
  return tmpl;
}

const P = {
  plan: '/States/Plan/Output',
  checkInput: '/States/CheckInput/Choices/0/Condition',
  invalidCause: '/States/InvalidInput/Cause',
  items1: '/States/RunChunks/Items',
  conc1: '/States/RunChunks/MaxConcurrency',
  task1: '/States/RunChunks/ItemProcessor/States/RunChunk',
  catch1: '/States/RunChunks/ItemProcessor/States/RunChunk/Catch/0/Output',
  map1Out: '/States/RunChunks/Output',
  summarize: '/States/Summarize/Output',
  save: '/States/SaveSummary',
  saveOut: '/States/SaveSummary/Output',
  okCond: '/States/CheckOutcome/Choices/0/Condition',
  roundCond: '/States/CheckOutcome/Choices/1/Condition',
  items2: '/States/RetryFailedChunks/Items',
  conc2: '/States/RetryFailedChunks/MaxConcurrency',
  task2: '/States/RetryFailedChunks/ItemProcessor/States/RunChunkAgain',
  map2Out: '/States/RetryFailedChunks/Output',
  done: '/States/Done/Output',
};
const DAY = 86400000;
const NOW = '2026-11-27T23:18:00.123Z';
const ctx = (extra) => Object.assign({
  Execution: { Name: 'backfill-test-1', StartTime: NOW },
  State: { RetryCount: 0 },
}, extra || {});

const plan = (input, context) => ev(P.plan, { input, context: context || ctx() });
const EXAMPLE = JSON.parse(fs.readFileSync(path.join(TOP, 'statemachine/examples/sitetechnology-tickets-7d.json'), 'utf8'));

// Run one chunk's Task state the way the runner would: Arguments, then the
// worker's answer through Output (success) or the Catch Output (failure).
async function taskArgs(taskPtr, chunk, context) {
  return evTemplate(`${taskPtr}/Arguments`, BASE.def.States.RunChunks.ItemProcessor.States.RunChunk.Arguments,
    { input: chunk, context: context || ctx() });
}
function workerResult(chunk, n) {
  return {
    status: 'SUCCEEDED', tenant_id: chunk.tenant_id, service: chunk.service, table_name: chunk.table_name,
    start_date: chunk.start_date, end_date: chunk.end_date, chunk_number: chunk.chunk_number,
    total_chunks: chunk.total_chunks, backfill_id: chunk.backfill_id, canonical_table: 'tickets',
    records_ingested: n, records_transformed: n === null ? null : n - 1, records_rejected: n === null ? null : 1,
    pages: 1, raw: { uri: 'file:///x', parts: 1, bytes: 10 }, canonical: { uri: 'file:///y', parts: 1, bytes: 10 },
    duration_ms: 1234, worker: 'host:1', attempt: 0,
  };
}
async function succeed(taskPtr, chunk, n) {
  return ev(`${taskPtr}/Output`, { input: chunk, result: workerResult(chunk, n), context: ctx() });
}
async function fail(chunk, error, cause) {
  return ev(P.catch1, { input: chunk, errorOutput: { Error: error, Cause: cause }, context: ctx() });
}
// The Summarize Pass, SaveSummary Task and CheckOutcome Choice in a row.
async function summarizeAndSave(state, loaded = BASE) {
  const s = await ev(P.summarize, { input: state, context: ctx() }, loaded);
  const args = await evTemplate(`${P.save}/Arguments`, loaded.def.States.SaveSummary.Arguments, { input: s, context: ctx() }, loaded);
  const out = await ev(P.saveOut, { input: s, result: { ETag: '"x"' }, context: ctx() }, loaded);
  const allOk = await ev(P.okCond, { input: out, context: ctx() }, loaded);
  const round1 = await ev(P.roundCond, { input: out, context: ctx() }, loaded);
  return { state: out, args, allOk, round1 };
}

// ---- structure ---------------------------------------------------------------
test('asl-validator accepts the definition (ARN and path checks on)', () => {
  const validate = aslValidator.default || aslValidator;
  const r = validate(BASE.def, { checkArn: true, checkPaths: true });
  assert(r.isValid, JSON.stringify(r.errors));
});

test('definition substitutions are exactly the documented ones', () => {
  const names = [...new Set([...DEF_TEXT.matchAll(/\$\{([A-Za-z0-9_]+)\}/g)].map((m) => m[1]))].sort();
  eq(names, [...SUBST_NAMES].sort(), 'substitution names');
  const doc = fs.readFileSync(path.join(TOP, 'statemachine', 'README.md'), 'utf8');
  const parts = doc.split('<!-- BEGIN statemachine -->');
  assert(parts.length === 2 && parts[1].includes('<!-- END statemachine -->'), 'statemachine/README.md has one marked section');
  const sec = parts[1].split('<!-- END statemachine -->')[0];
  for (const n of SUBST_NAMES) assert(sec.includes('${' + n + '}'), `statemachine/README.md documents \${${n}}`);
});

// The features the local runner (tests/sfn-local) implements, per state type.
const ALLOWED = {
  common: ['Type', 'Comment', 'Next', 'End', 'Output', 'Assign', 'QueryLanguage'],
  Pass: [],
  Choice: ['Choices', 'Default'],
  Succeed: [],
  Fail: ['Error', 'Cause'],
  Task: ['Resource', 'Arguments', 'HeartbeatSeconds', 'TimeoutSeconds', 'Retry', 'Catch'],
  Map: ['Items', 'ItemSelector', 'ItemProcessor', 'MaxConcurrency', 'Retry', 'Catch'],
};
function eachState(states, fn, prefix = '') {
  for (const [name, st] of Object.entries(states)) {
    fn(prefix + name, st);
    if (st.Type === 'Map') eachState(st.ItemProcessor.States, fn, `${prefix}${name}/`);
  }
}
test('only the ASL subset the local runner implements', () => {
  const top = Object.keys(BASE.def).sort();
  eq(top, ['Comment', 'QueryLanguage', 'StartAt', 'States', 'TimeoutSeconds'], 'top-level fields');
  eq(BASE.def.QueryLanguage, 'JSONata');
  assert(BASE.def.TimeoutSeconds > 0 && BASE.def.TimeoutSeconds <= 31536000, 'state machine TimeoutSeconds');
  eachState(BASE.def.States, (name, st) => {
    const ok = new Set([...ALLOWED.common, ...(ALLOWED[st.Type] || [])]);
    assert(ALLOWED[st.Type], `${name}: state type ${st.Type}`);
    for (const k of Object.keys(st)) assert(ok.has(k), `${name}: field ${k}`);
    if (st.Type === 'Task') {
      assert(st.Resource === SUBST.BackfillActivityArn || st.Resource === 'arn:aws:states:::aws-sdk:s3:putObject', `${name}: resource ${st.Resource}`);
    }
    if (st.Type === 'Map') eq(st.ItemProcessor.ProcessorConfig, { Mode: 'INLINE' }, `${name}: inline`);
  });
  for (const [ptr, e] of BASE.exprs) assert(!/\$eval\s*\(/.test(e), `${ptr}: $eval is not available in Step Functions`);
});

test('every JSONata expression in the file compiles', () => {
  assert(BASE.exprs.size > 20, `found ${BASE.exprs.size} expressions`);
  for (const [ptr, e] of BASE.exprs) {
    try { compile(e); } catch (x) { throw new Error(`${ptr}: ${x.message}`); }
  }
});

test('activity tasks: heartbeat, timeout, arguments are the task input', () => {
  for (const ptr of [P.task1, P.task2]) {
    const parts = ptr.split('/').slice(1);
    let st = BASE.def;
    for (const p of parts) st = st[p];
    eq(Object.keys(st.Arguments).sort(), ['attempt', 'backfill_id', 'backfill_mode', 'chunk_number', 'end_date',
      'force_full_sync', 'heartbeat_seconds', 'redrive_count', 'service', 'start_date', 'table_name', 'tenant_id', 'total_chunks'], 'argument names');
    assert(typeof st.HeartbeatSeconds === 'string' && typeof st.TimeoutSeconds === 'string', 'expressions');
  }
});

// ---- the plan ----------------------------------------------------------------
test('example: 7 days in 2-day chunks gives 4 chunks of 2, 2, 2, 1 days', async () => {
  const p = await plan(EXAMPLE);
  assert(!p.invalid, JSON.stringify(p.invalid));
  eq(p.chunks.map((c) => (Date.parse(c.end_date) - Date.parse(c.start_date)) / DAY), [2, 2, 2, 1], 'chunk days');
  eq(p.chunks.map((c) => [c.start_date, c.end_date]), [
    ['2025-06-13T06:00:57.295Z', '2025-06-15T06:00:57.295Z'],
    ['2025-06-15T06:00:57.295Z', '2025-06-17T06:00:57.295Z'],
    ['2025-06-17T06:00:57.295Z', '2025-06-19T06:00:57.295Z'],
    ['2025-06-19T06:00:57.295Z', '2025-06-20T06:00:57.295Z'],
  ], 'bounds');
  eq(p.chunks.map((c) => [c.chunk_number, c.total_chunks, c.table_name, c.backfill_id]),
    [1, 2, 3, 4].map((i) => [i, 4, 'service/tickets', 'backfill-test-1']), 'numbering');
  eq(p.tenant_id, 'sitetechnology');
  eq(p.service, 'connectwise');
  eq(await ev(P.checkInput, { input: p, context: ctx() }), false, 'CheckInput goes on');
  const items = await ev(P.items1, { input: p, context: ctx() });
  assert(Array.isArray(items) && items.length === 4, 'Map items');
  eq(await ev(P.conc1, { input: p, context: ctx() }), 4, 'MaxConcurrency default');
});

test('every example input plans without error', async () => {
  const dir = path.join(TOP, 'statemachine/examples');
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.json'));
  assert(files.length >= 2, 'examples');
  for (const f of files) {
    const p = await plan(JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')));
    assert(!p.invalid && p.chunks.length > 0, `${f}: ${JSON.stringify(p.invalid)}`);
  }
});

test('730-day defaults: four tables, 30-day chunks, end = execution start', async () => {
  const p = await plan({ tenant_id: 'sitetechnology', service_name: 'connectwise' });
  eq(p.tables, ['service/tickets', 'time/entries', 'company/companies', 'company/contacts']);
  eq(p.end_date, NOW);
  eq(Date.parse(p.end_date) - Date.parse(p.start_date), 730 * DAY, 'window');
  eq(p.chunk_size_days, 30);
  eq(p.max_concurrency, 4);
  eq(p.chunks.length, 100, '25 chunks per table');
  const last = p.chunks[24];
  eq([last.chunk_number, last.total_chunks, last.end_date], [25, 25, NOW]);
  eq((Date.parse(last.end_date) - Date.parse(last.start_date)) / DAY, 10, 'last chunk truncated to 10 days');
  eq([p.chunks[0].heartbeat_seconds, p.chunks[0].force_full_sync, p.chunks[0].backfill_mode], [60, true, true]);
  const c = oracle([`${Date.parse(NOW)}\t${JSON.stringify({ tenant_id: 'sitetechnology', service_name: 'connectwise' })}`])[0];
  eq(project(p), project(c), 'equal to the C plan');
});

test('a single chunk is still an array; several tables number per table', async () => {
  const one = await plan({ tenant_id: 't', service: 'connectwise', table_name: 'time/entries', start_date: '2025-01-01', end_date: '2025-01-02' });
  assert(Array.isArray(one.chunks) && one.chunks.length === 1, JSON.stringify(one.chunks));
  assert(Array.isArray(one.tables), 'tables array');
  const items = await ev(P.items1, { input: one, context: ctx() });
  assert(Array.isArray(items) && items.length === 1, 'Items of one chunk is an array');
  eq([one.chunks[0].start_date, one.chunks[0].end_date], ['2025-01-01T00:00:00.000Z', '2025-01-02T00:00:00.000Z']);
  const several = await plan({ tenant_id: 't', service: 'connectwise', tables: ['company/contacts', 'service/tickets'],
    start_date: '2025-01-01T00:00:00', end_date: '2025-01-10T12:00:00', chunk_size_days: 3, max_concurrency: 7, heartbeat_seconds: 30, force_full_sync: false });
  eq(several.chunks.map((c) => `${c.table_name}#${c.chunk_number}/${c.total_chunks}`),
    ['company/contacts#1/4', 'company/contacts#2/4', 'company/contacts#3/4', 'company/contacts#4/4',
      'service/tickets#1/4', 'service/tickets#2/4', 'service/tickets#3/4', 'service/tickets#4/4']);
  eq(several.chunks[3].end_date, '2025-01-10T12:00:00.000Z', 'no offset = UTC');
  eq([several.chunks[0].heartbeat_seconds, several.chunks[0].force_full_sync], [30, false]);
  eq(await ev(P.conc1, { input: several, context: ctx() }), 7);
});

const INVALID = [
  [{ service: 'connectwise' }, 'tenant_id'],
  [{ tenant_id: '', service: 'connectwise' }, 'tenant_id'],
  [{ tenant_id: 'bad tenant!', service: 'connectwise' }, 'tenant_id'],
  [{ tenant_id: 't' }, 'service_name'],
  [{ tenant_id: 't', service: 'autotask' }, 'service'],
  [{ tenant_id: 't', service: 'connectwise', table_name: 'service/nope' }, 'table_name'],
  [{ tenant_id: 't', service: 'connectwise', tables: ['service/tickets', 'nope/nope'] }, 'tables'],
  [{ tenant_id: 't', service: 'connectwise', tables: [] }, 'tables'],
  [{ tenant_id: 't', service: 'connectwise', tables: ['service/tickets', 'service/tickets'] }, 'tables'],
  [{ tenant_id: 't', service: 'connectwise', tables: 'service/tickets' }, 'tables'],
  [{ tenant_id: 't', service: 'connectwise', start_date: '2025-02-30', end_date: '2025-03-10' }, 'start_date'],
  [{ tenant_id: 't', service: 'connectwise', start_date: '2025-01-01', end_date: '2025-01-02T24:00:00Z' }, 'end_date'],
  [{ tenant_id: 't', service: 'connectwise', start_date: 'yesterday' }, 'start_date'],
  [{ tenant_id: 't', service: 'connectwise', start_date: '2025-01-02', end_date: '2025-01-02' }, 'end_date'],
  [{ tenant_id: 't', service: 'connectwise', start_date: '2025-01-03', end_date: '2025-01-02' }, 'end_date'],
  [{ tenant_id: 't', service: 'connectwise', chunk_size_days: 0 }, 'chunk_size_days'],
  [{ tenant_id: 't', service: 'connectwise', chunk_size_days: 367 }, 'chunk_size_days'],
  [{ tenant_id: 't', service: 'connectwise', chunk_size_days: 2.5 }, 'chunk_size_days'],
  [{ tenant_id: 't', service: 'connectwise', chunk_size_days: '30' }, 'chunk_size_days'],
  [{ tenant_id: 't', service: 'connectwise', chunk_size_days: 3 }, 'chunk_size_days'], // 4 x 244 chunks > 200
  [{ tenant_id: 't', service: 'connectwise', max_concurrency: 0 }, 'max_concurrency'],
  [{ tenant_id: 't', service: 'connectwise', heartbeat_seconds: 0 }, 'heartbeat_seconds'],
  [{ tenant_id: 't', service: 'connectwise', heartbeat_seconds: 600, task_timeout_seconds: 600 }, 'task_timeout_seconds'],
  [{ tenant_id: 't', service: 'connectwise', force_full_sync: 'yes' }, 'force_full_sync'],
];
test(`invalid inputs fail fast with Backfill.InvalidInput naming the field (${INVALID.length} cases)`, async () => {
  for (const [input, field] of INVALID) {
    const p = await plan(input);
    assert(p.invalid, `no error for ${JSON.stringify(input)}`);
    eq(p.invalid.field, field, JSON.stringify(input));
    assert(p.invalid.message.startsWith(field + ': '), p.invalid.message);
    assert(!p.chunks, 'no chunks planned');
    eq(await ev(P.checkInput, { input: p, context: ctx() }), true, 'CheckInput routes to InvalidInput');
    const cause = await ev(P.invalidCause, { input: p, context: ctx() });
    eq(JSON.parse(cause).field, field, 'cause names the field');
  }
  eq(BASE.def.States.InvalidInput.Error, 'Backfill.InvalidInput');
  eq(BASE.def.States.CheckInput.Default, 'RunChunks');
  eq(BASE.def.States.Plan.Next, 'CheckInput', 'nothing runs before validation');
});

// ---- the task input -------------------------------------------------------------
test('task Arguments: attempt, redrive_count (guarded), and the C parser accepts them', async () => {
  const p = await plan(EXAMPLE);
  const lines = [];
  for (const c of p.chunks) {
    const a = await taskArgs(P.task1, c, ctx({ State: { RetryCount: 2 }, Execution: { Name: 'x', StartTime: NOW, RedriveCount: 1 } }));
    eq([a.attempt, a.redrive_count, a.chunk_number, a.start_date, a.backfill_id], [2, 1, c.chunk_number, c.start_date, 'backfill-test-1']);
    const b = await taskArgs(P.task1, c, { State: { RetryCount: 0 }, Execution: { Name: 'x' } });
    eq([b.attempt, b.redrive_count], [0, 0], 'missing RedriveCount gives 0');
    lines.push(`TASK\t${JSON.stringify(a)}`, `TASK\t${JSON.stringify(b)}`);
    const ts = BASE.def.States.RunChunks.ItemProcessor.States.RunChunk;
    eq(await ev(`${P.task1}/HeartbeatSeconds`, { input: c, context: ctx() }), 60);
    const to = await ev(`${P.task1}/TimeoutSeconds`, { input: c, context: ctx() });
    assert(to > 60 && ts, 'TimeoutSeconds above the heartbeat');
    // Round 2 uses the same task definition.
    eq(await evTemplate(`${P.task2}/Arguments`, BASE.def.States.RetryFailedChunks.ItemProcessor.States.RunChunkAgain.Arguments,
      { input: c, context: ctx({ State: { RetryCount: 2 }, Execution: { Name: 'x', StartTime: NOW, RedriveCount: 1 } }) }), a);
    eq(await ev(`${P.task2}/HeartbeatSeconds`, { input: c, context: ctx() }), 60);
    eq(await ev(`${P.task2}/TimeoutSeconds`, { input: c, context: ctx() }), to);
  }
  for (const r of oracle(lines)) assert(r.ok === true, 'task_input_parse: ' + JSON.stringify(r));
});

// ---- retries and error names -------------------------------------------------------
const NOT_RETRIED = ['Backfill.InvalidInput', 'Backfill.TenantNotConfigured', 'Backfill.TenantDisabled',
  'Backfill.CredentialsInvalid', 'Backfill.SourceAuthFailed', 'Backfill.SinkAccessDenied', 'Backfill.TransformFailed'];
test('every worker error name is handled; every handled name exists in the worker', () => {
  const fromC = Object.keys(oracle(['NAMES'])[0].names).sort();
  const errC = fs.readFileSync(path.join(TOP, 'src/util/err.c'), 'utf8');
  const parsed = [...new Set([...errC.matchAll(/"(Backfill\.[A-Za-z]+)"/g)].map((m) => m[1]))].sort();
  eq(parsed, fromC, 'err.c table vs bf_rc_error_name');
  assert(fromC.length >= 14, 'names: ' + fromC.join(','));
  const handled = new Set();
  for (const ptr of [P.task1, P.task2]) {
    const st = ptr.split('/').slice(1).reduce((o, k) => o[k], BASE.def);
    const inRetry = new Map();
    st.Retry.forEach((r, i) => {
      if (r.ErrorEquals.includes('States.ALL')) assert(r.ErrorEquals.length === 1 && i === st.Retry.length - 1, 'States.ALL alone and last');
      for (const e of r.ErrorEquals) {
        assert(!inRetry.has(e), `${e} in two retriers`);
        inRetry.set(e, r);
        handled.add(e);
      }
    });
    for (const c of st.Catch || []) c.ErrorEquals.forEach((e) => handled.add(e));
    for (const name of fromC) {
      assert(inRetry.has(name), `${ptr}: ${name} has no explicit retrier`);
      const attempts = inRetry.get(name).MaxAttempts === undefined ? 3 : inRetry.get(name).MaxAttempts;
      eq(attempts === 0, NOT_RETRIED.includes(name), `${ptr}: ${name} retried?`);
    }
    for (const n of ['States.HeartbeatTimeout', 'States.Timeout']) assert(inRetry.get(n) && inRetry.get(n).MaxAttempts > 0, n);
    const rl = inRetry.get('Backfill.SourceRateLimited');
    assert(rl.JitterStrategy === 'FULL' && rl.MaxDelaySeconds > 0, 'rate limit: FULL jitter, MaxDelaySeconds');
    for (const r of st.Retry) {
      if (r !== rl && r.MaxAttempts > 0) {
        assert(rl.MaxAttempts >= r.MaxAttempts && rl.IntervalSeconds >= r.IntervalSeconds, 'rate limit: longest and most');
      }
    }
  }
  for (const e of handled) {
    if (e.startsWith('Backfill.')) assert(fromC.includes(e), `${e} is not a worker error name`);
    else assert(['States.ALL', 'States.HeartbeatTimeout', 'States.Timeout'].includes(e), `unexpected ${e}`);
  }
  eachState(BASE.def.States, (name, st) => {
    if (st.Type === 'Fail') assert(fromC.includes(st.Error), `${name}: ${st.Error}`);
  });
  // The worker's own default agrees, except LambdaFailed: retried briefly
  // because the state machine cannot read the cause's "retryable" hint.
  const c = oracle(['NAMES'])[0].names;
  for (const n of fromC) {
    if (n !== 'Backfill.LambdaFailed') eq(c[n] === 0, NOT_RETRIED.includes(n), `${n} vs bf_rc_default_retryable`);
  }
});

test('round 1 catches every failure; round 2 has no Catch', () => {
  const t1 = BASE.def.States.RunChunks.ItemProcessor.States.RunChunk;
  eq(t1.Catch.map((c) => c.ErrorEquals), [['States.ALL']]);
  const t2 = BASE.def.States.RetryFailedChunks.ItemProcessor.States.RunChunkAgain;
  assert(!t2.Catch && !BASE.def.States.RetryFailedChunks.Catch && !BASE.def.States.RetryFailedChunks.Retry, 'round 2 must fail the execution');
  assert(!BASE.def.States.RunChunks.Retry, 'a Retry on the Map would re-run every chunk');
});

// ---- summaries and the redrive path --------------------------------------------------
async function roundOne(p, fails) {
  const outcomes = [];
  for (const c of p.chunks) {
    const key = `${c.table_name}#${c.chunk_number}`;
    outcomes.push(fails[key]
      ? await fail(c, fails[key], JSON.stringify({ message: 'boom ' + key, http_status: 503, retryable: true }))
      : await succeed(P.task1, c, c.chunk_number * 10));
  }
  return ev(P.map1Out, { input: p, result: outcomes, context: ctx() });
}

test('summary of mixed successes and failures, then round 2 and a redrive cover every chunk', async () => {
  const p = await plan({ tenant_id: 'sitetechnology', service: 'connectwise', tables: ['service/tickets', 'time/entries'],
    start_date: '2025-06-13T06:00:57.295053+00:00', end_date: '2025-06-20T06:00:57.295053+00:00', chunk_size_days: 2 });
  const s1 = await roundOne(p, { 'service/tickets#2': 'Backfill.SourceUnavailable', 'time/entries#4': 'States.HeartbeatTimeout' });
  assert(!s1.chunks, 'plan chunks dropped after round 1 (payload)');
  const r1 = await summarizeAndSave(s1);
  const sum = r1.state.summary;
  eq([sum.status, sum.round, sum.chunks_total, sum.chunks_succeeded, sum.chunks_failed, sum.success_rate], ['FAILED', 1, 8, 6, 2, 0.75]);
  eq([sum.records_ingested, sum.records_transformed, sum.records_rejected], [10 + 30 + 40 + 10 + 20 + 30, 140 - 6, 6]);
  eq(sum.failed_chunks.map((f) => [f.table_name, f.chunk_number, f.error]),
    [['service/tickets', 2, 'Backfill.SourceUnavailable'], ['time/entries', 4, 'States.HeartbeatTimeout']]);
  assert(JSON.parse(sum.failed_chunks[0].cause).message === 'boom service/tickets#2', 'cause kept');
  eq(sum.tables.map((t) => [t.table_name, t.chunks_total, t.chunks_succeeded, t.chunks_failed, t.success_rate, t.records_ingested]),
    [['service/tickets', 4, 3, 1, 0.75, 80], ['time/entries', 4, 3, 1, 0.75, 60]]);
  eq([sum.started_at, sum.start_date, sum.end_date, sum.backfill_id], [NOW, '2025-06-13T06:00:57.295Z', '2025-06-20T06:00:57.295Z', 'backfill-test-1']);
  assert(typeof sum.finished_at === 'string' && Date.parse(sum.finished_at) > 0, 'finished_at');
  eq(r1.args.Key, 'sitetechnology/backfill_metadata/connectwise/backfill-test-1.json', 'S3 key');
  eq(r1.args.Bucket, SUBST.DataBucket);
  eq(JSON.parse(r1.args.Body), sum, 'Body is the summary');
  eq([r1.allOk, r1.round1], [false, true], 'goes to round 2');
  // Round 2 runs only the failed chunks.
  const items = await ev(P.items2, { input: r1.state, context: ctx() });
  eq(items.map((c) => `${c.table_name}#${c.chunk_number}`), ['service/tickets#2', 'time/entries#4']);
  eq(await ev(P.conc2, { input: r1.state, context: ctx() }), 4);
  // A redrive re-runs the failed iterations; the Map then outputs all its results.
  const results = [];
  for (const c of items) results.push(await succeed(P.task2, c, 5));
  const s2 = await ev(P.map2Out, { input: r1.state, result: results, context: ctx() });
  const r2 = await summarizeAndSave(s2);
  const fin = r2.state.summary;
  eq([fin.status, fin.round, fin.chunks_total, fin.chunks_succeeded, fin.chunks_failed, fin.success_rate, fin.failed_chunks], ['SUCCEEDED', 2, 8, 8, 0, 1, []]);
  eq(fin.records_ingested, 140 + 10, 'round 1 successes plus round 2');
  eq(fin.tables.map((t) => t.chunks_succeeded), [4, 4]);
  eq([r2.allOk], [true], 'Done');
  eq(await ev(P.done, { input: r2.state, context: ctx() }), fin, 'execution output is the summary');
  // A single round-2 chunk: Items must still be an array.
  const s1b = await roundOne(p, { 'service/tickets#1': 'Backfill.Internal' });
  const r1b = await summarizeAndSave(s1b);
  const one = await ev(P.items2, { input: r1b.state, context: ctx() });
  assert(Array.isArray(one) && one.length === 1, 'one failed chunk is still an array');
  const s2b = await ev(P.map2Out, { input: r1b.state, result: [await succeed(P.task2, one[0], null)], context: ctx() });
  const fb = (await summarizeAndSave(s2b)).state.summary;
  eq([fb.chunks_total, fb.chunks_failed, fb.records_ingested], [8, 0, 90 + 100], 'null counts count as 0');
});

test('all chunks succeed in round 1: SUCCEEDED without round 2; metadata prefix', async () => {
  const withPrefix = loadDef(Object.assign({}, SUBST, { MetadataPrefix: 'lake/' }));
  const p = await plan(EXAMPLE);
  const s1 = await roundOne(p, {});
  const r = await summarizeAndSave(s1, withPrefix);
  eq([r.state.summary.status, r.state.summary.chunks_succeeded, r.allOk], ['SUCCEEDED', 4, true]);
  eq(r.args.Key, 'lake/sitetechnology/backfill_metadata/connectwise/backfill-test-1.json');
  eq(r.state.summary.metadata_uri, 's3://data-storage-msp-test/lake/sitetechnology/backfill_metadata/connectwise/backfill-test-1.json');
});

test('the largest plan (200 chunks, all failing with long causes) stays under 256 KiB', async () => {
  const p = await plan({ tenant_id: 'a'.repeat(64), service: 'connectwise', start_date: '2020-01-01', end_date: '2021-08-18', chunk_size_days: 12 });
  eq(p.chunks.length, 200);
  assert(JSON.stringify(p).length < MAX_PAYLOAD, 'plan ' + JSON.stringify(p).length);
  const outcomes = [];
  for (const c of p.chunks) outcomes.push(await fail(c, 'Backfill.SourceProtocolError', 'x'.repeat(30000)));
  const s1 = await ev(P.map1Out, { input: p, result: outcomes, context: ctx() });
  const r1 = await summarizeAndSave(s1);
  const size = JSON.stringify(r1.state).length;
  assert(size < MAX_PAYLOAD, `state after round 1: ${size} bytes`);
  eq([r1.state.summary.chunks_failed, r1.state.summary.failed_chunks.length, r1.state.summary.failed_chunks_listed], [200, 50, 50], 'failed chunks listed');
  assert(r1.args.Body.length < MAX_PAYLOAD, 'S3 body');
  console.log(`   (largest state: ${size} bytes)`);
  const plan2 = await plan({ tenant_id: 't', service: 'connectwise', start_date: '2020-01-01', end_date: '2021-08-24', chunk_size_days: 12 });
  eq(plan2.invalid && plan2.invalid.field, 'chunk_size_days', '204 chunks rejected');
});

// ---- plan equivalence with the C plan ------------------------------------------------
function oracle(lines) {
  const bin = process.env.BF_PLAN_ORACLE || path.join(TOP, 'build/tests/asl_plan_oracle');
  const r = spawnSync(bin, [], { input: lines.join('\n') + '\n', encoding: 'utf8', maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(`${bin}: ${r.error || r.stderr}`);
  return r.stdout.trim().split('\n').map((l) => JSON.parse(l));
}
const project = (p) => ({
  tenant_id: p.tenant_id, service: p.service, tables: p.tables, start_date: p.start_date, end_date: p.end_date,
  chunk_size_days: p.chunk_size_days, total_chunks: p.total_chunks,
  chunks: p.chunks.map((c) => [c.tenant_id, c.service, c.table_name, c.chunk_number, c.total_chunks, c.start_date, c.end_date]),
});

function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6D2B79F5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const pad = (n, w) => String(n).padStart(w, '0');
function fmt(ms, rnd) {
  // Render `ms` in one of the accepted forms, keeping the same instant
  // (up to the millisecond) except where noted by the chosen form.
  const kind = Math.floor(rnd() * 6);
  const offMin = (Math.floor(rnd() * 28) - 14) * 30 + (rnd() < 0.2 ? 15 : 0);
  const d = new Date(ms + offMin * 60000);
  const base = `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1, 2)}-${pad(d.getUTCDate(), 2)}`;
  const hms = `${pad(d.getUTCHours(), 2)}:${pad(d.getUTCMinutes(), 2)}:${pad(d.getUTCSeconds(), 2)}`;
  const frac6 = pad(d.getUTCMilliseconds(), 3) + pad(Math.floor(rnd() * 1000), 3);
  const sign = offMin < 0 ? '-' : '+';
  const oh = pad(Math.floor(Math.abs(offMin) / 60), 2);
  const om = pad(Math.abs(offMin) % 60, 2);
  switch (kind) {
    case 0: return `${base}T${hms}.${frac6}${sign}${oh}:${om}`;
    case 1: return `${base}T${hms}.${frac6}${sign}${oh}${om}`;
    case 2: return new Date(ms).toISOString().replace('Z', `${pad(Math.floor(rnd() * 1000), 3)}Z`);
    case 3: return new Date(ms).toISOString().slice(0, 19); // no offset: UTC
    case 4: return new Date(ms).toISOString().slice(0, 10); // date only
    default: return new Date(ms).toISOString().slice(0, 16) + 'Z'; // no seconds
  }
}
// The worker's table list: enabled endpoints of the embedded endpoint table.
const ENDPOINTS = JSON.parse(fs.readFileSync(path.join(TOP, 'src/catalog/endpoints.json'), 'utf8'));
const WORKER_TABLES = ENDPOINTS.connectwise.endpoints.filter((e) => e.enabled).map((e) => e.endpoint).sort();
async function knownTablesDef() {
  const p = await plan({ tenant_id: 't', service: 'connectwise', table_name: 'no/such' });
  return p.invalid.message.match(/\(known: ([^)]*)\)/)[1].split(', ').sort();
}
const ALL_TABLES = WORKER_TABLES;
function randomInput(rnd, i) {
  const shuffled = ALL_TABLES.slice().sort(() => rnd() - 0.5);
  const ntables = 1 + Math.floor(rnd() * 4);
  const size = 1 + Math.floor(rnd() * 366);
  const maxChunks = Math.floor(200 / ntables);
  const start = Date.UTC(1990, 0, 1) + Math.floor(rnd() * 50 * 365 * DAY);
  const span = 1 + Math.floor(rnd() * Math.min(maxChunks * size * DAY, 3 * 365 * DAY));
  const input = { tenant_id: `t${i}`, service: rnd() < 0.5 ? 'connectwise' : undefined, chunk_size_days: size };
  if (!input.service) { delete input.service; input.service_name = 'connectwise'; }
  if (ntables === 1 && rnd() < 0.5) input.table_name = shuffled[0];
  else input.tables = shuffled.slice(0, ntables);
  input.start_date = fmt(start, rnd);
  input.end_date = fmt(start + span, rnd);
  return input;
}
function randomInvalid(rnd, i) {
  const good = { tenant_id: `t${i}`, service: 'connectwise', start_date: '2025-01-01', end_date: '2025-03-01' };
  const k = Math.floor(rnd() * 8);
  const bad = [
    () => ({ start_date: `2025-02-${29 + Math.floor(rnd() * 3)}` }),
    () => ({ end_date: `2025-03-01T${24 + Math.floor(rnd() * 5)}:00:00Z` }),
    () => ({ end_date: '2024-12-31T23:59:59.999Z' }),
    () => ({ chunk_size_days: [0, 367, 1.5, -3][Math.floor(rnd() * 4)] }),
    () => ({ tables: ['service/tickets', `x/${i}`] }),
    () => ({ tenant_id: `-t${i}` }),
    () => ({ start_date: `2025-${pad(13 + Math.floor(rnd() * 80), 2)}-01` }),
    () => ({ end_date: `2025-03-01T10:00+${24 + Math.floor(rnd() * 10)}` }),
  ][k]();
  return Object.assign(good, bad);
}

test('plan equivalence: JSONata plan = C plan for 1200 random inputs and 300 invalid ones', async () => {
  const rnd = mulberry32(20250613);
  const inputs = [];
  for (let i = 0; i < 1200; i++) inputs.push(randomInput(rnd, i));
  const invalid = [];
  for (let i = 0; i < 300; i++) invalid.push(randomInvalid(rnd, i));
  const nowMs = Date.parse(NOW);
  const c = oracle([...inputs, ...invalid].map((x) => `${nowMs}\t${JSON.stringify(x)}`));
  let chunks = 0;
  let bothInvalid = 0;
  for (let i = 0; i < inputs.length; i++) {
    const j = await plan(inputs[i]);
    const what = `case ${i} ${JSON.stringify(inputs[i])}: jsonata ${JSON.stringify(j.invalid)} C ${JSON.stringify(c[i].error && c[i])}`;
    assert(!j.invalid === !c[i].error, what);
    if (j.invalid) {
      // A date-only or minute form can round the end onto or before the start.
      eq(j.invalid.field, c[i].message.split(':')[0], what);
      bothInvalid++;
      continue;
    }
    eq(project(j), project(c[i]), what);
    chunks += j.chunks.length;
  }
  assert(inputs.length - bothInvalid >= 1000, `only ${inputs.length - bothInvalid} valid plans compared`);
  for (let i = 0; i < invalid.length; i++) {
    const j = await plan(invalid[i]);
    const ci = c[inputs.length + i];
    assert(j.invalid && ci.error === 'Backfill.InvalidInput', `invalid ${i} ${JSON.stringify(invalid[i])}: ${JSON.stringify(j)} / ${JSON.stringify(ci)}`);
    eq(j.invalid.field, ci.message.split(':')[0], `field for ${JSON.stringify(invalid[i])} (C: ${ci.message})`);
  }
  console.log(`   (${inputs.length - bothInvalid} plans, ${chunks} chunks identical; ${invalid.length + bothInvalid} invalid inputs name the same field)`);
});

test('known tables equal the worker\'s enabled endpoints (src/catalog/endpoints.json)', async () => {
  eq(await knownTablesDef(), WORKER_TABLES, 'definition vs worker');
  assert(WORKER_TABLES.length >= 8, 'the eight ConnectWise endpoints');
  const defaults = ENDPOINTS.connectwise.endpoints.filter((e) => e.enabled && e.default).map((e) => e.endpoint);
  eq((await plan({ tenant_id: 't', service: 'connectwise', start_date: '2025-01-01', end_date: '2025-01-02' })).tables,
     defaults, 'default tables = the "default" entries of the endpoint table');
  eq(defaults, ['service/tickets', 'time/entries', 'company/companies', 'company/contacts'], 'the four priority tables');
  // All eight at once: 8 x 25 chunks is the 200-chunk inline limit, one more day is over it.
  const eight = { tenant_id: 't', service: 'connectwise', tables: WORKER_TABLES, start_date: '2025-01-01', chunk_size_days: 1 };
  const ok = await plan({ ...eight, end_date: '2025-01-26' });
  assert(!ok.invalid && ok.chunks.length === 200, `8 tables x 25 days: ${JSON.stringify(ok.invalid)}`);
  const over = await plan({ ...eight, end_date: '2025-01-27' });
  assert(over.invalid, '8 tables x 26 days is over the limit');
  const co = oracle([`0\t${JSON.stringify({ ...eight, end_date: '2025-01-26' })}`, `0\t${JSON.stringify({ ...eight, end_date: '2025-01-27' })}`]);
  assert(!co[0].error && co[1].error === 'Backfill.InvalidInput', 'C agrees on the limit: ' + JSON.stringify(co.map((x) => x.error || 'ok')));
  const c = oracle(WORKER_TABLES.map((t) => `0\t${JSON.stringify({ tenant_id: 't', service: 'connectwise', table_name: t, start_date: '2025-01-01', end_date: '2025-01-02' })}`));
  for (const r of c) assert(!r.error, 'C accepts ' + JSON.stringify(r));
});

test('backfill-worker plan --input - (the CLI) prints the same plans (examples + 100 random)', async () => {
  const bin = process.env.BF_BIN || path.join(TOP, 'build/backfill-worker');
  const cli = (input) => {
    const r = spawnSync(bin, ['plan', '--input', '-'], { input: JSON.stringify(input), encoding: 'utf8', timeout: 5000 });
    try {
      const j = JSON.parse(r.stdout);
      return r.status === 0 && j && Array.isArray(j.chunks) ? j : null;
    } catch (e) { return null; }
  };
  // `make check` always builds the binary, so a missing one or a plan that
  // fails on the example input is a failure, never a skip.
  assert(fs.existsSync(bin), `${bin} is missing (BF_BIN)`);
  const r0 = spawnSync(bin, ['plan', '--input', '-'], { input: JSON.stringify(EXAMPLE), encoding: 'utf8', timeout: 5000 });
  assert(cli(EXAMPLE), `${bin} plan --input - failed on the example input: exit ${r0.status}, ${(r0.stderr || '').trim().slice(0, 400)}`);
  const cases = fs.readdirSync(path.join(TOP, 'statemachine/examples'))
    .map((f) => JSON.parse(fs.readFileSync(path.join(TOP, 'statemachine/examples', f), 'utf8')))
    .filter((x) => x.end_date);
  const rnd = mulberry32(7);
  for (let i = 0; i < 100; i++) cases.push(randomInput(rnd, i));
  let n = 0;
  for (const input of cases) {
    const j = await plan(input);
    const c = cli(input);
    assert(!j.invalid === !!c, `valid in both: ${JSON.stringify(input)}`);
    if (c) { eq(project(c), project(j), `CLI plan for ${JSON.stringify(input)}`); n++; }
  }
  console.log(`   (${n} CLI plans identical)`);
});

test('every expression in the definition was evaluated by some case', () => {
  const missed = [...BASE.exprs.keys()].filter((p) => !evaluated.has(p));
  eq(missed, [], 'expressions never evaluated');
});

// ---- the fleet definition (statemachine/backfill-fleet.asl.json) -------------
const FLEET_TEXT = fs.readFileSync(path.join(TOP, 'statemachine/backfill-fleet.asl.json'), 'utf8');
const FLEET = JSON.parse(FLEET_TEXT.replace(/\$\{([A-Za-z0-9_]+)\}/g, (m, k) => {
  if (!(k in SUBST)) throw new Error(`fleet: unknown substitution ${m}`);
  return SUBST[k];
}));

test('asl-validator accepts the fleet definition (ARN and path checks on)', () => {
  const validate = aslValidator.default || aslValidator;
  const r = validate(FLEET, { checkArn: true, checkPaths: true });
  assert(r.isValid, JSON.stringify(r.errors));
});

test('fleet chunk Task: same Resource, Arguments, heartbeat, timeout and Retry as RunChunk', () => {
  const mine = FLEET.States.RunChunks.ItemProcessor.States.RunChunk;
  const base = BASE.def.States.RunChunks.ItemProcessor.States.RunChunk;
  for (const k of ['Resource', 'Arguments', 'HeartbeatSeconds', 'TimeoutSeconds', 'Retry'])
    eq(mine[k], base[k], `RunChunk.${k}`);
  eq(mine.Catch, undefined, 'no Catch: a failed chunk fails its child execution');
  eq(FLEET.States.RunChunks.ItemProcessor.ProcessorConfig, { Mode: 'DISTRIBUTED', ExecutionType: 'STANDARD' }, 'ProcessorConfig');
});
